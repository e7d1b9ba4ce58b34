//! The API's view of the fleet, kept up to date by an observer.
//!
//! Takes every tick of the run ([`ApiObserver`] is an [`Observer`]); gives
//! [`View`]s: immutable snapshots of the fleet (the clock, the ids, every
//! persistent slot of every instance, the active alarms with the time they
//! were raised) that HTTP handlers read without ever holding up the
//! runner. Each tick the observer copies the fleet's block into a fresh
//! snapshot and swaps it in behind a lock held only for a pointer swap;
//! readers clone the pointer and render from their copy. The same
//! snapshot goes out on a broadcast channel for the event streams: a
//! subscriber that falls behind loses snapshots, it never blocks the
//! sender. Values are turned into units, qualities and JSON only when a
//! handler asks ([`View::twin_json`]).

use std::sync::{Arc, RwLock};
use std::time::Instant;

use serde_json::{Map, Value, json};
use tokio::sync::broadcast;
use twin_compiler::ir::{Format, Model, Slot};

use crate::live::fleet::{Event, Fleet};
use crate::live::{Observer, Tick};
use crate::sim::Fork;

/// How many snapshots an event stream may fall behind before it skips.
const STREAM_BACKLOG: usize = 16;

/// An alarm that is raised.
#[derive(Clone, Debug, PartialEq)]
pub struct Active {
    /// Seconds since the epoch at the tick it was raised (or first seen
    /// raised, after a resume).
    pub since: f64,
    /// Its message with the values at the raise.
    pub message: String,
}

/// The fleet at one tick.
#[derive(Clone, Debug)]
pub struct View {
    /// The model the fleet runs (it changes when the model is reloaded).
    pub model: Arc<Model>,
    /// Seconds since the epoch at this tick; `None` before the first tick.
    pub epoch: Option<f64>,
    /// Twin time (s).
    pub t: f64,
    /// The tick index.
    pub tick: u64,
    /// Instance ids, by index.
    pub ids: Arc<[String]>,
    /// Every instance's persistent slots, as [`Fleet::block`] lays them
    /// out.
    ///
    /// [`Fleet::block`]: crate::live::fleet::Fleet::block
    pub block: Vec<f64>,
    /// The slots the instances share, from `Model::persistent` on, as
    /// [`Fleet::shared`] holds them (the clock and shared params).
    ///
    /// [`Fleet::shared`]: crate::live::fleet::Fleet::shared
    pub shared: Vec<f64>,
    /// Per instance, per alarm: raised or not.
    pub alarms: Arc<Vec<Vec<Option<Active>>>>,
}

impl View {
    /// The view before the first tick: no twins yet.
    pub fn empty(model: Arc<Model>) -> View {
        View {
            model,
            epoch: None,
            t: 0.0,
            tick: 0,
            ids: Arc::from(Vec::new()),
            block: Vec::new(),
            shared: Vec::new(),
            alarms: Arc::new(Vec::new()),
        }
    }

    /// The index of an instance.
    pub fn index(&self, id: &str) -> Option<usize> {
        self.ids.iter().position(|i| i == id)
    }

    /// A slot of instance `i` (SI; NaN when there is no such slot).
    pub fn get(&self, i: usize, slot: Slot) -> f64 {
        let s = slot as usize;
        let value = match s.checked_sub(self.model.persistent as usize) {
            None if i < self.ids.len() => self.block.get(s * self.ids.len() + i),
            None => None,
            Some(shared) => self.shared.get(shared),
        };
        value.copied().unwrap_or(f64::NAN)
    }

    /// Instance `i`'s state to fork a what-if from: its persistent slots
    /// and the params the fleet shares.
    pub fn fork(&self, i: usize) -> Fork {
        let model = &self.model;
        let p = (model.persistent as usize).min(model.slots.len());
        let shared = model
            .params
            .iter()
            .map(|x| x.slot as usize)
            .filter(|&s| s >= p);
        Fork {
            slots: (0..p)
                .chain(shared)
                .filter_map(|s| {
                    let name = model.slots.get(s)?.name.clone();
                    Some((name, self.get(i, s as Slot)))
                })
                .collect(),
            tick: self.tick,
        }
    }

