//! What both history backends record, decided once.
//!
//! Takes what the run tells an observer (a fleet, its events, an accepted
//! sample, the tick index); gives the rows to write, each backend writing
//! them its own way ([`super::SqliteHistory`] with SQL statements,
//! [`super::postgres::PostgresHistory`] as COPY text): which ticks are
//! recorded at the decimation, a sample's row in the sensor's unit and in
//! SI, and which origin a resumed run keeps (an alarm's or command's row
//! is [`crate::live::fleet::EventRow`]).

use crate::live::fleet::Fleet;
use crate::live::{Accepted, Rejection};

/// A sample or dead letter waiting for the run's origin (a replay learns
/// it from its first time-stamped message, after the first samples).
pub(super) enum Waiting {
    Sample(SampleRow),
    Rejected(Rejection),
}

/// An accepted sample, ready to write (its `t` is twin time).
pub(super) struct SampleRow {
    pub t: f64,
    pub instance: String,
    pub sensor: String,
    pub value: f64,
    pub unit: String,
    pub value_si: f64,
}

impl SampleRow {
    /// The row of `sample`; `None` when it names no twin or sensor of
    /// `fleet`.
    pub fn of(fleet: &Fleet, sample: &Accepted) -> Option<SampleRow> {
        let id = fleet.ids().get(sample.instance)?;
        let info = fleet.model().sensors.get(sample.sensor)?;
        Some(SampleRow {
            t: sample.t,
            instance: id.clone(),
            sensor: info.name.clone(),
            value: info.unit.from_si(sample.value),
            unit: info.unit.text.clone(),
            value_si: sample.value,
        })
    }
}

/// Whether tick `k` (of step `dt`) is recorded in `signals`: the first
/// tick at or after each multiple of `decimate`, so that the rows fall on
/// the same ticks however often the run was restarted.
pub(super) fn records(decimate: f64, k: u64, dt: f64) -> bool {
    if k == 0 || decimate <= dt {
        return true;
    }
    let bucket = |t: f64| (t / decimate + 1e-9).floor();
    bucket(k as f64 * dt) != bucket((k - 1) as f64 * dt)
}

/// The origin to record for a run that learnt `origin`: the recorded one
/// when it is the same within rounding (a resumed run), so that times
/// stay the same to the bit.
pub(super) fn same_origin(recorded: Option<f64>, origin: f64) -> f64 {
    match recorded {
        Some(r) if (r - origin).abs() <= 1e-6 * origin.abs().max(1.0) => r,
        _ => origin,
    }
}
