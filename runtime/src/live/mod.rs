//! `twinc run`: a twin in production, fed by telemetry.
//!
//! Takes a deployment [`manifest::Manifest`] and the model it names; gives
//! a running [`run::Runner`]: sources (CSV replay, JSON lines on stdin,
//! MQTT) deliver [`Input`]s over a channel, the runner decodes them for
//! each sensor binding ([`payload`]), checks and queues them in the
//! [`fleet::Fleet`], ticks the fleet on the wall clock (live) or on data
//! time (replay), and hands every tick, every rejected sample and every
//! checkpoint to its [`Observer`]s: the history store, the sinks that
//! publish actuator commands and alarm events, and the HTTP API's view.

pub mod api;
pub mod fleet;
pub mod history;
pub mod manifest;
pub mod mqtt;
pub mod payload;
pub mod publish;
pub mod release;
pub mod reload;
pub mod run;
pub mod sources;
pub mod trace;

use crate::input::Reject;
use fleet::{Event, Fleet, Snapshot};
use release::Release;

/// What a source delivers to the runner.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    /// A message on a topic (MQTT, or a stdin line `{"topic", "payload"}`).
    Message {
        /// Index into the manifest's sources.
        source: usize,
        /// Its topic.
        topic: String,
        /// Its payload, as received.
        payload: Vec<u8>,
        /// When it arrived, seconds since the Unix epoch.
        arrived: f64,
    },
    /// One cell of a CSV replay.
    Cell {
        /// Index into the manifest's sources.
        source: usize,
        /// The row's instance id (the `id` column), if the file has one.
        id: Option<String>,
        /// The column's name.
        column: String,
        /// The unit in the column's header, if any.
        unit: Option<String>,
        /// The row's `t` (twin time, s).
        t: f64,
        /// The cell's value, or why it cannot be one.
        value: Result<f64, Reject>,
        /// The cell as written.
        raw: String,
        /// The 1-based line.
        line: usize,
    },
    /// A source's data time has reached `t` (twin time): nothing older
    /// will come from it. Replay mode ticks up to the slowest source.
    Watermark {
        /// Index into the manifest's sources.
        source: usize,
        /// Twin time (s).
        t: f64,
    },
    /// The model file changed: compile it and, if it is good, migrate.
    Reload,
    /// A source has nothing more to give.
    End {
        /// Index into the manifest's sources.
        source: usize,
        /// Why, when it ended on an error.
        error: Option<String>,
    },
}

/// A sample that was not applied.
#[derive(Clone, Debug, PartialEq)]
pub struct Rejection {
    /// The instance id (empty when the message named none).
    pub instance: String,
    /// The sensor (empty when no binding matched).
    pub sensor: String,
    /// Why.
    pub reason: Reject,
    /// The raw payload or cell.
    pub raw: String,
    /// Where it came from: the topic, or `file:line`.
    pub origin: String,
    /// Twin time it was received at (s).
    pub t: f64,
}

/// A sample that was accepted and queued.
#[derive(Clone, Debug, PartialEq)]
pub struct Accepted {
    /// Instance index.
    pub instance: usize,
    /// Index into `Model::sensors`.
    pub sensor: usize,
    /// Its time (twin time, s).
    pub t: f64,
    /// Its value in SI.
    pub value: f64,
}

/// Everything a restart needs.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Checkpoint {
    /// Seconds since the epoch at twin time 0.
    pub origin: f64,
    /// The fleet's state.
    pub fleet: Snapshot,
    /// Per source name: how far it was consumed (rows of a CSV file).
    pub positions: Vec<(String, u64)>,
}

/// One tick, as observers see it.
pub struct Tick<'a> {
    /// The fleet after the tick program ran (before integration).
    pub fleet: &'a Fleet,
    /// What changed.
    pub events: &'a [Event],
    /// Seconds since the epoch at this tick (origin + t).
    pub epoch: f64,
}

/// Something that follows the run: history, sinks, the API's view.
pub trait Observer: Send {
    /// The run starts: `fleet` is what runs, its model laid out as the
    /// fleet lays it out (params no instance overrides are shared, so
    /// slot numbers can differ from those of the model the observer was
    /// made with). Before the first tick.
    fn started(&mut self, _fleet: &Fleet) {}
    /// After each tick's program ran, before integration.
    fn tick(&mut self, tick: &Tick<'_>);
    /// An accepted sample.
    fn accepted(&mut self, _fleet: &Fleet, _sample: &Accepted) {}
    /// A rejected sample.
    fn rejected(&mut self, _rejection: &Rejection) {}
    /// A checkpoint to keep.
    fn checkpoint(&mut self, _checkpoint: &Checkpoint) {}
    /// The model was reloaded: `fleet` runs the new one from now on.
    fn reloaded(&mut self, _fleet: &Fleet) {}
    /// Make everything seen so far durable (the history commits its open
    /// transaction), then call [`Release::done`] on `release`: the
    /// messages handled since the last sync are acknowledged to the
    /// broker once every observer is done with it. An observer may hold
    /// the token while it writes from a thread of its own, or while it
    /// cannot write (its server is away), so that the broker keeps the
    /// messages meanwhile; it completes its tokens in the order it got
    /// them. One that keeps nothing is done at once.
    fn sync(&mut self, release: Release) {
        release.done();
    }
    /// The run stops: write out anything buffered.
    fn finish(&mut self) {}
}
