//! Differential tests on every model the project ships or is held to
//! (conformance cases, examples, clean check data), in all three solvers,
//! single and as fleets, and on large generated models: the JIT leaves
//! memory bit for bit as the interpreter does (NaNs compared by class).

use std::path::{Path, PathBuf};
use twin_compiler::check::check;
use twin_compiler::codegen::CompiledModel;
use twin_compiler::hir::Solver;
use twin_compiler::interp::{self, Memory};
use twin_compiler::ir::{Model, Slot, Stmt, lower, share};
use twin_compiler::source::Sources;
use twin_tests::differential::{Fleet, assert_same};

// ---------------------------------------------------------------------------
// Every shipped model

fn twin_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            twin_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "twin") {
            out.push(p);
        }
    }
}

/// The solvers every twin is also lowered with (`twinc sim --solver`).
const SOLVERS: [Solver; 3] = [
    Solver::Euler,
    Solver::Rk4,
    Solver::Dopri5 {
        rtol: 1e-6,
        atol: 1e-9,
    },
];

/// Every twin of a model file that checks clean, lowered with its own
/// solver and with each of [`SOLVERS`]; `None` for files with errors.
fn lowered_twins(text: &str, name: &str) -> Option<Vec<Model>> {
    let mut sources = Sources::new();
    let root = sources.add(name, text);
    let checked = check(&mut sources, root);
    if checked.has_errors() {
        return None;
    }
    let mut models = Vec::new();
    // The file's own twins, not the test benches of the stdlib it uses.
    let ours =
        (0..checked.program.twins.len()).filter(|t| checked.program.twins[*t].span.file == root);
    for t in ours {
        let own = checked.program.twins[t].solver;
        let solvers = std::iter::once(None).chain(SOLVERS.iter().filter(|s| **s != own).map(Some));
        for solver in solvers {
            match lower::lower_with(&checked.program, t, solver.copied()) {
                Ok(m) => models.push(m),
                Err(e) => eprintln!("{name}: twin {t} does not lower: {e}"),
            }
        }
    }
    Some(models)
}

/// The models under test: conformance cases, examples and clean check data.
fn shipped_models() -> Vec<(String, Model)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    if let Some(cases) = twin_tests::conformance_cases() {
        twin_files(&cases, &mut files);
    }
    twin_files(&root.join("examples"), &mut files);
    twin_files(&root.join("tests/data/check/clean"), &mut files);
    let mut models = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        let name = f.display().to_string();
        for m in lowered_twins(&text, &name).unwrap_or_default() {
            models.push((format!("{name}: {} ({:?})", m.name, m.solver), m));
        }
    }
    models
}

/// A sensor's synthetic sample at tick `k` for instance `i`, or `None`
/// when the sample is missing (every 7th tick after the first, so
/// staleness logic runs; every sensor has a sample at t = 0).
fn sample(model: &Model, sensor: usize, k: usize, i: usize) -> Option<f64> {
    if k > 0 && (k + sensor) % 7 == 3 {
        return None;
    }
    let wave = 0.5 + 0.5 * ((k as f64) * 0.05 + sensor as f64 + i as f64 * 0.7).sin();
    Some(match model.sensors[sensor].range {
        Some((lo, hi)) if lo.is_finite() && hi.is_finite() => lo + (hi - lo) * wave,
        _ => 20.0 + 40.0 * wave + i as f64,
    })
}

/// Writes the samples of tick `k` (at time `t`) for instance `i` through
/// `set`.
fn apply_samples(model: &Model, k: usize, i: usize, t: f64, set: &mut impl FnMut(Slot, f64)) {
    for (j, sensor) in model.sensors.iter().enumerate() {
        if let Some(v) = sample(model, j, k, i) {
            set(sensor.slot, v);
            set(sensor.last_sample, t);
        }
    }
}

/// Memory at t = 0 before `init`, as the driver sets it up: `dt`, params at
/// their defaults, sensor defaults, then (when `samples`) the samples at
/// t = 0 for instance `i`.
fn setup(model: &Model, samples: bool, i: usize) -> Memory {
    let mut mem = Memory::new(model);
    mem.set(model.dt, model.step);
    interp::set_params(model, &mut mem, &[]);
    interp::exec(&model.init_sensors, &mut mem);
    if samples {
        apply_samples(model, 0, i, 0.0, &mut |s, v| mem.set(s, v));
    }
    mem
}

/// The driver's clock step after `integrate` (`Model::set_tick`): tick
/// index `k` and `t = k·dt`, written through `set`.
fn set_tick(model: &Model, k: usize, set: &mut impl FnMut(Slot, f64)) {
    model.set_tick(set, k as u64, model.step);
}

const STEPS: usize = 200;

