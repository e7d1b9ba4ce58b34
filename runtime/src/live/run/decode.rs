//! The runner's intake: every CSV cell and MQTT or stdin message routed
//! to its sensor binding, decoded, converted from the unit the device
//! sends, checked, and offered to its twin as an accepted sample or
//! handed to the observers as a rejection (the first few of each kind
//! logged).

use twin_compiler::units::UnitTable;
use twin_compiler::units::parse::parse_unit;

use super::super::manifest::{Instances, Mode, SourceKind};
use super::super::{Accepted, Rejection};
use super::{LOGGED_REJECTIONS, Runner};
use crate::input::Reject;

impl Runner {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn cell(
        &mut self,
        source: usize,
        id: Option<String>,
        column: &str,
        unit: Option<String>,
        t: f64,
        value: Result<f64, Reject>,
        raw: String,
        line: usize,
    ) {
        let origin = match &self.manifest.sources[source].kind {
            SourceKind::Csv { path, .. } => format!("{}:{line}", path.display()),
            _ => format!("line {line}"),
        };
        let reject = |runner: &mut Runner, instance: &str, sensor: &str, reason: Reject| {
            // A file without an `id` column feeds every instance; name the
            // instance when there is just one.
            let instance = match (instance, runner.fleet.ids()) {
                ("", [only]) => only.clone(),
                (id, _) => id.to_string(),
            };
            runner.reject(Rejection {
                instance,
                sensor: sensor.to_string(),
                reason,
                raw: raw.clone(),
                origin: origin.clone(),
                t,
            });
        };
        let Some(b) = self.bindings.iter().position(|b| {
            let binding = &self.manifest.sensors[b.binding];
            binding.source == source && binding.column == column
        }) else {
            reject(self, id.as_deref().unwrap_or(""), column, Reject::Unbound);
            return;
        };
        let sensor_name = self.fleet.model().sensors[self.bindings[b].sensor]
            .name
            .clone();
        if t.is_finite() {
            self.last_data = self.last_data.max(t);
        }
        let value = match value {
            Ok(v) => v,
            Err(reason) => {
                reject(self, id.as_deref().unwrap_or(""), &sensor_name, reason);
                return;
            }
        };
        let si = match self.cell_unit(b, unit.as_deref()) {
            Some((scale, offset)) => value * scale + offset,
            None => {
                reject(
                    self,
                    id.as_deref().unwrap_or(""),
                    &sensor_name,
                    Reject::UnknownUnit,
                );
                return;
            }
        };
        let targets: Vec<usize> = match &id {
            Some(id) => match self.instance(id, None) {
                Some(i) => vec![i],
                None => {
                    reject(self, id, &sensor_name, Reject::UnknownTwin);
                    return;
                }
            },
            None => (0..self.fleet.ids().len()).collect(),
        };
        let sensor = self.bindings[b].sensor;
        for i in targets {
            let instance = self.fleet.ids()[i].clone();
            match self.fleet.offer(i, sensor, t, si) {
                Ok(()) => self.accept(i, sensor, t, si),
                Err(reason) => reject(self, &instance, &sensor_name, reason),
            }
        }
    }

    /// (scale, offset) to SI for a CSV column's header unit.
    pub(super) fn cell_unit(&mut self, b: usize, unit: Option<&str>) -> Option<(f64, f64)> {
        let bound = &mut self.bindings[b];
        let sensor = &self.fleet.model().sensors[bound.sensor];
        let text = match unit {
            Some(u) => u.to_string(),
            None => match &self.manifest.sensors[bound.binding].unit {
                Some(u) => u.clone(),
                None => return Some((sensor.unit.scale, sensor.unit.offset)),
            },
        };
        *bound.units.entry(text.clone()).or_insert_with(|| {
            parse_unit(&UnitTable::builtin(), &text)
                .ok()
                .filter(|u| u.dim == sensor.dimension)
                .map(|u| (u.scale, u.offset))
        })
    }

