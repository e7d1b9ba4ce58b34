//! The embedded history: everything a run saw and did, in one SQLite file.
//!
//! Takes the run as an [`Observer`] (ticks, accepted and rejected samples,
//! checkpoints); gives a file (WAL journal, `synchronous = NORMAL`) that
//! `twinc history` exports ([`export`]) and that a restarted `twinc run`
//! resumes from ([`SqliteHistory::last_checkpoint`]).
//!
//! # Tables
//! Every time `t` is seconds since the Unix epoch (origin + twin time; in
//! a replay of a CSV file without epoch stamps the origin is 0, so `t` is
//! the file's own `t`). `instance` is the twin's id.
//! - `signals (t, instance, <one REAL column per output>)`: every output
//!   of every instance, in SI, at the first tick at or after each multiple
//!   of the manifest's `decimate` (a snapshot, not an average), so that
//!   the rows fall on the same ticks however often the run was restarted.
//! - `samples (t, instance, sensor, value, unit, value_si)`: each accepted
//!   sample at its own time, in the sensor's unit and in SI.
//! - `alarms (t, instance, alarm, state, severity, message)`: raises and
//!   clears.
//! - `commands (t, instance, actuator, value, unit)`: each command change.
//! - `rejected (id, t, instance, sensor, reason, origin, raw)`: the dead
//!   letters, each with its reason code ([`crate::input::Reject::code`]),
//!   where it came from (topic or `file:line`) and its raw payload.
//! - `checkpoints`, `checkpoint_twins`, `checkpoint_slots`,
//!   `checkpoint_positions`: the newest few [`Checkpoint`]s.
//! - `catalog (kind, name, position, col, unit, scale, si_offset, format,
//!   variants)`: every signal, sensor, actuator and alarm with its unit
//!   (SI = value × scale + si_offset) and print format; `col` is a
//!   signal's column in `signals`.
//! - `meta (key, value)` and `schema_version (version)`.
//!
//! # Why `signals` is wide
//! One row per instance per recorded tick with a column per output,
//! rather than a long `(instance, t, signal, value)` table: a fleet writes
//! one row where the long form writes one per signal (a sixth of the rows
//! for the pump), the rows repeat neither time nor id nor signal name
//! (an hour of 1,000 pumps at 1 s: 141 MB against 685 MB in the long
//! form), and an export reads one time range of one table in key order
//! instead of pivoting rows back into columns. The price is that the table's shape follows the model: a
//! signal the model gains is added as a column (`ALTER TABLE ... ADD
//! COLUMN` is cheap in SQLite), a signal it loses keeps its column and
//! old rows. Keys lead with `t` so inserts append and time-range exports
//! scan in order.
//!
//! # Writes
//! The observer binds each row's values and hands the row to the
//! connection (`store`): on the calling thread, or, after
//! [`SqliteHistory::write_in_background`] (as `twinc run` has it), on a
//! writer thread of its own, so that a tick never waits for the disk.
//! Rows go into an open transaction that is committed at the first write
//! or tick a second (of wall time) after the previous commit, before every
//! checkpoint, for each [`Observer::sync`] (before MQTT acknowledges the
//! messages behind the rows: the sync's [`Release`] is done once the
//! commit is; the writer thread commits once for all the syncs queued
//! together) and on [`Observer::finish`], which waits for the writer; a
//! checkpoint is written only after everything before it is committed.
//! Rows are keyed by what they describe (`(t, instance, signal...)`, a
//! dead letter by its time, origin, reason, instance and sensor), and a
//! row that exists is replaced (ticks) or kept (samples, dead letters): a
//! restart that redoes ticks and re-reads CSV rows after its checkpoint
//! leaves the same history as a run that never stopped. The write-ahead
//! log is moved into the database by a thread of its own (`wal`), so no
//! commit waits for an fsync. A failing write is logged and counted
//! ([`SqliteHistory::failures`]), never a panic; the run goes on.

mod checkpoint;
pub mod export;
pub mod postgres;
mod rows;
mod schema;
mod store;
#[cfg(test)]
pub(crate) mod tests;
mod wal;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{SyncSender, channel, sync_channel};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;
use rusqlite::types::Value;
use twin_compiler::ir::Model;

