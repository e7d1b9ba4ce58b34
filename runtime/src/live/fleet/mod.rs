//! A fleet: every running instance of one model, ticking together.
//!
//! Takes a lowered [`Model`], its native code, and samples already decoded
//! to SI values with their twin time; gives ticks. Instances live in one
//! struct-of-arrays block (slot `s` of instance `i` at `s * n + i`) that
//! the JIT's batch entry points advance in one call per phase; the tick
//! clock (`t`, `dt`, `k`) and the params that no instance overrides are
//! shared, one copy for the fleet. Each sample is checked before it is
//! queued (NaN, infinite, out of range, older than or as old as the latest
//! sample of that sensor: rejected, never applied); at tick k every sensor
//! takes its latest queued sample stamped at or before t_k, as `twinc sim`
//! does. A tick reports what changed: actuator commands and alarm raises
//! and clears ([`Event`], by index), which [`event_rows`] names for the
//! history, the sinks and the log.

use std::collections::VecDeque;

use twin_compiler::codegen::{CompiledModel, Entries, Opt, Options};
use twin_compiler::interp::{self, Memory};
use twin_compiler::ir::{MessagePiece, Model, Slot, share};

use crate::input::Reject;

/// Something that happened at a tick.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// An actuator's command changed (or was first computed).
    Command {
        /// Instance index.
        instance: usize,
        /// Index into `Model::actuators`.
        actuator: usize,
        /// The command in the actuator's unit.
        value: f64,
    },
    /// An alarm was raised or cleared.
    Alarm {
        /// Instance index.
        instance: usize,
        /// Index into `Model::alarms`.
        alarm: usize,
        /// Raised (true) or cleared.
        raised: bool,
        /// The alarm's message with its values filled in.
        message: String,
    },
}

/// The fleet's state that a checkpoint keeps.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Snapshot {
    /// The tick index.
    pub k: u64,
    /// Per instance: its id and every persistent slot by name.
    pub instances: Vec<(String, Vec<(String, f64)>)>,
}

/// Every instance of one model.
pub struct Fleet {
    model: Model,
    code: Option<CompiledModel>,
    ids: Vec<String>,
    /// Struct-of-arrays: `persistent * n`.
    block: Vec<f64>,
    /// Shared by the instances: the clock, shared params and solver
    /// temporaries (slots from `Model::persistent` on).
    scratch: Vec<f64>,
    k: u64,
    dt: f64,
    /// Per instance, per sensor: queued (time, SI value), in time order.
    queues: Vec<Vec<VecDeque<(f64, f64)>>>,
    /// Per instance, per sensor: the time of the newest sample accepted.
    newest: Vec<Vec<f64>>,
    /// Per instance, per actuator: the last command reported.
    commands: Vec<Vec<f64>>,
    /// Per instance, per alarm: whether it is raised.
    alarms: Vec<Vec<bool>>,
    /// Per instance: whether its `init` is still to run (at its first tick).
    uninit: Vec<bool>,
}

impl Fleet {
    /// A fleet with no instances at tick 0. Runs on native code when the
    /// model compiles (it always should), otherwise on the interpreter.
    ///
    /// `per_instance` names the params that some instance will override
    /// ([`Fleet::add`]); every other param is shared: the fleet keeps one
    /// copy, at its default, instead of one per instance
    /// ([`share::share_params`]). [`Fleet::model`] is the model laid out
    /// that way.
    pub fn new(mut model: Model, dt: f64, per_instance: &[String]) -> Fleet {
        share::share_params(&mut model, per_instance);
        let code = CompiledModel::compile_with(
            &model,
            Options {
                entries: Entries::Fleet,
                opt: Opt::Speed,
            },
        )
        .ok();
        // The shared region: the clock at tick 0 and the shared params at
        // their defaults (which read only shared params). What this sets in
        // an instance's slots is dropped with `mem.block`.
        let mut mem = Memory::new(&model);
        mem.set(model.dt, dt);
        model.set_tick(&mut |s, v| mem.set(s, v), 0, dt);
        for p in &model.params {
            if p.slot >= model.persistent {
                let v = interp::eval(&p.default, &mem);
                mem.set(p.slot, v);
            }
        }
        let scratch = mem.scratch;
        Fleet {
            model,
            code,
            ids: Vec::new(),
            block: Vec::new(),
            scratch,
            k: 0,
            dt,
            queues: Vec::new(),
            newest: Vec::new(),
            commands: Vec::new(),
            alarms: Vec::new(),
            uninit: Vec::new(),
        }
    }

