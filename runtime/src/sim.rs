//! Running a lowered model over time against recorded telemetry.
//!
//! Takes a [`Model`], an engine, parameter overrides and optional inputs
//! (a telemetry CSV already read by [`crate::input`]); gives a
//! [`Simulation`] that advances tick by tick following the language's time
//! semantics: at each tick the latest good sample at or before `t` of every
//! sensor is applied (zero-order hold), the tick program runs, the row is
//! recorded, and the solver integrates to the next tick. Samples that are
//! NaN, infinite, garbled, out of range, late or duplicated are rejected,
//! counted per sensor and reason, and never applied.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;

use twin_compiler::hir::DisplayUnit;
use twin_compiler::interp::{self, Memory};
use twin_compiler::ir::{Format, Model};
use twin_compiler::units::UnitTable;
use twin_compiler::units::parse::parse_unit;

use crate::input::{Inputs, Reject};

/// Something that stops a simulation from starting: a bad override, an
/// input column with an unusable unit. The message names what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimError(pub String);

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SimError {}

/// What executes the model's programs.
pub trait Engine {
    /// Runs `init` (and nothing else) on one instance.
    fn init(&self, model: &Model, mem: &mut Memory);
    /// Runs `tick`.
    fn tick(&self, model: &Model, mem: &mut Memory);
    /// Runs `integrate`.
    fn integrate(&self, model: &Model, mem: &mut Memory);
}

/// The reference interpreter as an engine.
#[derive(Clone, Copy, Debug, Default)]
pub struct Interpreter;

impl Engine for Interpreter {
    fn init(&self, model: &Model, mem: &mut Memory) {
        interp::exec(&model.init, mem);
    }

    fn tick(&self, model: &Model, mem: &mut Memory) {
        interp::exec(&model.tick, mem);
    }

    fn integrate(&self, model: &Model, mem: &mut Memory) {
        interp::exec(&model.integrate, mem);
    }
}

/// Native code from the Cranelift JIT as an engine.
impl Engine for twin_compiler::codegen::CompiledModel {
    fn init(&self, _model: &Model, mem: &mut Memory) {
        twin_compiler::codegen::CompiledModel::init(self, mem);
    }

    fn tick(&self, _model: &Model, mem: &mut Memory) {
        twin_compiler::codegen::CompiledModel::tick(self, mem);
    }

    fn integrate(&self, _model: &Model, mem: &mut Memory) {
        twin_compiler::codegen::CompiledModel::integrate(self, mem);
    }
}

/// One sensor's samples, in SI, in time order.
struct Feed {
    sensor: usize,
    samples: Vec<(f64, f64)>,
    next: usize,
}

/// Rejected samples of one sensor for one reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejected {
    /// The sensor.
    pub sensor: String,
    /// Why.
    pub reason: Reject,
    /// The input lines they came from.
    pub lines: Vec<usize>,
}

/// A simulation of one instance.
pub struct Simulation<'m, E: Engine> {
    model: &'m Model,
    engine: E,
    /// The instance's memory.
    pub mem: Memory,
    feeds: Vec<Feed>,
    rejected: BTreeMap<(String, Reject), Vec<usize>>,
    /// Sensors driven by an expression of time (scenarios and tests):
    /// (sensor index, expression).
    drives: Vec<(usize, twin_compiler::ir::Expr)>,
    tick: u64,
    /// The tick at which scenario time is 0: 0 for a fresh instance, the
    /// tick after the fork for a forked one. Drives and replayed samples
    /// are on scenario time; the model's own clock keeps twin time.
    start: u64,
    dt: f64,
}

/// A running instance's state to continue from: a what-if fork.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Fork {
    /// Every persistent slot by name, in SI, as it was right after tick
    /// `tick`'s program ran (what a fleet's observers see).
    pub slots: Vec<(String, f64)>,
    /// That tick's index.
    pub tick: u64,
}

/// Parameter overrides, already in SI: (param name, value).
pub type Overrides = Vec<(String, f64)>;

impl<'m, E: Engine> Simulation<'m, E> {
    /// Sets up an instance at t = 0: params (overridden where asked),
    /// sensor defaults, the samples at t = 0, then the model's `init`.
    pub fn new(
        model: &'m Model,
        engine: E,
        dt: f64,
        overrides: &Overrides,
        inputs: Option<&Inputs>,
    ) -> Result<Self, SimError> {
        Self::with_drives(model, engine, dt, overrides, inputs, Vec::new())
    }

