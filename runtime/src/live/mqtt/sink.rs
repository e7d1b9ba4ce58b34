//! The MQTT sink: actuator commands and alarm events out.
//!
//! Takes the manifest and a source's client (the link's publishing
//! connection, see [`super::MqttLink::sink`]); gives [`MqttSink`], the
//! [`Observer`] that queues each tick's publications (from
//! [`publications`]) on that connection without blocking the tick, and
//! counts and logs those the connection cannot take.

use rumqttc::{Client, QoS};

use super::Label;
use crate::live::manifest::Manifest;
use crate::live::publish::publications;
use crate::live::trace::{self, Stage};
use crate::live::{Observer, Tick};

/// Publishes one source's actuator commands and alarm events.
pub struct MqttSink {
    manifest: Manifest,
    sink: usize,
    client: Client,
    label: Label,
    /// Whether publications are being dropped (the queue is full).
    dropping: bool,
    /// Publications dropped so far.
    dropped: u64,
}

impl MqttSink {
    /// Publishes source `sink`'s share of `manifest` through `client`.
    pub(super) fn new(manifest: Manifest, sink: usize, client: Client, label: Label) -> MqttSink {
        MqttSink {
            manifest,
            sink,
            client,
            label,
            dropping: false,
            dropped: 0,
        }
    }

    /// Publications dropped because the connection could not take them.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

impl Observer for MqttSink {
    fn tick(&mut self, tick: &Tick<'_>) {
        for p in publications(&self.manifest, tick, self.sink) {
            let qos = match p.qos {
                0 => QoS::AtMostOnce,
                1 => QoS::AtLeastOnce,
                _ => QoS::ExactlyOnce,
            };
            let payload = p.payload.to_string();
            trace::mark(Stage::Queued, payload.as_bytes());
            match self.client.try_publish(&p.topic, qos, false, payload) {
                Ok(()) => {
                    if self.dropping {
                        self.dropping = false;
                        tracing::info!(
                            sink = self.label.source,
                            dropped = self.dropped,
                            "publishing again"
                        );
                    }
                }
                Err(e) => {
                    self.dropped += 1;
                    if !self.dropping {
                        self.dropping = true;
                        tracing::error!(
                            sink = self.label.source,
                            broker = self.label.broker,
                            topic = p.topic,
                            error = %e,
                            "cannot queue a publication; dropping them until the broker catches up"
                        );
                    }
                }
            }
        }
    }

    fn finish(&mut self) {
        if self.dropped > 0 {
            tracing::warn!(
                sink = self.label.source,
                dropped = self.dropped,
                "publications were dropped during this run"
            );
        }
    }
}
