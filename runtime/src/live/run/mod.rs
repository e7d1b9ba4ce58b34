//! The runner: inputs in, ticks out, on the wall clock or on data time.
//!
//! Takes a checked [`Manifest`], the lowered model, observers and maybe a
//! checkpoint to resume from; gives a loop that routes every [`Input`] to
//! its sensor binding (decoding, unit conversion, quality checks), ticks
//! the [`Fleet`] — in live mode when the wall clock reaches each tick, in
//! replay mode as soon as every source's data has passed it — and hands
//! ticks, rejections and periodic checkpoints to the observers. It stops
//! when asked (SIGINT/SIGTERM set the stop flag) or, in replay mode, when
//! every source is exhausted; either way it writes a last checkpoint.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use twin_compiler::ir::Model;

use super::fleet::{Event, EventRow, Fleet, event_rows};
use super::manifest::{Instances, Manifest, Mode, SourceKind};
use super::payload::Decoder;
use super::release::Release;
use super::sources::now_epoch;
use super::trace::{self, Stage};
use super::{Checkpoint, Input, Observer, Tick};

mod decode;

/// Counters the HTTP API's `/metrics` serves.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Ticks run.
    pub ticks: AtomicU64,
    /// Lag of the last tick behind its wall-clock time, in µs (live mode).
    pub lag_us: AtomicU64,
    /// Actuator commands issued.
    pub actuations: AtomicU64,
    /// Alarm raises.
    pub alarms_raised: AtomicU64,
    /// Checkpoints written.
    pub checkpoints: AtomicU64,
    /// Time it took to check, lower and compile the model, in µs (set by
    /// whoever compiled it).
    pub compile_us: AtomicU64,
    /// Model reloads that took effect.
    pub reloads: AtomicU64,
    /// Model reloads refused (errors in the edited model).
    pub reloads_failed: AtomicU64,
    /// Samples by (sensor, quality): `good` or a [`crate::input::Reject::code`].
    pub samples: Mutex<BTreeMap<(String, &'static str), u64>>,
}

/// Inputs handled before the observers sync and the sources may
/// acknowledge them, at most: a steady stream is acknowledged in batches
/// this big, a trickle message by message.
const RELEASE_EVERY: usize = 1024;

/// Rejections logged one by one per sensor and reason.
const LOGGED_REJECTIONS: u64 = 5;

impl Metrics {
    /// Counts a sample; gives the count so far for its sensor and quality.
    fn count(&self, sensor: &str, quality: &'static str) -> u64 {
        match self.samples.lock() {
            Ok(mut m) => {
                let n = m.entry((sensor.to_string(), quality)).or_default();
                *n += 1;
                *n
            }
            Err(_) => 0,
        }
    }

    /// Logs the rejected samples by sensor and reason, one line each.
    pub fn log_rejections(&self) {
        let Ok(m) = self.samples.lock() else {
            return;
        };
        for ((sensor, quality), n) in m.iter().filter(|((_, q), _)| *q != "good") {
            tracing::warn!(
                sensor,
                reason = quality,
                count = n,
                "samples rejected in all"
            );
        }
    }
}

/// A sensor binding ready to use.
struct Bound {
    /// Index into `Model::sensors`.
    sensor: usize,
    /// Index into the manifest's sensor bindings.
    binding: usize,
    decoder: Decoder,
    /// Header unit → (scale, offset), for CSV cells.
    units: HashMap<String, Option<(f64, f64)>>,
}

/// How far a source has come.
#[derive(Clone, Debug, Default)]
struct Progress {
    /// Data time it has passed (replay).
    watermark: f64,
    /// Whether it ended.
    ended: bool,
    /// Whether it takes part in replay's data time (not sinks-only).
    input: bool,
    /// CSV rows fully applied (for checkpoints).
    rows_applied: u64,
    /// Times of rows delivered but not yet applied.
    pending_rows: VecDeque<f64>,
}

/// A running deployment.
pub struct Runner {
    manifest: Manifest,
    fleet: Fleet,
    /// Epoch seconds at twin time 0 (`None` in replay until a message
    /// carries an epoch timestamp).
    origin: Option<f64>,
    bindings: Vec<Bound>,
    observers: Vec<Box<dyn Observer>>,
    tx: Sender<Input>,
    rx: Receiver<Input>,
    progress: Vec<Progress>,
    /// The newest data time seen (replay ends after it).
    last_data: f64,
    last_checkpoint: f64,
    stop: Arc<AtomicBool>,
    metrics: Arc<Metrics>,
    /// Per source, messages handled and synced (see [`Runner::handled`]).
    handled: Arc<[AtomicU64]>,
    /// Per source, messages handled since the observers last synced.
    unsynced: Vec<u64>,
    /// Whether a twin was discovered since the last checkpoint.
    discovered: bool,
    /// Whether the run resumed from a checkpoint.
    resumed: bool,
}

