//! The SQL side of the SQLite history: the connection and its open
//! transaction, on the runner's thread or on a thread of its own.
//!
//! Takes [`Op`]s — rows with their values bound, commits, checkpoints, a
//! reloaded model, syncs carrying a [`Release`] — in the order the run
//! made them; gives the writes, each in the history's open transaction,
//! and completes each sync's release once a commit covers everything
//! before it. [`Store::run`] is the writer thread: it takes the ops in
//! batches (the history hands one over at each tick and each sync, so the
//! thread wakes once per burst of messages, not once per row), and applies
//! every batch that is queued before it commits for the syncs among them,
//! so a busy run gets one commit per burst rather than one per message.
//! The runner never waits for the disk, only for room in the queue when
//! the disk falls [`QUEUE`] batches behind.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::time::{Duration, Instant};

use rusqlite::types::Value;
use rusqlite::{Connection, params_from_iter};
use twin_compiler::ir::Model;

use super::{checkpoint, insert_signals, schema, wal};
use crate::live::Checkpoint;
use crate::live::release::Release;

/// Batches of ops that may wait for the writer thread before the run
/// does: at one batch a tick or a sync, a good fraction of a second, and at
/// most [`BATCH`] ops each.
pub(super) const QUEUE: usize = 256;

/// Ops the history gathers before it hands them over, if no tick or sync
/// comes first.
pub(super) const BATCH: usize = 1024;

/// Batches the writer applies at most before it commits for a sync that
/// waits among them.
const SETTLE_AFTER: usize = 16;

/// Counters both sides read.
#[derive(Default)]
pub(super) struct Stats {
    /// Writes that failed.
    pub failures: AtomicU64,
    /// Rows written (not necessarily committed).
    pub rows: AtomicU64,
}

/// Which statement a row is written with.
#[derive(Clone, Copy, Debug)]
pub(super) enum Stmt {
    Meta,
    Sample,
    Rejected,
    Alarm,
    Command,
    /// The model's `INSERT OR REPLACE INTO signals (...)`, which a reload
    /// changes.
    Signals,
}

impl Stmt {
    fn table(self) -> &'static str {
        match self {
            Stmt::Meta => "meta",
            Stmt::Sample => "samples",
            Stmt::Rejected => "rejected",
            Stmt::Alarm => "alarms",
            Stmt::Command => "commands",
            Stmt::Signals => "signals",
        }
    }

    fn sql(self) -> &'static str {
        match self {
            Stmt::Meta => schema::SET_META,
            Stmt::Sample => {
                "INSERT OR IGNORE INTO samples (t, instance, sensor, value, unit, value_si)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
            }
            Stmt::Rejected => {
                "INSERT OR IGNORE INTO rejected (t, instance, sensor, reason, origin, raw)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
            }
            Stmt::Alarm => {
                "INSERT OR REPLACE INTO alarms (t, instance, alarm, state, severity, message)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
            }
            Stmt::Command => {
                "INSERT OR REPLACE INTO commands (t, instance, actuator, value, unit)
                 VALUES (?1, ?2, ?3, ?4, ?5)"
            }
            Stmt::Signals => "",
        }
    }
}

/// What the history asks of its connection.
pub(super) enum Op {
    /// One row.
    Write(Stmt, Vec<Value>),
    /// Commit if the open transaction is older than the commit interval.
    CommitIfDue,
    /// Commit now.
    Commit,
    /// A checkpoint at twin time `t` (epoch s), written at wall time
    /// `written`, after a commit of everything before it.
    Checkpoint {
        cp: Box<Checkpoint>,
        t: f64,
        written: f64,
    },
    /// The model was reloaded: record it and write its columns from now.
    Reloaded(Box<Model>),
    /// Commit this often instead.
    CommitEvery(Duration),
    /// Make everything so far durable, then release.
    Sync(Release),
    /// Answered once everything before it is done (and every sync before
    /// it committed for).
    Flush(Sender<()>),
}

/// The connection and its open transaction.
pub(super) struct Store {
    pub conn: Connection,
    /// `INSERT OR REPLACE INTO signals (...)` for the model's outputs;
    /// empty when the model's signals cannot be recorded.
    insert_signals: String,
    /// Whether a transaction is open.
    open: bool,
    /// Rows written in the open transaction.
    rows_in_tx: u64,
    last_commit: Instant,
    /// How often the open transaction is committed.
    commit_every: Duration,
    stats: Arc<Stats>,
    /// Syncs waiting for a commit, oldest first.
    syncs: Vec<Release>,
    /// Checkpoints the write-ahead log in a thread of its own.
    _wal: Option<wal::WalCheckpointer>,
}

