//! Quantities written by users outside `.twin` files.
//!
//! Takes text such as `50W/K`, `68 degF`, `10ms`, `1.5` or a bare unit
//! such as `mA` (a CSV header's); gives the number and the unit, using the
//! same compact-unit syntax as quantity literals. Used at the I/O boundary:
//! `--set`, `--dt`, `--until`, CSV headers.

use super::{Rational, Unit, UnitTable};
use crate::span::FileId;
use crate::syntax::ast::{UnitExpr, UnitExprKind};
use crate::syntax::lexer::scan_compact_unit;

/// Evaluates a unit expression against a unit table.
pub fn eval_unit(table: &UnitTable, u: &UnitExpr) -> Result<Unit, String> {
    Ok(match &u.kind {
        UnitExprKind::Name(n) => table.lookup(n).ok_or_else(|| match table.suggest(n) {
            Some(s) => format!("unknown unit `{n}` (did you mean `{s}`?)"),
            None => format!("unknown unit `{n}`"),
        })?,
        UnitExprKind::One => Unit::DIMENSIONLESS,
        UnitExprKind::Paren(a) => eval_unit(table, a)?,
        UnitExprKind::Mul(a, b) => eval_unit(table, a)?.mul(&eval_unit(table, b)?),
        UnitExprKind::Div(a, b) => eval_unit(table, a)?.div(&eval_unit(table, b)?),
        UnitExprKind::Pow(a, n, d) => {
            let r = Rational::new(*n, *d).ok_or("a unit exponent with a zero denominator")?;
            eval_unit(table, a)?.powr(r)
        }
    })
}

/// Parses a unit written alone, such as `mA` or `W/(m^2*K)`.
pub fn parse_unit(table: &UnitTable, text: &str) -> Result<Unit, String> {
    let text = text.trim();
    match scan_compact_unit(text, FileId(0), 0) {
        Some((u, len)) if len == text.len() => eval_unit(table, &u),
        _ => Err(format!("`{text}` is not a unit")),
    }
}

/// Parses `NUMBER[ ]UNIT?`; gives the number and the unit when written.
pub fn parse_quantity(table: &UnitTable, text: &str) -> Result<(f64, Option<Unit>), String> {
    let text = text.trim();
    let split = text
        .char_indices()
        .find(|&(i, ch)| {
            !(ch.is_ascii_digit()
                || ch == '.'
                || ch == '_'
                || ((ch == '-' || ch == '+')
                    && (i == 0 || matches!(text.as_bytes()[i - 1], b'e' | b'E')))
                || ((ch == 'e' || ch == 'E')
                    && i > 0
                    && text[i + 1..]
                        .starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+')))
        })
        .map_or(text.len(), |(i, _)| i);
    let (number, unit) = text.split_at(split);
    let cleaned: String = number.chars().filter(|&c| c != '_').collect();
    let value: f64 = cleaned
        .parse()
        .map_err(|_| format!("`{text}` does not start with a number"))?;
    let unit = unit.trim();
    if unit.is_empty() {
        return Ok((value, None));
    }
    Ok((value, Some(parse_unit(table, unit)?)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::{BaseDim, Dimension};

    #[test]
    fn quantities() {
        let t = UnitTable::builtin();
        let (v, u) = parse_quantity(&t, "50W/K").unwrap_or((0.0, None));
        assert_eq!(v, 50.0);
        assert_eq!(u.map(|u| u.scale), Some(1.0));
        let (v, u) = parse_quantity(&t, "68 degF").unwrap_or((0.0, None));
        let si = u.map(|u| u.to_si(v)).unwrap_or(0.0);
        assert!((si - 293.15).abs() < 1e-9);
        let (v, u) = parse_quantity(&t, "10ms").unwrap_or((0.0, None));
        assert_eq!(u.map(|u| u.to_si(v)), Some(0.01));
        assert_eq!(parse_quantity(&t, "1.5e-3").map(|q| q.0), Ok(0.0015));
        assert_eq!(parse_quantity(&t, "-2").map(|q| q.0), Ok(-2.0));
        assert!(parse_quantity(&t, "abc").is_err());
        assert!(parse_quantity(&t, "5 furlongs").is_err());
        let u = parse_unit(&t, "L/min").map(|u| u.dim);
        assert_eq!(
            u,
            Ok(Dimension::base(BaseDim::Length)
                .pow(Rational::int(3))
                .div(&Dimension::base(BaseDim::Time)))
        );
    }
}
