//! Rows waiting to be written, as the text of `COPY ... FROM STDIN`.
//!
//! Takes the rows the history observes; gives, per table, one buffer in
//! PostgreSQL's COPY text format (tab-separated, `\N` for NULL, with `\`,
//! tab and line breaks escaped), each row led by a sequence number so that
//! a merge can keep the first or the last of rows with the same key.
//! Numbers are written in Rust's shortest round-trip form, which
//! PostgreSQL reads back to the same `f64` bit for bit.

use std::fmt::Write;

/// The tables rows are batched for, in the order they are merged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Signals,
    Samples,
    Alarms,
    Commands,
    Rejected,
}

impl Kind {
    pub(super) const ALL: [Kind; 5] = [
        Kind::Signals,
        Kind::Samples,
        Kind::Alarms,
        Kind::Commands,
        Kind::Rejected,
    ];

    pub(super) fn index(self) -> usize {
        self as usize
    }

    pub(super) fn table(self) -> &'static str {
        match self {
            Kind::Signals => "signals",
            Kind::Samples => "samples",
            Kind::Alarms => "alarms",
            Kind::Commands => "commands",
            Kind::Rejected => "rejected",
        }
    }
}

/// One COPY cell.
pub(super) enum Cell<'a> {
    Real(f64),
    /// A number that NaN makes NULL (a signal not yet known).
    Maybe(f64),
    Text(&'a str),
}

/// Rows to write in one transaction.
#[derive(Default)]
pub(super) struct Batch {
    /// Per [`Kind`], the COPY text of its rows.
    pub(super) text: [String; 5],
    /// Per [`Kind`], how many rows.
    pub(super) rows: [u64; 5],
    /// The run's origin to record in `meta`, when it was learnt.
    pub(super) origin: Option<String>,
}

impl Batch {
    /// Rows in the batch.
    pub(super) fn len(&self) -> u64 {
        self.rows.iter().sum()
    }

    /// Bytes of COPY text in the batch.
    pub(super) fn bytes(&self) -> usize {
        self.text.iter().map(String::len).sum()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len() == 0 && self.origin.is_none()
    }

    /// Appends a row of `kind` with sequence number `seq`.
    pub(super) fn push(&mut self, kind: Kind, seq: u64, cells: &[Cell<'_>]) {
        let out = &mut self.text[kind.index()];
        let _ = write!(out, "{seq}");
        for cell in cells {
            out.push('\t');
            match cell {
                Cell::Real(v) => real(out, *v),
                Cell::Maybe(v) if v.is_nan() => out.push_str("\\N"),
                Cell::Maybe(v) => real(out, *v),
                Cell::Text(s) => text(out, s),
            }
        }
        out.push('\n');
        self.rows[kind.index()] += 1;
    }

    /// Appends `later`'s rows after this batch's (a batch that could not be
    /// written waits for the next with those that came after it).
    pub(super) fn append(&mut self, later: Batch) {
        for (mine, theirs) in self.text.iter_mut().zip(later.text) {
            mine.push_str(&theirs);
        }
        for (mine, theirs) in self.rows.iter_mut().zip(later.rows) {
            *mine += theirs;
        }
        if later.origin.is_some() {
            self.origin = later.origin;
        }
    }
}

/// A number in COPY text: shortest round-trip digits, or PostgreSQL's
/// names for the infinities and NaN.
pub(super) fn real(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v == f64::INFINITY {
        out.push_str("Infinity");
    } else if v == f64::NEG_INFINITY {
        out.push_str("-Infinity");
    } else {
        let _ = write!(out, "{v:?}");
    }
}

/// Text in COPY text, escaped. PostgreSQL text cannot hold NUL, so a NUL
/// (in a dead letter's raw payload, say) is kept as U+FFFD.
pub(super) fn text(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_escaped_copy_text() {
        let mut b = Batch::default();
        b.push(
            Kind::Rejected,
            7,
            &[
                Cell::Real(0.1 + 0.2),
                Cell::Maybe(f64::NAN),
                Cell::Text("a\tb\\c\nd\0"),
                Cell::Real(-0.0),
                Cell::Real(f64::NEG_INFINITY),
                Cell::Real(1e-300),
            ],
        );
        assert_eq!(
            b.text[Kind::Rejected.index()],
            "7\t0.30000000000000004\t\\N\ta\\tb\\\\c\\nd\u{FFFD}\t-0.0\t-Infinity\t1e-300\n"
        );
        assert_eq!(b.len(), 1);
    }
}
