//! `twinc simulate FILE --scenario NAME`: run a what-if scenario and report.
//!
//! Takes a model file and the name of one of its `scenario` blocks; runs
//! the scenario on native code (faster than real time) and gives a report
//! a person reads on stdout: each reported signal's min / max / mean /
//! final value in its unit, the alarm timeline, actuator clamps, rejected
//! inputs and the speed-up over real time. `--out` also streams every row
//! as CSV, `--plot` draws the reported signals with alarm periods shaded
//! (SVG or PNG). Exit status: 0 on success, 1 on a model error, 2 on bad
//! usage or unreadable input.

use std::fmt::Write as _;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use twin_compiler::codegen::CompiledModel;
use twin_compiler::ir::Format;
use twin_runtime::runs::{Prepared, prepare};
use twin_runtime::scenario::{Options, Report, run_scenario};
use twin_runtime::sim::{Engine, Interpreter, sig};

use crate::load::{self, Failure};
use crate::progress::Progress;
use crate::sim::EngineArg;

/// Arguments of `twinc simulate`.
#[derive(Args, Debug)]
pub struct SimulateArgs {
    /// The model file.
    file: PathBuf,
    /// The scenario to run (may be left out when the file has one).
    #[arg(long)]
    scenario: Option<String>,
    /// Also write every signal at every step as CSV here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Draw the reported signals over time, alarm periods shaded: `.svg`
    /// or `.png`.
    #[arg(long)]
    plot: Option<PathBuf>,
    /// Run for this long instead of the scenario's `duration` (`1h`,
    /// `2d`, or seconds).
    #[arg(long)]
    duration: Option<String>,
    /// The execution engine.
    #[arg(long, value_enum, default_value_t = EngineArg::Jit)]
    engine: EngineArg,
}

/// Runs `twinc simulate`; gives the exit status.
pub fn run(args: &SimulateArgs) -> u8 {
    match simulate(args) {
        Ok(()) => 0,
        Err(f) => f.report(),
    }
}

