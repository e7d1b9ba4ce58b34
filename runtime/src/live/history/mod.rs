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
//! Rows go into an open transaction that is committed at the first write
//! or tick a second (of wall time) after the previous commit, before every
//! checkpoint, on [`Observer::sync`] (before MQTT acknowledges the messages
//! behind the rows: one commit per batch of messages) and on
//! [`Observer::finish`]; a checkpoint is written only
//! after everything before it is committed. Rows are keyed by what they
//! describe (`(t, instance, signal...)`, a dead letter by its time,
//! origin, reason, instance and sensor), and a row that exists is replaced
//! (ticks) or kept (samples, dead letters): a restart that redoes ticks and
//! re-reads CSV rows after its checkpoint leaves the same history as a run
//! that never stopped. The write-ahead log is moved into the database by
//! a thread of its own (`wal`), so no commit waits for an fsync. A
//! failing write is logged and counted
//! ([`SqliteHistory::failures`]), never a panic; the run goes on.

mod checkpoint;
pub mod export;
pub mod postgres;
mod rows;
mod schema;
#[cfg(test)]
pub(crate) mod tests;
mod wal;

use std::fmt;
use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::types::Value;
use rusqlite::{Connection, params, params_from_iter};
use twin_compiler::ir::Model;

use super::fleet::{Event, Fleet};
use super::sources::now_epoch;
use super::{Accepted, Checkpoint, Observer, Rejection, Tick};
use crate::live::fleet::{EventRow, event_rows};
use rows::{SampleRow, Waiting};

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
    conn: Connection,
    /// The model's step (s), to date checkpoints.
    step: f64,
    /// Resolution of the signal history (s).
    decimate: f64,
    /// `INSERT OR REPLACE INTO signals (...)` for the model's outputs.
    insert_signals: String,
    /// Epoch seconds at twin time 0, once known.
    origin: Option<f64>,
    /// The origin the last run recorded, to reuse bit for bit on resume.
    recorded_origin: Option<f64>,
    waiting: Vec<Waiting>,
    /// Whether a transaction is open.
    open: bool,
    /// Rows written in the open transaction.
    rows_in_tx: u64,
    last_commit: Instant,
    /// How often the open transaction is committed.
    commit_every: Duration,
    failures: u64,
    rows: u64,
    /// Checkpoints the write-ahead log in a thread of its own.
    _wal: Option<wal::WalCheckpointer>,
}

