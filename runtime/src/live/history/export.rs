//! Reading the history back: a time range of one table as CSV.
//!
//! Takes a history file and a [`Query`] (table, time range, twin, names);
//! gives CSV with values in their declared units (converted from SI with
//! the catalog's units, so rows written before a unit changed read right)
//! and a header naming each unit, `bearing_temp[degC]`:
//! - `signals`: `t,id,<signal>[unit],...`, one row per twin per recorded
//!   tick;
//! - `samples`: `t,id,<sensor>[unit],...`, one row per twin and time with
//!   the sensors sampled then (the others empty): the format `twinc run`
//!   replays, so an export can be fed back as telemetry;
//! - `alarms`: `t,id,alarm,severity,state,message`;
//! - `commands`: `t,id,actuator,value,unit`;
//! - `rejected`: `t,id,sensor,reason,origin,raw`.
//!
//! Times are seconds since the epoch (the file's `t` in a CSV replay),
//! printed to the microsecond; the range is inclusive. The file is opened
//! read-only, so an export can run beside a `twinc run` that writes it.

use std::io::Write;
use std::path::Path;

use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags, params};

use super::HistoryError;
use super::schema::{self, VERSION, quote};

/// A table to export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Table {
    /// Every output, decimated.
    Signals,
    /// Accepted samples.
    Samples,
    /// Alarm raises and clears.
    Alarms,
    /// Actuator commands.
    Commands,
    /// Dead letters.
    Rejected,
}

impl Table {
    /// Every table by its name.
    pub const ALL: [(&'static str, Table); 5] = [
        ("signals", Table::Signals),
        ("samples", Table::Samples),
        ("alarms", Table::Alarms),
        ("commands", Table::Commands),
        ("rejected", Table::Rejected),
    ];

    /// The table named `name`.
    pub fn parse(name: &str) -> Option<Table> {
        Table::ALL.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
    }

    /// The catalog kind of the names this table is filtered by.
    pub(super) fn kind(self) -> &'static str {
        match self {
            Table::Signals => "signal",
            Table::Samples | Table::Rejected => "sensor",
            Table::Alarms => "alarm",
            Table::Commands => "actuator",
        }
    }
}

/// What to export.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    /// The table.
    pub table: Table,
    /// From this time on (epoch seconds, inclusive).
    pub from: Option<f64>,
    /// Up to this time (inclusive).
    pub to: Option<f64>,
    /// Only this twin.
    pub twin: Option<String>,
    /// Only these signals, sensors, alarms or actuators (all when empty),
    /// in this order for the wide tables.
    pub names: Vec<String>,
}

/// A time given on the command line: seconds (since the epoch, or twin
/// time in a CSV replay) or an RFC 3339 timestamp
/// (`2026-09-21T08:00:00Z`).
pub fn parse_time(text: &str) -> Result<f64, String> {
    let text = text.trim();
    if let Ok(s) = text.parse::<f64>()
        && s.is_finite()
    {
        return Ok(s);
    }
    match text.parse::<jiff::Timestamp>() {
        Ok(ts) => Ok(ts.as_second() as f64 + f64::from(ts.subsec_nanosecond()) * 1e-9),
        Err(_) => Err(format!(
            "`{text}` is not a time: give seconds (`3600`) or an RFC 3339 timestamp (`2026-09-21T08:00:00Z`)"
        )),
    }
}

/// One catalog entry.
pub(super) struct Entry {
    pub(super) name: String,
    pub(super) col: Option<String>,
    pub(super) unit: String,
    pub(super) scale: f64,
    pub(super) offset: f64,
    pub(super) format: String,
    pub(super) variants: Vec<String>,
}

impl Entry {
    /// An entry from the catalog's columns (`variants` comma-separated).
    pub(super) fn new(
        name: String,
        col: Option<String>,
        unit: String,
        (scale, offset): (f64, f64),
        format: String,
        variants: &str,
    ) -> Entry {
        Entry {
            name,
            col,
            unit,
            scale,
            offset,
            format,
            variants: variants
                .split(',')
                .filter(|v| !v.is_empty())
                .map(String::from)
                .collect(),
        }
    }

    fn header(&self) -> String {
        if self.format != "real" || self.unit.is_empty() || self.unit == "1" {
            self.name.clone()
        } else {
            format!("{}[{}]", self.name, self.unit)
        }
    }

    /// An SI value as the cell to print.
    fn cell(&self, si: Option<f64>) -> String {
        let Some(v) = si else {
            return String::new();
        };
        match self.format.as_str() {
            "int" | "bool" if v.is_finite() => format!("{}", v as i64),
            "enum" if v >= 0.0 && (v as usize) < self.variants.len() => {
                self.variants[v as usize].clone()
            }
            _ => number((v - self.offset) / self.scale),
        }
    }
}