    /// Like [`Simulation::new`], with some sensors driven by expressions of
    /// time instead of data (scenarios and tests): (sensor index,
    /// expression). A driven value outside the sensor's range is rejected
    /// like a bad sample.
    pub fn with_drives(
        model: &'m Model,
        engine: E,
        dt: f64,
        overrides: &Overrides,
        inputs: Option<&Inputs>,
        drives: Vec<(usize, twin_compiler::ir::Expr)>,
    ) -> Result<Self, SimError> {
        let mut sim = Self::build(model, engine, dt, overrides, inputs, drives)?;
        sim.apply_inputs(0.0);
        sim.engine.init(model, &mut sim.mem);
        Ok(sim)
    }

    /// Continues a running instance from `fork` instead of starting at
    /// t = 0: every persistent slot whose name the model has takes the
    /// fork's value (params overridden here keep their override; slots
    /// the fork lacks keep what `init` gives them), the clock goes to the
    /// fork's tick and the instance integrates to the next tick, where
    /// scenario time 0 is and the drives and replays take over. Sensors
    /// without a drive or a replay hold their forked value and age.
    pub fn fork(
        model: &'m Model,
        engine: E,
        dt: f64,
        overrides: &Overrides,
        inputs: Option<&Inputs>,
        drives: Vec<(usize, twin_compiler::ir::Expr)>,
        fork: &Fork,
    ) -> Result<Self, SimError> {
        let mut sim = Self::build(model, engine, dt, overrides, inputs, drives)?;
        sim.engine.init(model, &mut sim.mem);
        let persistent = (model.persistent as usize).min(model.slots.len());
        for (name, value) in &fork.slots {
            let Some(slot) = model.slots[..persistent]
                .iter()
                .position(|s| s.name == *name)
            else {
                continue;
            };
            let overridden = model
                .params
                .iter()
                .any(|p| p.slot as usize == slot && overrides.iter().any(|(n, _)| *n == p.name));
            if !overridden {
                sim.mem.block[slot] = *value;
            }
        }
        sim.tick = fork.tick;
        let mem = &mut sim.mem;
        model.set_tick(&mut |slot, v| mem.set(slot, v), sim.tick, dt);
        sim.advance();
        sim.start = sim.tick;
        Ok(sim)
    }

    /// Memory with params and sensor defaults set and inputs loaded;
    /// neither the samples at t = 0 nor `init` applied yet.
    fn build(
        model: &'m Model,
        engine: E,
        dt: f64,
        overrides: &Overrides,
        inputs: Option<&Inputs>,
        drives: Vec<(usize, twin_compiler::ir::Expr)>,
    ) -> Result<Self, SimError> {
        if !(dt > 0.0 && dt.is_finite()) {
            return Err(SimError(format!(
                "the step must be a positive duration, not {dt} s"
            )));
        }
        let mut mem = Memory::new(model);
        mem.set(model.dt, dt);
        for (name, _) in overrides {
            if !model.params.iter().any(|p| &p.name == name) {
                let names: Vec<&str> = model.params.iter().map(|p| p.name.as_str()).collect();
                let hint = twin_compiler::units::closest(name, names.iter().copied())
                    .map_or(String::new(), |b| format!(" (did you mean `{b}`?)"));
                return Err(SimError(format!(
                    "`{}` has no param `{name}`{hint}",
                    model.name
                )));
            }
        }
        interp::set_params(model, &mut mem, overrides);
        interp::exec(&model.init_sensors, &mut mem);
        let mut sim = Simulation {
            model,
            engine,
            mem,
            feeds: Vec::new(),
            rejected: BTreeMap::new(),
            drives,
            tick: 0,
            start: 0,
            dt,
        };
        if let Some(inputs) = inputs {
            sim.load_inputs(inputs)?;
        }
        Ok(sim)
    }

