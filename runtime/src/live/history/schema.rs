//! The history's tables, their version, and the catalog of names.
//!
//! Takes an open connection (and, for a writer, the lowered model); gives a
//! database at [`VERSION`]: created when empty, migrated step by step when
//! an older build wrote it, refused when a newer one did. The catalog
//! records, for every signal, sensor, actuator and alarm of the model, its
//! unit and print format, so that an export needs only the file; a signal
//! the model gains becomes a new column of the wide `signals` table.

use rusqlite::{Connection, OptionalExtension, params};
use twin_compiler::hir::DisplayUnit;
use twin_compiler::ir::{Format, Model};

use super::HistoryError;

/// The schema version this build writes and reads.
pub const VERSION: i64 = 1;

/// Version 1: the first release.
const V1: &str = "
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE catalog (
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    position INTEGER NOT NULL,
    col TEXT,
    unit TEXT NOT NULL,
    scale REAL NOT NULL,
    si_offset REAL NOT NULL,
    format TEXT NOT NULL,
    variants TEXT NOT NULL,
    PRIMARY KEY (kind, name)
) WITHOUT ROWID;
CREATE TABLE signals (
    t REAL NOT NULL,
    instance TEXT NOT NULL,
    PRIMARY KEY (t, instance)
) WITHOUT ROWID;
CREATE TABLE samples (
    t REAL NOT NULL,
    instance TEXT NOT NULL,
    sensor TEXT NOT NULL,
    value REAL,
    unit TEXT NOT NULL,
    value_si REAL,
    PRIMARY KEY (t, instance, sensor)
) WITHOUT ROWID;
CREATE TABLE alarms (
    t REAL NOT NULL,
    instance TEXT NOT NULL,
    alarm TEXT NOT NULL,
    state TEXT NOT NULL,
    severity TEXT NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (t, instance, alarm)
) WITHOUT ROWID;
CREATE TABLE commands (
    t REAL NOT NULL,
    instance TEXT NOT NULL,
    actuator TEXT NOT NULL,
    value REAL,
    unit TEXT NOT NULL,
    PRIMARY KEY (t, instance, actuator)
) WITHOUT ROWID;
CREATE TABLE rejected (
    id INTEGER PRIMARY KEY,
    t REAL NOT NULL,
    instance TEXT NOT NULL,
    sensor TEXT NOT NULL,
    reason TEXT NOT NULL,
    origin TEXT NOT NULL,
    raw TEXT NOT NULL,
    UNIQUE (t, origin, reason, instance, sensor)
);
CREATE TABLE checkpoints (
    id INTEGER PRIMARY KEY,
    t REAL NOT NULL,
    k INTEGER NOT NULL,
    origin REAL NOT NULL,
    written REAL NOT NULL
);
CREATE TABLE checkpoint_twins (
    checkpoint INTEGER NOT NULL,
    twin_pos INTEGER NOT NULL,
    instance TEXT NOT NULL,
    PRIMARY KEY (checkpoint, twin_pos)
) WITHOUT ROWID;
CREATE TABLE checkpoint_slots (
    checkpoint INTEGER NOT NULL,
    twin_pos INTEGER NOT NULL,
    slot_pos INTEGER NOT NULL,
    slot TEXT NOT NULL,
    value, -- untyped: REAL affinity would store -0.0 as the integer 0
    PRIMARY KEY (checkpoint, twin_pos, slot_pos)
) WITHOUT ROWID;
CREATE TABLE checkpoint_positions (
    checkpoint INTEGER NOT NULL,
    position INTEGER NOT NULL,
    source TEXT NOT NULL,
    rows INTEGER NOT NULL,
    PRIMARY KEY (checkpoint, position)
) WITHOUT ROWID;
";

/// Migrations: entry `i` brings a file from version `i + 1` to `i + 2`.
/// Empty while there is only version 1; a later build appends here and
/// bumps [`VERSION`].
const MIGRATIONS: &[&str] = &[];

fn sql(context: &'static str) -> impl Fn(rusqlite::Error) -> HistoryError {
    move |e| HistoryError(format!("{context}: {e}"))
}

