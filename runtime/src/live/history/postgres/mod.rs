//! The history in PostgreSQL: `runtime.history = "postgres://..."`, the
//! server option beside the embedded SQLite file.
//!
//! Takes the run as an [`Observer`], like [`super::SqliteHistory`], and a
//! connection URL (`postgres://user@host:port/db`, or key-value settings;
//! `?options=-csearch_path%3Dplant` keeps several deployments in one
//! database, a password may come from `PGPASSWORD`); gives the same
//! tables with the same columns, keys and meanings as the SQLite history
//! (its module doc describes them; `schema` has the PostgreSQL types),
//! which `twinc history` exports as the same CSV ([`PgReader`]) and a
//! restarted `twinc run` resumes from ([`PostgresHistory::last_checkpoint`]).
//!
//! # Writes
//! The observer encodes each row at once, in COPY text (`batch`), and
//! hands the batch to a thread of its own (`writer`) at the first write
//! or tick a second (of wall time) after the previous one, before every
//! checkpoint, and on [`Observer::finish`], which waits until it is
//! written. A sync before MQTT acknowledgements ([`Observer::sync`]) hands
//! the rows over with its [`Release`], which the writer completes once
//! they are committed; when the writer's queue is full they wait for the
//! next hand-over instead. So the run never waits on the network, except
//! when the writer falls several batches behind at a tick or a checkpoint
//! (the queue is bounded). Each batch is one
//! transaction, merged by key as in SQLite — a row that exists is replaced
//! (ticks) or kept (samples, dead letters) — so a restart that redoes
//! ticks leaves the same history as a run that never stopped. A failing
//! write is logged and counted ([`PostgresHistory::failures`]), never a
//! panic; when the server goes away, rows wait and the writer reconnects.
//!
//! Connections are plain TCP or a Unix socket (`host=/run/postgresql`):
//! this build has no TLS, so `sslmode=require` is refused at start.

mod batch;
mod checkpoint;
mod export;
mod schema;
pub mod server;
#[cfg(test)]
mod tests;
mod writer;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError, channel, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use postgres::config::Host;
use postgres::{Client, Config, NoTls};
use twin_compiler::ir::Model;

use super::HistoryError;
use super::rows::{SampleRow, Waiting, records, same_origin};
use crate::live::fleet::{Event, Fleet};
use crate::live::fleet::{EventRow, event_rows};
use crate::live::release::Release;
use crate::live::sources::now_epoch;
use crate::live::{Accepted, Checkpoint, Observer, Rejection, Tick};
use batch::{Batch, Cell, Kind};
use writer::{Job, Writer};

pub use export::PgReader;

/// How often rows are handed to the writer, by default.
const COMMIT_EVERY: Duration = Duration::from_secs(1);

/// A batch this big is handed over at once (a fast replay of a fleet
/// fills one in well under a second).
const MAX_BATCH_BYTES: usize = 8 << 20;

/// Batches that may wait for the writer before the run does.
const QUEUE: usize = 4;

/// How long connecting may take when the URL does not say.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the history is, for messages: hosts, port and database, never the
/// password.
#[derive(Clone, Debug)]
pub(super) struct Where(String);

impl fmt::Display for Where {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Reads a connection URL; gives its settings and where it points.
fn config(url: &str) -> Result<(Config, Where), HistoryError> {
    let mut config: Config = url
        .parse()
        .map_err(|e| HistoryError(format!("not a PostgreSQL URL: {e}")))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("twinc");
    }
    if config.get_password().is_none()
        && let Ok(password) = std::env::var("PGPASSWORD")
    {
        config.password(password);
    }
    if config.get_user().is_none()
        && let Ok(user) = std::env::var("PGUSER").or_else(|_| std::env::var("USER"))
    {
        config.user(&user);
    }
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            Host::Tcp(name) => name.clone(),
            #[cfg(unix)]
            Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let place = Where(format!(
        "{}:{port}/{}",
        if hosts.is_empty() {
            "localhost".to_string()
        } else {
            hosts.join(",")
        },
        config.get_dbname().unwrap_or("")
    ));
    Ok((config, place))
}

/// Connects to the server `url` names; an error says where and why.
fn connect(url: &str) -> Result<(Client, Config, Where), HistoryError> {
    let (config, place) = config(url)?;
    let client = config.connect(NoTls).map_err(|e| {
        HistoryError(format!(
            "cannot connect to PostgreSQL at {place}: {}",
            schema::one_line(&e)
        ))
    })?;
    Ok((client, config, place))
}

