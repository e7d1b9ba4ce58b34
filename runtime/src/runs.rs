//! Tests (and the inputs of scenarios) as the language describes them.
//!
//! Takes a checked [`Run`] (a `test` or `scenario` block) and the folder of
//! the file it came from; gives a [`Prepared`] run: the twin lowered
//! together with the block's expressions (sensor drives, overrides,
//! expectations), CSV replays loaded, and, for tests, the outcome of each
//! expectation with the time and the values involved when one fails.

use std::path::Path;

use twin_compiler::hir::{DisplayUnit, ExpectWhen, Program, Run, TExpr, TExprKind};
use twin_compiler::interp::{self, Memory};
use twin_compiler::ir::{Expr, Model, Slot};

use crate::input::{Inputs, read_inputs};
use crate::sim::{Engine, Overrides, Simulation};

/// A run ready to execute.
pub struct Prepared {
    /// The twin, lowered.
    pub model: Model,
    /// Sensors driven by expressions of time: (sensor index, expression).
    pub drives: Vec<(usize, Expr)>,
    /// Sensors replayed from CSV files, as one set of inputs.
    pub inputs: Option<Inputs>,
    /// Param overrides in SI.
    pub overrides: Overrides,
    /// How long to run, in s.
    pub duration: f64,
    /// Expectations: when they must hold and their condition.
    pub expects: Vec<(ExpectWhen, Expr)>,
    /// Reported signals: (name, slot, unit).
    pub report: Vec<(String, Slot, DisplayUnit)>,
}

/// The outcome of one expectation.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// Whether it held as required.
    pub passed: bool,
    /// For a failure: when and with which values (`at t = 60 s: empty = 0, volume = 40 L`).
    pub detail: String,
}

impl Outcome {
    fn pass() -> Outcome {
        Outcome {
            passed: true,
            detail: String::new(),
        }
    }
}

/// Lowers a run's twin and expressions, and loads its CSV replays (paths
/// relative to `base`).
pub fn prepare(program: &Program, run: &Run, base: &Path) -> Result<Prepared, String> {
    let body = program.twins.get(run.twin).ok_or("the run names no twin")?;
    let mut exprs: Vec<&TExpr> = Vec::new();
    let mut csv = Vec::new();
    for (id, e) in &run.sensors {
        match &e.kind {
            TExprKind::Csv(path, column) => csv.push((id.clone(), path.clone(), column.clone())),
            _ => exprs.push(e),
        }
    }
    let n_drives = exprs.len();
    exprs.extend(run.set.iter().map(|(_, e)| e));
    exprs.extend(run.expects.iter().map(|x| &x.cond));
    exprs.extend(run.report.iter());
    let (model, lowered) =
        twin_compiler::ir::lower::lower_with_exprs(program, run.twin, None, &exprs)
            .map_err(|e| e.to_string())?;
    let mut lowered = lowered.into_iter();
    let driven: Vec<&str> = run
        .sensors
        .iter()
        .filter(|(_, e)| !matches!(e.kind, TExprKind::Csv(..)))
        .map(|(path, _)| path.as_str())
        .collect();
    let mut drives = Vec::new();
    for name in driven.iter().take(n_drives) {
        let expr = lowered.next().ok_or("internal: a drive was not lowered")?;
        let index = model
            .sensors
            .iter()
            .position(|s| s.name == *name)
            .ok_or_else(|| format!("`{name}` is not a sensor"))?;
        drives.push((index, expr));
    }
    let blank = Memory::new(&model);
    let mut overrides = Vec::new();
    for (id, _) in &run.set {
        let expr = lowered
            .next()
            .ok_or("internal: an override was not lowered")?;
        overrides.push((body.members[*id].name.clone(), interp::eval(&expr, &blank)));
    }
    let expects = run
        .expects
        .iter()
        .map(|x| {
            Ok((
                x.mode,
                lowered
                    .next()
                    .ok_or("internal: an expectation was not lowered")?,
            ))
        })
        .collect::<Result<Vec<_>, String>>()?;
    let mut report = Vec::new();
    for r in &run.report {
        if let Some(Expr::Load(slot)) = lowered.next() {
            let name = model
                .slots
                .get(slot as usize)
                .map_or(String::new(), |s| s.name.clone());
            let unit = unit_of(&model, slot).unwrap_or_else(|| DisplayUnit::si(""));
            report.push((name, slot, unit));
        } else {
            let _ = r;
            return Err("a reported name is not a signal of the twin".into());
        }
    }
    let inputs = load_csv(&model, &csv, base)?;
    Ok(Prepared {
        duration: run.duration.unwrap_or(1000.0 * model.step),
        model,
        drives,
        inputs,
        overrides,
        expects,
        report,
    })
}

/// Builds one set of inputs from `sensor = csv("file", column: "c")` lines.
fn load_csv(
    model: &Model,
    csv: &[(String, String, String)],
    base: &Path,
) -> Result<Option<Inputs>, String> {
    if csv.is_empty() {
        return Ok(None);
    }
    let mut merged = Inputs::default();
    for (sensor, file, column) in csv {
        let path = base.join(file);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            format!(
                "cannot read `{}` (for sensor `{sensor}`): {e}",
                path.display()
            )
        })?;
        let inputs = read_inputs(&text).map_err(|e| format!("`{}`: {e}", path.display()))?;
        let Some(mut col) = inputs.columns.into_iter().find(|c| c.name == *column) else {
            return Err(format!(
                "`{}` has no column `{column}` (for sensor `{sensor}`)",
                path.display()
            ));
        };
        if !model.sensors.iter().any(|s| s.name == *sensor) {
            return Err(format!("`{sensor}` is not a sensor of `{}`", model.name));
        }
        col.name = sensor.clone();
        merged.columns.push(col);
        merged.bad_rows.extend(inputs.bad_rows);
    }
    Ok(Some(merged))
}