impl Store {
    pub fn new(
        conn: Connection,
        insert_signals: String,
        commit_every: Duration,
        stats: Arc<Stats>,
        wal: Option<wal::WalCheckpointer>,
    ) -> Store {
        Store {
            conn,
            insert_signals,
            open: false,
            rows_in_tx: 0,
            last_commit: Instant::now(),
            commit_every,
            stats,
            syncs: Vec::new(),
            _wal: wal,
        }
    }

    fn fail(&self) {
        self.stats.failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Applies one op; a sync only queues its release (see
    /// [`Store::settle`]).
    pub fn apply(&mut self, op: Op) {
        match op {
            Op::Write(stmt, values) => self.write(stmt, &values),
            Op::CommitIfDue => self.commit_if_due(),
            Op::Commit => self.commit(),
            Op::Checkpoint { cp, t, written } => {
                self.commit();
                if let Err(e) = checkpoint::save(&self.conn, &cp, t, written) {
                    self.fail();
                    tracing::error!(error = %e, "cannot write a checkpoint to the history");
                }
            }
            Op::Reloaded(model) => self.reloaded(&model),
            Op::CommitEvery(every) => self.commit_every = every,
            Op::Sync(release) => self.syncs.push(release),
            Op::Flush(answer) => {
                self.settle();
                let _ = answer.send(());
            }
        }
    }

    /// Commits if the open transaction is older than the commit interval.
    fn commit_if_due(&mut self) {
        if self.open && self.last_commit.elapsed() >= self.commit_every {
            self.commit();
        }
    }

    /// Commits for the syncs that wait, and releases them when the commit
    /// succeeds; they wait for the next one when it fails.
    pub fn settle(&mut self) {
        if self.syncs.is_empty() {
            return;
        }
        let failures = self.stats.failures.load(Ordering::Relaxed);
        self.commit();
        if self.stats.failures.load(Ordering::Relaxed) == failures {
            for release in self.syncs.drain(..) {
                release.done();
            }
        }
    }

    /// Applies ops as they come until the history closes the queue; then
    /// commits what is left. Whether a commit is due is checked once per
    /// round of batches here, not per row (the history sends no
    /// [`Op::CommitIfDue`] to a thread).
    pub fn run(mut self, batches: Receiver<Vec<Op>>) {
        while let Ok(batch) = batches.recv() {
            batch.into_iter().for_each(|op| self.apply(op));
            for _ in 1..SETTLE_AFTER {
                match batches.try_recv() {
                    Ok(batch) => batch.into_iter().for_each(|op| self.apply(op)),
                    Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
                }
            }
            self.commit_if_due();
            self.settle();
        }
        self.commit();
        self.settle();
    }

    /// Commits the open transaction, if any.
    pub fn commit(&mut self) {
        if !self.open {
            return;
        }
        self.open = false;
        self.last_commit = Instant::now();
        if let Err(e) = self.conn.execute_batch("COMMIT") {
            self.fail();
            tracing::error!(error = %e, rows = self.rows_in_tx, "cannot commit the history; these rows are lost");
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        self.rows_in_tx = 0;
    }

    /// Writes one row in the open transaction (opening one if needed);
    /// logs and counts a failure.
    fn write(&mut self, stmt: Stmt, values: &[Value]) {
        let table = stmt.table();
        let sql = match stmt {
            Stmt::Signals if self.insert_signals.is_empty() => return,
            Stmt::Signals => self.insert_signals.as_str(),
            other => other.sql(),
        };
        if !self.open {
            match self.conn.execute_batch("BEGIN") {
                Ok(()) => self.open = true,
                Err(e) => {
                    self.fail();
                    tracing::error!(table, error = %e, "cannot write the history");
                    return;
                }
            }
        }
        let written = self
            .conn
            .prepare_cached(sql)
            .and_then(|mut s| s.execute(params_from_iter(values.iter())));
        match written {
            Ok(_) => {
                self.stats.rows.fetch_add(1, Ordering::Relaxed);
                self.rows_in_tx += 1;
            }
            Err(e) => {
                self.fail();
                tracing::error!(table, error = %e, "cannot write the history");
            }
        }
    }

    /// The edited model's signals get their columns (a new one is added,
    /// a dropped one keeps its old rows) and the catalog its units.
    fn reloaded(&mut self, model: &Model) {
        // The catalog changes in a transaction of its own.
        self.commit();
        match schema::describe(&self.conn, model) {
            Ok(columns) => self.insert_signals = insert_signals(&columns),
            Err(e) => {
                // Rows of the old shape would fail one by one: record no
                // signals rather than an error per row and tick.
                self.insert_signals.clear();
                self.fail();
                tracing::error!(error = %e, "cannot record the edited model's signals in the history; signals are not recorded until the next reload");
            }
        }
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.commit();
        self.settle();
    }
}
