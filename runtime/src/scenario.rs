//! What-if scenarios: run a `scenario` block and summarise what happened.
//!
//! Takes a [`Prepared`] scenario (the twin with its overrides, sensor
//! drives and CSV replays) and an engine; gives a [`Report`]: for each
//! reported signal its min / max / mean / final value in its declared unit,
//! every alarm's raise and clear times, the actuators' clamp counts, and
//! how fast the run went against real time. Along the way it can stream
//! every row to a CSV writer and keep a min/max-decimated trace of the
//! reported signals for plotting, so a 30-day run at 100 ms needs no more
//! memory than a 1-minute one.

use std::io::Write;
use std::time::{Duration, Instant};

use twin_compiler::hir::DisplayUnit;
use twin_compiler::ir::{Format, Slot};

use crate::runs::Prepared;
use crate::sim::{Engine, Fork, Rejected, Simulation};

/// Summary statistics of one reported signal, in its unit.
#[derive(Clone, Debug, PartialEq)]
pub struct SignalSummary {
    /// The signal's path.
    pub name: String,
    /// Its display unit.
    pub unit: DisplayUnit,
    /// How its values print.
    pub format: Format,
    /// The smallest value (NaN when every value was NaN).
    pub min: f64,
    /// The largest value.
    pub max: f64,
    /// The mean over the recorded rows (each row weighs one step).
    pub mean: f64,
    /// The value in the last row.
    pub last: f64,
    /// Rows whose value was NaN (a sensor never fed, a division by zero).
    pub nan_rows: u64,
}

/// One raise (and maybe clear) of an alarm.
#[derive(Clone, Debug, PartialEq)]
pub struct AlarmEpisode {
    /// The alarm's path.
    pub name: String,
    /// `info`, `warning` or `critical`.
    pub severity: &'static str,
    /// Scenario time it was raised at (s).
    pub raised: f64,
    /// Scenario time it cleared at (s), if it cleared before the end.
    pub cleared: Option<f64>,
}

/// An actuator's clamping over the run.
#[derive(Clone, Debug, PartialEq)]
pub struct ClampCount {
    /// The actuator's path.
    pub name: String,
    /// Ticks at which its command was clamped to its range.
    pub ticks: u64,
}

/// A min/max-decimated trace of the reported signals, for plotting.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Trace {
    /// Bucket start times (s).
    pub t: Vec<f64>,
    /// Per reported signal, per bucket: (min, max) in the signal's unit.
    pub series: Vec<Vec<(f64, f64)>>,
}

/// What a scenario run gives.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// The twin's name.
    pub twin: String,
    /// Simulated time (s).
    pub duration: f64,
    /// The step (s).
    pub step: f64,
    /// Rows recorded (ticks + 1).
    pub rows: u64,
    /// Wall-clock time of the run, without compiling.
    pub wall: Duration,
    /// The reported signals.
    pub signals: Vec<SignalSummary>,
    /// Alarm episodes in the order they were raised.
    pub alarms: Vec<AlarmEpisode>,
    /// Actuators that were clamped at least once.
    pub clamps: Vec<ClampCount>,
    /// Rejected sensor values (out of range drives, bad CSV cells).
    pub rejected: Vec<Rejected>,
    /// The decimated trace, when asked for.
    pub trace: Option<Trace>,
}

impl Report {
    /// Simulated seconds per wall-clock second.
    pub fn speedup(&self) -> f64 {
        let wall = self.wall.as_secs_f64();
        if wall > 0.0 {
            self.duration / wall
        } else {
            f64::INFINITY
        }
    }
}

/// Options of a scenario run.
pub struct Options<'a> {
    /// Stream every row (all outputs, as `twinc sim` writes them) here.
    pub csv: Option<&'a mut dyn Write>,
    /// Keep a trace for plotting with about this many buckets.
    pub trace_buckets: Option<usize>,
    /// Called every [`PROGRESS_EVERY`] ticks with the ticks done so far and
    /// the total.
    pub progress: Option<&'a mut dyn FnMut(u64, u64)>,
}

/// How many ticks pass between progress calls.
pub const PROGRESS_EVERY: u64 = 1 << 16;

/// Running statistics of one signal.
struct Acc {
    min: f64,
    max: f64,
    sum: f64,
    n: u64,
    nan: u64,
}

/// Runs a prepared scenario to its duration on `engine`.
pub fn run_scenario<E: Engine>(
    p: &Prepared,
    engine: E,
    options: Options<'_>,
) -> Result<Report, String> {
    run_scenario_from(p, engine, options, None)
}

