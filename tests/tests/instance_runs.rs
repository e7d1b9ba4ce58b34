//! Runs of models the checker used to reject, checked against their
//! analytic solutions on the interpreter and on the JIT, which must agree
//! bit for bit:
//! - instance members read before the instance's declaration, and an
//!   instance's state fed back into its own argument (both were
//!   `unknown-name`: "`b` has no members");
//! - `-> degC` results of functions and components (read as temperature
//!   differences, so assigning them to a `degC` let was `affine-misuse`);
//! - initial values in dependency order, and continuous actuators at their
//!   start value at t = 0.

use twin_compiler::check::check;
use twin_compiler::codegen::CompiledModel;
use twin_compiler::ir::{Model, lower};
use twin_compiler::source::Sources;
use twin_runtime::sim::{Engine, Interpreter, Simulation};
use twin_tests::differential::assert_same;

/// Checks `src` (which must have no errors) and lowers its twin `twin`.
fn model(src: &str, twin: &str) -> Model {
    let mut sources = Sources::new();
    let root = sources.add("model.twin", src);
    let checked = check(&mut sources, root);
    let errors: Vec<String> = checked
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.message.clone())
        .collect();
    assert!(errors.is_empty(), "{twin}: {errors:?}");
    let index = checked
        .program
        .twin(twin)
        .unwrap_or_else(|| panic!("no twin {twin}"));
    lower::lower(&checked.program, index).unwrap_or_else(|e| panic!("{twin}: {e}"))
}

/// Runs `model` for `ticks` steps on both engines, comparing their whole
/// memories at every tick; gives the value of output `name` (in its
/// display unit) at t = 0, dt, ..., ticks·dt.
fn run(model: &Model, name: &str, ticks: u64) -> Vec<(f64, f64)> {
    let output = model
        .outputs
        .iter()
        .find(|o| o.name == name)
        .unwrap_or_else(|| panic!("{}: no output {name}", model.name));
    let compiled = CompiledModel::compile(model).unwrap_or_else(|e| panic!("{e}"));
    let start = |e| Simulation::new(model, e, model.step, &Vec::new(), None);
    let mut interp = start(Interpreter).unwrap_or_else(|e| panic!("{e}"));
    let mut jit = Simulation::new(model, compiled, model.step, &Vec::new(), None)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut values = Vec::new();
    for k in 0..=ticks {
        record(&mut interp, &mut jit, model, k);
        let v = output.unit.from_si(interp.mem.get(output.slot));
        values.push((interp.time(), v));
        if k < ticks {
            interp.advance();
            jit.advance();
            assert_same(model, &interp.mem, &jit.mem, &format!("integrate {k}"));
        }
    }
    values
}

fn record<A: Engine, B: Engine>(
    a: &mut Simulation<'_, A>,
    b: &mut Simulation<'_, B>,
    model: &Model,
    k: u64,
) {
    a.step_to_record();
    b.step_to_record();
    assert_same(model, &a.mem, &b.mem, &format!("tick {k}"));
}

/// Asserts `|got - want(t)| <= tol` at every tick.
fn assert_follows(values: &[(f64, f64)], want: impl Fn(f64) -> f64, tol: f64, what: &str) {
    for &(t, got) in values {
        let w = want(t);
        assert!(
            (got - w).abs() <= tol,
            "{what} at t = {t} s: {got}, want {w}"
        );
    }
}

const THERMAL: &str = "
component Mass(heat: W) {
    state temp: degC = 20 degC
    der(temp) = heat / 1 kJ/K
}
twin Forward {
    let flow: W = 10 W/K * (a.temp - 20 degC)
    a = Mass(heat: 1 W)
}
twin Feedback {
    b = Mass(heat: 10 W/K * (0 degC - b.temp))
}
";

#[test]
fn a_member_read_before_its_instance_is_declared_runs() {
    // a.temp = 20 degC + (1 W / 1 kJ/K) t, so flow = 10 W/K · t / 1000 s.
    let values = run(&model(THERMAL, "Forward"), "flow", 100);
    assert_follows(&values, |t| 0.01 * t, 1e-9, "flow");
}

#[test]
fn an_instance_state_fed_back_into_its_argument_decays_exponentially() {
    // der(temp) = 10 W/K · (0 degC - temp) / 1 kJ/K: temp decays toward
    // 0 degC with time constant 100 s, temp = 20 degC · e^(-t / 100 s).
    // rk4 at dt = 1 s is accurate to about 1e-10 K here.
    let values = run(&model(THERMAL, "Feedback"), "b.temp", 300);
    assert_follows(&values, |t| 20.0 * (-t / 100.0).exp(), 1e-8, "b.temp");
    let last = values.last().map_or(f64::NAN, |v| v.1);
    assert!((last - 0.995741367357279).abs() < 1e-8, "{last}");
}

const CELSIUS: &str = "
fn warmer(x: degC) -> degC = x + 5 K
component Cool(x: degC) -> degC {
    state y: degC = 21 degC
    der(y) = (x - y) / 10 s
    return y
}
component Keep(x: degC) {
    out t: degC = x
}
twin T {
    sensor q: degC = 1 degC
    let warm: degC = warmer(q)
    c = Cool(x: q)
    let cooled: degC = c
    let rise: K = Cool(x: q) - q
    k = Keep(x: warmer(q))
    let kept: degC = k.t
}
";

#[test]
fn degc_results_are_absolute_temperatures() {
    let m = model(CELSIUS, "T");
    // 1 degC + 5 K, shown in degC.
    assert_follows(&run(&m, "warm", 5), |_| 6.0, 1e-9, "warm");
    assert_follows(&run(&m, "kept", 5), |_| 6.0, 1e-9, "kept");
    // A lag from 21 degC toward 1 degC with time constant 10 s.
    let decay = |t: f64| 20.0 * (-t / 10.0).exp();
    assert_follows(&run(&m, "cooled", 60), |t| 1.0 + decay(t), 1e-5, "cooled");
    assert_follows(&run(&m, "rise", 60), decay, 1e-5, "rise");
}

/// A state starting from a let that reads another state (`Lag`'s
/// `state y = x` with `x = s + u`) sees that state's initial value, not 0.
#[test]
fn initial_states_follow_their_dependencies() {
    let src = "use std::filters::Lag\n\ntwin R {\n    sensor u: 1 = 1\n    state s: 1 = 5\n    der(s) = 0 / 1 s\n    let v: 1 = s + u\n    let w: 1 = Lag(x: v, tau: 10 s)\n}\n";
    let m = model(src, "R");
    let w = run(&m, "w", 3);
    assert!(w.iter().all(|(_, v)| *v == 6.0), "{w:?}");
}

/// A let reading a continuous actuator sees its start value at t = 0.
#[test]
fn continuous_actuators_start_at_their_target() {
    let src = "twin A {\n    step 1 s\n    actuator lim: W range 0 W .. 10 W = 5 W + 20 W * t / 1 s\n    let seen: W = lim\n}\n";
    let m = model(src, "A");
    let seen = run(&m, "seen", 2);
    // t = 0: the start (5 W); later the previous tick's command, clamped.
    assert_eq!(seen, [(0.0, 5.0), (1.0, 5.0), (2.0, 10.0)]);
}