    /// The model.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Whether the fleet runs on native code.
    pub fn is_native(&self) -> bool {
        self.code.is_some()
    }

    /// The memory each instance holds of its own (its persistent slots),
    /// in bytes; what the instances share is not counted.
    pub fn bytes_per_instance(&self) -> usize {
        self.model.persistent as usize * std::mem::size_of::<f64>()
    }

    /// How many params the instances share (those none overrides).
    pub fn shared_params(&self) -> usize {
        let p = self.model.persistent;
        self.model.params.iter().filter(|x| x.slot >= p).count()
    }

    /// Instance ids, by index.
    pub fn ids(&self) -> &[String] {
        &self.ids
    }

    /// The index of an instance.
    pub fn index(&self, id: &str) -> Option<usize> {
        self.ids.iter().position(|i| i == id)
    }

    /// The current tick index.
    pub fn tick_index(&self) -> u64 {
        self.k
    }

    /// The current tick's twin time (s).
    pub fn time(&self) -> f64 {
        self.k as f64 * self.dt
    }

    /// The step (s).
    pub fn step(&self) -> f64 {
        self.dt
    }

    /// A slot's value in instance `i` (SI).
    pub fn get(&self, i: usize, slot: Slot) -> f64 {
        let n = self.ids.len();
        let p = self.model.persistent as usize;
        let s = slot as usize;
        if s < p {
            self.block.get(s * n + i).copied().unwrap_or(f64::NAN)
        } else {
            self.scratch.get(s - p).copied().unwrap_or(f64::NAN)
        }
    }

    /// Every instance's persistent slots, struct-of-arrays: slot `s` of
    /// instance `i` at `s * ids().len() + i`.
    pub fn block(&self) -> &[f64] {
        &self.block
    }

    /// The slots the instances share, from `Model::persistent` on: the
    /// clock, shared params and solver scratch.
    pub fn shared(&self) -> &[f64] {
        &self.scratch
    }

    fn set(&mut self, i: usize, slot: Slot, v: f64) {
        let n = self.ids.len();
        if let Some(x) = self.block.get_mut(slot as usize * n + i) {
            *x = v;
        }
    }

    /// Adds an instance at the current tick: params (with `overrides`, in
    /// SI) and sensor defaults. The model's `init` runs at the instance's
    /// first tick, once that tick's samples are applied, as `twinc sim`
    /// does at t = 0 (so `state y = x` starts at the first sample of `x`).
    /// Gives its index.
    pub fn add(&mut self, id: &str, overrides: &[(String, f64)]) -> usize {
        if let Some(i) = self.index(id) {
            return i;
        }
        let mut mem = self.fresh_memory();
        for p in &self.model.params {
            let set = overrides.iter().rev().find(|(n, _)| *n == p.name);
            if p.slot >= self.model.persistent {
                // Shared: the fleet's value stands.
                if let Some((_, v)) = set
                    && v.to_bits() != mem.get(p.slot).to_bits()
                {
                    tracing::warn!(
                        twin = id,
                        param = p.name,
                        "the param is shared by the fleet, which was not told that this instance overrides it; its override is not applied"
                    );
                }
                continue;
            }
            let v = match set {
                Some((_, v)) => *v,
                None => interp::eval(&p.default, &mem),
            };
            mem.set(p.slot, v);
        }
        interp::exec(&self.model.init_sensors, &mut mem);
        let i = self.insert(id, &mem.block);
        self.uninit[i] = true;
        i
    }