fn simulate(args: &SimulateArgs) -> Result<(), Failure> {
    let plot_kind = match &args.plot {
        Some(path) => Some(crate::plot::Kind::from_path(path).map_err(Failure::usage)?),
        None => None,
    };
    let duration = match &args.duration {
        Some(text) => Some(crate::sim::duration(
            &twin_compiler::units::UnitTable::builtin(),
            "duration",
            text,
        )?),
        None => None,
    };
    let compile_start = Instant::now();
    let loaded = load::load_and_check(&args.file)?;
    let program = &loaded.checked.program;
    let root = loaded
        .sources
        .get(twin_compiler::span::FileId(0))
        .name
        .clone();
    let ours: Vec<_> = program
        .scenarios
        .iter()
        .filter(|s| loaded.sources.get(s.span.file).name == root)
        .collect();
    let names = || {
        ours.iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let run = match &args.scenario {
        Some(name) => ours.iter().find(|s| s.name == *name).ok_or_else(|| {
            if ours.is_empty() {
                Failure::usage(format!("`{}` has no scenario", args.file.display()))
            } else {
                let hint =
                    twin_compiler::units::closest(name, ours.iter().map(|s| s.name.as_str()))
                        .map_or(String::new(), |b| format!(" (did you mean `{b}`?)"));
                Failure::usage(format!(
                    "no scenario `{name}` in `{}`{hint}; it has: {}",
                    args.file.display(),
                    names()
                ))
            }
        })?,
        None => match ours.as_slice() {
            [one] => one,
            [] => {
                return Err(Failure::usage(format!(
                    "`{}` has no scenario",
                    args.file.display()
                )));
            }
            _ => {
                return Err(Failure::usage(format!(
                    "`{}` has several scenarios; pick one with --scenario ({})",
                    args.file.display(),
                    names()
                )));
            }
        },
    };
    let base = args
        .file
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut prepared = prepare(program, run, &base).map_err(Failure::usage)?;
    if let Some(d) = duration {
        prepared.duration = d;
    }
    if prepared.report.is_empty() {
        prepared.report = default_report(&prepared);
    }
    let jit = match args.engine {
        EngineArg::Jit => match CompiledModel::compile_with(&prepared.model, crate::test::SINGLE) {
            Ok(jit) => Some(jit),
            Err(e) => {
                eprintln!("warning: native compilation failed ({e}); running on the interpreter");
                None
            }
        },
        EngineArg::Interp => None,
    };
    let compile = compile_start.elapsed();
    let report = match jit {
        Some(jit) => execute(&prepared, jit, args, plot_kind.is_some())?,
        None => execute(&prepared, Interpreter, args, plot_kind.is_some())?,
    };
    let mut text = String::new();
    render(&mut text, &run.name, &report, compile.as_secs_f64());
    out!("{text}");
    if let (Some(path), Some(kind)) = (&args.plot, plot_kind) {
        crate::plot::draw(path, kind, &run.name, &report)
            .map_err(|e| Failure::usage(format!("cannot draw `{}`: {e}", path.display())))?;
        outln!("plot written to {}", path.display());
    }
    Ok(())
}

/// Without a `report` line: every numeric output that is not an alarm.
fn default_report(p: &Prepared) -> Vec<(String, u32, twin_compiler::hir::DisplayUnit)> {
    p.model
        .outputs
        .iter()
        .filter(|o| matches!(o.format, Format::Real | Format::Int))
        .map(|o| (o.name.clone(), o.slot, o.unit.clone()))
        .collect()
}

fn execute<E: Engine>(
    p: &Prepared,
    engine: E,
    args: &SimulateArgs,
    trace: bool,
) -> Result<Report, Failure> {
    let mut file = match &args.out {
        Some(path) => Some(BufWriter::with_capacity(
            1 << 16,
            std::fs::File::create(path)
                .map_err(|e| Failure::usage(format!("cannot write `{}`: {e}", path.display())))?,
        )),
        None => None,
    };
    let mut progress = Progress::new();
    let mut on_progress = |done: u64, total: u64| progress.update(done, total);
    let report = run_scenario(
        p,
        engine,
        Options {
            csv: file.as_mut().map(|f| f as &mut dyn Write),
            trace_buckets: trace.then_some(crate::plot::BUCKETS),
            progress: Some(&mut on_progress),
        },
    )
    .map_err(Failure::usage)?;
    if let Some(mut f) = file {
        f.flush()
            .map_err(|e| Failure::usage(format!("cannot write the CSV: {e}")))?;
    }
    Ok(report)
}

/// Writes the report for a person.
fn render(out: &mut String, name: &str, r: &Report, compile: f64) {
    let _ = writeln!(
        out,
        "scenario `{name}` for {}: {} at {} steps ({} rows)",
        r.twin,
        human_duration(r.duration),
        human_duration(r.step),
        r.rows
    );
    let _ = writeln!(
        out,
        "ran in {:.3} s after {:.1} ms of compiling: {} real time",
        r.wall.as_secs_f64(),
        compile * 1e3,
        speedup(r.speedup())
    );
    if !r.signals.is_empty() {
        let _ = writeln!(out);
        let rows: Vec<[String; 6]> = r
            .signals
            .iter()
            .map(|s| {
                let unit = if s.unit.text == "1" {
                    String::new()
                } else {
                    s.unit.text.clone()
                };
                let v = |x: f64| value(x, &s.format);
                [
                    s.name.clone(),
                    unit,
                    v(s.min),
                    v(s.max),
                    sig(s.mean),
                    v(s.last),
                ]
            })
            .collect();
        let header = ["signal", "unit", "min", "max", "mean", "final"].map(String::from);
        table(out, &header, &rows);
        for s in r.signals.iter().filter(|s| s.nan_rows > 0) {
            let _ = writeln!(
                out,
                "note: `{}` was NaN in {} of {} rows (a sensor without data?)",
                s.name, s.nan_rows, r.rows
            );
        }
    }
    let _ = writeln!(out);
    if r.alarms.is_empty() {
        let _ = writeln!(out, "alarms: none raised");
    } else {
        let _ = writeln!(out, "alarms:");
        alarm_timeline(out, r);
    }
    if r.clamps.is_empty() {
        let _ = writeln!(out, "actuator clamps: none");
    } else {
        let _ = writeln!(out, "actuator clamps:");
        for c in &r.clamps {
            let _ = writeln!(
                out,
                "  {}  clamped to its range at {} of {} ticks",
                c.name, c.ticks, r.rows
            );
        }
    }
    for x in &r.rejected {
        let _ = writeln!(
            out,
            "rejected: {} value{} of `{}` ({})",
            x.lines.len(),
            if x.lines.len() == 1 { "" } else { "s" },
            x.sensor,
            x.reason
        );
    }
}

/// Episodes shown per alarm before the middle ones are summarised.
const EPISODES_SHOWN: usize = 6;

/// Per alarm: a summary line, then its episodes (the first and last few
/// when there are many).
fn alarm_timeline(out: &mut String, r: &Report) {
    let mut names: Vec<&str> = Vec::new();
    for a in &r.alarms {
        if !names.contains(&a.name.as_str()) {
            names.push(&a.name);
        }
    }
    for name in names {
        let episodes: Vec<_> = r.alarms.iter().filter(|a| a.name == name).collect();
        let lengths: Vec<f64> = episodes
            .iter()
            .map(|a| a.cleared.unwrap_or(r.duration) - a.raised)
            .collect();
        let total: f64 = lengths.iter().sum();
        let longest = lengths.iter().copied().fold(0.0, f64::max);
        let share = if r.duration > 0.0 {
            100.0 * total / r.duration
        } else {
            0.0
        };
        let _ = writeln!(
            out,
            "  {name} ({}): raised {} time{}, active {} in all ({}% of the run), longest {}",
            episodes[0].severity,
            episodes.len(),
            if episodes.len() == 1 { "" } else { "s" },
            human_duration(total),
            sig(share),
            human_duration(longest)
        );
        let n = episodes.len();
        for (i, a) in episodes.iter().enumerate() {
            if n > EPISODES_SHOWN && i == EPISODES_SHOWN / 2 {
                let _ = writeln!(out, "    ... {} more ...", n - EPISODES_SHOWN);
            }
            if n > EPISODES_SHOWN && i >= EPISODES_SHOWN / 2 && i < n - EPISODES_SHOWN / 2 {
                continue;
            }
            let end = match a.cleared {
                Some(c) => format!(
                    "cleared at {}  ({})",
                    clock(c),
                    human_duration(c - a.raised)
                ),
                None => format!(
                    "still active at the end  ({} so far)",
                    human_duration(r.duration - a.raised)
                ),
            };
            let _ = writeln!(out, "    raised at {}, {end}", clock(a.raised));
        }
    }
}

/// Left-aligned names, right-aligned numbers.
fn table(out: &mut String, header: &[String; 6], rows: &[[String; 6]]) {
    let mut width = header.clone().map(|h| h.chars().count());
    for row in rows {
        for (w, cell) in width.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in std::iter::once(header).chain(rows) {
        let mut line = String::new();
        for (i, (cell, w)) in row.iter().zip(width).enumerate() {
            let pad = w - cell.chars().count();
            if i < 2 {
                line.push_str(cell);
                line.push_str(&" ".repeat(pad + 2));
            } else {
                line.push_str(&" ".repeat(pad + 2));
                line.push_str(cell);
            }
        }
        let _ = writeln!(out, "  {}", line.trim_end());
    }
}

/// A value as its format prints it.
fn value(v: f64, format: &Format) -> String {
    match format {
        Format::Int | Format::Bool if v.is_finite() => format!("{}", v as i64),
        Format::Enum(names) if v >= 0.0 && (v as usize) < names.len() => names[v as usize].clone(),
        _ => sig(v),
    }
}

/// A length of time in the largest fitting units: `30 d`, `2 h 10 min`,
/// `100 ms`.
pub fn human_duration(s: f64) -> String {
    if !s.is_finite() {
        return format!("{s} s");
    }
    if s < 1.0 && s > 0.0 {
        return format!("{} ms", sig(s * 1e3));
    }
    if s < 60.0 {
        return format!("{} s", sig(s));
    }
    let units = [(86400.0, "d"), (3600.0, "h"), (60.0, "min"), (1.0, "s")];
    let mut rest = s.round();
    let mut parts = Vec::new();
    for (size, name) in units {
        let n = (rest / size).floor();
        if n >= 1.0 {
            parts.push(format!("{n} {name}"));
            rest -= n * size;
        }
        if parts.len() == 2 {
            break;
        }
    }
    parts.join(" ")
}

/// A point in twin time: `12.5 s` early on, `1 d 02:13:05` later.
pub fn clock(t: f64) -> String {
    if t < 60.0 {
        return format!("t = {} s", twin_runtime::sim::format_time(t));
    }
    let days = (t / 86400.0).floor();
    let rest = t - days * 86400.0;
    let (h, m) = ((rest / 3600.0).floor(), ((rest % 3600.0) / 60.0).floor());
    let s = rest - h * 3600.0 - m * 60.0;
    let seconds = if (s - s.round()).abs() < 1e-6 {
        format!("{:02}", s.round() as u64)
    } else {
        format!("{s:06.3}")
    };
    let day = if days > 0.0 {
        format!("{days} d ")
    } else {
        String::new()
    };
    format!("t = {day}{:02}:{:02}:{seconds}", h as u64, m as u64)
}

fn speedup(x: f64) -> String {
    if !x.is_finite() {
        return "too fast to time against".into();
    }
    if x >= 1.0 {
        format!("{}× faster than", sig(x))
    } else {
        format!("{}× slower than", sig(1.0 / x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(human_duration(30.0 * 86400.0), "30 d");
        assert_eq!(human_duration(7800.0), "2 h 10 min");
        assert_eq!(human_duration(0.1), "100 ms");
        assert_eq!(human_duration(12.5), "12.5 s");
        assert_eq!(clock(93_785.0), "t = 1 d 02:03:05");
        assert_eq!(clock(3.5), "t = 3.5 s");
        assert_eq!(clock(61.25), "t = 00:01:01.250");
    }
}