    fn load_inputs(&mut self, inputs: &Inputs) -> Result<(), SimError> {
        let table = UnitTable::builtin();
        for column in &inputs.columns {
            let Some(index) = self
                .model
                .sensors
                .iter()
                .position(|s| s.name == column.name)
            else {
                let names: Vec<&str> = self.model.sensors.iter().map(|s| s.name.as_str()).collect();
                let hint = twin_compiler::units::closest(&column.name, names.iter().copied())
                    .map_or(String::new(), |b| format!(" (did you mean `{b}`?)"));
                return Err(SimError(format!(
                    "input column `{}` is not a sensor of `{}`{hint}",
                    column.name, self.model.name
                )));
            };
            let sensor = &self.model.sensors[index];
            // The header's unit wins; otherwise values are in the sensor's unit.
            let (scale, offset) = match &column.unit {
                Some(text) => {
                    let unit = parse_unit(&table, text).map_err(|e| {
                        SimError(format!("input column `{}[{text}]`: {e}", column.name))
                    })?;
                    if unit.dim != sensor.dimension {
                        return Err(SimError(format!(
                            "input column `{}[{text}]`: `{text}` is {}, but sensor `{}` is {} (`{}`)",
                            column.name,
                            unit.dim.describe(),
                            sensor.name,
                            sensor.dimension.describe(),
                            sensor.unit.text
                        )));
                    }
                    (unit.scale, unit.offset)
                }
                None => (sensor.unit.scale, sensor.unit.offset),
            };
            let mut samples = Vec::new();
            for s in &column.samples {
                let value = s.value.map(|v| v * scale + offset).and_then(|si| {
                    if sensor.accepts(si) {
                        Ok(si)
                    } else {
                        Err(Reject::OutOfRange)
                    }
                });
                match value {
                    Ok(si) => samples.push((s.t, si)),
                    Err(reason) => self
                        .rejected
                        .entry((sensor.name.clone(), reason))
                        .or_default()
                        .push(s.line),
                }
            }
            self.feeds.push(Feed {
                sensor: index,
                samples,
                next: 0,
            });
        }
        for (line, _) in &inputs.bad_rows {
            self.rejected
                .entry(("t".into(), Reject::Garbled))
                .or_default()
                .push(*line);
        }
        Ok(())
    }

    /// Applies, for every sensor, the latest good sample at or before
    /// scenario time `t`; samples are stamped on twin time.
    fn apply_inputs(&mut self, t: f64) {
        // A sample stamped t belongs to the tick at t even when k·dt
        // rounds a hair below it.
        let limit = t + self.dt * 1e-9;
        let origin = self.start as f64 * self.dt;
        for feed in &mut self.feeds {
            let mut latest = None;
            while let Some(&(st, v)) = feed.samples.get(feed.next) {
                if st > limit {
                    break;
                }
                latest = Some((st, v));
                feed.next += 1;
            }
            if let Some((st, v)) = latest {
                let sensor = &self.model.sensors[feed.sensor];
                self.mem.set(sensor.slot, v);
                self.mem.set(sensor.last_sample, st + origin);
            }
        }
        // Drives are expressions of scenario time.
        let twin_time = self.time();
        let saved = self.mem.get(self.model.time);
        self.mem.set(self.model.time, t);
        let values: Vec<f64> = self
            .drives
            .iter()
            .map(|(_, expr)| interp::eval(expr, &self.mem))
            .collect();
        self.mem.set(self.model.time, saved);
        for ((index, _), v) in self.drives.iter().zip(values) {
            let sensor = &self.model.sensors[*index];
            let rejected = if !v.is_finite() {
                Some(if v.is_nan() {
                    Reject::NotANumber
                } else {
                    Reject::Infinite
                })
            } else {
                (!sensor.accepts(v)).then_some(Reject::OutOfRange)
            };
            match rejected {
                Some(reason) => self
                    .rejected
                    .entry((sensor.name.clone(), reason))
                    .or_default()
                    .push(0),
                None => {
                    self.mem.set(sensor.slot, v);
                    self.mem.set(sensor.last_sample, twin_time);
                }
            }
        }
    }

    /// The time of the current tick.
    pub fn time(&self) -> f64 {
        self.tick as f64 * self.dt
    }

    /// Scenario time: the time since the run started (since the tick after
    /// the fork for a forked instance; equal to [`Simulation::time`]
    /// otherwise).
    pub fn scenario_time(&self) -> f64 {
        self.tick.saturating_sub(self.start) as f64 * self.dt
    }