use super::fleet::{Event, Fleet};
use super::release::Release;
use super::sources::now_epoch;
use super::{Accepted, Checkpoint, Observer, Rejection, Tick};
use crate::live::fleet::{EventRow, event_rows};
use rows::{SampleRow, Waiting};
use store::{Op, Stats, Stmt, Store};

pub use checkpoint::KEEP as KEPT_CHECKPOINTS;
pub use postgres::PostgresHistory;

/// Why the history cannot be opened or read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryError(pub String);

impl fmt::Display for HistoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HistoryError {}

/// How often the open transaction is committed, by default.
const COMMIT_EVERY: Duration = Duration::from_secs(1);

/// How long a write waits for another process's lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(2);

/// The history of one deployment in an SQLite file.
pub struct SqliteHistory {
    /// The file, for reads while a thread writes.
    path: PathBuf,
    /// Where the writes go.
    writer: Writer,
    stats: Arc<Stats>,
    /// The model's step (s), to date checkpoints.
    step: f64,
    /// Resolution of the signal history (s).
    decimate: f64,
    /// Epoch seconds at twin time 0, once known.
    origin: Option<f64>,
    /// The origin the last run recorded, to reuse bit for bit on resume.
    recorded_origin: Option<f64>,
    waiting: Vec<Waiting>,
    /// Whether [`Observer::finish`] has run: syncs after it wait for the
    /// writer, so that the run's last acknowledgements go out.
    finished: bool,
    /// Whether the writer thread was found gone (reported once).
    lost: bool,
}

/// The connection, here or on the writer thread.
enum Writer {
    /// On the calling thread.
    Here(Box<Store>),
    /// On a thread of its own (`history-writer`).
    Thread {
        /// Ops not handed over yet.
        batch: Vec<Op>,
        batches: Option<SyncSender<Vec<Op>>>,
        thread: Option<JoinHandle<()>>,
    },
}

