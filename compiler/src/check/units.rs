//! Unit and type expressions.
//!
//! Takes [`UnitExpr`]s and [`TypeExpr`]s from the tree; gives
//! [`crate::units::Unit`]s, [`Ty`]s and display units, reporting
//! `unknown-unit` (with a did-you-mean, and the `2 m * x` fix when a name
//! that is not a unit was glued to a quantity) and `invalid-exponent`.

use super::types::{Affinity, Quantity, Ty};
use super::{Checker, Global};
use crate::diagnostic::{Diagnostic, Kind};
use crate::hir::DisplayUnit;
use crate::span::Span;
use crate::syntax::ast::{TypeExpr, UnitExpr, UnitExprKind};
use crate::units::{BaseDim, Dimension, Rational, Unit};

/// A unit parameter in scope: its name and the stand-in dimension used to
/// check a generic body once for every possible binding.
#[derive(Clone, Debug)]
pub(crate) struct Generic {
    pub name: String,
    pub probe: Dimension,
}

pub(crate) use super::probe::probe;

impl Checker {
    /// Evaluates a unit expression to a unit, with unit parameters as
    /// their probes. `None` after reporting an unknown unit.
    pub(crate) fn eval_unit(
        &mut self,
        m: usize,
        u: &UnitExpr,
        generics: &[Generic],
    ) -> Option<Unit> {
        match &u.kind {
            UnitExprKind::Name(name) => {
                if let Some(g) = generics.iter().find(|g| &g.name == name) {
                    return Some(Unit::si(g.probe));
                }
                if let Some(unit) = self.units.lookup(name) {
                    if let Some(Global::Unit(_)) = self.global(m, name) {}
                    return Some(unit);
                }
                self.unknown_unit(name, u.span, None);
                None
            }
            UnitExprKind::One => Some(Unit::DIMENSIONLESS),
            UnitExprKind::Paren(inner) => self.eval_unit(m, inner, generics),
            UnitExprKind::Mul(a, b) => {
                let a = self.eval_unit(m, a, generics);
                let b = self.eval_unit(m, b, generics);
                self.fits(a?.mul(&b?), u.span)
            }
            UnitExprKind::Div(a, b) => {
                let a = self.eval_unit(m, a, generics);
                let b = self.eval_unit(m, b, generics);
                self.fits(a?.div(&b?), u.span)
            }
            UnitExprKind::Pow(a, n, d) => {
                let base = self.eval_unit(m, a, generics)?;
                match Rational::new(*n, *d) {
                    Some(r) => self.fits(base.powr(r), u.span),
                    None => {
                        self.error(
                            Diagnostic::new(
                                Kind::InvalidUnitExponent,
                                u.span,
                                "a unit exponent cannot have a zero denominator",
                            )
                            .label("zero denominator"),
                        );
                        None
                    }
                }
            }
        }
    }

    /// Passes a unit through, reporting exponents that saturated (only
    /// absurd towers of powers get there).
    fn fits(&mut self, unit: Unit, span: Span) -> Option<Unit> {
        let saturated = unit
            .dim
            .exponents()
            .iter()
            .any(|r| r.numer().abs() == i32::MAX || r.denom() == i32::MAX);
        if saturated {
            self.exponent_overflow(span);
            return None;
        }
        Some(unit)
    }

    /// Reports an unknown unit name, with a did-you-mean; `glued` is the
    /// source text of the whole quantity literal when the name came from
    /// one (for the `2 m*x` → `2 m * x` fix).
    pub(crate) fn unknown_unit(&mut self, name: &str, span: Span, glued: Option<(&str, u32)>) {
        let mut d = Diagnostic::new(Kind::UnknownUnit, span, format!("unknown unit `{name}`"))
            .label("not a unit");
        if let Some((text, start)) = glued {
            // The name sits after an operator inside a compact unit: the
            // author most likely meant to multiply or divide by a value.
            let at = (span.start - start) as usize;
            if at > 0 && text.is_char_boundary(at - 1) && matches!(&text[at - 1..at], "*" | "/") {
                let fixed = format!(
                    "{} {} {}",
                    text[..at - 1].trim_end(),
                    &text[at - 1..at],
                    &text[at..]
                );
                d = d
                    .with_help(format!("to use `{name}` as a value, put spaces around the operator: `{fixed}`"))
                    .with_note("a quantity's unit is written without spaces, so `2 m*x` reads `m*x` as one unit");
                self.error(d);
                return;
            }
        }
        if let Some(best) = self.units.suggest(name) {
            d = d.with_help(format!("did you mean `{best}`?"));
        }
        self.error(d);
    }