impl Runner {
    /// Sets up the fleet (the manifest's instances, or the checkpoint's)
    /// for `model`. The manifest must have passed
    /// [`Manifest::check_against`] for this model.
    pub fn new(
        manifest: Manifest,
        model: Model,
        observers: Vec<Box<dyn Observer>>,
        resume: Option<Checkpoint>,
        stop: Arc<AtomicBool>,
    ) -> Runner {
        let dt = model.step;
        let mut fleet = Fleet::new(model, dt, &manifest.overridden_params());
        let mut origin = match manifest.runtime.mode {
            Mode::Live => Some(now_epoch()),
            Mode::Replay => None,
        };
        let mut progress: Vec<Progress> = manifest
            .sources
            .iter()
            .map(|s| Progress {
                watermark: f64::NEG_INFINITY,
                input: manifest
                    .sensors
                    .iter()
                    .any(|b| manifest.sources[b.source].name == s.name),
                ..Progress::default()
            })
            .collect();
        let model = fleet.model().clone();
        let overrides = |id: &str| manifest.overrides(&model, id);
        // A replay that ran to the end is replayed from the start (its rows
        // are replaced, being the same); one stopped midway resumes.
        let resume = resume.filter(|cp| {
            let finished = manifest.runtime.mode == Mode::Replay
                && manifest.sources.iter().all(|s| match &s.kind {
                    SourceKind::Csv { path, .. } => {
                        let done = cp.positions.iter().find(|(n, _)| *n == s.name).map(|(_, r)| *r);
                        matches!((done, super::sources::count_rows(path)), (Some(d), Some(n)) if d >= n)
                    }
                    _ => true,
                })
                && manifest.sources.iter().any(|s| matches!(s.kind, SourceKind::Csv { .. }));
            if finished {
                tracing::info!("the last replay ran to the end: replaying from the start");
            }
            !finished
        });
        match &resume {
            Some(cp) => {
                if manifest.runtime.mode == Mode::Live || cp.origin != 0.0 {
                    origin = Some(cp.origin);
                }
                for (id, dropped, added) in fleet.restore(&cp.fleet, &overrides) {
                    if !dropped.is_empty() || !added.is_empty() {
                        tracing::warn!(
                            twin = id,
                            ?dropped,
                            ?added,
                            "the checkpoint does not match the model; kept what matches by name"
                        );
                    }
                }
                for (name, rows) in &cp.positions {
                    if let Some(i) = manifest.sources.iter().position(|s| s.name == *name) {
                        progress[i].rows_applied = *rows;
                    }
                }
                tracing::info!(
                    t = fleet.time(),
                    twins = fleet.ids().len(),
                    "resumed from the last checkpoint"
                );
            }
            None => {
                if let Instances::Ids(ids) = &manifest.instances {
                    for id in ids {
                        fleet.add(id, &overrides(id));
                    }
                }
            }
        }
        let resumed = resume.is_some();
        let (tx, rx) = channel();
        let handled = manifest.sources.iter().map(|_| AtomicU64::new(0)).collect();
        let unsynced = vec![0; manifest.sources.len()];
        let mut runner = Runner {
            handled,
            unsynced,
            discovered: false,
            resumed,
            last_checkpoint: fleet.time(),
            manifest,
            fleet,
            origin,
            bindings: Vec::new(),
            observers,
            tx,
            rx,
            progress,
            last_data: f64::NEG_INFINITY,
            stop,
            metrics: Arc::new(Metrics::default()),
        };
        for o in &mut runner.observers {
            o.started(&runner.fleet);
        }
        runner.bind();
        runner
    }

