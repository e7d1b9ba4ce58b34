//! `twinc sim FILE`: run a twin over time and write its signals as CSV.
//!
//! Takes a model file, an optional telemetry CSV and run options; gives one
//! CSV row per tick (t = 0, dt, ..., until) on stdout or `--out`, every
//! state, let, out, var, actuator and alarm in its declared unit. Exit
//! status: 0 on success, 1 when the model has errors (diagnostics on
//! stderr), 2 on bad usage or unreadable input. Rejected samples are
//! reported on stderr and never stop the run.

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, ValueEnum};
use twin_compiler::codegen::CompiledModel;
use twin_compiler::hir::Solver;
use twin_compiler::ir::Model;
use twin_compiler::units::UnitTable;
use twin_compiler::units::parse::parse_quantity;
use twin_runtime::input::read_inputs;
use twin_runtime::sim::{Engine, Interpreter, Simulation};

use crate::load::{self, Failure};

/// Solvers selectable on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SolverArg {
    /// Explicit Euler.
    Euler,
    /// Classic Runge–Kutta, 4th order.
    Rk4,
    /// Adaptive Dormand–Prince 5(4), rtol 1e-9, atol 1e-12.
    Dopri5,
}

/// Execution engines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum EngineArg {
    /// Native code compiled with Cranelift.
    Jit,
    /// The reference interpreter.
    Interp,
}

/// Arguments of `twinc sim`.
#[derive(Args, Debug)]
pub struct SimArgs {
    /// The model file.
    file: PathBuf,
    /// The twin to run (may be left out when the file has one).
    #[arg(long)]
    twin: Option<String>,
    /// Telemetry CSV: header `t` then sensor names, optionally with a
    /// unit (`current[mA]`); `t` in seconds.
    #[arg(long)]
    inputs: Option<PathBuf>,
    /// The step (`10ms`, `1s`, or seconds); default: the twin's `step`.
    #[arg(long)]
    dt: Option<String>,
    /// How long to run (`5min`, `1h`, or seconds); default: the last
    /// input sample, or 1000 steps without inputs.
    #[arg(long)]
    until: Option<String>,
    /// The integrator; default: the twin's `solver`.
    #[arg(long, value_enum)]
    solver: Option<SolverArg>,
    /// Override a param: `p=VALUE` in its declared unit, or with a unit
    /// (`loss=50W/K`, `ambient=68degF`). Repeatable.
    #[arg(long = "set", value_name = "P=VALUE")]
    sets: Vec<String>,
    /// Write the CSV here instead of stdout.
    #[arg(long)]
    out: Option<PathBuf>,
    /// The execution engine.
    #[arg(long, value_enum, default_value_t = EngineArg::Jit)]
    engine: EngineArg,
    /// Run without writing rows (for timing).
    #[arg(long)]
    quiet: bool,
    /// Print compile time, ticks, run time and ticks/s to stderr.
    #[arg(long)]
    stats: bool,
}

/// Parses a duration option: a quantity of time, or plain seconds.
pub fn duration(table: &UnitTable, option: &str, text: &str) -> Result<f64, Failure> {
    let bad = |why: String| Failure::usage(format!("--{option} {text}: {why}"));
    let (v, unit) = parse_quantity(table, text).map_err(bad)?;
    let seconds = match unit {
        Some(u)
            if u.dim
                == twin_compiler::units::Dimension::base(twin_compiler::units::BaseDim::Time) =>
        {
            u.to_si(v)
        }
        Some(_) => return Err(bad("not a duration (use s, ms, min, h or d)".into())),
        None => v,
    };
    if !(seconds.is_finite() && seconds >= 0.0) {
        return Err(bad("must be a non-negative duration".into()));
    }
    Ok(seconds)
}

/// Parses the `--set` overrides into SI values.
fn overrides(
    table: &UnitTable,
    model: &Model,
    sets: &[String],
) -> Result<Vec<(String, f64)>, Failure> {
    let mut out = Vec::new();
    for set in sets {
        let Some((name, value)) = set.split_once('=') else {
            return Err(Failure::usage(format!(
                "--set {set}: expected P=VALUE, e.g. --set loss=50W/K"
            )));
        };
        let name = name.trim();
        let Some(param) = model.params.iter().find(|p| p.name == name) else {
            let names: Vec<&str> = model.params.iter().map(|p| p.name.as_str()).collect();
            let hint = twin_compiler::units::closest(name, names.iter().copied())
                .map_or(String::new(), |b| format!("; did you mean `{b}`?"));
            return Err(Failure::usage(format!(
                "--set {set}: `{}` has no param `{name}`{hint}",
                model.name
            )));
        };
        let (v, unit) = parse_quantity(table, value)
            .map_err(|e| Failure::usage(format!("--set {set}: {e}")))?;
        let si = match unit {
            Some(u) if u.dim != param.dimension => {
                return Err(Failure::usage(format!(
                    "--set {set}: `{name}` is {} (`{}`), not {}",
                    param.dimension.describe(),
                    param.unit.text,
                    u.dim.describe()
                )));
            }
            Some(u) => u.to_si(v),
            None => param.unit.to_si(v),
        };
        out.push((name.to_string(), si));
    }
    Ok(out)
}

/// Runs `twinc sim`; gives the exit status.
pub fn run(args: &SimArgs) -> u8 {
    match simulate(args) {
        Ok(()) => 0,
        Err(f) => f.report(),
    }
}