/// A value to 12 significant digits, so that a conversion's rounding
/// does not show (`20`, not `20.000000000000025`).
fn number(v: f64) -> String {
    crate::sim::format_time(v)
}

/// A time to the microsecond.
fn time(t: f64) -> String {
    format!("{}", (t * 1e6).round() / 1e6)
}

/// A CSV field, quoted when it must be.
fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

fn sql(e: rusqlite::Error) -> HistoryError {
    HistoryError(format!("cannot read the history: {e}"))
}

fn io(e: std::io::Error) -> HistoryError {
    HistoryError(format!("cannot write the export: {e}"))
}

/// The rows an export reads: a time range, inclusive, of one twin or all.
pub(super) struct Range {
    pub(super) from: f64,
    pub(super) to: f64,
    pub(super) twin: Option<String>,
}

/// One value of an event table's row.
pub(super) enum Cell {
    Null,
    Real(f64),
    Integer(i64),
    Text(String),
}

/// What an event table's export selects (alarms, commands, dead letters)
/// and in which order; the third column names the alarm, actuator or
/// sensor. Ties in time and twin fall in key order (a dead letter's id is
/// the order it arrived in), so every store gives the same CSV.
pub(super) fn event_columns(table: Table) -> (&'static str, &'static str, &'static str) {
    match table {
        Table::Alarms => (
            "t,id,alarm,severity,state,message",
            "SELECT t, instance, alarm, severity, state, message FROM alarms",
            "ORDER BY t, instance, alarm",
        ),
        Table::Commands => (
            "t,id,actuator,value,unit",
            "SELECT t, instance, actuator, value, unit FROM commands",
            "ORDER BY t, instance, actuator",
        ),
        _ => (
            "t,id,sensor,reason,origin,raw",
            "SELECT t, instance, sensor, reason, origin, raw FROM rejected",
            "ORDER BY t, instance, id",
        ),
    }
}

/// A called-back row reader, so that one export serves every store.
pub(super) type Each<'a, T> = &'a mut dyn FnMut(T) -> Result<(), HistoryError>;

/// Where an export reads the history from: the SQLite file, or
/// PostgreSQL ([`super::postgres::PgReader`]). Each method calls `each`
/// once per row, in `(t, instance)` order.
pub(super) trait Store {
    /// The catalog entries of `kind`, by position.
    fn catalog(&mut self, kind: &str) -> Result<Vec<Entry>, HistoryError>;
    /// `signals` rows: time, twin and the values of `cols` (NULL for a
    /// name without a column).
    fn signals(
        &mut self,
        cols: &[Option<&str>],
        range: &Range,
        each: Each<'_, (f64, String, Vec<Option<f64>>)>,
    ) -> Result<(), HistoryError>;
    /// `samples` rows: time, twin, sensor and SI value.
    fn samples(
        &mut self,
        range: &Range,
        each: Each<'_, (f64, String, String, Option<f64>)>,
    ) -> Result<(), HistoryError>;
    /// The rows of an event table, as [`event_columns`] selects them.
    fn events(
        &mut self,
        table: Table,
        range: &Range,
        each: Each<'_, Vec<Cell>>,
    ) -> Result<(), HistoryError>;
}

/// A history file opened for reading.
pub struct Reader {
    conn: Connection,
}

impl Reader {
    /// Opens the history at `path` read-only.
    pub fn open(path: &Path) -> Result<Reader, HistoryError> {
        if !path.exists() {
            return Err(HistoryError(format!(
                "no history at `{}`: `twinc run` has not written one yet",
                path.display()
            )));
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| HistoryError(format!("cannot open `{}`: {e}", path.display())))?;
        let _ = conn.busy_timeout(std::time::Duration::from_secs(2));
        let in_file = |e: HistoryError| HistoryError(format!("`{}`: {e}", path.display()));
        match schema::version(&conn).map_err(in_file)? {
            None => Err(HistoryError(format!(
                "`{}` is not a twin history",
                path.display()
            ))),
            Some(v) if v > VERSION => Err(HistoryError(format!(
                "`{}` was written by a newer twinc (schema version {v}); this build reads up to version {VERSION}",
                path.display()
            ))),
            Some(v) if v < VERSION => Err(HistoryError(format!(
                "`{}` has schema version {v}; run `twinc run` on it once to bring it to version {VERSION}",
                path.display()
            ))),
            Some(_) => Ok(Reader { conn }),
        }
    }

    /// The twin the history was last written for.
    pub fn twin(&self) -> Result<Option<String>, HistoryError> {
        schema::meta(&self.conn, "twin")
    }

