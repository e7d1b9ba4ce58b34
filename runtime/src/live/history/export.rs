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
    fn kind(self) -> &'static str {
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
struct Entry {
    name: String,
    col: Option<String>,
    unit: String,
    scale: f64,
    offset: f64,
    format: String,
    variants: Vec<String>,
}

impl Entry {
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

    fn catalog(&self, kind: &str) -> Result<Vec<Entry>, HistoryError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT name, col, unit, scale, si_offset, format, variants FROM catalog
                 WHERE kind = ?1 ORDER BY position",
            )
            .map_err(sql)?;
        let rows = stmt
            .query_map([kind], |r| {
                let variants: String = r.get(6)?;
                Ok(Entry {
                    name: r.get(0)?,
                    col: r.get(1)?,
                    unit: r.get(2)?,
                    scale: r.get(3)?,
                    offset: r.get(4)?,
                    format: r.get(5)?,
                    variants: variants
                        .split(',')
                        .filter(|v| !v.is_empty())
                        .map(String::from)
                        .collect(),
                })
            })
            .map_err(sql)?;
        rows.collect::<Result<_, _>>().map_err(sql)
    }

    /// The catalog entries the query names (all when it names none), or
    /// an error naming the first unknown one and what there is.
    fn selected(&self, q: &Query) -> Result<Vec<Entry>, HistoryError> {
        let mut all = self.catalog(q.table.kind())?;
        if q.names.is_empty() {
            return Ok(all);
        }
        let mut out = Vec::new();
        for name in &q.names {
            match all.iter().position(|e| e.name == *name) {
                Some(i) => out.push(all.swap_remove(i)),
                None if out.iter().any(|e: &Entry| e.name == *name) => {}
                None => {
                    let mut known: Vec<String> = self
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

    /// Writes the query's rows as CSV; gives the number of data rows.
    pub fn export(&self, q: &Query, out: &mut dyn Write) -> Result<u64, HistoryError> {
        let entries = self.selected(q)?;
        let range = (
            q.from.unwrap_or(f64::NEG_INFINITY),
            q.to.unwrap_or(f64::INFINITY),
            q.twin.clone(),
        );
        match q.table {
            Table::Signals => self.signals(&entries, range, out),
            Table::Samples => self.samples(&entries, range, out),
            Table::Alarms | Table::Commands | Table::Rejected => {
                // Unfiltered, dead letters for names the model lacks (an
                // unbound column, a message for no sensor) are kept too.
                let filter = (!q.names.is_empty()).then_some(entries.as_slice());
                self.events(q.table, filter, range, out)
            }
        }
    }

    fn signals(
        &self,
        entries: &[Entry],
        (from, to, twin): (f64, f64, Option<String>),
        out: &mut dyn Write,
    ) -> Result<u64, HistoryError> {
        let header: Vec<String> = entries.iter().map(|e| field(&e.header())).collect();
        writeln!(out, "t,id{}", prefixed(&header)).map_err(io)?;
        let cols: String = entries
            .iter()
            .map(|e| format!(", {}", e.col.as_deref().map_or("NULL".into(), quote)))
            .collect();
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT t, instance{cols} FROM signals
                 WHERE t >= ?1 AND t <= ?2 AND (?3 IS NULL OR instance = ?3)
                 ORDER BY t, instance"
            ))
            .map_err(sql)?;
        let mut rows = stmt.query(params![from, to, twin]).map_err(sql)?;
        let mut n = 0;
        while let Some(r) = rows.next().map_err(sql)? {
            let t: f64 = r.get(0).map_err(sql)?;
            let id: String = r.get(1).map_err(sql)?;
            let mut line = format!("{},{}", time(t), field(&id));
            for (c, e) in entries.iter().enumerate() {
                let v: Option<f64> = r.get(c + 2).map_err(sql)?;
                line.push(',');
                line.push_str(&e.cell(v));
            }
            writeln!(out, "{line}").map_err(io)?;
            n += 1;
        }
        Ok(n)
    }

    fn samples(
        &self,
        entries: &[Entry],
        (from, to, twin): (f64, f64, Option<String>),
        out: &mut dyn Write,
    ) -> Result<u64, HistoryError> {
        let header: Vec<String> = entries.iter().map(|e| field(&e.header())).collect();
        writeln!(out, "t,id{}", prefixed(&header)).map_err(io)?;
        let mut stmt = self
            .conn
            .prepare(
                "SELECT t, instance, sensor, value_si FROM samples
                 WHERE t >= ?1 AND t <= ?2 AND (?3 IS NULL OR instance = ?3)
                 ORDER BY t, instance",
            )
            .map_err(sql)?;
        let mut rows = stmt.query(params![from, to, twin]).map_err(sql)?;
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
        while let Some(r) = rows.next().map_err(sql)? {
            let t: f64 = r.get(0).map_err(sql)?;
            let id: String = r.get(1).map_err(sql)?;
            let sensor: String = r.get(2).map_err(sql)?;
            let v: Option<f64> = r.get(3).map_err(sql)?;
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
        }
        flush(&current, &mut cells)?;
        Ok(n)
    }

    fn events(
        &self,
        table: Table,
        filter: Option<&[Entry]>,
        (from, to, twin): (f64, f64, Option<String>),
        out: &mut dyn Write,
    ) -> Result<u64, HistoryError> {
        // The third column names the alarm, actuator or sensor.
        let (header, select) = match table {
            Table::Alarms => (
                "t,id,alarm,severity,state,message",
                "SELECT t, instance, alarm, severity, state, message FROM alarms",
            ),
            Table::Commands => (
                "t,id,actuator,value,unit",
                "SELECT t, instance, actuator, value, unit FROM commands",
            ),
            _ => (
                "t,id,sensor,reason,origin,raw",
                "SELECT t, instance, sensor, reason, origin, raw FROM rejected",
            ),
        };
        writeln!(out, "{header}").map_err(io)?;
        let width = header.split(',').count();
        let mut stmt = self
            .conn
            .prepare(&format!(
                "{select} WHERE t >= ?1 AND t <= ?2 AND (?3 IS NULL OR instance = ?3)
                 ORDER BY t, instance"
            ))
            .map_err(sql)?;
        let mut rows = stmt.query(params![from, to, twin]).map_err(sql)?;
        let mut n = 0;
        while let Some(r) = rows.next().map_err(sql)? {
            let mut cells = Vec::with_capacity(width);
            for c in 0..width {
                let cell = match r.get::<_, Value>(c).map_err(sql)? {
                    Value::Null => String::new(),
                    Value::Real(v) if c == 0 => time(v),
                    Value::Real(v) => number(v),
                    Value::Integer(v) => v.to_string(),
                    Value::Text(s) => s,
                    Value::Blob(b) => String::from_utf8_lossy(&b).into_owned(),
                };
                cells.push(cell);
            }
            if filter.is_some_and(|f| !f.iter().any(|e| e.name == cells[2])) {
                continue;
            }
            let line: Vec<String> = cells.iter().map(|c| field(c)).collect();
            writeln!(out, "{}", line.join(",")).map_err(io)?;
            n += 1;
        }
        Ok(n)
    }
}

/// `,a,b,c`.
fn prefixed(cells: &[String]) -> String {
    cells.iter().map(|c| format!(",{c}")).collect()
}
