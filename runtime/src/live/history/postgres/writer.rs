//! The thread that owns the connection and writes batches.
//!
//! Takes [`Job`]s in the order the run produced them; gives the history
//! in PostgreSQL. Each batch is one transaction: its rows are copied
//! (`COPY ... FROM STDIN`) into the session's staging tables and merged
//! into the history by key ([`super::schema::staging`]), so a batch
//! written twice leaves what it left once. A checkpoint is written only
//! when every row before it is. The thread takes every job that is queued
//! before it writes, so rows handed over together go in one transaction,
//! and completes the [`Release`]s that came with them once nothing waits
//! for the server. When the server goes away, the rows wait
//! (up to [`MAX_PENDING_BYTES`]) and the thread reconnects at most every
//! [`RETRY_EVERY`]; a batch the server refuses for any other reason is
//! logged, counted and dropped. Nothing here panics; the run goes on.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use postgres::{Client, Config, GenericClient, NoTls};
use twin_compiler::ir::Model;

use super::super::{HistoryError, Stored};
use super::batch::{Batch, Kind};
use super::schema::{self, one_line};
use super::{Where, checkpoint};
use crate::live::Checkpoint;
use crate::live::release::Release;

/// How long rows wait for the server before more are dropped.
pub(super) const MAX_PENDING_BYTES: usize = 64 << 20;

/// How often a lost connection is tried again.
pub(super) const RETRY_EVERY: Duration = Duration::from_secs(2);

/// What the run asks of the writer.
pub(super) enum Job {
    /// Rows to write, and the syncs to release once they are written.
    Rows(Batch, Vec<Release>),
    /// A checkpoint, at twin time `t` (epoch s), written at wall time
    /// `written`.
    Checkpoint {
        cp: Box<Checkpoint>,
        t: f64,
        written: f64,
    },
    /// The model was reloaded: record it, and write its columns from now.
    Describe(Box<Model>),
    /// Answered once everything before it is written or given up on:
    /// true when no row waits for the server.
    Sync(Sender<bool>),
    /// The samples stamped after `t` (epoch s), oldest first.
    SamplesSince {
        t: f64,
        answer: Sender<Result<Vec<Stored>, HistoryError>>,
    },
    /// The kept checkpoints, oldest first (all of them, or the newest).
    Checkpoints {
        all: bool,
        answer: Sender<Result<Vec<Checkpoint>, HistoryError>>,
    },
}

/// The connection and what waits for it.
pub(super) struct Writer {
    pub(super) config: Config,
    pub(super) place: Where,
    pub(super) client: Option<Client>,
    /// Creates the staging tables.
    pub(super) staging: String,
    /// Per [`Kind`], merges its staging table into the history.
    pub(super) merges: [String; 5],
    /// Rows not written yet (the server is away).
    pub(super) pending: Batch,
    /// A reloaded model to record once the server is back.
    pub(super) undescribed: Option<Box<Model>>,
    pub(super) failures: Arc<AtomicU64>,
    pub(super) last_attempt: Option<Instant>,
    /// Whether the server is known to be away (logged once per outage).
    pub(super) down: bool,
    /// Syncs whose rows are not all written yet, oldest first.
    pub(super) held: Vec<Release>,
}

/// Jobs the writer takes at most before it writes.
const TAKE_AT_ONCE: usize = 64;

/// Bytes of rows past which the writer stops taking queued jobs and
/// writes: small batches (a sync's) share a transaction, big ones (a fast
/// replay's) are written one by one, as their merges grow with their size.
const TAKE_BYTES: usize = 1 << 20;

/// Copies COPY text `data` with `sql` (`COPY table FROM STDIN`); an error
/// is one line.
pub(super) fn copy(conn: &mut impl GenericClient, sql: &str, data: &str) -> Result<(), String> {
    if data.is_empty() {
        return Ok(());
    }
    let mut w = conn.copy_in(sql).map_err(|e| one_line(&e))?;
    let written = std::io::Write::write_all(&mut w, data.as_bytes());
    // A failed write shows again, with the server's reason, at finish.
    let finished = w.finish().map_err(|e| one_line(&e));
    finished?;
    written.map_err(|e| e.to_string())
}

