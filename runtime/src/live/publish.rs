//! What goes out on the wire: actuator commands and alarm events.
//!
//! Takes a tick's events and the manifest's actuator and event bindings;
//! gives [`Publication`]s (topic, QoS, JSON payload as RUNTIME.md fixes
//! it) for one sink, and [`StdoutSink`], which writes them as JSON lines
//! on standard output. The MQTT sink publishes the same publications.

use std::io::Write;

use serde_json::json;

use super::fleet::Event;
use super::manifest::Manifest;
use super::{Observer, Tick};

/// One message to publish.
#[derive(Clone, Debug, PartialEq)]
pub struct Publication {
    /// The topic, `{id}` filled in.
    pub topic: String,
    /// MQTT quality of service.
    pub qos: u8,
    /// The JSON payload.
    pub payload: serde_json::Value,
}

/// A time stamp to the microsecond: `1820.1`, not `1820.1000000000001`.
fn stamp(t: f64) -> f64 {
    (t * 1e6).round() / 1e6
}

/// The publications of one tick for the sink with index `sink`.
pub fn publications(manifest: &Manifest, tick: &Tick<'_>, sink: usize) -> Vec<Publication> {
    let model = tick.fleet.model();
    let ids = tick.fleet.ids();
    let mut out = Vec::new();
    for event in tick.events {
        match event {
            Event::Command {
                instance,
                actuator,
                value,
            } => {
                let info = &model.actuators[*actuator];
                let Some(b) = manifest
                    .actuators
                    .iter()
                    .find(|b| b.actuator == info.name && b.sink == sink)
                else {
                    continue;
                };
                let id = &ids[*instance];
                out.push(Publication {
                    topic: b.topic.for_id(id),
                    qos: b.qos,
                    payload: json!({
                        "twin": id,
                        "actuator": info.name,
                        "value": value,
                        "unit": info.unit.text,
                        "t": stamp(tick.epoch),
                    }),
                });
            }
            Event::Alarm {
                instance,
                alarm,
                raised,
                message,
            } => {
                let Some(b) = manifest.events.as_ref().filter(|e| e.sink == sink) else {
                    continue;
                };
                let info = &model.alarms[*alarm];
                let id = &ids[*instance];
                out.push(Publication {
                    topic: b.topic.for_id(id),
                    qos: 1,
                    payload: json!({
                        "twin": id,
                        "alarm": info.name,
                        "severity": info.severity,
                        "state": if *raised { "raised" } else { "cleared" },
                        "t": stamp(tick.epoch),
                        "message": message,
                    }),
                });
            }
        }
    }
    out
}

/// Writes one sink's publications as JSON lines on stdout:
/// `{"topic": ..., "payload": ...}`.
pub struct StdoutSink {
    manifest: Manifest,
    sink: usize,
}

impl StdoutSink {
    /// The sink with index `sink` of `manifest`.
    pub fn new(manifest: Manifest, sink: usize) -> StdoutSink {
        StdoutSink { manifest, sink }
    }
}

impl Observer for StdoutSink {
    fn tick(&mut self, tick: &Tick<'_>) {
        let list = publications(&self.manifest, tick, self.sink);
        if list.is_empty() {
            return;
        }
        let mut out = std::io::stdout().lock();
        for p in list {
            let line = json!({"topic": p.topic, "payload": p.payload});
            // A closed stdout must not stop the twin; the history keeps all.
            let _ = writeln!(out, "{line}");
        }
        let _ = out.flush();
    }
}