    /// Writes the query's rows as CSV; gives the number of data rows.
    pub fn export(&self, q: &Query, out: &mut dyn Write) -> Result<u64, HistoryError> {
        export(&mut SqliteStore(&self.conn), q, out)
    }
}

/// The SQLite file as a [`Store`].
struct SqliteStore<'a>(&'a Connection);

impl Store for SqliteStore<'_> {
    fn catalog(&mut self, kind: &str) -> Result<Vec<Entry>, HistoryError> {
        let mut stmt = self
            .0
            .prepare(
                "SELECT name, col, unit, scale, si_offset, format, variants FROM catalog
                 WHERE kind = ?1 ORDER BY position",
            )
            .map_err(sql)?;
        let rows = stmt
            .query_map([kind], |r| {
                Ok(Entry::new(
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    (r.get(3)?, r.get(4)?),
                    r.get(5)?,
                    &r.get::<_, String>(6)?,
                ))
            })
            .map_err(sql)?;
        rows.collect::<Result<_, _>>().map_err(sql)
    }

    fn signals(
        &mut self,
        cols: &[Option<&str>],
        range: &Range,
        each: Each<'_, (f64, String, Vec<Option<f64>>)>,
    ) -> Result<(), HistoryError> {
        let cols: String = cols
            .iter()
            .map(|c| format!(", {}", c.map_or("NULL".into(), quote)))
            .collect();
        let mut stmt = self
            .0
            .prepare(&format!(
                "SELECT t, instance{cols} FROM signals
                 WHERE t >= ?1 AND t <= ?2 AND (?3 IS NULL OR instance = ?3)
                 ORDER BY t, instance"
            ))
            .map_err(sql)?;
        let width = stmt.column_count();
        let mut rows = stmt
            .query(params![range.from, range.to, range.twin])
            .map_err(sql)?;
        while let Some(r) = rows.next().map_err(sql)? {
            let values = (2..width)
                .map(|c| r.get::<_, Option<f64>>(c))
                .collect::<Result<_, _>>()
                .map_err(sql)?;
            each((r.get(0).map_err(sql)?, r.get(1).map_err(sql)?, values))?;
        }
        Ok(())
    }

    fn samples(
        &mut self,
        range: &Range,
        each: Each<'_, (f64, String, String, Option<f64>)>,
    ) -> Result<(), HistoryError> {
        let mut stmt = self
            .0
            .prepare(
                "SELECT t, instance, sensor, value_si FROM samples
                 WHERE t >= ?1 AND t <= ?2 AND (?3 IS NULL OR instance = ?3)
                 ORDER BY t, instance",
            )
            .map_err(sql)?;
        let mut rows = stmt
            .query(params![range.from, range.to, range.twin])
            .map_err(sql)?;
        while let Some(r) = rows.next().map_err(sql)? {
            each((
                r.get(0).map_err(sql)?,
                r.get(1).map_err(sql)?,
                r.get(2).map_err(sql)?,
                r.get(3).map_err(sql)?,
            ))?;
        }
        Ok(())
    }

    fn events(
        &mut self,
        table: Table,
        range: &Range,
        each: Each<'_, Vec<Cell>>,
    ) -> Result<(), HistoryError> {
        let (_, select, order) = event_columns(table);
        let mut stmt = self
            .0
            .prepare(&format!(
                "{select} WHERE t >= ?1 AND t <= ?2 AND (?3 IS NULL OR instance = ?3) {order}"
            ))
            .map_err(sql)?;
        let width = stmt.column_count();
        let mut rows = stmt
            .query(params![range.from, range.to, range.twin])
            .map_err(sql)?;
        while let Some(r) = rows.next().map_err(sql)? {
            let mut cells = Vec::with_capacity(width);
            for c in 0..width {
                cells.push(match r.get::<_, Value>(c).map_err(sql)? {
                    Value::Null => Cell::Null,
                    Value::Real(v) => Cell::Real(v),
                    Value::Integer(v) => Cell::Integer(v),
                    Value::Text(s) => Cell::Text(s),
                    Value::Blob(b) => Cell::Text(String::from_utf8_lossy(&b).into_owned()),
                });
            }
            each(cells)?;
        }
        Ok(())
    }
}

/// The catalog entries the query names (all when it names none), or
/// an error naming the first unknown one and what there is.
fn selected(store: &mut dyn Store, q: &Query) -> Result<Vec<Entry>, HistoryError> {
    let mut all = store.catalog(q.table.kind())?;
    if q.names.is_empty() {
        return Ok(all);
    }
    let mut out = Vec::new();
    for name in &q.names {
        match all.iter().position(|e| e.name == *name) {
            Some(i) => out.push(all.swap_remove(i)),
            None if out.iter().any(|e: &Entry| e.name == *name) => {}
            None => {
                let mut known: Vec<String> = store
                    .catalog(q.table.kind())?
                    .into_iter()
                    .map(|e| e.name)
                    .collect();
                known.sort();
                return Err(HistoryError(format!(
                    "no {} `{name}` in the history; it has: {}",
                    q.table.kind(),
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                )));
            }
        }
    }
    Ok(out)
}

