//! Telemetry CSV files.
//!
//! Takes the text of a CSV file whose header is `t` then one column per
//! signal, each optionally with a unit in brackets (`current[mA]`); gives
//! [`Inputs`]: per column, its samples in time order, each either a value or
//! the reason it was rejected. Structural problems (no `t` column, an
//! empty file) are errors; bad cells and rows are data-quality findings:
//! rejected, counted and kept for the report.

use std::fmt;

/// Why a sample was not applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reject {
    /// Not a number (`abc`).
    Garbled,
    /// `NaN`.
    NotANumber,
    /// `inf` or `-inf`.
    Infinite,
    /// Outside the signal's declared range (decided by the consumer).
    OutOfRange,
    /// Its time is before the previous sample's.
    Late,
    /// The same time as the previous sample.
    Duplicate,
    /// A message payload that is not JSON.
    NotJson,
    /// A message without the field its binding points at.
    MissingField,
    /// A unit that does not exist or does not fit the sensor.
    UnknownUnit,
    /// A message for an instance id that is not running.
    UnknownTwin,
    /// A message on a topic (or a CSV column) no binding reads.
    Unbound,
}

impl Reject {
    /// Every reason, in order.
    pub const ALL: [Reject; 11] = [
        Reject::Garbled,
        Reject::NotANumber,
        Reject::Infinite,
        Reject::OutOfRange,
        Reject::Late,
        Reject::Duplicate,
        Reject::NotJson,
        Reject::MissingField,
        Reject::UnknownUnit,
        Reject::UnknownTwin,
        Reject::Unbound,
    ];

    /// A short machine name (`out_of_range`) for metrics and history.
    pub fn code(self) -> &'static str {
        match self {
            Reject::Garbled => "not_a_number",
            Reject::NotANumber => "nan",
            Reject::Infinite => "infinite",
            Reject::OutOfRange => "out_of_range",
            Reject::Late => "late",
            Reject::Duplicate => "duplicate",
            Reject::NotJson => "not_json",
            Reject::MissingField => "missing_field",
            Reject::UnknownUnit => "unknown_unit",
            Reject::UnknownTwin => "unknown_twin",
            Reject::Unbound => "unbound",
        }
    }
}

impl fmt::Display for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reject::Garbled => "not a number",
            Reject::NotANumber => "NaN",
            Reject::Infinite => "infinite",
            Reject::OutOfRange => "out of range",
            Reject::Late => "older than the held sample",
            Reject::Duplicate => "duplicate",
            Reject::NotJson => "not JSON",
            Reject::MissingField => "missing field",
            Reject::UnknownUnit => "unknown unit",
            Reject::UnknownTwin => "unknown twin id",
            Reject::Unbound => "no binding reads it",
        })
    }
}

/// One cell of one column.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    /// Its time, in s.
    pub t: f64,
    /// Its value (in the column's unit), or why it was rejected.
    pub value: Result<f64, Reject>,
    /// The 1-based line of the file it came from.
    pub line: usize,
}

/// A signal column.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    /// The signal's name.
    pub name: String,
    /// The unit written in the header, if any (`mA` for `current[mA]`).
    pub unit: Option<String>,
    /// Its samples in file order (empty cells are not samples).
    pub samples: Vec<Sample>,
}

/// A parsed telemetry file.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Inputs {
    /// The signal columns, in header order.
    pub columns: Vec<Column>,
    /// Rows dropped whole because their time was unreadable (line, text).
    pub bad_rows: Vec<(usize, String)>,
}

/// A CSV file that cannot be used at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputError(pub String);

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}

/// Parses a number the way telemetry writes them, classifying failures.
pub fn parse_value(cell: &str) -> Result<f64, Reject> {
    let cell = cell.trim();
    match cell.parse::<f64>() {
        Ok(v) if v.is_nan() => Err(Reject::NotANumber),
        Ok(v) if v.is_infinite() => Err(Reject::Infinite),
        Ok(v) => Ok(v),
        Err(_) => Err(Reject::Garbled),
    }
}