    /// The value in SI of a quantity literal, and its type.
    pub(crate) fn quantity_literal(
        &mut self,
        m: usize,
        value: f64,
        unit: &UnitExpr,
        literal_span: Span,
        generics: &[Generic],
    ) -> Option<(f64, Quantity)> {
        let unit = self.eval_unit_glued(m, unit, generics, literal_span)?;
        let (si, affinity) = if unit.is_affine() {
            (unit.to_si(value), Affinity::Point)
        } else {
            (value * unit.scale, Affinity::Neutral)
        };
        Some((
            si,
            Quantity {
                dim: unit.dim,
                affinity,
            },
        ))
    }

    fn eval_unit_glued(
        &mut self,
        m: usize,
        u: &UnitExpr,
        generics: &[Generic],
        literal: Span,
    ) -> Option<Unit> {
        match &u.kind {
            UnitExprKind::Name(name) => {
                if let Some(g) = generics.iter().find(|g| &g.name == name) {
                    return Some(Unit::si(g.probe));
                }
                if let Some(unit) = self.units.lookup(name) {
                    return Some(unit);
                }
                let text = self.text(literal).to_string();
                self.unknown_unit(name, u.span, Some((&text, literal.start)));
                None
            }
            UnitExprKind::Mul(a, b) => {
                let a = self.eval_unit_glued(m, a, generics, literal);
                let b = self.eval_unit_glued(m, b, generics, literal);
                self.fits(a?.mul(&b?), u.span)
            }
            UnitExprKind::Div(a, b) => {
                let a = self.eval_unit_glued(m, a, generics, literal);
                let b = self.eval_unit_glued(m, b, generics, literal);
                self.fits(a?.div(&b?), u.span)
            }
            UnitExprKind::Paren(a) => self.eval_unit_glued(m, a, generics, literal),
            _ => self.eval_unit(m, u, generics),
        }
    }

    /// Resolves a type annotation to a type and the unit values of that
    /// type are shown in.
    pub(crate) fn resolve_type(
        &mut self,
        m: usize,
        te: &TypeExpr,
        generics: &[Generic],
    ) -> (Ty, DisplayUnit) {
        if let Some(name) = te.unit.as_name() {
            match name {
                "Real" => return (Ty::NUMBER, DisplayUnit::si("1")),
                "Bool" => return (Ty::Bool, DisplayUnit::si("")),
                "Int" => return (Ty::Int, DisplayUnit::si("1")),
                _ => {}
            }
            if let Some(g) = generics.iter().find(|g| g.name == name) {
                // A bare unit parameter may be bound to an absolute
                // temperature, so the body treats it as one; what that
                // forbids is kept for the calls that bind one
                // ([`Checker::affine`]).
                let q = Quantity {
                    dim: g.probe,
                    affinity: Affinity::Point,
                };
                return (Ty::Real(q), DisplayUnit::si(name));
            }
            if self.units.lookup(name).is_none()
                && let Some(Global::Enum(e)) = self.global(m, name)
            {
                return (Ty::Enum(e), DisplayUnit::si(""));
            }
        }
        match self.eval_unit(m, &te.unit, generics) {
            Some(unit) => {
                let affinity = if unit.is_affine() {
                    Affinity::Point
                } else {
                    Affinity::Neutral
                };
                let shown = DisplayUnit {
                    text: te.unit.to_compact(),
                    scale: unit.scale,
                    offset: if unit.is_affine() { unit.offset } else { 0.0 },
                };
                (
                    Ty::Real(Quantity {
                        dim: unit.dim,
                        affinity,
                    }),
                    shown,
                )
            }
            None => (Ty::Error, DisplayUnit::si("")),
        }
    }