    /// Runs the current tick up to the point its row is recorded.
    pub fn step_to_record(&mut self) {
        let t = self.scenario_time();
        self.apply_inputs(t);
        self.engine.tick(self.model, &mut self.mem);
    }

    /// Integrates to the next tick.
    pub fn advance(&mut self) {
        self.engine.integrate(self.model, &mut self.mem);
        self.tick += 1;
        let mem = &mut self.mem;
        self.model
            .set_tick(&mut |slot, v| mem.set(slot, v), self.tick, self.dt);
    }

    /// Rejected samples so far, by sensor and reason.
    pub fn rejected(&self) -> Vec<Rejected> {
        self.rejected
            .iter()
            .map(|((sensor, reason), lines)| Rejected {
                sensor: sensor.clone(),
                reason: *reason,
                lines: lines.clone(),
            })
            .collect()
    }

    /// Writes the CSV header.
    pub fn write_header(&self, out: &mut (impl Write + ?Sized)) -> std::io::Result<()> {
        write!(out, "t")?;
        for o in &self.model.outputs {
            write!(out, ",{}", o.name)?;
        }
        writeln!(out)
    }

    /// Writes the current row: every output in its unit.
    pub fn write_row(&self, out: &mut (impl Write + ?Sized)) -> std::io::Result<()> {
        write!(out, "{}", format_time(self.time()))?;
        for o in &self.model.outputs {
            let v = self.mem.get(o.slot);
            match &o.format {
                Format::Real => write!(out, ",{}", o.unit.from_si(v))?,
                Format::Int | Format::Bool if v.is_finite() => write!(out, ",{}", v as i64)?,
                Format::Enum(names) if v >= 0.0 && (v as usize) < names.len() => {
                    write!(out, ",{}", names[v as usize])?
                }
                _ => write!(out, ",{v}")?,
            }
        }
        writeln!(out)
    }
}