/// Writes the query's rows from `store` as CSV; gives the number of data
/// rows.
pub(super) fn export(
    store: &mut dyn Store,
    q: &Query,
    out: &mut dyn Write,
) -> Result<u64, HistoryError> {
    let entries = selected(store, q)?;
    let range = Range {
        from: q.from.unwrap_or(f64::NEG_INFINITY),
        to: q.to.unwrap_or(f64::INFINITY),
        twin: q.twin.clone(),
    };
    match q.table {
        Table::Signals => signals(store, &entries, &range, out),
        Table::Samples => samples(store, &entries, &range, out),
        Table::Alarms | Table::Commands | Table::Rejected => {
            // Unfiltered, dead letters for names the model lacks (an
            // unbound column, a message for no sensor) are kept too.
            let filter = (!q.names.is_empty()).then_some(entries.as_slice());
            events(store, q.table, filter, &range, out)
        }
    }
}

fn signals(
    store: &mut dyn Store,
    entries: &[Entry],
    range: &Range,
    out: &mut dyn Write,
) -> Result<u64, HistoryError> {
    let header: Vec<String> = entries.iter().map(|e| field(&e.header())).collect();
    writeln!(out, "t,id{}", prefixed(&header)).map_err(io)?;
    let cols: Vec<Option<&str>> = entries.iter().map(|e| e.col.as_deref()).collect();
    let mut n = 0;
    store.signals(&cols, range, &mut |(t, id, values)| {
        let mut line = format!("{},{}", time(t), field(&id));
        for (e, v) in entries.iter().zip(values) {
            line.push(',');
            line.push_str(&e.cell(v));
        }
        writeln!(out, "{line}").map_err(io)?;
        n += 1;
        Ok(())
    })?;
    Ok(n)
}

fn samples(
    store: &mut dyn Store,
    entries: &[Entry],
    range: &Range,
    out: &mut dyn Write,
) -> Result<u64, HistoryError> {
    let header: Vec<String> = entries.iter().map(|e| field(&e.header())).collect();
    writeln!(out, "t,id{}", prefixed(&header)).map_err(io)?;
    let mut n = 0;
    let mut current: Option<(f64, String)> = None;
    let mut cells = vec![String::new(); entries.len()];
    let mut flush = |key: &Option<(f64, String)>, cells: &mut Vec<String>| {
        if let Some((t, id)) = key
            && cells.iter().any(|c| !c.is_empty())
        {
            writeln!(out, "{},{},{}", time(*t), field(id), cells.join(",")).map_err(io)?;
            n += 1;
        }
        cells.iter_mut().for_each(String::clear);
        Ok::<(), HistoryError>(())
    };
    store.samples(range, &mut |(t, id, sensor, v)| {
        if current
            .as_ref()
            .is_none_or(|(ct, cid)| *ct != t || *cid != id)
        {
            flush(&current, &mut cells)?;
            current = Some((t, id));
        }
        if let Some(c) = entries.iter().position(|e| e.name == sensor) {
            cells[c] = entries[c].cell(v);
        }
        Ok(())
    })?;
    flush(&current, &mut cells)?;
    Ok(n)
}

fn events(
    store: &mut dyn Store,
    table: Table,
    filter: Option<&[Entry]>,
    range: &Range,
    out: &mut dyn Write,
) -> Result<u64, HistoryError> {
    let (header, _, _) = event_columns(table);
    writeln!(out, "{header}").map_err(io)?;
    let mut n = 0;
    store.events(table, range, &mut |row| {
        let cells: Vec<String> = row
            .into_iter()
            .enumerate()
            .map(|(c, cell)| match cell {
                Cell::Null => String::new(),
                Cell::Real(v) if c == 0 => time(v),
                Cell::Real(v) => number(v),
                Cell::Integer(v) => v.to_string(),
                Cell::Text(s) => s,
            })
            .collect();
        if filter.is_some_and(|f| !f.iter().any(|e| Some(&e.name) == cells.get(2))) {
            return Ok(());
        }
        let line: Vec<String> = cells.iter().map(|c| field(c)).collect();
        writeln!(out, "{}", line.join(",")).map_err(io)?;
        n += 1;
        Ok(())
    })?;
    Ok(n)
}

/// `,a,b,c`.
fn prefixed(cells: &[String]) -> String {
    cells.iter().map(|c| format!(",{c}")).collect()
}