    /// Hands the twins, after a resume, the samples the history received
    /// after the checkpoint (see [`SqliteHistory::samples_since`]): each is
    /// queued for its tick, so the ticks the restart runs again see what
    /// they saw before. Samples the checkpoint already holds, and any of a
    /// sensor fed by a CSV file (whose rows are read again), are skipped;
    /// a run that did not resume (none to resume from, or a replay that
    /// ran to the end starting over) takes none. Gives how many were
    /// queued. Call before any source starts.
    ///
    /// [`SqliteHistory::samples_since`]: super::history::SqliteHistory::samples_since
    pub fn reapply(&mut self, samples: &[super::history::Stored]) -> usize {
        if !self.resumed {
            return 0;
        }
        let origin = self.origin.unwrap_or(0.0);
        let mut queued = 0;
        for sample in samples {
            let csv = self.manifest.sensors.iter().any(|b| {
                b.sensor == sample.sensor
                    && matches!(
                        self.manifest.sources.get(b.source).map(|s| &s.kind),
                        Some(SourceKind::Csv { .. })
                    )
            });
            let sensor = self
                .fleet
                .model()
                .sensors
                .iter()
                .position(|s| s.name == sample.sensor);
            let (Some(i), Some(sensor), false) = (self.fleet.index(&sample.instance), sensor, csv)
            else {
                continue;
            };
            // Older than or as old as what the checkpoint holds: applied
            // before it was taken.
            if self
                .fleet
                .offer(i, sensor, sample.t - origin, sample.value)
                .is_ok()
            {
                queued += 1;
            }
        }
        if queued > 0 {
            tracing::info!(
                samples = queued,
                "handed the twins the samples the history received after the checkpoint"
            );
        }
        queued
    }

    /// (Re)builds the sensor bindings against the fleet's model.
    fn bind(&mut self) {
        let mut bindings = Vec::new();
        for (b, binding) in self.manifest.sensors.iter().enumerate() {
            let sensors = &self.fleet.model().sensors;
            if let Some(s) = sensors.iter().position(|s| s.name == binding.sensor) {
                bindings.push(Bound {
                    sensor: s,
                    binding: b,
                    decoder: Decoder::new(
                        &sensors[s],
                        binding.path.as_deref(),
                        binding.time.as_deref(),
                        binding.unit.as_deref(),
                    ),
                    units: HashMap::new(),
                });
            }
        }
        self.bindings = bindings;
    }

    /// Watches the model file and reloads it when it changes.
    pub fn watch_model(&self) {
        super::reload::watch(
            self.manifest.model.clone(),
            self.tx.clone(),
            self.stop.clone(),
        );
    }

    /// A sender for sources started outside the runner (MQTT).
    pub fn sender(&self) -> Sender<Input> {
        self.tx.clone()
    }

    /// Per source (index into the manifest's sources), how many
    /// [`Input::Message`]s the runner has handled — decoded, applied or
    /// rejected, shown to the observers — and the observers have made
    /// durable ([`Observer::sync`]: the history has committed it). MQTT
    /// acknowledges a message only once it is counted here, so a message
    /// the broker lets go of is one the history keeps, even if the process
    /// is killed the next moment.
    pub fn handled(&self) -> Arc<[AtomicU64]> {
        self.handled.clone()
    }

    /// The counters, shared with the HTTP API.
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// The fleet.
    pub fn fleet(&self) -> &Fleet {
        &self.fleet
    }

    /// Starts the CSV and stdin sources (MQTT ones are started by the
    /// caller with [`Runner::sender`]).
    pub fn start_local_sources(&mut self) {
        for (i, source) in self.manifest.sources.iter().enumerate() {
            if !self.progress[i].input {
                continue;
            }
            match &source.kind {
                SourceKind::Csv { path, pace } => {
                    super::sources::spawn_csv(
                        i,
                        path,
                        *pace,
                        self.progress[i].rows_applied,
                        self.tx.clone(),
                    );
                }
                SourceKind::Stdin => {
                    super::sources::spawn_lines(i, std::io::stdin(), self.tx.clone());
                }
                SourceKind::Mqtt(_) | SourceKind::Stdout => {}
            }
        }
    }

    /// Runs until stopped or, in replay mode, until the data runs out.
    pub fn run(&mut self) {
        match self.manifest.runtime.mode {
            Mode::Replay => self.run_replay(),
            Mode::Live => self.run_live(),
        }
        self.checkpoint();
        for o in &mut self.observers {
            o.finish();
        }
        self.release_now();
        self.metrics.log_rejections();
    }