    /// Runs the model's `init` on instance `i` (through its own memory, so
    /// the fleet's shared clock is untouched).
    fn init(&mut self, i: usize) {
        let n = self.ids.len();
        let p = self.model.persistent as usize;
        let mut mem = self.fresh_memory();
        for s in 0..p {
            mem.block[s] = self.block[s * n + i];
        }
        match &self.code {
            Some(code) => code.init(&mut mem),
            None => interp::exec(&self.model.init, &mut mem),
        }
        for s in 0..p {
            self.block[s * n + i] = mem.block[s];
        }
        self.uninit[i] = false;
    }

    /// Memory for one instance with the fleet's clock.
    fn fresh_memory(&self) -> Memory {
        let mut mem = Memory::new(&self.model);
        mem.scratch.clone_from(&self.scratch);
        mem
    }

    /// Appends an instance whose persistent slots are `column`.
    fn insert(&mut self, id: &str, column: &[f64]) -> usize {
        let n = self.ids.len();
        let p = self.model.persistent as usize;
        let mut block = Vec::with_capacity(p * (n + 1));
        for s in 0..p {
            block.extend_from_slice(&self.block[s * n..s * n + n]);
            block.push(column.get(s).copied().unwrap_or(0.0));
        }
        self.block = block;
        self.ids.push(id.to_string());
        let sensors = self.model.sensors.len();
        self.queues.push(vec![VecDeque::new(); sensors]);
        self.newest.push(vec![f64::NEG_INFINITY; sensors]);
        self.commands
            .push(vec![f64::NAN; self.model.actuators.len()]);
        self.alarms.push(vec![false; self.model.alarms.len()]);
        self.uninit.push(false);
        n
    }

    /// Offers a sample of sensor `sensor` (index into `Model::sensors`) of
    /// instance `i`, in SI, stamped `t` (twin time). Rejected samples are
    /// never applied.
    pub fn offer(&mut self, i: usize, sensor: usize, t: f64, value: f64) -> Result<(), Reject> {
        let info = self.model.sensors.get(sensor).ok_or(Reject::Garbled)?;
        if value.is_nan() {
            return Err(Reject::NotANumber);
        }
        if value.is_infinite() {
            return Err(Reject::Infinite);
        }
        if !info.accepts(value) {
            return Err(Reject::OutOfRange);
        }
        if !t.is_finite() {
            return Err(Reject::Garbled);
        }
        let newest = self
            .newest
            .get_mut(i)
            .and_then(|n| n.get_mut(sensor))
            .ok_or(Reject::Garbled)?;
        if t < *newest {
            return Err(Reject::Late);
        }
        if t == *newest {
            return Err(Reject::Duplicate);
        }
        *newest = t;
        self.queues[i][sensor].push_back((t, value));
        Ok(())
    }

    /// Runs tick k up to the point its row is recorded: applies due
    /// samples, runs the tick program, and reports what changed.
    pub fn tick(&mut self) -> Vec<Event> {
        let limit = self.time() + self.dt * 1e-9;
        let n = self.ids.len();
        for i in 0..n {
            for s in 0..self.model.sensors.len() {
                let mut latest = None;
                while let Some(&(t, v)) = self.queues[i][s].front() {
                    if t > limit {
                        break;
                    }
                    latest = Some((t, v));
                    self.queues[i][s].pop_front();
                }
                if let Some((t, v)) = latest {
                    let (slot, stamp) = {
                        let info = &self.model.sensors[s];
                        (info.slot, info.last_sample)
                    };
                    self.set(i, slot, v);
                    self.set(i, stamp, t);
                }
            }
        }
        for i in 0..n {
            if self.uninit[i] {
                self.init(i);
            }
        }
        self.run_phase(Phase::Tick);
        let mut events = Vec::new();
        for i in 0..n {
            for (a, info) in self.model.actuators.iter().enumerate() {
                let v = info.unit.from_si(self.get(i, info.slot));
                let last = self.commands[i][a];
                if v != last && !(v.is_nan() && last.is_nan()) {
                    self.commands[i][a] = v;
                    events.push(Event::Command {
                        instance: i,
                        actuator: a,
                        value: v,
                    });
                }
            }
            for (a, info) in self.model.alarms.iter().enumerate() {
                let on = self.get(i, info.slot) != 0.0;
                if on != self.alarms[i][a] {
                    self.alarms[i][a] = on;
                    events.push(Event::Alarm {
                        instance: i,
                        alarm: a,
                        raised: on,
                        message: self.message(i, &info.message),
                    });
                }
            }
        }
        events
    }

