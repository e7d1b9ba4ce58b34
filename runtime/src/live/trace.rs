//! Timestamps along the path from a telemetry message to the command it
//! causes, for the MQTT load bench's breakdown of that latency.
//!
//! Takes the points of the path where a message or a command passes
//! ([`Stage`]) with the payload that identifies it; gives, after a run,
//! every [`Mark`] in the order it was made ([`take`]). Only with the
//! crate's `latency-trace` feature: without it [`mark`] does nothing and
//! compiles to nothing, so `twinc` never pays for it. With it each mark
//! copies the payload and takes a lock, which is why the figures of record
//! are measured without it.

/// A point on the path from a message to a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// An MQTT message has been read off the connection (reader thread).
    Received,
    /// The runner has decoded it and queued its samples.
    Handled,
    /// A tick has handed a command to its sink's connection.
    Queued,
    /// The publishing connection has written a command to the socket. Its
    /// mark carries no payload: commands are written in the order they
    /// were queued.
    Written,
}

/// One stage passed, at `at` (seconds since the Unix epoch).
#[derive(Clone, Debug)]
pub struct Mark {
    /// Where.
    pub stage: Stage,
    /// When, seconds since the Unix epoch.
    pub at: f64,
    /// The message's or command's payload (empty for [`Stage::Written`]).
    pub payload: Vec<u8>,
}

#[cfg(feature = "latency-trace")]
static MARKS: std::sync::Mutex<Vec<Mark>> = std::sync::Mutex::new(Vec::new());

/// Notes that `payload` passed `stage` now.
#[inline(always)]
pub fn mark(stage: Stage, payload: &[u8]) {
    #[cfg(feature = "latency-trace")]
    {
        let at = super::sources::now_epoch();
        let mark = Mark {
            stage,
            at,
            payload: payload.to_vec(),
        };
        MARKS.lock().unwrap_or_else(|e| e.into_inner()).push(mark);
    }
    #[cfg(not(feature = "latency-trace"))]
    let _ = (stage, payload);
}

/// Whether marks are being kept (the `latency-trace` feature).
pub const ENABLED: bool = cfg!(feature = "latency-trace");

/// Every mark made since the last call, oldest first.
pub fn take() -> Vec<Mark> {
    #[cfg(feature = "latency-trace")]
    {
        std::mem::take(&mut *MARKS.lock().unwrap_or_else(|e| e.into_inner()))
    }
    #[cfg(not(feature = "latency-trace"))]
    Vec::new()
}