/// The history of one deployment in a PostgreSQL database.
pub struct PostgresHistory {
    /// Hands batches, checkpoints and questions to the writer (`None`
    /// once it is stopped).
    jobs: Option<SyncSender<Job>>,
    writer: Option<JoinHandle<()>>,
    /// Rows not handed over yet.
    batch: Batch,
    /// The next row's sequence number (later rows win a merge).
    seq: u64,
    /// The model's step (s), to date checkpoints.
    step: f64,
    /// Resolution of the signal history (s).
    decimate: f64,
    /// Epoch seconds at twin time 0, once known.
    origin: Option<f64>,
    /// The origin the last run recorded, to reuse bit for bit on resume.
    recorded_origin: Option<f64>,
    waiting: Vec<Waiting>,
    last_send: Instant,
    /// How often rows are handed to the writer.
    commit_every: Duration,
    failures: Arc<AtomicU64>,
    rows: u64,
    /// Syncs not handed to the writer yet, oldest first.
    releases: Vec<Release>,
    /// Whether [`Observer::finish`] has run.
    finished: bool,
}

impl PostgresHistory {
    /// Connects to `url`, creates the history tables if the database has
    /// none, records `model` in the catalog, and starts the writer;
    /// signals are recorded every `decimate` seconds of twin time.
    pub fn open(url: &str, model: &Model, decimate: f64) -> Result<PostgresHistory, HistoryError> {
        let (mut client, config, place) = connect(url)?;
        let at = |e: HistoryError| HistoryError(format!("PostgreSQL at {place}: {e}"));
        schema::prepare(&mut client).map_err(at)?;
        let columns = schema::describe(&mut client, model).map_err(at)?;
        let recorded_origin = schema::meta(&mut client, "origin")
            .map_err(at)?
            .and_then(|o| o.parse().ok());
        let (staging, merges) = schema::staging(&columns);
        client
            .batch_execute(&staging)
            .map_err(schema::sql("cannot prepare the history"))
            .map_err(at)?;
        let failures = Arc::new(AtomicU64::new(0));
        let writer = Writer {
            config,
            place,
            client: Some(client),
            staging,
            merges,
            pending: Batch::default(),
            undescribed: None,
            failures: failures.clone(),
            last_attempt: None,
            down: false,
            held: Vec::new(),
        };
        let (jobs, rx) = sync_channel(QUEUE);
        let thread = std::thread::Builder::new()
            .name("history-postgres".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| HistoryError(format!("cannot start the history writer: {e}")))?;
        Ok(PostgresHistory {
            jobs: Some(jobs),
            writer: Some(thread),
            batch: Batch::default(),
            seq: 0,
            step: model.step,
            decimate,
            origin: None,
            recorded_origin,
            waiting: Vec::new(),
            last_send: Instant::now(),
            commit_every: COMMIT_EVERY,
            failures,
            rows: 0,
            releases: Vec::new(),
            finished: false,
        })
    }

    /// Asks the writer a question (`job` gets the channel to answer on)
    /// and waits for the answer.
    fn ask<T>(
        &self,
        job: impl FnOnce(std::sync::mpsc::Sender<Result<T, HistoryError>>) -> Job,
    ) -> Result<T, HistoryError> {
        let (answer, rx) = channel();
        let gone = || HistoryError("the history writer has stopped".into());
        self.jobs
            .as_ref()
            .ok_or_else(gone)?
            .send(job(answer))
            .map_err(|_| gone())?;
        rx.recv().map_err(|_| gone())?
    }

    /// The newest checkpoint, for the runner to resume from.
    pub fn last_checkpoint(&self) -> Result<Option<Checkpoint>, HistoryError> {
        Ok(self
            .ask(|answer| Job::Checkpoints { all: false, answer })?
            .pop())
    }

    /// Samples the history holds stamped after `t` (seconds since the
    /// epoch), oldest first, in SI: what a restart hands back to the twins,
    /// as [`super::SqliteHistory::samples_since`] does.
    pub fn samples_since(&self, t: f64) -> Result<Vec<super::Stored>, HistoryError> {
        self.ask(|answer| Job::SamplesSince { t, answer })
    }

    /// Every kept checkpoint, oldest first.
    pub fn checkpoints(&self) -> Result<Vec<Checkpoint>, HistoryError> {
        self.ask(|answer| Job::Checkpoints { all: true, answer })
    }

