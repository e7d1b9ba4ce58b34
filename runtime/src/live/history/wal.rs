//! Moving the write-ahead log into the database, off the runner's thread.
//!
//! Takes the history file's path; gives a [`WalCheckpointer`]: a thread
//! with a connection of its own that runs a passive WAL checkpoint every
//! second until it is dropped. The history turns SQLite's automatic
//! checkpoints off when it has one. Why: the history commits before MQTT
//! acknowledges each batch of messages, so a trickle of messages is a
//! commit each, and an automatic checkpoint runs inside the commit that
//! fills the log (1,000 pages) — with an fsync, in the middle of a tick.
//! A passive checkpoint never waits for the writer nor holds it up; a
//! commit in `synchronous = NORMAL` mode does not fsync, so the runner's
//! commits stay short.

use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

/// How often the log is checkpointed.
const EVERY: Duration = Duration::from_secs(1);

/// The checkpointing thread; stops (after one last checkpoint) when
/// dropped.
pub struct WalCheckpointer {
    /// Set to stop the thread, with a condition variable to wake it.
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl WalCheckpointer {
    /// Starts checkpointing the history at `path`, or gives `None` (logged)
    /// when no second connection or thread can be had; the history then
    /// keeps SQLite's automatic checkpoints.
    pub fn start(path: &Path) -> Option<WalCheckpointer> {
        let conn = match Connection::open(path) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "no second connection to checkpoint the history from");
                return None;
            }
        };
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("history-wal".into())
            .spawn(move || run(&conn, &flag));
        match thread {
            Ok(t) => Some(WalCheckpointer {
                stop,
                thread: Some(t),
            }),
            Err(e) => {
                tracing::warn!(error = %e, "no thread to checkpoint the history from");
                None
            }
        }
    }
}

fn run(conn: &Connection, stop: &(Mutex<bool>, Condvar)) {
    let (lock, wake) = stop;
    loop {
        let stopping = {
            let stopped = lock.lock().unwrap_or_else(|e| e.into_inner());
            let (stopped, _) = wake
                .wait_timeout_while(stopped, EVERY, |s| !*s)
                .unwrap_or_else(|e| e.into_inner());
            *stopped
        };
        // A busy or failed checkpoint is tried again next time; the log
        // only grows meanwhile.
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::debug!(error = %e, "history checkpoint failed");
        }
        if stopping {
            return;
        }
    }
}

impl Drop for WalCheckpointer {
    fn drop(&mut self) {
        let (lock, wake) = &*self.stop;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        wake.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