    /// Enters a `unit name = ...` declaration into the unit table.
    pub(crate) fn check_unit_decl(&mut self, i: usize) {
        let at = self.unit_items[i];
        let super::ast::ItemKind::Unit(decl) = &self.item(at).kind else {
            return;
        };
        let decl = decl.clone();
        let Some(unit) = self.eval_unit(at.module, &decl.unit, &[]) else {
            return;
        };
        let factor = decl.factor.unwrap_or(1.0);
        let mut defined = unit;
        defined.scale *= factor;
        if self.units.contains_exact(&decl.name.name) {
            self.error(
                Diagnostic::new(
                    Kind::DuplicateDefinition,
                    decl.name.span,
                    format!("unit `{}` already exists", decl.name.name),
                )
                .label("a built-in unit has this name")
                .with_help("choose another name"),
            );
            return;
        }
        self.units.define(&decl.name.name, defined);
    }

    /// How a quantity is described in messages: `` `A` (current) ``.
    pub(crate) fn describe_quantity(
        &self,
        q: &Quantity,
        shown: Option<&str>,
        generics: &[Generic],
    ) -> String {
        if let Some(g) = generics.iter().find(|g| g.probe == q.dim) {
            return format!("`{}` (unit parameter)", g.name);
        }
        if let Some(written) = with_unit_params(q.dim, generics) {
            // Not `shown`: a value inferred in a generic body shows its
            // stand-in dimension there.
            return format!("`{written}`");
        }
        let symbol = match (shown, q.affinity) {
            (Some(s), _) => s.to_string(),
            (None, Affinity::Point) if q.dim == Dimension::base(BaseDim::Temperature) => {
                "degC".into()
            }
            (None, _) => q.dim.si_symbol(),
        };
        let what = match q.affinity {
            Affinity::Point => "absolute temperature".to_string(),
            Affinity::Delta => "temperature difference".to_string(),
            Affinity::Neutral => q.dim.describe(),
        };
        if symbol == what || symbol.is_empty() {
            format!("`{symbol}`")
        } else {
            format!("`{symbol}` ({what})")
        }
    }
}

/// A dimension that holds unit parameters, written with their names:
/// `U/s`, `U^2`, `U*V/m`. `None` when it holds none (or is not a product
/// of powers of them and a plain dimension).
pub(crate) fn with_unit_params(dim: Dimension, generics: &[Generic]) -> Option<String> {
    if generics.is_empty() {
        return None;
    }
    let (known, exps) = super::probe::split_probes(dim, generics.len())?;
    if exps.iter().all(|e| e.is_zero()) {
        return None;
    }
    let power = |name: &str, e: Rational| {
        if e == Rational::ONE {
            name.to_string()
        } else if e.is_integer() {
            format!("{name}^{e}")
        } else {
            format!("{name}^({e})")
        }
    };
    let mut num = Vec::new();
    let mut den = Vec::new();
    for (g, &e) in generics.iter().zip(&exps) {
        if e > Rational::ZERO {
            num.push(power(&g.name, e));
        } else if e < Rational::ZERO {
            den.push(power(&g.name, -e));
        }
    }
    // The plain part, split the same way: `m/s` puts `m` up and `s` down.
    let mut up = Dimension::NONE;
    let mut down = Dimension::NONE;
    for base in BaseDim::ALL {
        let e = known.exponent(base);
        let part = Dimension::base(base).checked_pow(if e < Rational::ZERO { -e } else { e })?;
        if e > Rational::ZERO {
            up = up.checked_mul(&part)?;
        } else if e < Rational::ZERO {
            down = down.checked_mul(&part)?;
        }
    }
    if !up.is_dimensionless() {
        num.push(up.si_symbol());
    }
    if !down.is_dimensionless() {
        den.push(down.si_symbol());
    }
    let num = if num.is_empty() {
        "1".to_string()
    } else {
        num.join("*")
    };
    Some(match den.as_slice() {
        [] => num,
        [one] if !one.contains(['*', '/']) => format!("{num}/{one}"),
        _ => format!("{num}/({})", den.join("*")),
    })
}
