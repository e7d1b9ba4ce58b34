//! Checkpoints in the history file.
//!
//! Takes a [`Checkpoint`] and gives it back, exactly: every slot is an
//! SQLite REAL, which keeps an `f64` bit for bit (JSON would not: it has no
//! NaN, and NaN is what a sensor holds before its first sample), NaN is
//! stored as NULL, and instances, slots and source positions keep their
//! order. Only the newest [`KEEP`] checkpoints are kept.

use rusqlite::{Connection, OptionalExtension, params};

use super::HistoryError;
use crate::live::Checkpoint;
use crate::live::fleet::Snapshot;

/// An instance's persistent slots by name.
type Slots = Vec<(String, f64)>;

/// How many checkpoints are kept.
pub const KEEP: usize = 5;

/// Writes `cp` (twin time `t` as epoch seconds, written at wall time
/// `written`) and drops all but the newest [`KEEP`], in one transaction.
pub fn save(conn: &Connection, cp: &Checkpoint, t: f64, written: f64) -> rusqlite::Result<()> {
    let tx = conn.unchecked_transaction()?;
    tx.execute(
        "INSERT INTO checkpoints (t, k, origin, written) VALUES (?1, ?2, ?3, ?4)",
        params![t, cp.fleet.k as i64, cp.origin, written],
    )?;
    let id = tx.last_insert_rowid();
    {
        let mut twin = tx.prepare_cached(
            "INSERT INTO checkpoint_twins (checkpoint, twin_pos, instance) VALUES (?1, ?2, ?3)",
        )?;
        let mut slot = tx.prepare_cached(
            "INSERT INTO checkpoint_slots (checkpoint, twin_pos, slot_pos, slot, value)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for (i, (instance, slots)) in cp.fleet.instances.iter().enumerate() {
            twin.execute(params![id, i as i64, instance])?;
            for (s, (name, value)) in slots.iter().enumerate() {
                let value = (!value.is_nan()).then_some(*value);
                slot.execute(params![id, i as i64, s as i64, name, value])?;
            }
        }
        let mut position = tx.prepare_cached(
            "INSERT INTO checkpoint_positions (checkpoint, position, source, rows)
             VALUES (?1, ?2, ?3, ?4)",
        )?;
        for (p, (source, rows)) in cp.positions.iter().enumerate() {
            position.execute(params![id, p as i64, source, *rows as i64])?;
        }
    }
    let old = format!("(SELECT id FROM checkpoints ORDER BY id DESC LIMIT -1 OFFSET {KEEP})");
    for table in [
        "checkpoint_twins",
        "checkpoint_slots",
        "checkpoint_positions",
    ] {
        tx.execute(
            &format!("DELETE FROM {table} WHERE checkpoint IN {old}"),
            [],
        )?;
    }
    tx.execute(&format!("DELETE FROM checkpoints WHERE id IN {old}"), [])?;
    tx.commit()
}

/// The kept checkpoints, oldest first: (id, t as epoch seconds).
pub fn list(conn: &Connection) -> Result<Vec<(i64, f64)>, HistoryError> {
    let fail = |e: rusqlite::Error| HistoryError(format!("cannot read the checkpoints: {e}"));
    let mut stmt = conn
        .prepare("SELECT id, t FROM checkpoints ORDER BY id")
        .map_err(fail)?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(fail)?;
    rows.collect::<Result<_, _>>().map_err(fail)
}

/// Checkpoint `id`, if it is kept.
pub fn load(conn: &Connection, id: i64) -> Result<Option<Checkpoint>, HistoryError> {
    let fail = |e: rusqlite::Error| HistoryError(format!("cannot read checkpoint {id}: {e}"));
    let Some((k, origin)) = conn
        .query_row(
            "SELECT k, origin FROM checkpoints WHERE id = ?1",
            [id],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, f64>(1)?)),
        )
        .optional()
        .map_err(fail)?
    else {
        return Ok(None);
    };
    let mut twins: Vec<(i64, String, Slots)> = {
        let mut stmt = conn
            .prepare(
                "SELECT twin_pos, instance FROM checkpoint_twins
                 WHERE checkpoint = ?1 ORDER BY twin_pos",
            )
            .map_err(fail)?;
        let rows = stmt
            .query_map([id], |r| Ok((r.get(0)?, r.get(1)?, Vec::new())))
            .map_err(fail)?;
        rows.collect::<Result<_, _>>().map_err(fail)?
    };
    {
        let mut stmt = conn
            .prepare(
                "SELECT twin_pos, slot, value FROM checkpoint_slots
                 WHERE checkpoint = ?1 ORDER BY twin_pos, slot_pos",
            )
            .map_err(fail)?;
        let rows = stmt
            .query_map([id], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<f64>>(2)?,
                ))
            })
            .map_err(fail)?;
        for row in rows {
            let (pos, slot, value) = row.map_err(fail)?;
            if let Ok(i) = twins.binary_search_by_key(&pos, |(p, _, _)| *p) {
                twins[i].2.push((slot, value.unwrap_or(f64::NAN)));
            }
        }
    }
    let instances = twins
        .into_iter()
        .map(|(_, id, slots)| (id, slots))
        .collect();
    let mut stmt = conn
        .prepare(
            "SELECT source, rows FROM checkpoint_positions WHERE checkpoint = ?1 ORDER BY position",
        )
        .map_err(fail)?;
    let positions = stmt
        .query_map([id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?.max(0) as u64))
        })
        .map_err(fail)?
        .collect::<Result<_, _>>()
        .map_err(fail)?;
    Ok(Some(Checkpoint {
        origin,
        fleet: Snapshot {
            k: k.max(0) as u64,
            instances,
        },
        positions,
    }))
}

/// The newest checkpoint, if any.
pub fn last(conn: &Connection) -> Result<Option<Checkpoint>, HistoryError> {
    match list(conn)?.last() {
        Some((id, _)) => load(conn, *id),
        None => Ok(None),
    }
}
