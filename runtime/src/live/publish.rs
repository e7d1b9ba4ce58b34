//! What goes out on the wire: actuator commands and alarm events.
//!
//! Takes a tick's events and the manifest's actuator and event bindings;
//! gives [`Publication`]s (topic, QoS, JSON payload as RUNTIME.md fixes
//! it) for one sink, and [`StdoutSink`], which writes them as JSON lines
//! on standard output. The MQTT sink publishes the same publications.

use std::io::Write;

use serde_json::json;

use super::fleet::{EventRow, event_rows};
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
    let t = stamp(tick.epoch);
    let mut out = Vec::new();
    for row in event_rows(tick.fleet, tick.events) {
        match row {
            EventRow::Command {
                instance,
                actuator,
                value,
                unit,
            } => {
                let Some(b) = manifest
                    .actuators
                    .iter()
                    .find(|b| b.actuator == actuator && b.sink == sink)
                else {
                    continue;
                };
                out.push(Publication {
                    topic: b.topic.for_id(instance),
                    qos: b.qos,
                    payload: json!({
                        "twin": instance,
                        "actuator": actuator,
                        "value": value,
                        "unit": unit,
                        "t": t,
                    }),
                });
            }
            EventRow::Alarm {
                instance,
                alarm,
                state,
                severity,
                message,
            } => {
                let Some(b) = manifest.events.as_ref().filter(|e| e.sink == sink) else {
                    continue;
                };
                out.push(Publication {
                    topic: b.topic.for_id(instance),
                    qos: 1,
                    payload: json!({
                        "twin": instance,
                        "alarm": alarm,
                        "severity": severity,
                        "state": state,
                        "t": t,
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