impl SqliteHistory {
    /// Opens (creating if needed) the history at `path` for `model`,
    /// recording signals every `decimate` seconds of twin time.
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
        Ok(SqliteHistory {
            conn,
            step: model.step,
            decimate,
            insert_signals: insert_signals(&columns),
            origin: None,
            recorded_origin,
            waiting: Vec::new(),
            open: false,
            rows_in_tx: 0,
            last_commit: Instant::now(),
            commit_every: COMMIT_EVERY,
            failures: 0,
            rows: 0,
            _wal: wal,
        })
    }

    /// The newest checkpoint, for the runner to resume from.
    pub fn last_checkpoint(&self) -> Result<Option<Checkpoint>, HistoryError> {
        checkpoint::last(&self.conn)
    }

    /// Samples the history holds stamped after `t` (seconds since the
    /// epoch), oldest first, in SI: what a restart from a checkpoint taken
    /// at about `t` hands back to the twins
    /// ([`super::run::Runner::reapply`]), since the broker has forgotten
    /// them once they were committed here.
    pub fn samples_since(&self, t: f64) -> Result<Vec<Stored>, HistoryError> {
        let read = |e: rusqlite::Error| HistoryError(format!("cannot read the samples: {e}"));
        let mut stmt = self
            .conn
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
    }

    /// Every kept checkpoint, oldest first.
    pub fn checkpoints(&self) -> Result<Vec<Checkpoint>, HistoryError> {
        let mut out = Vec::new();
        for (id, _) in checkpoint::list(&self.conn)? {
            out.extend(checkpoint::load(&self.conn, id)?);
        }
        Ok(out)
    }

    /// Commits the open transaction this often (of wall time) instead of
    /// every second; checkpoints and [`Observer::finish`] still commit.
    pub fn set_commit_interval(&mut self, every: Duration) {
        self.commit_every = every;
    }

    /// Writes that failed since the history was opened.
    pub fn failures(&self) -> u64 {
        self.failures
    }

    /// Rows written (not necessarily committed yet).
    pub fn rows_written(&self) -> u64 {
        self.rows
    }

    /// Commits the open transaction, if any.
    pub fn commit(&mut self) {
        if !self.open {
            return;
        }
        self.open = false;
        self.last_commit = Instant::now();
        if let Err(e) = self.conn.execute_batch("COMMIT") {
            self.failures += 1;
            tracing::error!(error = %e, rows = self.rows_in_tx, "cannot commit the history; these rows are lost");
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        self.rows_in_tx = 0;
    }

    /// Runs one write in the open transaction (opening one if needed);
    /// logs and counts a failure.
    fn write(&mut self, table: &'static str, f: impl FnOnce(&Connection) -> rusqlite::Result<()>) {
        if !self.open {
            match self.conn.execute_batch("BEGIN") {
                Ok(()) => self.open = true,
                Err(e) => {
                    self.failures += 1;
                    tracing::error!(table, error = %e, "cannot write the history");
                    return;
                }
            }
        }
        match f(&self.conn) {
            Ok(()) => {
                self.rows += 1;
                self.rows_in_tx += 1;
            }
            Err(e) => {
                self.failures += 1;
                tracing::error!(table, error = %e, "cannot write the history");
            }
        }
    }

    fn commit_if_due(&mut self) {
        if self.open && self.last_commit.elapsed() >= self.commit_every {
            self.commit();
        }
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
            self.write("meta", |c| schema::set_meta(c, "origin", &text));
        }
        for w in std::mem::take(&mut self.waiting) {
            match w {
                Waiting::Sample(s) => self.write_sample(origin, &s),
                Waiting::Rejected(r) => self.write_rejected(origin, &r),
            }
        }
    }

    fn write_sample(&mut self, origin: f64, s: &SampleRow) {
        self.write("samples", |c| {
            c.prepare_cached(
                "INSERT OR IGNORE INTO samples (t, instance, sensor, value, unit, value_si)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                origin + s.t,
                s.instance,
                s.sensor,
                s.value,
                s.unit,
                s.value_si
            ])
            .map(|_| ())
        });
    }

    fn write_rejected(&mut self, origin: f64, r: &Rejection) {
        let t = if r.t.is_finite() {
            origin + r.t
        } else {
            origin
        };
        self.write("rejected", |c| {
            c.prepare_cached(
                "INSERT OR IGNORE INTO rejected (t, instance, sensor, reason, origin, raw)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                t,
                r.instance,
                r.sensor,
                r.reason.code(),
                r.origin,
                r.raw
            ])
            .map(|_| ())
        });
    }

    /// Whether tick `k` is the first at or after a multiple of `decimate`.
    fn write_events(&mut self, fleet: &Fleet, events: &[Event], epoch: f64) {
        for row in event_rows(fleet, events) {
            match row {
                EventRow::Alarm {
                    instance,
                    alarm,
                    state,
                    severity,
                    message,
                } => self.write("alarms", |c| {
                    c.prepare_cached(
                        "INSERT OR REPLACE INTO alarms (t, instance, alarm, state, severity, message)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    )?
                    .execute(params![epoch, instance, alarm, state, severity, message])
                    .map(|_| ())
                }),
                EventRow::Command {
                    instance,
                    actuator,
                    value,
                    unit,
                } => {
                    let value = (!value.is_nan()).then_some(value);
                    self.write("commands", |c| {
                        c.prepare_cached(
                            "INSERT OR REPLACE INTO commands (t, instance, actuator, value, unit)
                             VALUES (?1, ?2, ?3, ?4, ?5)",
                        )?
                        .execute(params![epoch, instance, actuator, value, unit])
                        .map(|_| ())
                    });
                }
            }
        }
    }

    fn write_signals(&mut self, fleet: &Fleet, epoch: f64) {
        let outputs = &fleet.model().outputs;
        if self.insert_signals.is_empty() {
            return;
        }
        let sql = std::mem::take(&mut self.insert_signals);
        for (i, id) in fleet.ids().iter().enumerate() {
            let mut row = Vec::with_capacity(outputs.len() + 2);
            row.push(Value::Real(epoch));
            row.push(Value::Text(id.clone()));
            for o in outputs {
                let v = fleet.get(i, o.slot);
                row.push(if v.is_nan() {
                    Value::Null
                } else {
                    Value::Real(v)
                });
            }
            self.write("signals", |c| {
                c.prepare_cached(&sql)?
                    .execute(params_from_iter(row.iter()))
                    .map(|_| ())
            });
        }
        self.insert_signals = sql;
    }
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
        self.commit();
        let t = cp.origin + cp.fleet.k as f64 * self.step;
        if let Err(e) = checkpoint::save(&self.conn, cp, t, now_epoch()) {
            self.failures += 1;
            tracing::error!(error = %e, "cannot write a checkpoint to the history");
        }
    }

    /// Commits, so that the runner may let the broker forget the
    /// messages seen so far (in WAL mode with `synchronous = NORMAL` a
    /// commit survives the process being killed, without an fsync).
    fn sync(&mut self) -> bool {
        let failures = self.failures;
        self.commit();
        self.failures == failures
    }

    /// The edited model's signals get their columns (a new one is added,
    /// a dropped one keeps its old rows) and the catalog its units, so
    /// rows go on being written after a hot reload.
    fn reloaded(&mut self, fleet: &Fleet) {
        // The catalog changes in a transaction of its own.
        self.commit();
        match schema::describe(&self.conn, fleet.model()) {
            Ok(columns) => self.insert_signals = insert_signals(&columns),
            Err(e) => {
                // Rows of the old shape would fail one by one: record no
                // signals rather than an error per row and tick.
                self.insert_signals.clear();
                self.failures += 1;
                tracing::error!(error = %e, "cannot record the edited model's signals in the history; signals are not recorded until the next reload");
            }
        }
        self.step = fleet.model().step;
    }

    fn finish(&mut self) {
        if self.origin.is_none() && !self.waiting.is_empty() {
            self.learn_origin(0.0);
        }
        self.commit();
    }
}

impl Drop for SqliteHistory {
    fn drop(&mut self) {
        self.commit();
    }
}