/// `init` then `steps` × (`tick`, `integrate`) in both engines, comparing
/// every slot after each call; gives the number of comparisons.
fn run_model(model: &Model, compiled: &CompiledModel, samples: bool, steps: usize) -> usize {
    let mut want = setup(model, samples, 0);
    let mut got = want.clone();
    interp::exec(&model.init, &mut want);
    compiled.init(&mut got);
    assert_same(model, &want, &got, "init");
    for k in 0..steps {
        if samples && k > 0 {
            let t = k as f64 * model.step;
            apply_samples(model, k, 0, t, &mut |s, v| {
                want.set(s, v);
                got.set(s, v);
            });
        }
        interp::exec(&model.tick, &mut want);
        compiled.tick(&mut got);
        assert_same(model, &want, &got, &format!("tick {k}"));
        interp::exec(&model.integrate, &mut want);
        compiled.integrate(&mut got);
        assert_same(model, &want, &got, &format!("integrate {k}"));
        set_tick(model, k + 1, &mut |s, v| {
            want.set(s, v);
            got.set(s, v);
        });
    }
    1 + 2 * steps
}

/// Four instances with different samples, as a fleet and one by one.
fn run_fleet(model: &Model, compiled: &CompiledModel) {
    const N: usize = 4;
    let mut singles: Vec<Memory> = (0..N).map(|i| setup(model, true, i)).collect();
    let mut fleet = Fleet::pack(model, singles.iter(), N);
    for single in &mut singles {
        compiled.init(single);
    }
    compiled.init_batch(&mut fleet.block, &mut fleet.scratch, N);
    for k in 0..STEPS {
        if k > 0 {
            let t = k as f64 * model.step;
            for (i, single) in singles.iter_mut().enumerate() {
                apply_samples(model, k, i, t, &mut |s, v| {
                    single.set(s, v);
                    fleet.set_any(model, s, i, v);
                });
            }
        }
        for single in &mut singles {
            compiled.tick(single);
        }
        compiled.tick_batch(&mut fleet.block, &mut fleet.scratch, N);
        for (i, single) in singles.iter().enumerate() {
            if let Some(d) = fleet.difference(model, i, single) {
                panic!("{}: tick {k}, instance {i}: {d}", model.name);
            }
        }
        for single in &mut singles {
            compiled.integrate(single);
        }
        compiled.integrate_batch(&mut fleet.block, &mut fleet.scratch, N);
        for (i, single) in singles.iter().enumerate() {
            if let Some(d) = fleet.difference(model, i, single) {
                panic!("{}: integrate {k}, instance {i}: {d}", model.name);
            }
        }
        for single in &mut singles {
            set_tick(model, k + 1, &mut |s, v| single.set(s, v));
        }
        set_tick(model, k + 1, &mut |s, v| fleet.set_any(model, s, 0, v));
    }
}

#[test]
fn shipped_models_agree_with_the_interpreter() {
    let models = shipped_models();
    assert!(models.len() >= 40, "only {} models found", models.len());
    let mut comparisons = 0;
    for (name, model) in &models {
        let compiled = CompiledModel::compile(model)
            .unwrap_or_else(|e| panic!("{name}: does not compile: {e}"));
        // Without samples the sensors are NaN, and a NaN error estimate
        // makes dopri5 reject 100,000 sub-steps per tick (and keep a NaN
        // step size): a few ticks show the engines agree on that too.
        let steps = match model.solver {
            Solver::Dopri5 { .. } => 3,
            _ => STEPS,
        };
        comparisons += run_model(model, &compiled, false, steps);
        comparisons += run_model(model, &compiled, true, STEPS);
    }
    eprintln!(
        "{} models, {comparisons} whole-memory comparisons",
        models.len()
    );
}

#[test]
fn shipped_models_run_as_fleets() {
    let mut shared = 0;
    for (name, model) in &shipped_models() {
        let compiled = CompiledModel::compile(model)
            .unwrap_or_else(|e| panic!("{name}: does not compile: {e}"));
        run_fleet(model, &compiled);
        // The same with the params in the region the fleet shares, as
        // `twinc run` lays out a fleet whose instances override none.
        let mut model = model.clone();
        if share::share_params(&mut model, &[]) > 0 {
            let compiled = CompiledModel::compile(&model)
                .unwrap_or_else(|e| panic!("{name}: does not compile shared: {e}"));
            run_fleet(&model, &compiled);
            shared += 1;
        }
    }
    assert!(shared >= 20, "only {shared} models have params to share");
}

// ---------------------------------------------------------------------------
// Large models

/// One twin with `blocks` copies of a block of sensors, params, lets,
/// component instances, states, alarms, actuators and handlers (the
/// benchmark model's block, all in one twin).
fn big_twin(blocks: usize) -> String {
    format!(
        "{}{}",
        twin_tests::GENERATED_PRELUDE,
        twin_tests::generated_twin("Big", blocks)
    )
}

fn statements(stmts: &[Stmt]) -> usize {
    stmts
        .iter()
        .map(|s| match s {
            Stmt::Store(..) => 1,
            Stmt::If(_, a, b) => 1 + statements(a) + statements(b),
            Stmt::While(_, b) => 1 + statements(b),
        })
        .sum()
}

