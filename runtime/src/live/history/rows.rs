//! What both history backends record, decided once.
//!
//! Takes what the run tells an observer (a fleet, its events, an accepted
//! sample, the tick index); gives the rows to write, each backend writing
//! them its own way ([`super::SqliteHistory`] with SQL statements,
//! [`super::postgres::PostgresHistory`] as COPY text): which ticks are
//! recorded at the decimation, a sample's row in the sensor's unit and in
//! SI, an alarm's or command's row, and which origin a resumed run keeps.

use crate::live::fleet::{Event, Fleet};
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

/// An alarm's raise or clear, or an actuator command, ready to write.
pub(super) enum EventRow<'a> {
    Alarm {
        instance: &'a str,
        alarm: &'a str,
        state: &'static str,
        severity: &'static str,
        message: &'a str,
    },
    Command {
        instance: &'a str,
        actuator: &'a str,
        /// In the actuator's unit; NaN for none.
        value: f64,
        unit: &'a str,
    },
}

/// The rows of a tick's `events` (an event naming no twin, alarm or
/// actuator of `fleet` has none).
pub(super) fn event_rows<'a>(
    fleet: &'a Fleet,
    events: &'a [Event],
) -> impl Iterator<Item = EventRow<'a>> {
    let model = fleet.model();
    events.iter().filter_map(move |event| match event {
        Event::Alarm {
            instance,
            alarm,
            raised,
            message,
        } => {
            let id = fleet.ids().get(*instance)?;
            let info = model.alarms.get(*alarm)?;
            Some(EventRow::Alarm {
                instance: id,
                alarm: &info.name,
                state: if *raised { "raised" } else { "cleared" },
                severity: info.severity,
                message,
            })
        }
        Event::Command {
            instance,
            actuator,
            value,
        } => {
            let id = fleet.ids().get(*instance)?;
            let info = model.actuators.get(*actuator)?;
            Some(EventRow::Command {
                instance: id,
                actuator: &info.name,
                value: *value,
                unit: &info.unit.text,
            })
        }
    })
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