/// Splits one CSV line, honouring double quotes.
fn split_line(line: &str) -> Vec<String> {
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cell.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => cells.push(std::mem::take(&mut cell)),
            _ => cell.push(c),
        }
    }
    cells.push(cell);
    cells
}

/// Splits a header cell `current[mA]` into name and unit.
fn header(cell: &str) -> (String, Option<String>) {
    let cell = cell.trim();
    match cell.split_once('[') {
        Some((name, rest)) => (
            name.trim().to_string(),
            Some(rest.trim_end_matches(']').trim().to_string()).filter(|u| !u.is_empty()),
        ),
        None => (cell.to_string(), None),
    }
}

/// Parses a telemetry CSV file.
pub fn read_inputs(text: &str) -> Result<Inputs, InputError> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((_, head)) = lines.next() else {
        return Err(InputError(
            "the file is empty; it needs a header `t,<sensor>,...`".into(),
        ));
    };
    let heads = split_line(head);
    let (first, _) = header(heads.first().map_or("", String::as_str));
    if first != "t" {
        return Err(InputError(format!(
            "the first column must be `t` (time in s), found `{first}`"
        )));
    }
    let mut inputs = Inputs::default();
    for cell in &heads[1..] {
        let (name, unit) = header(cell);
        if name.is_empty() {
            return Err(InputError("a column has no name in the header".into()));
        }
        if inputs.columns.iter().any(|c| c.name == name) {
            return Err(InputError(format!(
                "column `{name}` appears twice in the header"
            )));
        }
        inputs.columns.push(Column {
            name,
            unit,
            samples: Vec::new(),
        });
    }
    let mut last_t: Vec<Option<f64>> = vec![None; inputs.columns.len()];
    for (line, row) in lines {
        let cells = split_line(row);
        let t = match parse_value(&cells[0]) {
            Ok(t) => t,
            Err(_) => {
                inputs.bad_rows.push((line, row.to_string()));
                continue;
            }
        };
        for (k, column) in inputs.columns.iter_mut().enumerate() {
            let Some(cell) = cells.get(k + 1).filter(|c| !c.trim().is_empty()) else {
                continue;
            };
            let mut value = parse_value(cell);
            if value.is_ok() {
                match last_t[k] {
                    Some(prev) if t < prev => value = Err(Reject::Late),
                    Some(prev) if t == prev => value = Err(Reject::Duplicate),
                    _ => last_t[k] = Some(t),
                }
            }
            column.samples.push(Sample { t, value, line });
        }
    }
    Ok(inputs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_with_units_and_bad_cells() {
        let inputs =
            read_inputs("t,p[bar],q\n0,2,1\n1,NaN,\n2,abc,3\n3,inf,4\nx,1,1\n").unwrap_or_default();
        assert_eq!(inputs.columns[0].unit.as_deref(), Some("bar"));
        let p: Vec<_> = inputs.columns[0].samples.iter().map(|s| s.value).collect();
        assert_eq!(
            p,
            vec![
                Ok(2.0),
                Err(Reject::NotANumber),
                Err(Reject::Garbled),
                Err(Reject::Infinite)
            ]
        );
        // Empty cells are not samples.
        assert_eq!(inputs.columns[1].samples.len(), 3);
        assert_eq!(inputs.bad_rows, vec![(6, "x,1,1".to_string())]);
    }

    #[test]
    fn late_and_duplicate_samples() {
        let inputs = read_inputs("t,a\n0,1\n2,2\n1,3\n2,4\n3,5\n").unwrap_or_default();
        let a: Vec<_> = inputs.columns[0].samples.iter().map(|s| s.value).collect();
        assert_eq!(
            a,
            vec![
                Ok(1.0),
                Ok(2.0),
                Err(Reject::Late),
                Err(Reject::Duplicate),
                Ok(5.0)
            ]
        );
    }

    #[test]
    fn structural_errors() {
        assert!(read_inputs("").is_err());
        assert!(read_inputs("time,a\n").is_err());
        assert!(read_inputs("t,a,a\n").is_err());
        assert!(read_inputs("t,\n").is_err());
    }

    #[test]
    fn quoted_cells() {
        assert_eq!(split_line(r#"1,"2,5","a""b""#), vec!["1", "2,5", "a\"b"]);
    }
}