impl Writer {
    /// Handles jobs until the history is dropped, then writes what waits.
    pub(super) fn run(mut self, jobs: Receiver<Job>) {
        loop {
            // While rows or releases wait for the server, try again on
            // its own every so often.
            let job = if self.pending.is_empty() && self.held.is_empty() {
                jobs.recv().map_err(|_| RecvTimeoutError::Disconnected)
            } else {
                jobs.recv_timeout(RETRY_EVERY)
            };
            match job {
                Ok(job) => {
                    self.handle(job);
                    for _ in 1..TAKE_AT_ONCE {
                        if self.pending.bytes() >= TAKE_BYTES {
                            break;
                        }
                        match jobs.try_recv() {
                            Ok(job) => self.handle(job),
                            Err(_) => break,
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            self.write_pending();
        }
        self.flush();
        self.release();
        if !self.pending.is_empty() {
            self.fail(format_args!(
                "the history server is away: {} rows were not written",
                self.pending.len()
            ));
        }
    }

    fn fail(&self, what: std::fmt::Arguments<'_>) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        tracing::error!(server = %self.place, "{what}");
    }

    fn handle(&mut self, job: Job) {
        match job {
            // Written with what is queued behind it (`run`).
            Job::Rows(batch, releases) => {
                self.pending.append(batch);
                self.held.extend(releases);
            }
            Job::Checkpoint { cp, t, written } => {
                self.flush();
                if !self.pending.is_empty() || !self.connected() {
                    self.fail(format_args!(
                        "the history server is away: a checkpoint was not written"
                    ));
                    return;
                }
                let Some(client) = self.client.as_mut() else {
                    return;
                };
                if let Err(e) = checkpoint::save(client, &cp, t, written) {
                    self.lost_connection();
                    self.fail(format_args!(
                        "cannot write a checkpoint to the history: {e}"
                    ));
                }
            }
            Job::Describe(model) => {
                self.flush();
                if self.pending.rows[Kind::Signals.index()] > 0 {
                    // Encoded for the old model's columns.
                    let n = self.pending.rows[Kind::Signals.index()];
                    self.pending.text[Kind::Signals.index()].clear();
                    self.pending.rows[Kind::Signals.index()] = 0;
                    self.fail(format_args!(
                        "the history server is away: {n} signal rows of the previous model were dropped"
                    ));
                }
                self.undescribed = Some(model);
                self.connected();
            }
            Job::Sync(answer) => {
                self.write_pending();
                let _ = answer.send(self.pending.is_empty());
            }
            Job::Checkpoints { all, answer } => {
                let _ = answer.send(self.checkpoints(all));
            }
            Job::SamplesSince { t, answer } => {
                let _ = answer.send(self.samples_since(t));
            }
        }
    }

    /// The connection, for a question the run waits on: connects at once
    /// (not waiting for the next retry), or says the server is away.
    fn reach(&mut self) -> Result<Option<&mut Client>, HistoryError> {
        self.last_attempt = None;
        if !self.connected() {
            return Err(HistoryError(format!(
                "cannot reach the history at {}",
                self.place
            )));
        }
        Ok(self.client.as_mut())
    }

    fn samples_since(&mut self, t: f64) -> Result<Vec<Stored>, HistoryError> {
        let Some(client) = self.reach()? else {
            return Ok(Vec::new());
        };
        let rows = client
            .query(
                "SELECT instance, sensor, t, value_si FROM samples
                 WHERE t > $1 AND value_si IS NOT NULL ORDER BY t",
                &[&t],
            )
            .map_err(|e| HistoryError(format!("cannot read the samples: {}", one_line(&e))))?;
        rows.iter()
            .map(|r| {
                Ok(Stored {
                    instance: r.try_get(0)?,
                    sensor: r.try_get(1)?,
                    t: r.try_get(2)?,
                    value: r.try_get(3)?,
                })
            })
            .collect::<Result<Vec<_>, postgres::Error>>()
            .map_err(|e| HistoryError(format!("cannot read the samples: {}", one_line(&e))))
    }

    fn checkpoints(&mut self, all: bool) -> Result<Vec<Checkpoint>, HistoryError> {
        let Some(client) = self.reach()? else {
            return Ok(Vec::new());
        };
        if !all {
            return Ok(checkpoint::last(client)?.into_iter().collect());
        }
        let mut out = Vec::new();
        for id in checkpoint::list(client)? {
            out.extend(checkpoint::load(client, id)?);
        }
        Ok(out)
    }

    /// Forgets a connection that broke, so the next write reconnects.
    fn lost_connection(&mut self) {
        if self.client.as_ref().is_some_and(Client::is_closed) {
            self.client = None;
            self.last_attempt = Some(Instant::now());
            if !self.down {
                self.down = true;
                tracing::warn!(server = %self.place, "lost the connection to the history server; rows wait and it is tried again every {} s", RETRY_EVERY.as_secs());
            }
        }
    }

    /// Whether there is a working connection, reconnecting (at most every
    /// [`RETRY_EVERY`]) when there is none.
    fn connected(&mut self) -> bool {
        if self.client.as_ref().is_some_and(Client::is_closed) {
            self.lost_connection();
        }
        if self.client.is_none() {
            if self.last_attempt.is_some_and(|t| t.elapsed() < RETRY_EVERY) {
                return false;
            }
            self.last_attempt = Some(Instant::now());
            match self.config.connect(NoTls) {
                Ok(mut client) => match client.batch_execute(&self.staging) {
                    Ok(()) => {
                        if self.down {
                            tracing::info!(server = %self.place, "reconnected to the history server");
                        }
                        self.down = false;
                        self.client = Some(client);
                    }
                    Err(e) => {
                        self.fail(format_args!("cannot prepare the history: {}", one_line(&e)));
                        return false;
                    }
                },
                Err(e) => {
                    if !self.down {
                        self.down = true;
                        self.fail(format_args!(
                            "cannot reach the history server: {}; rows wait and it is tried again every {} s",
                            one_line(&e),
                            RETRY_EVERY.as_secs()
                        ));
                    }
                    return false;
                }
            }
        }
        if let Some(model) = self.undescribed.take()
            && let Some(client) = self.client.as_mut()
        {
            match schema::describe(client, &model) {
                Ok(columns) => {
                    let (staging, merges) = schema::staging(&columns);
                    match client.batch_execute(&staging) {
                        Ok(()) => {
                            self.staging = staging;
                            self.merges = merges;
                        }
                        Err(e) => self.fail(format_args!(
                            "cannot prepare the history for the reloaded model: {}",
                            one_line(&e)
                        )),
                    }
                }
                Err(e) => {
                    self.fail(format_args!("cannot record the reloaded model: {e}"));
                    self.lost_connection();
                    if self.client.is_none() {
                        self.undescribed = Some(model);
                    }
                }
            }
        }
        self.client.is_some()
    }

    /// Writes the waiting rows and releases the syncs they came with, or
    /// drops the oldest rows when too many wait for a server that is away.
    fn write_pending(&mut self) {
        self.flush();
        self.release();
        if self.pending.bytes() > MAX_PENDING_BYTES {
            let lost = std::mem::take(&mut self.pending);
            self.fail(format_args!(
                "the history server is away: {} waiting rows were dropped",
                lost.len()
            ));
        }
    }

    /// Completes the held releases once no row waits.
    fn release(&mut self) {
        if self.pending.is_empty() {
            for r in self.held.drain(..) {
                r.done();
            }
        }
    }

    /// Writes the waiting rows in one transaction, if the server is there.
    fn flush(&mut self) {
        if self.pending.is_empty() || !self.connected() {
            return;
        }
        let Some(client) = self.client.as_mut() else {
            return;
        };
        match write(client, &self.pending, &self.merges) {
            Ok(()) => self.pending = Batch::default(),
            Err(e) => {
                self.lost_connection();
                if self.client.is_some() {
                    let lost = std::mem::take(&mut self.pending);
                    self.fail(format_args!(
                        "cannot write the history; these {} rows are lost: {e}",
                        lost.len()
                    ));
                } else {
                    self.failures.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

/// One batch in one transaction.
fn write(client: &mut Client, batch: &Batch, merges: &[String; 5]) -> Result<(), String> {
    let pg = |e: postgres::Error| one_line(&e);
    let mut tx = client.transaction().map_err(pg)?;
    if let Some(origin) = &batch.origin {
        schema::set_meta(&mut tx, "origin", origin).map_err(pg)?;
    }
    for kind in Kind::ALL {
        if batch.rows[kind.index()] == 0 {
            continue;
        }
        copy(
            &mut tx,
            &format!("COPY stage_{} FROM STDIN", kind.table()),
            &batch.text[kind.index()],
        )
        .map_err(|e| format!("{}: {e}", kind.table()))?;
        tx.batch_execute(&merges[kind.index()])
            .map_err(|e| format!("{}: {}", kind.table(), one_line(&e)))?;
    }
    tx.commit().map_err(pg)
}