impl SqliteHistory {
    /// Opens (creating if needed) the history at `path` for `model`,
    /// recording signals every `decimate` seconds of twin time. It writes
    /// on the calling thread until [`SqliteHistory::write_in_background`].
    pub fn open(path: &Path, model: &Model, decimate: f64) -> Result<SqliteHistory, HistoryError> {
        let fail = |what: &str, e: rusqlite::Error| {
            HistoryError(format!("`{}`: {what}: {e}", path.display()))
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| HistoryError(format!("cannot create `{}`: {e}", dir.display())))?;
        }
        let conn = Connection::open(path).map_err(|e| fail("cannot open", e))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| fail("cannot set a lock timeout", e))?;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .map_err(|e| fail("cannot use a write-ahead log", e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(path = %path.display(), mode, "the history cannot use a write-ahead log");
        }
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| fail("cannot set synchronous", e))?;
        let wal = wal::WalCheckpointer::start(path);
        if wal.is_some() {
            conn.pragma_update(None, "wal_autocheckpoint", 0)
                .map_err(|e| fail("cannot hand checkpoints to a thread", e))?;
        }
        let in_file = |e: HistoryError| HistoryError(format!("`{}`: {e}", path.display()));
        schema::prepare(&conn).map_err(in_file)?;
        let columns = schema::describe(&conn, model).map_err(in_file)?;
        let recorded_origin = schema::meta(&conn, "origin")
            .map_err(in_file)?
            .and_then(|o| o.parse().ok());
        let stats = Arc::new(Stats::default());
        let store = Store::new(
            conn,
            insert_signals(&columns),
            COMMIT_EVERY,
            stats.clone(),
            wal,
        );
        Ok(SqliteHistory {
            path: path.to_path_buf(),
            writer: Writer::Here(Box::new(store)),
            stats,
            step: model.step,
            decimate,
            origin: None,
            recorded_origin,
            waiting: Vec::new(),
            finished: false,
            lost: false,
        })
    }

    /// Moves the writes to a thread of their own, so that the run never
    /// waits for the disk: the observer only binds each row's values and
    /// queues it, a sync's [`Release`] is completed by the thread once
    /// its commit is done, and [`Observer::finish`] waits until
    /// everything queued is written. Stays on the calling thread (logged)
    /// when no thread can be had. Reads ([`SqliteHistory::last_checkpoint`]
    /// and the others) then see what is committed.
    pub fn write_in_background(&mut self) {
        let Writer::Here(_) = &self.writer else {
            return;
        };
        let (ops, rx) = sync_channel(store::QUEUE);
        // The store moves to the thread only once the thread runs.
        let (hand, take) = sync_channel::<Box<Store>>(1);
        let thread = std::thread::Builder::new()
            .name("history-writer".into())
            .spawn(move || {
                if let Ok(store) = take.recv() {
                    store.run(rx);
                }
            });
        let thread = match thread {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(error = %e, "no thread to write the history from; writing it from the runner's");
                return;
            }
        };
        let here = std::mem::replace(
            &mut self.writer,
            Writer::Thread {
                batch: Vec::new(),
                batches: Some(ops),
                thread: Some(thread),
            },
        );
        if let Writer::Here(store) = here
            && let Err(back) = hand.send(store)
        {
            // The thread is gone already: write here after all.
            self.writer = Writer::Here(back.0);
        }
    }

    /// Runs `f` on a connection to the file: the writer's on the calling
    /// thread, a connection of its own while a thread writes.
    fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, HistoryError>,
    ) -> Result<T, HistoryError> {
        match &self.writer {
            Writer::Here(store) => f(&store.conn),
            Writer::Thread { .. } => {
                let conn = Connection::open(&self.path).map_err(|e| {
                    HistoryError(format!("`{}`: cannot open: {e}", self.path.display()))
                })?;
                conn.busy_timeout(BUSY_TIMEOUT)
                    .map_err(|e| HistoryError(format!("cannot set a lock timeout: {e}")))?;
                f(&conn)
            }
        }
    }

    /// The newest checkpoint, for the runner to resume from.
    pub fn last_checkpoint(&self) -> Result<Option<Checkpoint>, HistoryError> {
        self.read(checkpoint::last)
    }

    /// Samples the history holds stamped after `t` (seconds since the
    /// epoch), oldest first, in SI: what a restart from a checkpoint taken
    /// at about `t` hands back to the twins
    /// ([`super::run::Runner::reapply`]), since the broker has forgotten
    /// them once they were committed here.
    pub fn samples_since(&self, t: f64) -> Result<Vec<Stored>, HistoryError> {
        self.read(|conn| {
            let read = |e: rusqlite::Error| HistoryError(format!("cannot read the samples: {e}"));
            let mut stmt = conn
                .prepare(
                    "SELECT instance, sensor, t, value_si FROM samples
                     WHERE t > ?1 AND value_si IS NOT NULL ORDER BY t",
                )
                .map_err(read)?;
            let rows = stmt
                .query_map([t], |r| {
                    Ok(Stored {
                        instance: r.get(0)?,
                        sensor: r.get(1)?,
                        t: r.get(2)?,
                        value: r.get(3)?,
                    })
                })
                .map_err(read)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(read)
        })
    }

    /// Every kept checkpoint, oldest first.
    pub fn checkpoints(&self) -> Result<Vec<Checkpoint>, HistoryError> {
        self.read(|conn| {
            let mut out = Vec::new();
            for (id, _) in checkpoint::list(conn)? {
                out.extend(checkpoint::load(conn, id)?);
            }
            Ok(out)
        })
    }

    /// Commits the open transaction this often (of wall time) instead of
    /// every second; checkpoints and [`Observer::finish`] still commit.
    pub fn set_commit_interval(&mut self, every: Duration) {
        self.send(Op::CommitEvery(every));
    }

    /// Writes that failed since the history was opened (while a thread
    /// writes, those it has got to).
    pub fn failures(&self) -> u64 {
        self.stats.failures.load(Ordering::Relaxed)
    }

    /// Rows written (not necessarily committed yet; while a thread
    /// writes, those it has got to).
    pub fn rows_written(&self) -> u64 {
        self.stats.rows.load(Ordering::Relaxed)
    }

    /// Commits the open transaction, if any, and waits until it is done.
    pub fn commit(&mut self) {
        self.send(Op::Commit);
        self.wait();
    }

    /// Hands `op` to the writer: applies it here, or adds it to the batch
    /// for the writer thread (handed over when full; see
    /// [`SqliteHistory::hand_over`]).
    fn send(&mut self, op: Op) {
        match &mut self.writer {
            Writer::Here(store) => {
                store.apply(op);
                store.settle();
            }
            Writer::Thread { batch, .. } => {
                batch.push(op);
                if batch.len() >= store::BATCH {
                    self.hand_over();
                }
            }
        }
    }

    /// Hands the batch so far to the writer thread, if there is one.
    fn hand_over(&mut self) {
        let Writer::Thread { batch, batches, .. } = &mut self.writer else {
            return;
        };
        if batch.is_empty() {
            return;
        }
        let ops = std::mem::replace(batch, Vec::with_capacity(64));
        let sent = batches.as_ref().is_some_and(|b| b.send(ops).is_ok());
        if !sent {
            self.stats.failures.fetch_add(1, Ordering::Relaxed);
            if !self.lost {
                self.lost = true;
                tracing::error!("the history writer has stopped; rows are lost");
            }
        }
    }

    /// Waits until the writer has done everything handed to it.
    fn wait(&mut self) {
        if let Writer::Thread { .. } = self.writer {
            let (answer, done) = channel();
            self.send(Op::Flush(answer));
            self.hand_over();
            let _ = done.recv();
        }
    }

    /// Commits if the open transaction is due, on the calling thread; the
    /// writer thread checks by itself after each round of batches, so
    /// nothing is queued per row for it.
    fn commit_if_due(&mut self) {
        if let Writer::Here(_) = self.writer {
            self.send(Op::CommitIfDue);
        }
    }

    /// Writes one row with `stmt`.
    fn write(&mut self, stmt: Stmt, values: Vec<Value>) {
        self.send(Op::Write(stmt, values));
    }

    /// Learns the origin from a tick (reusing the recorded one when it is
    /// the same run resumed) and writes what waited for it.
    fn learn_origin(&mut self, origin: f64) {
        if self.origin.is_some() {
            return;
        }
        let origin = rows::same_origin(self.recorded_origin, origin);
        self.origin = Some(origin);
        if self.recorded_origin != Some(origin) {
            self.recorded_origin = Some(origin);
            let text = format!("{origin:?}");
            self.write(Stmt::Meta, vec![text_of("origin"), Value::Text(text)]);
        }
        for w in std::mem::take(&mut self.waiting) {
            match w {
                Waiting::Sample(s) => self.write_sample(origin, s),
                Waiting::Rejected(r) => self.write_rejected(origin, &r),
            }
        }
    }

    fn write_sample(&mut self, origin: f64, s: SampleRow) {
        self.write(
            Stmt::Sample,
            vec![
                Value::Real(origin + s.t),
                Value::Text(s.instance),
                Value::Text(s.sensor),
                real(s.value),
                Value::Text(s.unit),
                real(s.value_si),
            ],
        );
    }

    fn write_rejected(&mut self, origin: f64, r: &Rejection) {
        let t = if r.t.is_finite() {
            origin + r.t
        } else {
            origin
        };
        self.write(
            Stmt::Rejected,
            vec![
                Value::Real(t),
                text_of(&r.instance),
                text_of(&r.sensor),
                text_of(r.reason.code()),
                text_of(&r.origin),
                text_of(&r.raw),
            ],
        );
    }

    fn write_events(&mut self, fleet: &Fleet, events: &[Event], epoch: f64) {
        for row in event_rows(fleet, events) {
            let (stmt, values) = match row {
                EventRow::Alarm {
                    instance,
                    alarm,
                    state,
                    severity,
                    message,
                } => (
                    Stmt::Alarm,
                    vec![
                        Value::Real(epoch),
                        text_of(instance),
                        text_of(alarm),
                        text_of(state),
                        text_of(severity),
                        text_of(message),
                    ],
                ),
                EventRow::Command {
                    instance,
                    actuator,
                    value,
                    unit,
                } => (
                    Stmt::Command,
                    vec![
                        Value::Real(epoch),
                        text_of(instance),
                        text_of(actuator),
                        real(value),
                        text_of(unit),
                    ],
                ),
            };
            self.write(stmt, values);
        }
    }

    fn write_signals(&mut self, fleet: &Fleet, epoch: f64) {
        let outputs = &fleet.model().outputs;
        for (i, id) in fleet.ids().iter().enumerate() {
            let mut row = Vec::with_capacity(outputs.len() + 2);
            row.push(Value::Real(epoch));
            row.push(Value::Text(id.clone()));
            row.extend(outputs.iter().map(|o| real(fleet.get(i, o.slot))));
            self.write(Stmt::Signals, row);
        }
    }
}