fn simulate(args: &SimArgs) -> Result<(), Failure> {
    let compile_start = Instant::now();
    let table = UnitTable::builtin();
    let loaded = load::load_and_check(&args.file)?;
    let twin = load::pick_twin(&loaded, args.twin.as_deref())?;
    let solver = args.solver.map(|s| match s {
        SolverArg::Euler => Solver::Euler,
        SolverArg::Rk4 => Solver::Rk4,
        SolverArg::Dopri5 => Solver::Dopri5 {
            rtol: 1e-9,
            atol: 1e-12,
        },
    });
    let model = twin_compiler::ir::lower::lower_with(&loaded.checked.program, twin, solver)
        .map_err(|e| Failure::model(format!("{}: {e}", args.file.display())))?;
    let inputs = match &args.inputs {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                Failure::usage(format!("cannot read inputs `{}`: {e}", path.display()))
            })?;
            Some(
                read_inputs(&text)
                    .map_err(|e| Failure::usage(format!("{}: {e}", path.display())))?,
            )
        }
        None => None,
    };
    let dt = match &args.dt {
        Some(text) => duration(&table, "dt", text)?,
        None => model.step,
    };
    if dt <= 0.0 {
        return Err(Failure::usage("--dt must be longer than zero".into()));
    }
    let until = match &args.until {
        Some(text) => duration(&table, "until", text)?,
        None => {
            let last = inputs.as_ref().and_then(|i| {
                i.columns
                    .iter()
                    .flat_map(|c| c.samples.iter().map(|s| s.t))
                    .reduce(f64::max)
            });
            last.unwrap_or(1000.0 * dt)
        }
    };
    let overrides = overrides(&table, &model, &args.sets)?;
    let ticks = (until / dt + 1e-9).floor() as u64;
    let jit = match args.engine {
        EngineArg::Jit => match CompiledModel::compile_with(&model, crate::test::SINGLE) {
            Ok(jit) => Some(jit),
            Err(e) => {
                eprintln!("warning: native compilation failed ({e}); running on the interpreter");
                None
            }
        },
        EngineArg::Interp => None,
    };
    let compile_time = compile_start.elapsed();
    let run_start = Instant::now();
    let rejected = match jit {
        Some(jit) => run_ticks(&model, jit, dt, ticks, &overrides, inputs.as_ref(), args)?,
        None => run_ticks(
            &model,
            Interpreter,
            dt,
            ticks,
            &overrides,
            inputs.as_ref(),
            args,
        )?,
    };
    let run_time = run_start.elapsed();
    for r in &rejected {
        let lines: Vec<String> = r.lines.iter().take(8).map(|l| l.to_string()).collect();
        let more = if r.lines.len() > 8 {
            format!(" and {} more", r.lines.len() - 8)
        } else {
            String::new()
        };
        eprintln!(
            "rejected {} sample{} of `{}` ({}): line{} {}{more}",
            r.lines.len(),
            if r.lines.len() == 1 { "" } else { "s" },
            r.sensor,
            r.reason,
            if r.lines.len() == 1 { "" } else { "s" },
            lines.join(", ")
        );
    }
    if args.stats {
        let secs = run_time.as_secs_f64();
        let rate = if secs > 0.0 {
            (ticks + 1) as f64 / secs
        } else {
            f64::INFINITY
        };
        eprintln!(
            "compile {:.1} ms, {} ticks in {:.1} ms, {:.0} ticks/s",
            compile_time.as_secs_f64() * 1e3,
            ticks + 1,
            secs * 1e3,
            rate
        );
    }
    Ok(())
}

fn run_ticks<E: Engine>(
    model: &Model,
    engine: E,
    dt: f64,
    ticks: u64,
    overrides: &[(String, f64)],
    inputs: Option<&twin_runtime::input::Inputs>,
    args: &SimArgs,
) -> Result<Vec<twin_runtime::sim::Rejected>, Failure> {
    let mut sim = Simulation::new(model, engine, dt, &overrides.to_vec(), inputs)
        .map_err(|e| Failure::usage(e.0))?;
    let sink: Box<dyn Write> = match (&args.out, args.quiet) {
        (_, true) => Box::new(std::io::sink()),
        (Some(path), false) => Box::new(
            std::fs::File::create(path)
                .map_err(|e| Failure::usage(format!("cannot write `{}`: {e}", path.display())))?,
        ),
        (None, false) => Box::new(std::io::stdout().lock()),
    };
    let mut out = BufWriter::with_capacity(1 << 16, sink);
    // A reader that stops early (`twinc sim ... | head`) ends the run
    // quietly; any other write error is reported.
    let io = |e: std::io::Error| Failure::usage(format!("cannot write the output: {e}"));
    let closed = |e: &std::io::Error| e.kind() == std::io::ErrorKind::BrokenPipe;
    if !args.quiet
        && let Err(e) = sim.write_header(&mut out)
    {
        return if closed(&e) {
            Ok(sim.rejected())
        } else {
            Err(io(e))
        };
    }
    let mut progress = crate::progress::Progress::new();
    for k in 0..=ticks {
        sim.step_to_record();
        if !args.quiet
            && let Err(e) = sim.write_row(&mut out)
        {
            return if closed(&e) {
                Ok(sim.rejected())
            } else {
                Err(io(e))
            };
        }
        if k % twin_runtime::scenario::PROGRESS_EVERY == 0 {
            progress.update(k, ticks + 1);
        }
        if k < ticks {
            sim.advance();
        }
    }
    progress.update(ticks + 1, ticks + 1);
    if let Err(e) = out.flush()
        && !closed(&e)
    {
        return Err(io(e));
    }
    Ok(sim.rejected())
}
