//! Solver accuracy: each integrator converges at its order, and dopri5
//! meets its tolerance where a fixed step cannot.

use twin_compiler::hir::Solver;
use twin_tests::{lower_source, run_interp};

const OSCILLATOR: &str = "twin Spring {\n    state pos: m = 1 m\n    state vel: m/s = 0 m/s\n    der(pos) = vel\n    der(vel) = -4 / 1 s^2 * pos\n}\n";

/// Largest error of `pos` against cos(2t) over 0..until.
fn oscillator_error(solver: Solver, dt: f64) -> f64 {
    let model = match lower_source(OSCILLATOR, Some(solver)) {
        Ok(m) => m,
        Err(e) => panic!("{e}"),
    };
    run_interp(&model, dt, 5.0, "pos")
        .iter()
        .map(|(t, x)| (x - (2.0 * t).cos()).abs())
        .fold(0.0, f64::max)
}

#[test]
fn rk4_error_shrinks_sixteen_fold_when_dt_halves() {
    let coarse = oscillator_error(Solver::Rk4, 0.02);
    let fine = oscillator_error(Solver::Rk4, 0.01);
    let ratio = coarse / fine;
    assert!(
        (14.0..18.0).contains(&ratio),
        "rk4 ratio {ratio} ({coarse:e} / {fine:e})"
    );
}

#[test]
fn euler_error_halves_when_dt_halves() {
    let coarse = oscillator_error(Solver::Euler, 0.002);
    let fine = oscillator_error(Solver::Euler, 0.001);
    let ratio = coarse / fine;
    assert!((1.8..2.2).contains(&ratio), "euler ratio {ratio}");
}

/// x' = −λ (x − cos t), x(0) = 0, with λ = 50: stiff enough that rk4 at
/// dt = 0.1 (λ·dt = 5) is unstable, while dopri5's sub-steps follow it.
const STIFF: &str = "twin Stiff {\n    step 100 ms\n    param lambda: 1/s = 50 1/s\n    state x = 0\n    der(x) = -lambda * (x - cos(t / 1 s))\n}\n";

fn stiff_exact(t: f64) -> f64 {
    let l: f64 = 50.0;
    l / (l * l + 1.0) * (l * t.cos() + t.sin()) - l * l / (l * l + 1.0) * (-l * t).exp()
}

#[test]
fn dopri5_meets_its_tolerance_on_a_stiff_problem() {
    let model = match lower_source(
        STIFF,
        Some(Solver::Dopri5 {
            rtol: 1e-9,
            atol: 1e-12,
        }),
    ) {
        Ok(m) => m,
        Err(e) => panic!("{e}"),
    };
    let worst = run_interp(&model, 0.1, 10.0, "x")
        .iter()
        .map(|(t, x)| (x - stiff_exact(*t)).abs())
        .fold(0.0, f64::max);
    assert!(worst < 1e-7, "dopri5 worst error {worst:e}");

    let rk4 = match lower_source(STIFF, Some(Solver::Rk4)) {
        Ok(m) => m,
        Err(e) => panic!("{e}"),
    };
    let last = run_interp(&rk4, 0.1, 10.0, "x").last().map_or(0.0, |p| p.1);
    assert!(
        last.is_nan() || last.abs() >= 10.0,
        "rk4 at λ·dt = 5 should not be stable, ended at {last}"
    );
}