    /// Hands rows over this often (of wall time) instead of every second;
    /// checkpoints and [`Observer::finish`] still do.
    pub fn set_commit_interval(&mut self, every: Duration) {
        self.commit_every = every;
    }

    /// Writes that failed since the history was opened (a batch, a
    /// checkpoint, or a connection lost).
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// Rows written (not necessarily committed yet).
    pub fn rows_written(&self) -> u64 {
        self.rows
    }

    /// Writes every row so far and waits until the writer has committed
    /// them (or given up: see [`PostgresHistory::failures`]); true when
    /// nothing is left waiting for the server.
    pub fn commit(&mut self) -> bool {
        self.hand_over();
        let (answer, done) = channel();
        self.send(Job::Sync(answer));
        done.recv().unwrap_or(false)
    }

    /// Hands the rows and releases so far to the writer, waiting for room
    /// in its queue.
    fn hand_over(&mut self) {
        let batch = std::mem::take(&mut self.batch);
        let releases = std::mem::take(&mut self.releases);
        self.send(Job::Rows(batch, releases));
    }

    /// [`PostgresHistory::hand_over`] if the writer's queue has room;
    /// otherwise they wait here for the next hand-over, so that a sync
    /// never waits for the server.
    fn hand_over_if_room(&mut self) {
        let Some(jobs) = &self.jobs else {
            return self.hand_over();
        };
        let batch = std::mem::take(&mut self.batch);
        let releases = std::mem::take(&mut self.releases);
        match jobs.try_send(Job::Rows(batch, releases)) {
            Ok(()) => self.last_send = Instant::now(),
            Err(TrySendError::Full(Job::Rows(batch, releases))) => {
                self.batch = batch;
                self.releases = releases;
            }
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                tracing::error!("the history writer has stopped; rows are lost");
            }
        }
    }

    /// Hands a job to the writer; counts one that cannot be.
    fn send(&mut self, job: Job) {
        if let Job::Rows(b, releases) = &job {
            self.last_send = Instant::now();
            if b.is_empty() && releases.is_empty() {
                return;
            }
        }
        let sent = self.jobs.as_ref().is_some_and(|j| j.send(job).is_ok());
        if !sent {
            self.failures.fetch_add(1, Ordering::Relaxed);
            tracing::error!("the history writer has stopped; rows are lost");
        }
    }

    /// Hands over the rows, and the releases of syncs that found the
    /// writer's queue full, once a second or once the rows fill a batch.
    /// (Releases must not wait for more rows: the broker may be waiting for
    /// their acknowledgements before it sends any.)
    fn commit_if_due(&mut self) {
        if (!self.batch.is_empty() || !self.releases.is_empty())
            && (self.last_send.elapsed() >= self.commit_every
                || self.batch.bytes() >= MAX_BATCH_BYTES)
        {
            self.hand_over();
        }
    }

    fn push(&mut self, kind: Kind, cells: &[Cell<'_>]) {
        self.batch.push(kind, self.seq, cells);
        self.seq += 1;
        self.rows += 1;
    }

    /// Learns the origin from a tick (reusing the recorded one when it is
    /// the same run resumed) and writes what waited for it.
    fn learn_origin(&mut self, origin: f64) {
        if self.origin.is_some() {
            return;
        }
        let origin = same_origin(self.recorded_origin, origin);
        self.origin = Some(origin);
        if self.recorded_origin != Some(origin) {
            self.recorded_origin = Some(origin);
            self.batch.origin = Some(format!("{origin:?}"));
        }
        for w in std::mem::take(&mut self.waiting) {
            match w {
                Waiting::Sample(s) => self.write_sample(origin, &s),
                Waiting::Rejected(r) => self.write_rejected(origin, &r),
            }
        }
    }

    fn write_sample(&mut self, origin: f64, s: &SampleRow) {
        self.push(
            Kind::Samples,
            &[
                Cell::Real(origin + s.t),
                Cell::Text(&s.instance),
                Cell::Text(&s.sensor),
                Cell::Maybe(s.value),
                Cell::Text(&s.unit),
                Cell::Maybe(s.value_si),
            ],
        );
    }

    fn write_rejected(&mut self, origin: f64, r: &Rejection) {
        let t = if r.t.is_finite() {
            origin + r.t
        } else {
            origin
        };
        self.push(
            Kind::Rejected,
            &[
                Cell::Real(t),
                Cell::Text(&r.instance),
                Cell::Text(&r.sensor),
                Cell::Text(r.reason.code()),
                Cell::Text(&r.origin),
                Cell::Text(&r.raw),
            ],
        );
    }

    /// Whether tick `k` is the first at or after a multiple of `decimate`
    /// (the SQLite history's rule).
    fn write_events(&mut self, fleet: &Fleet, events: &[Event], epoch: f64) {
        for row in event_rows(fleet, events) {
            match row {
                EventRow::Alarm {
                    instance,
                    alarm,
                    state,
                    severity,
                    message,
                } => self.push(
                    Kind::Alarms,
                    &[
                        Cell::Real(epoch),
                        Cell::Text(instance),
                        Cell::Text(alarm),
                        Cell::Text(state),
                        Cell::Text(severity),
                        Cell::Text(message),
                    ],
                ),
                EventRow::Command {
                    instance,
                    actuator,
                    value,
                    unit,
                } => self.push(
                    Kind::Commands,
                    &[
                        Cell::Real(epoch),
                        Cell::Text(instance),
                        Cell::Text(actuator),
                        Cell::Maybe(value),
                        Cell::Text(unit),
                    ],
                ),
            }
        }
    }

    fn write_signals(&mut self, fleet: &Fleet, epoch: f64) {
        let outputs = &fleet.model().outputs;
        let mut cells = Vec::with_capacity(outputs.len() + 2);
        for (i, id) in fleet.ids().iter().enumerate() {
            cells.clear();
            cells.push(Cell::Real(epoch));
            cells.push(Cell::Text(id));
            cells.extend(outputs.iter().map(|o| Cell::Maybe(fleet.get(i, o.slot))));
            self.batch.push(Kind::Signals, self.seq, &cells);
            self.seq += 1;
            self.rows += 1;
        }
    }
}