/// A number to 4 significant digits, without trailing zeros (`61.23`,
/// `0.02134`, `1.500e9`): how values read in reports and messages.
pub fn sig(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    if v == 0.0 {
        return "0".into();
    }
    let magnitude = v.abs().log10().floor();
    if !(-3.0..6.0).contains(&magnitude) {
        return format!("{v:.3e}");
    }
    let decimals = (3.0 - magnitude).max(0.0) as usize;
    let text = format!("{v:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// An SI value as a person reads it: in its unit to 4 significant digits
/// (`81.23 degC`), a whole number, or an enum's variant name.
pub fn show(si: f64, unit: &DisplayUnit, format: &Format) -> String {
    match format {
        Format::Enum(names) if si >= 0.0 && (si as usize) < names.len() => {
            names[si as usize].clone()
        }
        Format::Int | Format::Bool if si.is_finite() => format!("{}", si as i64),
        _ => {
            let v = sig(unit.from_si(si));
            if unit.text.is_empty() || unit.text == "1" {
                v
            } else {
                format!("{v} {}", unit.text)
            }
        }
    }
}

/// A tick time, rounded to 12 significant digits so that `3 × 0.1` prints
/// as `0.3`; values keep full round-trip precision.
pub fn format_time(t: f64) -> String {
    let rounded: f64 = format!("{t:.11e}").parse().unwrap_or(t);
    format!("{rounded}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use twin_compiler::ir::Expr;

    /// The pump example, lowered.
    fn pump() -> Model {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/pump/pump.twin");
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => panic!("{path}: {e}"),
        };
        let mut sources = twin_compiler::source::Sources::new();
        let root = sources.add(path, text);
        let checked = twin_compiler::check::check(&mut sources, root);
        assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
        let twin = checked.program.twin("Pump").unwrap_or_default();
        match twin_compiler::ir::lower::lower(&checked.program, twin) {
            Ok(m) => m,
            Err(e) => panic!("{e}"),
        }
    }

    fn sensor(model: &Model, name: &str) -> usize {
        model
            .sensors
            .iter()
            .position(|s| s.name == name)
            .unwrap_or_default()
    }

    /// What observers see after tick `k`'s program ran, by slot name.
    fn fork_of(model: &Model, sim: &Simulation<'_, Interpreter>) -> Fork {
        Fork {
            slots: (0..model.persistent as usize)
                .map(|s| (model.slots[s].name.clone(), sim.mem.block[s]))
                .collect(),
            tick: sim.tick,
        }
    }

    #[test]
    fn a_fork_continues_exactly_where_the_original_goes() {
        let model = pump();
        let drives = vec![
            (sensor(&model, "current"), Expr::Const(38.0)),
            (
                sensor(&model, "speed"),
                Expr::Const(2900.0 * std::f64::consts::PI / 30.0),
            ),
        ];
        let mk =
            || Simulation::with_drives(&model, Interpreter, 0.1, &Vec::new(), None, drives.clone());
        let Ok(mut original) = mk() else {
            panic!("the pump does not start");
        };
        for _ in 0..5000 {
            original.step_to_record();
            original.advance();
        }
        original.step_to_record();
        let fork = fork_of(&model, &original);
        let Ok(mut forked) = Simulation::fork(
            &model,
            Interpreter,
            0.1,
            &Vec::new(),
            None,
            drives.clone(),
            &fork,
        ) else {
            panic!("the fork does not start");
        };
        original.advance();
        assert_eq!(forked.time(), original.time());
        assert_eq!(forked.scenario_time(), 0.0);
        let alarm = model.alarms[0].slot;
        let mut raised = false;
        for _ in 0..20_000 {
            original.step_to_record();
            forked.step_to_record();
            let bits = |m: &Memory| m.block.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                bits(&forked.mem),
                bits(&original.mem),
                "at t = {}",
                original.time()
            );
            raised |= forked.mem.get(alarm) != 0.0;
            original.advance();
            forked.advance();
        }
        // The run went somewhere: the bearing overheated on the way.
        assert!(raised);
    }

    #[test]
    fn a_fork_keeps_its_overrides_and_drives_on_scenario_time() {
        let model = pump();
        let current = sensor(&model, "current");
        let Ok(mut original) =
            Simulation::with_drives(&model, Interpreter, 0.1, &Vec::new(), None, Vec::new())
        else {
            panic!("the pump does not start");
        };
        for _ in 0..100 {
            original.step_to_record();
            original.advance();
        }
        original.step_to_record();
        let fork = fork_of(&model, &original);
        // current = 1 A/s · t: 0 A at scenario time 0, whatever the twin time.
        let drive = vec![(current, Expr::Load(model.time))];
        let overrides = vec![("voltage".to_string(), 100.0)];
        let Ok(mut forked) =
            Simulation::fork(&model, Interpreter, 0.1, &overrides, None, drive, &fork)
        else {
            panic!("the fork does not start");
        };
        for _ in 0..30 {
            forked.step_to_record();
            forked.advance();
        }
        forked.step_to_record();
        let info = &model.sensors[current];
        assert!((forked.mem.get(info.slot) - 3.0).abs() < 1e-9);
        assert!((forked.mem.get(info.last_sample) - 13.1).abs() < 1e-9);
        let voltage = model
            .params
            .iter()
            .find(|p| p.name == "voltage")
            .map(|p| p.slot);
        assert_eq!(voltage.map(|s| forked.mem.get(s)), Some(100.0));
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(sig(61.23456), "61.23");
        assert_eq!(sig(0.5), "0.5");
        assert_eq!(sig(-0.04123), "-0.04123");
        assert_eq!(sig(1234.5678), "1235");
        assert_eq!(sig(1.5e9), "1.500e9");
        let kelvin = DisplayUnit {
            text: "degC".into(),
            scale: 1.0,
            offset: 273.15,
        };
        assert_eq!(show(354.38, &kelvin, &Format::Real), "81.23 degC");
        let names = Format::Enum(vec!["Off".into(), "On".into()]);
        assert_eq!(show(1.0, &DisplayUnit::si("1"), &names), "On");
        assert_eq!(show(0.021, &DisplayUnit::si("1"), &Format::Real), "0.021");
    }

    #[test]
    fn times_print_short() {
        assert_eq!(format_time(3.0 * 0.1), "0.3");
        assert_eq!(format_time(0.0), "0");
        assert_eq!(format_time(3600.0), "3600");
        assert_eq!(format_time(7.0 * 0.001), "0.007");
    }
}