/// The display unit of whatever a slot holds.
fn unit_of(model: &Model, slot: Slot) -> Option<DisplayUnit> {
    model
        .outputs
        .iter()
        .find(|o| o.slot == slot)
        .map(|o| o.unit.clone())
        .or_else(|| {
            model
                .sensors
                .iter()
                .find(|s| s.slot == slot)
                .map(|s| s.unit.clone())
        })
        .or_else(|| {
            model
                .params
                .iter()
                .find(|p| p.slot == slot)
                .map(|p| p.unit.clone())
        })
}

/// The signals a condition reads, with their current values.
fn values(model: &Model, cond: &Expr, mem: &Memory) -> String {
    let mut slots = Vec::new();
    collect_loads(cond, &mut slots);
    slots.sort_unstable();
    slots.dedup();
    let parts: Vec<String> = slots
        .iter()
        .filter(|s| **s != model.time)
        .map(|&s| {
            let name = model.slots.get(s as usize).map_or("?", |x| x.name.as_str());
            let v = mem.get(s);
            let format = model
                .outputs
                .iter()
                .find(|o| o.slot == s)
                .map(|o| &o.format);
            if let Some(twin_compiler::ir::Format::Enum(names)) = format
                && v >= 0.0
                && (v as usize) < names.len()
            {
                return format!("{name} = {}", names[v as usize]);
            }
            match unit_of(model, s) {
                Some(u) if !u.text.is_empty() && u.text != "1" => {
                    format!("{name} = {} {}", u.from_si(v), u.text)
                }
                Some(u) => format!("{name} = {}", u.from_si(v)),
                None => format!("{name} = {v}"),
            }
        })
        .collect();
    parts.join(", ")
}

fn collect_loads(e: &Expr, out: &mut Vec<Slot>) {
    match e {
        Expr::Load(s) => out.push(*s),
        Expr::Const(_) => {}
        Expr::Unary(_, x) => collect_loads(x, out),
        Expr::Binary(_, a, b) => {
            collect_loads(a, out);
            collect_loads(b, out);
        }
        Expr::Call(_, xs) => xs.iter().for_each(|x| collect_loads(x, out)),
        Expr::Select(a, b, c) => {
            collect_loads(a, out);
            collect_loads(b, out);
            collect_loads(c, out);
        }
    }
}

fn seconds(t: f64) -> String {
    crate::sim::format_time(t)
}

/// Runs a test; gives each expectation's outcome.
pub fn run_test<E: Engine>(p: &Prepared, engine: E) -> Result<Vec<Outcome>, String> {
    let dt = p.model.step;
    let mut sim = Simulation::with_drives(
        &p.model,
        engine,
        dt,
        &p.overrides,
        p.inputs.as_ref(),
        p.drives.clone(),
    )
    .map_err(|e| e.0)?;
    let ticks = (p.duration / dt + 1e-9).floor() as u64;
    let n = p.expects.len();
    let mut done: Vec<Option<Outcome>> = vec![None; n];
    // For `eventually`: the last values seen before the deadline.
    let mut last_seen: Vec<String> = vec![String::new(); n];
    for k in 0..=ticks {
        sim.step_to_record();
        let t = sim.time();
        for (i, (when, cond)) in p.expects.iter().enumerate() {
            if done[i].is_some() {
                continue;
            }
            let holds = interp::eval(cond, &sim.mem) != 0.0;
            let fail = |what: &str| Outcome {
                passed: false,
                detail: format!(
                    "{what} at t = {} s: {}",
                    seconds(t),
                    values(&p.model, cond, &sim.mem)
                ),
            };
            match when {
                ExpectWhen::Always if !holds => done[i] = Some(fail("false")),
                ExpectWhen::Eventually(within) => {
                    let deadline = within.unwrap_or(f64::INFINITY);
                    if t <= deadline + dt * 1e-9 {
                        if holds {
                            done[i] = Some(Outcome::pass());
                        } else {
                            last_seen[i] = format!(
                                "never true; at t = {} s: {}",
                                seconds(t),
                                values(&p.model, cond, &sim.mem)
                            );
                        }
                    } else {
                        done[i] = Some(Outcome {
                            passed: false,
                            detail: last_seen[i].clone(),
                        });
                    }
                }
                ExpectWhen::At(at) if (t - at).abs() < dt * 0.5 => {
                    done[i] = Some(if holds {
                        Outcome::pass()
                    } else {
                        fail("false")
                    });
                }
                ExpectWhen::AtEnd if k == ticks => {
                    done[i] = Some(if holds {
                        Outcome::pass()
                    } else {
                        fail("false")
                    });
                }
                _ => {}
            }
        }
        if k < ticks {
            sim.advance();
        }
    }
    let end = sim.time();
    Ok(done
        .into_iter()
        .enumerate()
        .map(|(i, o)| match (o, &p.expects[i].0) {
            (Some(o), _) => o,
            (None, ExpectWhen::Always) => Outcome::pass(),
            (None, ExpectWhen::Eventually(_)) => Outcome {
                passed: false,
                detail: last_seen[i].clone(),
            },
            (None, ExpectWhen::At(at)) => Outcome {
                passed: false,
                detail: format!(
                    "the run ends at t = {} s, before t = {} s",
                    seconds(end),
                    seconds(*at)
                ),
            },
            (None, ExpectWhen::AtEnd) => Outcome {
                passed: false,
                detail: "never evaluated".into(),
            },
        })
        .collect())
}