    pub(super) fn message(&mut self, source: usize, topic: &str, payload: &[u8], arrived: f64) {
        // A message on the discovery topic starts its twin even when no
        // sensor reads that topic (an announcement, say).
        let mut bound = false;
        let announced = match &self.manifest.instances {
            Instances::Discover(pattern) => pattern.match_id(topic),
            Instances::Ids(_) => None,
        };
        if let Some(id) = announced {
            bound = self.instance(&id, Some(topic)).is_some();
        }
        for b in 0..self.bindings.len() {
            let binding = &self.manifest.sensors[self.bindings[b].binding];
            if binding.source != source {
                continue;
            }
            let Some(id) = binding.topic.as_ref().and_then(|t| t.match_id(topic)) else {
                continue;
            };
            bound = true;
            let sensor = self.bindings[b].sensor;
            let sensor_name = self.fleet.model().sensors[sensor].name.clone();
            let decoded = self.bindings[b].decoder.decode(payload);
            let t_guess = arrived - self.origin.unwrap_or(arrived);
            let Some(i) = self.instance(&id, Some(topic)) else {
                self.reject(Rejection {
                    instance: id,
                    sensor: sensor_name,
                    reason: Reject::UnknownTwin,
                    raw: String::from_utf8_lossy(payload).into_owned(),
                    origin: topic.to_string(),
                    t: t_guess,
                });
                continue;
            };
            let result = decoded.and_then(|d| {
                let t = match (d.time, self.manifest.runtime.mode) {
                    (Some(epoch), Mode::Replay) => {
                        let step = self.fleet.step();
                        let origin = *self
                            .origin
                            .get_or_insert_with(|| (epoch / step).floor() * step);
                        epoch - origin
                    }
                    (Some(epoch), Mode::Live) => epoch - self.origin.unwrap_or(epoch),
                    (None, Mode::Live) => t_guess,
                    // Replay without a timestamp: at the next tick.
                    (None, Mode::Replay) => self.fleet.time(),
                };
                if self.manifest.runtime.mode == Mode::Replay {
                    self.last_data = self.last_data.max(t);
                    if let Some(p) = self.progress.get_mut(source) {
                        p.watermark = p.watermark.max(t);
                    }
                }
                self.fleet
                    .offer(i, sensor, t, d.value)
                    .map(|()| (t, d.value))
            });
            match result {
                Ok((t, v)) => self.accept(i, sensor, t, v),
                Err(reason) => {
                    let instance = self.fleet.ids()[i].clone();
                    self.reject(Rejection {
                        instance,
                        sensor: sensor_name,
                        reason,
                        raw: String::from_utf8_lossy(payload).into_owned(),
                        origin: topic.to_string(),
                        t: t_guess,
                    })
                }
            }
        }
        if !bound {
            self.reject(Rejection {
                instance: String::new(),
                sensor: String::new(),
                reason: Reject::Unbound,
                raw: String::from_utf8_lossy(payload).into_owned(),
                origin: topic.to_string(),
                t: arrived - self.origin.unwrap_or(arrived),
            });
        }
    }

    /// The instance a message or row is for; in discovery mode a new id
    /// on the discovery topic starts a new instance.
    pub(super) fn instance(&mut self, id: &str, topic: Option<&str>) -> Option<usize> {
        if let Some(i) = self.fleet.index(id) {
            return Some(i);
        }
        let Instances::Discover(pattern) = &self.manifest.instances else {
            return None;
        };
        if topic.is_some_and(|t| pattern.match_id(t).as_deref() == Some(id)) {
            let model = self.fleet.model().clone();
            let i = self.fleet.add(id, &self.manifest.overrides(&model, id));
            self.discovered = true;
            tracing::info!(twin = id, t = self.fleet.time(), "discovered a new twin");
            return Some(i);
        }
        None
    }

    pub(super) fn accept(&mut self, instance: usize, sensor: usize, t: f64, value: f64) {
        self.metrics
            .count(&self.fleet.model().sensors[sensor].name, "good");
        let sample = Accepted {
            instance,
            sensor,
            t,
            value,
        };
        for o in &mut self.observers {
            o.accepted(&self.fleet, &sample);
        }
    }

    pub(super) fn reject(&mut self, r: Rejection) {
        let seen = self.metrics.count(&r.sensor, r.reason.code());
        // The first few of each kind are worth a line each; the rest are
        // counted (`/metrics`, the history's dead letters, the summary at
        // the end), so bad data cannot flood the log.
        if seen <= LOGGED_REJECTIONS {
            tracing::warn!(
                twin = r.instance,
                sensor = r.sensor,
                reason = %r.reason,
                origin = r.origin,
                raw = r.raw,
                "sample rejected{}",
                if seen == LOGGED_REJECTIONS {
                    "; more of this kind are counted, not logged"
                } else {
                    ""
                }
            );
        }
        for o in &mut self.observers {
            o.rejected(&r);
        }
    }
}