    /// Integrates every instance to the next tick.
    pub fn advance(&mut self) {
        self.run_phase(Phase::Integrate);
        self.k += 1;
        self.set_clock();
    }

    /// Sets the shared clock to tick `k`.
    fn set_clock(&mut self) {
        let p = self.model.persistent as usize;
        let scratch = &mut self.scratch;
        self.model.set_tick(
            &mut |slot, v| {
                if let Some(x) = (slot as usize)
                    .checked_sub(p)
                    .and_then(|s| scratch.get_mut(s))
                {
                    *x = v;
                }
            },
            self.k,
            self.dt,
        );
    }

    fn run_phase(&mut self, phase: Phase) {
        let n = self.ids.len();
        if n == 0 {
            return;
        }
        if let Some(code) = &self.code {
            match phase {
                Phase::Tick => code.tick_batch(&mut self.block, &mut self.scratch, n),
                Phase::Integrate => code.integrate_batch(&mut self.block, &mut self.scratch, n),
            }
            return;
        }
        // The interpreter: one instance at a time through its own memory.
        let p = self.model.persistent as usize;
        let program = match phase {
            Phase::Tick => &self.model.tick,
            Phase::Integrate => &self.model.integrate,
        };
        let mut mem = Memory::new(&self.model);
        for i in 0..n {
            for s in 0..p {
                mem.block[s] = self.block[s * n + i];
            }
            mem.scratch.clone_from(&self.scratch);
            interp::exec(program, &mut mem);
            for s in 0..p {
                self.block[s * n + i] = mem.block[s];
            }
        }
        self.scratch.clone_from(&mem.scratch);
    }

    /// An alarm message with its values in their units.
    fn message(&self, i: usize, pieces: &[MessagePiece]) -> String {
        pieces
            .iter()
            .map(|p| match p {
                MessagePiece::Text(t) => t.clone(),
                MessagePiece::Value(slot, unit, format) => {
                    crate::sim::show(self.get(i, *slot), unit, format)
                }
            })
            .collect()
    }

    /// Samples queued for later ticks: (instance id, sensor name, time,
    /// SI value). A reload hands them to the new fleet.
    pub fn pending(&self) -> Vec<(String, String, f64, f64)> {
        let mut out = Vec::new();
        for (i, queues) in self.queues.iter().enumerate() {
            for (s, queue) in queues.iter().enumerate() {
                for &(t, v) in queue {
                    out.push((
                        self.ids[i].clone(),
                        self.model.sensors[s].name.clone(),
                        t,
                        v,
                    ));
                }
            }
        }
        out
    }

    /// Whether alarm `a` of instance `i` is raised.
    pub fn alarm_raised(&self, i: usize, a: usize) -> bool {
        self.alarms
            .get(i)
            .and_then(|x| x.get(a))
            .copied()
            .unwrap_or(false)
    }

    /// The fleet's state, by slot name.
    pub fn snapshot(&self) -> Snapshot {
        let p = self.model.persistent as usize;
        Snapshot {
            k: self.k,
            instances: (0..self.ids.len())
                .map(|i| {
                    let slots = (0..p)
                        .map(|s| (self.model.slots[s].name.clone(), self.get(i, s as Slot)))
                        .collect();
                    (self.ids[i].clone(), slots)
                })
                .collect(),
        }
    }