    /// What `GET /twins/{id}` answers for instance `i`: its id, the time,
    /// every signal in its declared unit (sensors with their quality and
    /// the age of their last sample), and the alarms that are raised.
    pub fn twin_json(&self, i: usize) -> Value {
        let model = &self.model;
        let mut signals = Map::new();
        for o in &model.outputs {
            let v = o.unit.from_si(self.get(i, o.slot));
            let mut entry = Map::new();
            entry.insert("value".into(), value(v, &o.format));
            entry.insert("unit".into(), Value::from(o.unit.text.as_str()));
            signals.insert(o.name.clone(), Value::Object(entry));
        }
        for s in &model.sensors {
            let entry = signals.entry(s.name.clone()).or_insert_with(|| {
                json!({
                    "value": number(tidy(s.unit.from_si(self.get(i, s.slot)))),
                    "unit": s.unit.text,
                })
            });
            let last = self.get(i, s.last_sample);
            let age = self.t - last;
            let fresh = age.is_finite() && s.stale_after.is_none_or(|limit| age <= limit + 1e-9);
            if let Value::Object(entry) = entry {
                entry.insert(
                    "quality".into(),
                    Value::from(if fresh { "good" } else { "stale" }),
                );
                // Never sampled: no age.
                let age = if age.is_finite() {
                    round(age.max(0.0))
                } else {
                    f64::NAN
                };
                entry.insert("age_s".into(), number(age));
            }
        }
        let alarms: Vec<Value> = model
            .alarms
            .iter()
            .enumerate()
            .filter_map(|(a, info)| {
                let active = self.alarms.get(i)?.get(a)?.as_ref()?;
                Some(json!({
                    "name": info.name,
                    "severity": info.severity,
                    "since": number(round(active.since)),
                    "message": active.message,
                }))
            })
            .collect();
        json!({
            "id": self.ids.get(i).map_or("", |s| s.as_str()),
            "t": self.epoch.map(round),
            "signals": signals,
            "alarms": alarms,
        })
    }
}

/// A value as its format prints: a number, a whole number, a boolean, or
/// an enum variant's name; null when it is not a number.
fn value(v: f64, format: &Format) -> Value {
    match format {
        Format::Real => number(tidy(v)),
        Format::Int if v.is_finite() => Value::from(v as i64),
        Format::Bool if !v.is_nan() => Value::from(v != 0.0),
        Format::Enum(names) if v >= 0.0 && (v as usize) < names.len() => {
            Value::from(names[v as usize].as_str())
        }
        _ => number(v),
    }
}

/// A JSON number, or null for NaN and infinities.
fn number(v: f64) -> Value {
    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
}

/// A value to 12 significant digits, which drops the noise of unit
/// conversions (`21.97`, not `21.970000000000027`) and keeps far more
/// precision than any sensor has.
pub(crate) fn tidy(v: f64) -> f64 {
    if v.is_finite() {
        format!("{v:.11e}").parse().unwrap_or(v)
    } else {
        v
    }
}

/// A time to the microsecond: `1820.1`, not `1820.1000000000001`.
pub(crate) fn round(t: f64) -> f64 {
    (t * 1e6).round() / 1e6
}

/// What the observer and the HTTP handlers share.
pub struct Shared {
    current: RwLock<Arc<View>>,
    stream: broadcast::Sender<Arc<View>>,
    /// When the view was made (for `uptime_s`).
    pub started: Instant,
}

