//! Helpers shared by the data-driven tests.
//!
//! Takes `.twin` sources; gives the text the snapshot tests compare: the
//! source followed by its rendered diagnostics (no colour), or the parse
//! tree. Keeping the rendering here means every test shows diagnostics
//! exactly as `twinc check` prints them.

pub mod differential;

use twin_compiler::check::check;
use twin_compiler::diagnostic::render;
use twin_compiler::source::Sources;

/// Checks `text` as a file named `name`; gives the rendered diagnostics.
pub fn diagnostics_text(name: &str, text: &str) -> String {
    let mut sources = Sources::new();
    let root = sources.add(name, text);
    let checked = check(&mut sources, root);
    render::render_all(&sources, &checked.diagnostics, false)
}

/// The snapshot of a check test: the source, then what `twinc check`
/// reports about it.
pub fn check_snapshot(name: &str, text: &str) -> String {
    let rendered = diagnostics_text(name, text);
    let numbered: String = text
        .lines()
        .enumerate()
        .map(|(i, l)| format!("{:>3} | {l}\n", i + 1))
        .collect();
    let report = if rendered.is_empty() {
        "(no diagnostics)\n".to_string()
    } else {
        rendered
    };
    format!("{numbered}\n{report}")
}

/// The snapshot of a parse test: the tree, then syntax diagnostics.
pub fn parse_snapshot(name: &str, text: &str) -> String {
    let mut sources = Sources::new();
    let id = sources.add(name, text);
    let parsed = twin_compiler::syntax::parse(text, id);
    let mut out = format!("{:#?}\n", parsed.module);
    out.push_str(&render::render_all(&sources, &parsed.diagnostics, false));
    out
}

/// The conformance cases folder beside the project, when it exists.
pub fn conformance_cases() -> Option<std::path::PathBuf> {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance/cases");
    dir.is_dir().then_some(dir)
}

/// A generated model of about `lines` lines that checks without errors:
/// plant twins with sensors, params, lets, states, alarms, handlers and
/// component instances, in the proportions of real models. Used by the
/// benchmarks.
pub fn generated_model(lines: usize) -> String {
    let mut out = String::from("//! Generated benchmark model.\n");
    out.push_str(GENERATED_PRELUDE);
    let mut twin = 0;
    while out.lines().count() < lines {
        out.push_str(&format!("/// Unit {twin} of the plant.\n"));
        out.push_str(&generated_twin(&format!("Unit{twin}"), 40));
        out.push('\n');
        twin += 1;
    }
    out
}

/// The imports and the component every generated twin uses.
pub const GENERATED_PRELUDE: &str = "use std::filters::Lag\n\n\
    component Heat<U>(x: U, gain: W/U, capacity: J/K) -> K {\n    \
    state rise: K = 0 K\n    der(rise) = (gain * x - 2 W/K * rise) / capacity\n    \
    return rise\n}\n\n";

/// One generated twin named `name` with `blocks` groups of sensors,
/// params, lets, component instances, a state, an alarm, an actuator and
/// a handler (12 lines each); it needs [`GENERATED_PRELUDE`] before it.
pub fn generated_twin(name: &str, blocks: usize) -> String {
    let mut out = format!("twin {name} {{\n    step 100 ms\n");
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

/// Checks and lowers the only twin of `src`, with `solver` if given.
pub fn lower_source(
    src: &str,
    solver: Option<twin_compiler::hir::Solver>,
) -> Result<twin_compiler::ir::Model, String> {
    let mut sources = Sources::new();
    let root = sources.add("model.twin", src);
    let checked = check(&mut sources, root);
    if checked.has_errors() {
        return Err(render::render_all(&sources, &checked.diagnostics, false));
    }
    twin_compiler::ir::lower::lower_with(&checked.program, 0, solver).map_err(|e| e.0)
}

/// Runs a model on the interpreter with no inputs; gives the value of
/// `slot` at every tick up to `until` (t, value).
pub fn run_interp(
    model: &twin_compiler::ir::Model,
    dt: f64,
    until: f64,
    output: &str,
) -> Vec<(f64, f64)> {
    use twin_runtime::sim::{Interpreter, Simulation};
    let Some(slot) = model.slot(output) else {
        return Vec::new();
    };
    let Ok(mut sim) = Simulation::new(model, Interpreter, dt, &Vec::new(), None) else {
        return Vec::new();
    };
    let ticks = (until / dt).round() as u64;
    let mut out = Vec::new();
    for k in 0..=ticks {
        sim.step_to_record();
        out.push((sim.time(), sim.mem.get(slot)));
        if k < ticks {
            sim.advance();
        }
    }
    out
}

/// A ready instance on the interpreter's memory: params at their defaults,
/// sensor defaults, then the given sensor values (SI), then `init`.
pub fn ready_memory(
    model: &twin_compiler::ir::Model,
    sensors: &[(&str, f64)],
) -> twin_compiler::interp::Memory {
    use twin_compiler::interp::{self, Memory};
    let mut mem = Memory::new(model);
    mem.set(model.dt, model.step);
    interp::set_params(model, &mut mem, &[]);
    interp::exec(&model.init_sensors, &mut mem);
    for (name, v) in sensors {
        if let Some(s) = model.slot(name) {
            mem.set(s, *v);
        }
    }
    interp::exec(&model.init, &mut mem);
    mem
}