/// Runs a prepared scenario, from t = 0 or, with `fork`, from a running
/// instance's state (see [`Simulation::fork`]). Times in the report
/// (alarm raises and clears, trace buckets) are scenario time, and clamp
/// counts are those of the scenario alone.
pub fn run_scenario_from<E: Engine>(
    p: &Prepared,
    engine: E,
    mut options: Options<'_>,
    fork: Option<&Fork>,
) -> Result<Report, String> {
    let dt = p.model.step;
    let drives = p.drives.clone();
    let inputs = p.inputs.as_ref();
    let mut sim = match fork {
        None => Simulation::with_drives(&p.model, engine, dt, &p.overrides, inputs, drives),
        Some(f) => Simulation::fork(&p.model, engine, dt, &p.overrides, inputs, drives, f),
    }
    .map_err(|e| e.0)?;
    let clamps_before: Vec<f64> = p
        .model
        .actuators
        .iter()
        .map(|a| sim.mem.get(a.clamps))
        .collect();
    let ticks = (p.duration / dt + 1e-9).floor() as u64;
    let io = |e: std::io::Error| format!("cannot write the CSV: {e}");
    if let Some(out) = options.csv.as_deref_mut() {
        sim.write_header(out).map_err(io)?;
    }
    let slots: Vec<Slot> = p.report.iter().map(|(_, s, _)| *s).collect();
    let mut acc: Vec<Acc> = slots
        .iter()
        .map(|_| Acc {
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            sum: 0.0,
            n: 0,
            nan: 0,
        })
        .collect();
    let per_bucket = options
        .trace_buckets
        .map(|b| ((ticks + 1) / b.max(1) as u64).max(1));
    let mut trace = per_bucket.map(|_| Trace {
        t: Vec::new(),
        series: vec![Vec::new(); slots.len()],
    });
    let mut active: Vec<Option<usize>> = vec![None; p.model.alarms.len()];
    let mut alarms: Vec<AlarmEpisode> = Vec::new();
    let started = Instant::now();
    for k in 0..=ticks {
        sim.step_to_record();
        let t = sim.scenario_time();
        if let Some(out) = options.csv.as_deref_mut() {
            sim.write_row(out).map_err(io)?;
        }
        let new_bucket = per_bucket.is_some_and(|n| k % n == 0);
        if let Some(tr) = trace.as_mut().filter(|_| new_bucket) {
            tr.t.push(t);
        }
        for (i, (slot, (_, _, unit))) in slots.iter().zip(&p.report).enumerate() {
            let v = unit.from_si(sim.mem.get(*slot));
            let a = &mut acc[i];
            if v.is_nan() {
                a.nan += 1;
            } else {
                a.min = a.min.min(v);
                a.max = a.max.max(v);
                a.sum += v;
                a.n += 1;
            }
            if let Some(tr) = trace.as_mut() {
                let series = &mut tr.series[i];
                if new_bucket {
                    series.push((v, v));
                } else if let Some(last) = series.last_mut() {
                    last.0 = last.0.min(v);
                    last.1 = last.1.max(v);
                }
            }
        }
        for (i, alarm) in p.model.alarms.iter().enumerate() {
            let on = sim.mem.get(alarm.slot) != 0.0;
            match (on, active[i]) {
                (true, None) => {
                    active[i] = Some(alarms.len());
                    alarms.push(AlarmEpisode {
                        name: alarm.name.clone(),
                        severity: alarm.severity,
                        raised: t,
                        cleared: None,
                    });
                }
                (false, Some(at)) => {
                    alarms[at].cleared = Some(t);
                    active[i] = None;
                }
                _ => {}
            }
        }
        if k % PROGRESS_EVERY == 0
            && let Some(progress) = options.progress.as_deref_mut()
        {
            progress(k, ticks + 1);
        }
        if k < ticks {
            sim.advance();
        }
    }
    let wall = started.elapsed();
    if let Some(progress) = options.progress.as_deref_mut() {
        progress(ticks + 1, ticks + 1);
    }
    let signals = p
        .report
        .iter()
        .zip(acc)
        .map(|((name, slot, unit), a)| SignalSummary {
            name: name.clone(),
            unit: unit.clone(),
            format: p
                .model
                .outputs
                .iter()
                .find(|o| o.slot == *slot)
                .map_or(Format::Real, |o| o.format.clone()),
            min: if a.n > 0 { a.min } else { f64::NAN },
            max: if a.n > 0 { a.max } else { f64::NAN },
            mean: if a.n > 0 {
                a.sum / a.n as f64
            } else {
                f64::NAN
            },
            last: unit.from_si(sim.mem.get(*slot)),
            nan_rows: a.nan,
        })
        .collect();
    let clamps = p
        .model
        .actuators
        .iter()
        .zip(clamps_before)
        .map(|(a, before)| ClampCount {
            name: a.name.clone(),
            ticks: (sim.mem.get(a.clamps) - before).max(0.0) as u64,
        })
        .filter(|c| c.ticks > 0)
        .collect();
    Ok(Report {
        twin: p.model.name.clone(),
        duration: ticks as f64 * dt,
        step: dt,
        rows: ticks + 1,
        wall,
        signals,
        alarms,
        clamps,
        rejected: sim.rejected(),
        trace,
    })
}
