#![allow(missing_docs)]
use twin_compiler::check::check;
use twin_compiler::codegen::CompiledModel;
use twin_compiler::hir::Solver;
use twin_compiler::ir::{Model, lower};
use twin_compiler::source::Sources;
/// One twin with `blocks` copies of a block of sensors, params, lets,
/// component instances, states, alarms, actuators and handlers (the
/// benchmark model's block, all in one twin).
fn big_twin(blocks: usize) -> String {
    let mut out = String::from(
        "use std::filters::Lag\n\n\
         component Heat<U>(x: U, gain: W/U, capacity: J/K) -> K {\n    \
         state rise: K = 0 K\n    der(rise) = (gain * x - 2 W/K * rise) / capacity\n    \
         return rise\n}\n\ntwin Big {\n    step 100 ms\n",
    );
    for k in 0..blocks {
        out.push_str(&format!(
            "    sensor current{k}: A range 0 A .. 60 A stale after 5 s\n\
             \x20   sensor ambient{k}: degC = 20 degC\n\
             \x20   param capacity{k}: kJ/K = 5 kJ/K\n\
             \x20   let power{k}: kW = 400 V * current{k} * 0.9\n\
             \x20   let smooth{k} = Lag(x: current{k}, tau: 30 s)\n\
             \x20   let rise{k} = Heat(x: current{k}, gain: 2 W/A, capacity: capacity{k})\n\
             \x20   state temp{k}: degC = 25 degC\n\
             \x20   der(temp{k}) = (0.02 * power{k} - 3 W/K * (temp{k} - ambient{k})) / capacity{k}\n\
             \x20   alarm hot{k}: warning when temp{k} > 80 degC for 30 s clear when temp{k} < 75 degC\n\
             \x20   actuator limit{k}: A range 0 A .. 60 A slew 1 A/s\n\
             \x20   on hot{k} {{\n        limit{k} = 0.8 * smooth{k}\n    }}\n"
        ));
    }
    out.push_str("}\n");
    out
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
    for t in 0..checked.program.twins.len() {
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


#[test]
fn probe() {
    let blocks: usize = std::env::var("BLOCKS").ok().and_then(|b| b.parse().ok()).unwrap_or(300);
    let models = lowered_twins(&big_twin(blocks), "big.twin").unwrap();
    let m = &models[2];
    let c = CompiledModel::compile(m).unwrap();
    eprintln!("PROBE blocks={blocks} {:?} {:?}", m.solver, c.compile_time());
}
