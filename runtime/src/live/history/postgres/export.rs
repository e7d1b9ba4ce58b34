//! Reading a PostgreSQL history back as CSV.
//!
//! Takes a connection URL and a [`Query`]; gives exactly the CSV that
//! [`crate::live::history::export::Reader`] gives from the SQLite file of
//! the same run: both are a [`Store`] behind one formatter. Rows stream
//! from the server in key order; nothing is written.

use std::io::Write;

use postgres::Client;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::ToSql;

use super::super::HistoryError;
use super::super::export::{Cell, Each, Entry, Query, Range, Store, Table, event_columns, export};
use super::super::schema::{VERSION, quote};
use super::schema::{self, one_line};
use super::{Where, connect};

fn sql(e: postgres::Error) -> HistoryError {
    HistoryError(format!("cannot read the history: {}", one_line(&e)))
}

/// A PostgreSQL history opened for reading.
pub struct PgReader {
    client: Client,
}

impl PgReader {
    /// Connects to `url` and checks that it holds a history this build
    /// reads.
    pub fn open(url: &str) -> Result<PgReader, HistoryError> {
        let (mut client, _, place): (Client, _, Where) = connect(url)?;
        let at = |e: HistoryError| HistoryError(format!("PostgreSQL at {place}: {e}"));
        match schema::version(&mut client).map_err(at)? {
            None => Err(HistoryError(format!(
                "no history in PostgreSQL at {place}: `twinc run` has not written one yet"
            ))),
            Some(v) if v > VERSION => Err(HistoryError(format!(
                "the history in PostgreSQL at {place} was written by a newer twinc (schema version {v}); this build reads up to version {VERSION}"
            ))),
            Some(_) => Ok(PgReader { client }),
        }
    }

    /// The twin the history was last written for.
    pub fn twin(&mut self) -> Result<Option<String>, HistoryError> {
        schema::meta(&mut self.client, "twin")
    }

    /// Writes the query's rows as CSV; gives the number of data rows.
    pub fn export(&mut self, q: &Query, out: &mut dyn Write) -> Result<u64, HistoryError> {
        export(self, q, out)
    }

    /// Streams the rows of `query` (whose parameters are the range).
    fn rows(
        &mut self,
        query: &str,
        range: &Range,
        each: &mut dyn FnMut(&postgres::Row) -> Result<(), HistoryError>,
    ) -> Result<(), HistoryError> {
        let params: [&(dyn ToSql + Sync); 3] = [&range.from, &range.to, &range.twin];
        let mut rows = self
            .client
            .query_raw(query, params.iter().copied())
            .map_err(sql)?;
        while let Some(row) = rows.next().map_err(sql)? {
            each(&row)?;
        }
        Ok(())
    }
}

/// The filter every export query ends with.
const RANGE: &str = "WHERE t >= $1 AND t <= $2 AND ($3::text IS NULL OR instance = $3)";

impl Store for PgReader {
    fn catalog(&mut self, kind: &str) -> Result<Vec<Entry>, HistoryError> {
        let rows = self
            .client
            .query(
                "SELECT name, col, unit, scale, si_offset, format, variants FROM catalog
                 WHERE kind = $1 ORDER BY position",
                &[&kind],
            )
            .map_err(sql)?;
        rows.iter()
            .map(|r| {
                Ok(Entry::new(
                    r.try_get(0)?,
                    r.try_get(1)?,
                    r.try_get(2)?,
                    (r.try_get(3)?, r.try_get(4)?),
                    r.try_get(5)?,
                    r.try_get(6)?,
                ))
            })
            .collect::<Result<_, postgres::Error>>()
            .map_err(sql)
    }

    fn signals(
        &mut self,
        cols: &[Option<&str>],
        range: &Range,
        each: Each<'_, (f64, String, Vec<Option<f64>>)>,
    ) -> Result<(), HistoryError> {
        let width = cols.len();
        let cols: String = cols
            .iter()
            .map(|c| format!(", {}", c.map_or("NULL::float8".into(), quote)))
            .collect();
        let query = format!("SELECT t, instance{cols} FROM signals {RANGE} ORDER BY t, instance");
        self.rows(&query, range, &mut |r| {
            let values = (0..width)
                .map(|c| r.try_get::<_, Option<f64>>(c + 2))
                .collect::<Result<_, _>>()
                .map_err(sql)?;
            each((
                r.try_get(0).map_err(sql)?,
                r.try_get(1).map_err(sql)?,
                values,
            ))
        })
    }

    fn samples(
        &mut self,
        range: &Range,
        each: Each<'_, (f64, String, String, Option<f64>)>,
    ) -> Result<(), HistoryError> {
        let query = format!(
            "SELECT t, instance, sensor, value_si FROM samples {RANGE} ORDER BY t, instance"
        );
        self.rows(&query, range, &mut |r| {
            each((
                r.try_get(0).map_err(sql)?,
                r.try_get(1).map_err(sql)?,
                r.try_get(2).map_err(sql)?,
                r.try_get(3).map_err(sql)?,
            ))
        })
    }

    fn events(
        &mut self,
        table: Table,
        range: &Range,
        each: Each<'_, Vec<Cell>>,
    ) -> Result<(), HistoryError> {
        let (_, select, order) = event_columns(table);
        let query = format!("{select} {RANGE} {order}");
        self.rows(&query, range, &mut |r| {
            let mut cells = Vec::with_capacity(r.len());
            for (c, column) in r.columns().iter().enumerate() {
                let cell = if *column.type_() == postgres::types::Type::FLOAT8 {
                    r.try_get::<_, Option<f64>>(c)
                        .map_err(sql)?
                        .map_or(Cell::Null, Cell::Real)
                } else {
                    r.try_get::<_, Option<String>>(c)
                        .map_err(sql)?
                        .map_or(Cell::Null, Cell::Text)
                };
                cells.push(cell);
            }
            each(cells)
        })
    }
}