/// The file's schema version, or `None` when it has no history tables.
pub fn version(conn: &Connection) -> Result<Option<i64>, HistoryError> {
    let has_table: bool = conn
        .query_row(
            "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .map_err(sql("cannot read the schema"))?;
    if !has_table {
        return Ok(None);
    }
    conn.query_row("SELECT max(version) FROM schema_version", [], |r| {
        r.get::<_, Option<i64>>(0)
    })
    .map_err(sql("cannot read the schema version"))
}

/// Creates the tables in an empty file, or migrates an older one.
pub fn prepare(conn: &Connection) -> Result<(), HistoryError> {
    let found = version(conn)?;
    match found {
        None => {
            let script =
                format!("BEGIN; {V1} INSERT INTO schema_version (version) VALUES (1); COMMIT;");
            conn.execute_batch(&script).map_err(|e| {
                let _ = conn.execute_batch("ROLLBACK");
                HistoryError(format!("cannot create the history tables: {e}"))
            })?;
            migrate(conn, 1)
        }
        Some(v) if v > VERSION => Err(HistoryError(format!(
            "the history was written by a newer twinc (schema version {v}); this build reads up to version {VERSION}"
        ))),
        Some(v) => migrate(conn, v.max(1)),
    }
}

/// Applies the migrations from version `from` to [`VERSION`], each in its
/// own transaction.
fn migrate(conn: &Connection, from: i64) -> Result<(), HistoryError> {
    for v in from..VERSION {
        let Some(step) = usize::try_from(v - 1).ok().and_then(|i| MIGRATIONS.get(i)) else {
            return Err(HistoryError(format!(
                "no migration from schema version {v}"
            )));
        };
        let script = format!(
            "BEGIN; {step} UPDATE schema_version SET version = {}; COMMIT;",
            v + 1
        );
        conn.execute_batch(&script).map_err(|e| {
            let _ = conn.execute_batch("ROLLBACK");
            HistoryError(format!(
                "cannot migrate the history to version {}: {e}",
                v + 1
            ))
        })?;
    }
    Ok(())
}

/// `name` quoted as an SQL identifier (in SQLite and PostgreSQL alike).
pub fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The `signals` column of each output of `model`, in output order: the
/// one `existing` records for its name (a signal keeps its column across
/// runs and reloads), or a new one named by `name_for` (given the columns
/// taken) and created by `add`. Both backends describe models with it.
pub(super) fn assign_columns(
    model: &Model,
    existing: &[(String, String)],
    mut taken: Vec<String>,
    name_for: impl Fn(&str, &[String]) -> String,
    mut add: impl FnMut(&str) -> Result<(), HistoryError>,
) -> Result<Vec<String>, HistoryError> {
    let mut columns = Vec::with_capacity(model.outputs.len());
    for o in &model.outputs {
        let col = match existing.iter().find(|(n, _)| *n == o.name) {
            Some((_, c)) => c.clone(),
            None => {
                let c = name_for(&o.name, &taken);
                add(&c)?;
                taken.push(c.clone());
                c
            }
        };
        columns.push(col);
    }
    Ok(columns)
}

/// A column name for signal `name` that no other column takes (SQLite
/// compares column names without regard to case).
pub(super) fn column_for(name: &str, taken: &[String]) -> String {
    let clashes = |c: &str| taken.iter().any(|t| t.eq_ignore_ascii_case(c));
    if !clashes(name) {
        return name.to_string();
    }
    (2..)
        .map(|n| format!("{name}_{n}"))
        .find(|c| !clashes(c))
        .unwrap_or_else(|| name.to_string())
}

fn format_name(format: &Format) -> (&'static str, String) {
    match format {
        Format::Real => ("real", String::new()),
        Format::Int => ("int", String::new()),
        Format::Bool => ("bool", String::new()),
        Format::Enum(names) => ("enum", names.join(",")),
    }
}

/// One catalog row to write, the same in every store.
pub(super) struct Entry<'a> {
    pub(super) kind: &'static str,
    pub(super) name: &'a str,
    /// A signal's column in `signals`.
    pub(super) col: Option<&'a str>,
    /// The unit's text; SI = value × scale + offset.
    pub(super) unit: &'a str,
    pub(super) scale: f64,
    pub(super) offset: f64,
    /// `real`, `int`, `bool` or `enum`.
    pub(super) format: &'static str,
    /// An enum's variants, comma-separated.
    pub(super) variants: String,
}