impl Observer for PostgresHistory {
    fn tick(&mut self, tick: &Tick<'_>) {
        let fleet = tick.fleet;
        self.learn_origin(tick.epoch - fleet.time());
        self.write_events(fleet, tick.events, tick.epoch);
        if records(self.decimate, fleet.tick_index(), fleet.step()) {
            self.write_signals(fleet, tick.epoch);
        }
        self.commit_if_due();
    }

    fn accepted(&mut self, fleet: &Fleet, sample: &Accepted) {
        let Some(row) = SampleRow::of(fleet, sample) else {
            return;
        };
        match self.origin {
            Some(origin) => self.write_sample(origin, &row),
            None => self.waiting.push(Waiting::Sample(row)),
        }
        self.commit_if_due();
    }

    fn rejected(&mut self, rejection: &Rejection) {
        match self.origin {
            Some(origin) => self.write_rejected(origin, rejection),
            None => self.waiting.push(Waiting::Rejected(rejection.clone())),
        }
        self.commit_if_due();
    }

    fn checkpoint(&mut self, cp: &Checkpoint) {
        self.learn_origin(cp.origin);
        self.hand_over();
        let t = cp.origin + cp.fleet.k as f64 * self.step;
        self.send(Job::Checkpoint {
            cp: Box::new(cp.clone()),
            t,
            written: now_epoch(),
        });
    }

    fn reloaded(&mut self, fleet: &Fleet) {
        self.hand_over();
        self.send(Job::Describe(Box::new(fleet.model().clone())));
    }

    /// Hands every row so far to the writer with `release`, which the
    /// writer completes once they are committed, without waiting for it
    /// (when its queue is full, they go with the next hand-over). While
    /// the server is away the rows and the release wait in the writer, so
    /// the broker keeps the messages. After [`Observer::finish`] it waits,
    /// so that the run's last acknowledgements go out.
    fn sync(&mut self, release: Release) {
        self.releases.push(release);
        if self.finished {
            self.commit();
        } else {
            self.hand_over_if_room();
        }
    }

    fn finish(&mut self) {
        if self.origin.is_none() && !self.waiting.is_empty() {
            self.learn_origin(0.0);
        }
        self.commit();
        self.finished = true;
    }
}

impl Drop for PostgresHistory {
    fn drop(&mut self) {
        if !self.batch.is_empty() {
            self.hand_over();
        }
        // Closing the queue lets the writer write what waits and stop.
        self.jobs = None;
        if let Some(thread) = self.writer.take()
            && thread.join().is_err()
        {
            tracing::error!("the history writer stopped on an error");
        }
    }
}
