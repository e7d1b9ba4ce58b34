//! Checkpoints in PostgreSQL, exactly as in the SQLite history.
//!
//! Takes a [`Checkpoint`] and gives it back bit for bit: slots are `float8`
//! written in shortest round-trip digits (NaN, which a sensor holds before
//! its first sample, as NULL), and instances, slots and source positions
//! keep their order. A checkpoint is written in one transaction, its
//! slots with COPY (a fleet has tens of thousands), and only the newest
//! [`KEEP`] are kept.

use postgres::{Client, GenericClient};

use super::super::HistoryError;
use super::super::checkpoint::KEEP;
use super::batch::{real, text};
use super::schema::{one_line, sql};
use super::writer::copy;
use crate::live::Checkpoint;
use crate::live::fleet::Snapshot;

/// An instance's persistent slots by name.
type Slots = Vec<(String, f64)>;

/// Writes `cp` (twin time `t` as epoch seconds, written at wall time
/// `written`) and drops all but the newest [`KEEP`]; an error is one line.
pub(super) fn save(conn: &mut Client, cp: &Checkpoint, t: f64, written: f64) -> Result<(), String> {
    let pg = |e: postgres::Error| one_line(&e);
    let mut tx = conn.transaction().map_err(pg)?;
    let id: i64 = tx
        .query_one(
            "INSERT INTO checkpoints (t, k, origin, written) VALUES ($1, $2, $3, $4) RETURNING id",
            &[&t, &(cp.fleet.k as i64), &cp.origin, &written],
        )
        .and_then(|r| r.try_get(0))
        .map_err(pg)?;
    let mut twins = String::new();
    let mut slots = String::new();
    for (i, (instance, values)) in cp.fleet.instances.iter().enumerate() {
        twins.push_str(&format!("{id}\t{i}\t"));
        text(&mut twins, instance);
        twins.push('\n');
        for (s, (name, value)) in values.iter().enumerate() {
            slots.push_str(&format!("{id}\t{i}\t{s}\t"));
            text(&mut slots, name);
            slots.push('\t');
            if value.is_nan() {
                slots.push_str("\\N");
            } else {
                real(&mut slots, *value);
            }
            slots.push('\n');
        }
    }
    let mut positions = String::new();
    for (p, (source, rows)) in cp.positions.iter().enumerate() {
        positions.push_str(&format!("{id}\t{p}\t"));
        text(&mut positions, source);
        positions.push_str(&format!("\t{rows}\n"));
    }
    for (table, data) in [
        ("checkpoint_twins", twins),
        ("checkpoint_slots", slots),
        ("checkpoint_positions", positions),
    ] {
        copy(&mut tx, &format!("COPY {table} FROM STDIN"), &data)?;
    }
    let old = format!("(SELECT id FROM checkpoints ORDER BY id DESC OFFSET {KEEP})");
    tx.batch_execute(&format!(
        "DELETE FROM checkpoint_twins WHERE checkpoint IN {old};
         DELETE FROM checkpoint_slots WHERE checkpoint IN {old};
         DELETE FROM checkpoint_positions WHERE checkpoint IN {old};
         DELETE FROM checkpoints WHERE id IN {old};"
    ))
    .map_err(pg)?;
    tx.commit().map_err(pg)
}

/// The kept checkpoints' ids, oldest first.
pub(super) fn list(conn: &mut impl GenericClient) -> Result<Vec<i64>, HistoryError> {
    let fail = sql("cannot read the checkpoints");
    conn.query("SELECT id FROM checkpoints ORDER BY id", &[])
        .map_err(&fail)?
        .iter()
        .map(|r| r.try_get(0).map_err(&fail))
        .collect()
}

/// Checkpoint `id`, if it is kept.
pub(super) fn load(
    conn: &mut impl GenericClient,
    id: i64,
) -> Result<Option<Checkpoint>, HistoryError> {
    let fail = sql("cannot read a checkpoint");
    let Some(row) = conn
        .query_opt("SELECT k, origin FROM checkpoints WHERE id = $1", &[&id])
        .map_err(&fail)?
    else {
        return Ok(None);
    };
    let k: i64 = row.try_get(0).map_err(&fail)?;
    let origin: f64 = row.try_get(1).map_err(&fail)?;
    let mut twins: Vec<(i64, String, Slots)> = Vec::new();
    for r in conn
        .query(
            "SELECT twin_pos, instance FROM checkpoint_twins WHERE checkpoint = $1 ORDER BY twin_pos",
            &[&id],
        )
        .map_err(&fail)?
    {
        twins.push((
            r.try_get(0).map_err(&fail)?,
            r.try_get(1).map_err(&fail)?,
            Vec::new(),
        ));
    }
    for r in conn
        .query(
            "SELECT twin_pos, slot, value FROM checkpoint_slots
             WHERE checkpoint = $1 ORDER BY twin_pos, slot_pos",
            &[&id],
        )
        .map_err(&fail)?
    {
        let pos: i64 = r.try_get(0).map_err(&fail)?;
        let slot: String = r.try_get(1).map_err(&fail)?;
        let value: Option<f64> = r.try_get(2).map_err(&fail)?;
        if let Ok(i) = twins.binary_search_by_key(&pos, |(p, _, _)| *p) {
            twins[i].2.push((slot, value.unwrap_or(f64::NAN)));
        }
    }
    let mut positions = Vec::new();
    for r in conn
        .query(
            "SELECT source, rows FROM checkpoint_positions WHERE checkpoint = $1 ORDER BY position",
            &[&id],
        )
        .map_err(&fail)?
    {
        let rows: i64 = r.try_get(1).map_err(&fail)?;
        positions.push((r.try_get(0).map_err(&fail)?, rows.max(0) as u64));
    }
    Ok(Some(Checkpoint {
        origin,
        fleet: Snapshot {
            k: k.max(0) as u64,
            instances: twins.into_iter().map(|(_, id, s)| (id, s)).collect(),
        },
        positions,
    }))
}

/// The newest checkpoint, if any.
pub(super) fn last(conn: &mut impl GenericClient) -> Result<Option<Checkpoint>, HistoryError> {
    match list(conn)?.last() {
        Some(id) => load(conn, *id),
        None => Ok(None),
    }
}