    /// Restores a snapshot: the tick index, and for each instance every
    /// slot whose name the model still has (params keep their current,
    /// configured values). Instances not yet in the fleet are added.
    /// Gives, per instance, the names that were dropped (in the snapshot,
    /// not in the model) and added (in the model, not in the snapshot).
    pub fn restore(
        &mut self,
        snapshot: &Snapshot,
        overrides: &dyn Fn(&str) -> Vec<(String, f64)>,
    ) -> Vec<(String, Vec<String>, Vec<String>)> {
        self.k = snapshot.k;
        self.set_clock();
        let p = self.model.persistent as usize;
        let mut report = Vec::new();
        for (id, slots) in &snapshot.instances {
            let i = self.add(id, &overrides(id));
            // Its state comes from the snapshot: no `init`.
            self.uninit[i] = false;
            let mut dropped = Vec::new();
            // Params are configured, not restored: neither added nor
            // dropped, whether the snapshot has them (a copy per instance)
            // or not (shared by its fleet).
            let mut seen = vec![false; p];
            for param in &self.model.params {
                if let Some(x) = seen.get_mut(param.slot as usize) {
                    *x = true;
                }
            }
            for (name, v) in slots {
                if self.model.params.iter().any(|x| x.name == *name) {
                    continue;
                }
                match self.model.slots[..p].iter().position(|s| s.name == *name) {
                    Some(s) => {
                        seen[s] = true;
                        self.set(i, s as Slot, *v);
                    }
                    None => dropped.push(name.clone()),
                }
            }
            let added = (0..p)
                .filter(|s| !seen[*s])
                .map(|s| self.model.slots[s].name.clone())
                .collect();
            // Sensors keep their restored value; new samples must be newer.
            for (s, info) in self.model.sensors.iter().enumerate() {
                let last = self.get(i, info.last_sample);
                if last.is_finite() {
                    self.newest[i][s] = last;
                }
            }
            for (a, info) in self.model.alarms.iter().enumerate() {
                self.alarms[i][a] = self.get(i, info.slot) != 0.0;
            }
            report.push((id.clone(), dropped, added));
        }
        report
    }
}

#[derive(Clone, Copy)]
enum Phase {
    Tick,
    Integrate,
}

/// A tick's event with its twin, alarm or actuator named: what the
/// history writes, the sinks publish and the log prints.
pub enum EventRow<'a> {
    /// An alarm raised or cleared.
    Alarm {
        /// The twin's id.
        instance: &'a str,
        /// The alarm's path.
        alarm: &'a str,
        /// `"raised"` or `"cleared"`.
        state: &'static str,
        /// The alarm's severity keyword.
        severity: &'static str,
        /// The alarm's message, its values filled in.
        message: &'a str,
    },
    /// A new actuator command.
    Command {
        /// The twin's id.
        instance: &'a str,
        /// The actuator's path.
        actuator: &'a str,
        /// In the actuator's unit; NaN for none.
        value: f64,
        /// The actuator's unit.
        unit: &'a str,
    },
}

/// The rows of a tick's `events` (an event naming no twin, alarm or
/// actuator of `fleet` has none).
pub fn event_rows<'a>(fleet: &'a Fleet, events: &'a [Event]) -> impl Iterator<Item = EventRow<'a>> {
    let model = fleet.model();
    events.iter().filter_map(move |event| match event {
        Event::Alarm {
            instance,
            alarm,
            raised,
            message,
        } => {
            let id = fleet.ids().get(*instance)?;
            let info = model.alarms.get(*alarm)?;
            Some(EventRow::Alarm {
                instance: id,
                alarm: &info.name,
                state: if *raised { "raised" } else { "cleared" },
                severity: info.severity,
                message,
            })
        }
        Event::Command {
            instance,
            actuator,
            value,
        } => {
            let id = fleet.ids().get(*instance)?;
            let info = model.actuators.get(*actuator)?;
            Some(EventRow::Command {
                instance: id,
                actuator: &info.name,
                value: *value,
                unit: &info.unit.text,
            })
        }
    })
}

#[cfg(test)]
mod tests;