/// Compiles the big twin with `blocks` blocks under every solver and runs
/// `steps` ticks in both engines.
fn big_model_agrees(blocks: usize, steps: usize) {
    let text = big_twin(blocks);
    let models = lowered_twins(&text, "big.twin").expect("the big twin checks clean");
    assert_eq!(models.len(), 3);
    for model in &models {
        let compiled = CompiledModel::compile(model).expect("the big twin compiles");
        let size = statements(&model.init) + statements(&model.tick) + statements(&model.integrate);
        eprintln!(
            "{} lines, {:?}: {} slots, {size} statements, compiled in {:?}",
            text.lines().count(),
            model.solver,
            model.slots.len(),
            compiled.compile_time()
        );
        run_model(model, &compiled, true, steps);
    }
}

#[test]
fn a_large_model_agrees() {
    big_model_agrees(40, 20);
}

/// The largest model tried: about 12,000 lines in one twin. Slow in debug
/// builds; run with `cargo test --release -- --ignored`.
#[test]
#[ignore]
fn a_very_large_model_agrees() {
    big_model_agrees(1_000, 10);
}

// ---------------------------------------------------------------------------
// Slimming

/// Each twin lowered as the product lowers it (slimmed: lets that are
/// constants, aliases or dead have no slot) and as the reference (a slot
/// for every let), both run on the interpreter with the same samples: every
/// recorded column after each tick, and every slot both keep after each
/// program, agree bit for bit.
#[test]
fn slimmed_models_record_what_the_reference_records() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    if let Some(cases) = twin_tests::conformance_cases() {
        twin_files(&cases, &mut files);
    }
    for dir in [
        "examples",
        "stdlib",
        "tests/data/check/clean",
        "tests/data/ir",
    ] {
        twin_files(&root.join(dir), &mut files);
    }
    let (mut twins, mut saved) = (0, 0);
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        let mut sources = Sources::new();
        let root = sources.add(f.display().to_string(), &text);
        let checked = check(&mut sources, root);
        if checked.has_errors() {
            continue;
        }
        for t in 0..checked.program.twins.len() {
            for solver in std::iter::once(None).chain(SOLVERS.iter().copied().map(Some)) {
                let slim = lower::lower_with(&checked.program, t, solver);
                let reference = lower::lower_reference(&checked.program, t, solver);
                let (Ok(slim), Ok(reference)) = (slim, reference) else {
                    continue;
                };
                let name = format!("{}: {} ({:?})", f.display(), slim.name, slim.solver);
                slim_agrees(&name, &slim, &reference);
                twins += 1;
                saved += reference.persistent - slim.persistent;
            }
        }
    }
    assert!(twins >= 40, "only {twins} twins found");
    eprintln!("{twins} twins; slimming saved {saved} slots in all");
}

/// Runs both and compares, as the doc of the test above says.
fn slim_agrees(name: &str, slim: &Model, reference: &Model) {
    assert_eq!(slim.outputs.len(), reference.outputs.len(), "{name}");
    // Slots both keep, by name: (slim, reference).
    let shared: Vec<(Slot, Slot)> = (0..slim.slots.len() as Slot)
        .filter_map(|s| Some((s, reference.slot(&slim.slots[s as usize].name)?)))
        .collect();
    let mut a = setup(slim, true, 0);
    let mut b = setup(reference, true, 0);
    let compare = |a: &Memory, b: &Memory, when: &str| {
        for &(x, y) in &shared {
            let (u, v) = (a.get(x), b.get(y));
            assert!(
                twin_tests::differential::same(u, v),
                "{name}: {when}: `{}` is {u:?} slimmed, {v:?} in the reference",
                slim.slots[x as usize].name
            );
        }
    };
    interp::exec(&slim.init, &mut a);
    interp::exec(&reference.init, &mut b);
    compare(&a, &b, "init");
    let steps = match slim.solver {
        Solver::Dopri5 { .. } => 20,
        _ => 100,
    };
    for k in 0..steps {
        if k > 0 {
            let t = k as f64 * slim.step;
            apply_samples(slim, k, 0, t, &mut |s, v| a.set(s, v));
            apply_samples(reference, k, 0, t, &mut |s, v| b.set(s, v));
        }
        interp::exec(&slim.tick, &mut a);
        interp::exec(&reference.tick, &mut b);
        compare(&a, &b, &format!("tick {k}"));
        for (o, r) in slim.outputs.iter().zip(&reference.outputs) {
            assert_eq!(o.name, r.name, "{name}");
            let (u, v) = (a.get(o.slot), b.get(r.slot));
            assert!(
                twin_tests::differential::same(u, v),
                "{name}: tick {k}: column `{}` records {u:?} slimmed, {v:?} in the reference",
                o.name
            );
        }
        interp::exec(&slim.integrate, &mut a);
        interp::exec(&reference.integrate, &mut b);
        compare(&a, &b, &format!("integrate {k}"));
        set_tick(slim, k + 1, &mut |s, v| a.set(s, v));
        set_tick(reference, k + 1, &mut |s, v| b.set(s, v));
    }
}