/// A REAL, or NULL for NaN (SQLite would store NaN as NULL anyway).
fn real(v: f64) -> Value {
    if v.is_nan() {
        Value::Null
    } else {
        Value::Real(v)
    }
}

fn text_of(s: &str) -> Value {
    Value::Text(s.to_string())
}

/// A sample as the history keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct Stored {
    /// The twin's id.
    pub instance: String,
    /// The sensor's name.
    pub sensor: String,
    /// Its time, in seconds since the epoch.
    pub t: f64,
    /// Its value in SI.
    pub value: f64,
}

/// `INSERT OR REPLACE INTO signals (...)` for these columns.
fn insert_signals(columns: &[String]) -> String {
    let names: String = columns
        .iter()
        .map(|c| format!(", {}", schema::quote(c)))
        .collect();
    let marks: String = (0..columns.len()).map(|_| ", ?").collect();
    format!("INSERT OR REPLACE INTO signals (t, instance{names}) VALUES (?, ?{marks})")
}

impl Observer for SqliteHistory {
    fn tick(&mut self, tick: &Tick<'_>) {
        let fleet = tick.fleet;
        self.learn_origin(tick.epoch - fleet.time());
        self.write_events(fleet, tick.events, tick.epoch);
        if rows::records(self.decimate, fleet.tick_index(), fleet.step()) {
            self.write_signals(fleet, tick.epoch);
        }
        self.commit_if_due();
        self.hand_over();
    }