impl Shared {
    /// The latest snapshot. The lock is held only to clone the pointer.
    pub fn current(&self) -> Arc<View> {
        match self.current.read() {
            Ok(v) => v.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// A receiver of every later snapshot.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<View>> {
        self.stream.subscribe()
    }

    fn publish(&self, view: Arc<View>) {
        if self.stream.receiver_count() > 0 {
            // Sending never waits; it fails only when nobody listens.
            let _ = self.stream.send(view.clone());
        }
        match self.current.write() {
            Ok(mut v) => *v = view,
            Err(poisoned) => *poisoned.into_inner() = view,
        }
    }
}

/// The observer that keeps the API's view up to date.
pub struct ApiObserver {
    shared: Arc<Shared>,
    model: Arc<Model>,
    /// The epoch of the last tick seen.
    epoch: f64,
    ids: Arc<[String]>,
    alarms: Arc<Vec<Vec<Option<Active>>>>,
}

/// An observer for `model`'s run and the state it shares with the API.
pub fn observe(model: &Model) -> (ApiObserver, Arc<Shared>) {
    let (stream, _) = broadcast::channel(STREAM_BACKLOG);
    let model = Arc::new(model.clone());
    let shared = Arc::new(Shared {
        current: RwLock::new(Arc::new(View::empty(model.clone()))),
        stream,
        started: Instant::now(),
    });
    let observer = ApiObserver {
        shared: shared.clone(),
        model,
        epoch: 0.0,
        ids: Arc::from(Vec::new()),
        alarms: Arc::new(Vec::new()),
    };
    (observer, shared)
}

impl ApiObserver {
    /// Brings the alarm table up to this tick. The table is shared with
    /// earlier snapshots, so it is copied only when something changed.
    fn update_alarms(&mut self, tick: &Tick<'_>) {
        let fleet = tick.fleet;
        let n = fleet.ids().len();
        let a = fleet.model().alarms.len();
        if self.ids.len() != n {
            self.ids = Arc::from(fleet.ids());
            let table = Arc::make_mut(&mut self.alarms);
            table.resize(n, vec![None; a]);
            // Alarms raised before we saw the instance (a resumed run)
            // date from now.
            for (i, row) in table.iter_mut().enumerate() {
                for (j, cell) in row.iter_mut().enumerate() {
                    if cell.is_none() && fleet.alarm_raised(i, j) {
                        *cell = Some(Active {
                            since: tick.epoch,
                            message: String::new(),
                        });
                    }
                }
            }
        }
        for e in tick.events {
            if let Event::Alarm {
                instance,
                alarm,
                raised,
                message,
            } = e
            {
                let table = Arc::make_mut(&mut self.alarms);
                if let Some(cell) = table.get_mut(*instance).and_then(|r| r.get_mut(*alarm)) {
                    *cell = raised.then(|| Active {
                        since: tick.epoch,
                        message: message.clone(),
                    });
                }
            }
        }
    }
}

impl Observer for ApiObserver {
    /// Views carry the model as the fleet lays it out.
    fn started(&mut self, fleet: &Fleet) {
        self.model = Arc::new(fleet.model().clone());
        self.shared
            .publish(Arc::new(View::empty(self.model.clone())));
    }

    /// Views from now on carry the new model; raised alarms keep their
    /// time by name, and alarms new to the model that are raised date
    /// from the last tick.
    fn reloaded(&mut self, fleet: &Fleet) {
        let old = std::mem::replace(&mut self.model, Arc::new(fleet.model().clone()));
        let table = (0..self.ids.len())
            .map(|i| {
                (0..self.model.alarms.len())
                    .map(|a| {
                        let name = &self.model.alarms[a].name;
                        old.alarms
                            .iter()
                            .position(|o| o.name == *name)
                            .and_then(|j| self.alarms.get(i)?.get(j)?.clone())
                            .or_else(|| {
                                fleet.alarm_raised(i, a).then(|| Active {
                                    since: self.epoch,
                                    message: String::new(),
                                })
                            })
                    })
                    .collect()
            })
            .collect();
        self.alarms = Arc::new(table);
    }

    fn tick(&mut self, tick: &Tick<'_>) {
        self.update_alarms(tick);
        self.epoch = tick.epoch;
        let fleet = tick.fleet;
        let view = View {
            model: self.model.clone(),
            epoch: Some(tick.epoch),
            t: fleet.time(),
            tick: fleet.tick_index(),
            ids: self.ids.clone(),
            block: fleet.block().to_vec(),
            shared: fleet.shared().to_vec(),
            alarms: self.alarms.clone(),
        };
        self.shared.publish(Arc::new(view));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_lose_conversion_noise_not_precision() {
        assert_eq!(tidy(21.970000000000027), 21.97);
        assert_eq!(tidy(2319.5200000000004), 2319.52);
        assert_eq!(tidy(1.0 / 3.0), 0.333333333333);
        assert_eq!(tidy(1790003599.9), 1790003599.9);
        assert!(tidy(f64::NAN).is_nan());
        assert_eq!(round(1820.1000000000001), 1820.1);
    }
}