    /// The time of the last tick run, if any.
    pub fn last_tick_time(&self) -> Option<f64> {
        let k = self.fleet.tick_index();
        (self.metrics.ticks.load(Ordering::Relaxed) > 0 && k > 0)
            .then(|| (k - 1) as f64 * self.fleet.step())
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn run_replay(&mut self) {
        loop {
            let t = self.fleet.time();
            // Wait until every input source has passed t (or ended).
            while !self
                .progress
                .iter()
                .all(|p| !p.input || p.ended || p.watermark > t)
            {
                if self.stopped() {
                    return;
                }
                match self.rx.recv_timeout(Duration::from_millis(200)) {
                    Ok(input) => self.handle_batch(input),
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            }
            let all_ended = self.progress.iter().all(|p| !p.input || p.ended);
            if self.stopped() || (all_ended && t > self.last_data + self.fleet.step() * 1e-9) {
                return;
            }
            self.do_tick();
        }
    }

    fn run_live(&mut self) {
        let origin = self.origin.unwrap_or_else(now_epoch);
        self.origin = Some(origin);
        loop {
            let due = origin + self.fleet.time();
            loop {
                if self.stopped() {
                    return;
                }
                let wait = due - now_epoch();
                if wait <= 0.0 {
                    break;
                }
                match self.rx.recv_timeout(Duration::from_secs_f64(wait.min(0.2))) {
                    Ok(input) => self.handle_batch(input),
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => {
                        std::thread::sleep(Duration::from_secs_f64(wait.min(0.2)))
                    }
                }
            }
            while let Ok(input) = self.rx.try_recv() {
                self.handle(input);
            }
            let lag = (now_epoch() - due).max(0.0);
            self.metrics
                .lag_us
                .store((lag * 1e6) as u64, Ordering::Relaxed);
            self.do_tick();
            // After the tick, so that its commands go out without waiting
            // for the history's commit; the commit covers the tick's rows
            // too, and the messages are acknowledged only after it.
            self.release();
        }
    }

    /// One tick: apply due samples, run, tell the observers, integrate,
    /// checkpoint when due.
    fn do_tick(&mut self) {
        let events = self.fleet.tick();
        let t = self.fleet.time();
        let epoch = self.origin.unwrap_or(0.0) + t;
        self.log(&events, t);
        let tick = Tick {
            fleet: &self.fleet,
            events: &events,
            epoch,
        };
        for o in &mut self.observers {
            o.tick(&tick);
        }
        self.metrics.ticks.fetch_add(1, Ordering::Relaxed);
        for p in &mut self.progress {
            while p
                .pending_rows
                .front()
                .is_some_and(|r| *r <= t + self.fleet.step() * 1e-9)
            {
                p.pending_rows.pop_front();
                p.rows_applied += 1;
            }
        }
        self.fleet.advance();
        if self.fleet.time() - self.last_checkpoint >= self.manifest.runtime.checkpoint_every - 1e-9
        {
            self.checkpoint();
        }
    }

    fn log(&self, events: &[Event], t: f64) {
        let t = crate::sim::format_time(t);
        for row in event_rows(&self.fleet, events) {
            match row {
                EventRow::Alarm {
                    instance: twin,
                    alarm,
                    state: "raised",
                    severity,
                    message,
                } => {
                    self.metrics.alarms_raised.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(twin, alarm, severity, t, message, "alarm raised");
                }
                EventRow::Alarm {
                    instance: twin,
                    alarm,
                    ..
                } => tracing::info!(twin, alarm, t, "alarm cleared"),
                EventRow::Command {
                    instance: twin,
                    actuator,
                    value,
                    unit,
                } => {
                    self.metrics.actuations.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(twin, actuator, value, unit, t, "command");
                }
            }
        }
    }

    /// Writes a checkpoint to every observer that keeps one.
    pub fn checkpoint(&mut self) {
        let cp = Checkpoint {
            origin: self.origin.unwrap_or(0.0),
            fleet: self.fleet.snapshot(),
            positions: self
                .manifest
                .sources
                .iter()
                .zip(&self.progress)
                .filter(|(s, _)| matches!(s.kind, SourceKind::Csv { .. }))
                .map(|(s, p)| (s.name.clone(), p.rows_applied))
                .collect(),
        };
        for o in &mut self.observers {
            o.checkpoint(&cp);
        }
        self.last_checkpoint = self.fleet.time();
        self.discovered = false;
        self.metrics.checkpoints.fetch_add(1, Ordering::Relaxed);
    }

    /// Handles `first` and whatever else is waiting (up to
    /// [`RELEASE_EVERY`] inputs), then [`Runner::release`]s them.
    fn handle_batch(&mut self, first: Input) {
        self.handle(first);
        for _ in 1..RELEASE_EVERY {
            match self.rx.try_recv() {
                Ok(input) => self.handle(input),
                Err(_) => break,
            }
        }
        self.release();
    }

    /// Has the observers make what they saw durable: each gets a
    /// [`Release`] for the messages handled since, which are counted in
    /// [`Runner::handled`] (for the sources to acknowledge) once every
    /// observer is done with it. One sync (a history commit) covers a
    /// whole batch. A twin discovered in the batch is checkpointed first:
    /// once its announcement is acknowledged, only a checkpoint remembers
    /// it.
    ///
    /// Nothing is released before the first tick: until then the history
    /// does not know the twins' origin and holds rows back in memory
    /// instead of writing them, so a commit would not cover them.
    fn release(&mut self) {
        if self.unsynced.iter().all(|n| *n == 0) || self.metrics.ticks.load(Ordering::Relaxed) == 0
        {
            return;
        }
        self.release_now();
    }

    /// [`Runner::release`], whether or not a tick has run (at the end of
    /// the run, after the observers have written out what they held).
    fn release_now(&mut self) {
        if self.discovered {
            self.checkpoint();
        }
        let counts = self.unsynced.iter_mut().map(std::mem::take).collect();
        let release = Release::new(counts, self.handled.clone());
        // Acknowledged once every observer has made them durable; until
        // then the broker keeps them (and stops sending once its window
        // of unacknowledged messages is full).
        for o in &mut self.observers {
            o.sync(release.clone());
        }
        release.done();
    }

    fn handle(&mut self, input: Input) {
        match input {
            Input::Watermark { source, t } => {
                if let Some(p) = self.progress.get_mut(source) {
                    p.watermark = p.watermark.max(t);
                    p.pending_rows.push_back(t);
                }
            }
            Input::Reload => self.reload(),
            Input::End { source, error } => {
                if let Some(e) = error {
                    tracing::error!(
                        source = self.manifest.sources[source].name,
                        error = e,
                        "source failed"
                    );
                }
                if let Some(p) = self.progress.get_mut(source) {
                    p.ended = true;
                }
            }
            Input::Cell {
                source,
                id,
                column,
                unit,
                t,
                value,
                raw,
                line,
            } => self.cell(source, id, &column, unit, t, value, raw, line),
            Input::Message {
                source,
                topic,
                payload,
                arrived,
            } => {
                self.message(source, &topic, &payload, arrived);
                trace::mark(Stage::Handled, &payload);
                if let Some(n) = self.unsynced.get_mut(source) {
                    *n += 1;
                }
            }
        }
    }

    /// Compiles the model file again; on success moves every instance's
    /// state to the new model by slot name (reporting what was dropped and
    /// added), keeps queued samples, and carries on at the same time. On
    /// failure logs the diagnostics and keeps running the old model.
    fn reload(&mut self) {
        let path = self.manifest.model.clone();
        let model = match super::reload::compile(&path, self.manifest.twin.as_deref()) {
            Ok(m) => m,
            Err(diagnostics) => {
                self.metrics.reloads_failed.fetch_add(1, Ordering::Relaxed);
                tracing::error!(
                    model = %path.display(),
                    diagnostics,
                    "the edited model has errors; the running model stays"
                );
                return;
            }
        };
        let problems = self.manifest.check_against(&model);
        if !problems.is_empty() {
            self.metrics.reloads_failed.fetch_add(1, Ordering::Relaxed);
            tracing::error!(
                model = %path.display(),
                problems = problems.join("; "),
                "the edited model does not fit the manifest; the running model stays"
            );
            return;
        }
        let t = self.fleet.time();
        let mut snapshot = self.fleet.snapshot();
        let dt = model.step;
        snapshot.k = (t / dt).round() as u64;
        let pending = self.fleet.pending();
        let mut fleet = Fleet::new(model, dt, &self.manifest.overridden_params());
        let model = fleet.model().clone();
        let overrides = |id: &str| self.manifest.overrides(&model, id);
        for (id, dropped, added) in fleet.restore(&snapshot, &overrides) {
            tracing::info!(
                twin = id,
                ?dropped,
                ?added,
                "state migrated to the edited model"
            );
        }
        for (id, sensor, t, v) in pending {
            let s = fleet.model().sensors.iter().position(|x| x.name == sensor);
            if let (Some(i), Some(s)) = (fleet.index(&id), s) {
                let _ = fleet.offer(i, s, t, v);
            }
        }
        self.fleet = fleet;
        self.bind();
        for o in &mut self.observers {
            o.reloaded(&self.fleet);
        }
        self.metrics.reloads.fetch_add(1, Ordering::Relaxed);
        tracing::info!(model = %path.display(), t, "model reloaded");
    }
}