/// The catalog of `model` whose outputs have `columns`: its signals,
/// sensors, actuators and alarms, in the order of their positions.
pub(super) fn entries<'a>(model: &'a Model, columns: &'a [String]) -> Vec<Entry<'a>> {
    let entry = |kind, name, col, unit: &'a DisplayUnit, format: &Format| {
        let (format, variants) = format_name(format);
        Entry {
            kind,
            name,
            col,
            unit: &unit.text,
            scale: unit.scale,
            offset: unit.offset,
            format,
            variants,
        }
    };
    // An alarm is a dimensionless flag.
    let flag = |name| Entry {
        kind: "alarm",
        name,
        col: None,
        unit: "",
        scale: 1.0,
        offset: 0.0,
        format: "bool",
        variants: String::new(),
    };
    let mut out = Vec::new();
    for (o, col) in model.outputs.iter().zip(columns) {
        out.push(entry(
            "signal",
            &o.name,
            Some(col.as_str()),
            &o.unit,
            &o.format,
        ));
    }
    for s in &model.sensors {
        out.push(entry("sensor", &s.name, None, &s.unit, &Format::Real));
    }
    for a in &model.actuators {
        out.push(entry("actuator", &a.name, None, &a.unit, &Format::Real));
    }
    for a in &model.alarms {
        out.push(flag(&a.name));
    }
    out
}

/// Records the model's names and units in the catalog, adds a `signals`
/// column for every output that has none yet, and gives the columns of
/// the model's outputs, in output order.
pub fn describe(conn: &Connection, model: &Model) -> Result<Vec<String>, HistoryError> {
    let tx = conn
        .unchecked_transaction()
        .map_err(sql("cannot describe the model"))?;
    let mut taken: Vec<String> = vec!["t".into(), "instance".into()];
    let mut existing = Vec::new();
    {
        let mut stmt = tx
            .prepare("SELECT name, col FROM catalog WHERE kind = 'signal'")
            .map_err(sql("cannot read the catalog"))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(sql("cannot read the catalog"))?;
        for row in rows {
            let (name, col) = row.map_err(sql("cannot read the catalog"))?;
            taken.push(col.clone());
            existing.push((name, col));
        }
    }
    let columns = assign_columns(model, &existing, taken, column_for, |c| {
        tx.execute_batch(&format!("ALTER TABLE signals ADD COLUMN {} REAL", quote(c)))
            .map_err(sql("cannot add a signal column"))
    })?;
    let entries = entries(model, &columns);
    // Positions follow the current model; names it no longer has keep
    // their rows (old data stays readable) and go after the current ones.
    tx.execute("UPDATE catalog SET position = position + 1000000", [])
        .map_err(sql("cannot update the catalog"))?;
    for (position, e) in entries.iter().enumerate() {
        tx.execute(
            "INSERT INTO catalog (kind, name, position, col, unit, scale, si_offset, format, variants)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (kind, name) DO UPDATE SET position = ?3, unit = ?5, scale = ?6,
                 si_offset = ?7, format = ?8, variants = ?9",
            params![
                e.kind,
                e.name,
                position as i64,
                e.col,
                e.unit,
                e.scale,
                e.offset,
                e.format,
                e.variants
            ],
        )
        .map_err(sql("cannot update the catalog"))?;
    }
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('twin', ?1)
         ON CONFLICT (key) DO UPDATE SET value = ?1",
        [&model.name],
    )
    .map_err(sql("cannot update the catalog"))?;
    tx.commit().map_err(sql("cannot describe the model"))?;
    Ok(columns)
}

/// A value of the `meta` table.
pub fn meta(conn: &Connection, key: &str) -> Result<Option<String>, HistoryError> {
    conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()
        .map_err(sql("cannot read the history's settings"))
}

/// Sets `meta` key `?1` to `?2`.
pub const SET_META: &str = "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = ?2";