    fn accepted(&mut self, fleet: &Fleet, sample: &Accepted) {
        let Some(row) = SampleRow::of(fleet, sample) else {
            return;
        };
        match self.origin {
            Some(origin) => self.write_sample(origin, row),
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
        let t = cp.origin + cp.fleet.k as f64 * self.step;
        self.send(Op::Checkpoint {
            cp: Box::new(cp.clone()),
            t,
            written: now_epoch(),
        });
        self.hand_over();
    }

    /// Commits, then releases: at once on the calling thread, once the
    /// writer gets to it on a thread of its own (in WAL mode with
    /// `synchronous = NORMAL` a commit survives the process being killed,
    /// without an fsync). A release whose commit failed waits for the
    /// next commit that succeeds.
    fn sync(&mut self, release: Release) {
        self.send(Op::Sync(release));
        self.hand_over();
        if self.finished {
            self.wait();
        }
    }

    /// The edited model's signals get their columns (a new one is added,
    /// a dropped one keeps its old rows) and the catalog its units, so
    /// rows go on being written after a hot reload.
    fn reloaded(&mut self, fleet: &Fleet) {
        self.send(Op::Reloaded(Box::new(fleet.model().clone())));
        self.hand_over();
        self.step = fleet.model().step;
    }

    fn finish(&mut self) {
        if self.origin.is_none() && !self.waiting.is_empty() {
            self.learn_origin(0.0);
        }
        self.commit();
        self.finished = true;
    }
}

impl Drop for SqliteHistory {
    fn drop(&mut self) {
        self.hand_over();
        match &mut self.writer {
            // The store commits as it is dropped.
            Writer::Here(_) => {}
            Writer::Thread {
                batches, thread, ..
            } => {
                // Closing the queue lets the writer write what waits and stop.
                batches.take();
                if let Some(t) = thread.take()
                    && t.join().is_err()
                {
                    tracing::error!("the history writer stopped on an error");
                }
            }
        }
    }
}
