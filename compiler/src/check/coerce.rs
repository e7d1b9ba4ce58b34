//! Fitting values to the types they must have.
//!
//! Takes a checked expression and the type a context needs (a declared
//! unit, a condition, the other branch of an `if`); gives whether it fits,
//! reporting `unit-mismatch`, `affine-misuse` or `type-mismatch` with both
//! sides described in the units the user wrote.

use super::Checker;
use super::expr::Scope;
use super::types::{Affinity, Quantity, Ty};
use super::units::Generic;
use crate::diagnostic::{Diagnostic, Kind};
use crate::hir::TExpr;
use crate::syntax::ast::Expr;
use crate::units::Dimension;

impl Checker {
    /// Reports a non-`Bool` condition; true when fine.
    pub(crate) fn expect_bool(&mut self, t: &TExpr, what: &str) -> bool {
        match &t.ty {
            Ty::Bool | Ty::Error => true,
            other => {
                let found = self
                    .written_unit(t)
                    .unwrap_or_else(|| self.type_name(other));
                self.error(
                    Diagnostic::new(
                        Kind::TypeMismatch,
                        t.span,
                        format!("{what} must be true or false, not `{found}`"),
                    )
                    .label(format!("this is `{found}`, not `Bool`"))
                    .with_help("compare it with something, e.g. `x > 0`"),
                );
                false
            }
        }
    }
    /// The common type of two expressions that must agree (the branches
    /// of `if`, the arguments of `min`).
    pub(crate) fn join(
        &mut self,
        ta: &TExpr,
        tb: &TExpr,
        a: &Expr,
        b: &Expr,
        g: &[Generic],
        what: &str,
    ) -> Ty {
        match (&ta.ty, &tb.ty) {
            (Ty::Error, _) | (_, Ty::Error) => Ty::Error,
            (Ty::Int, Ty::Int) => Ty::Int,
            (x, y) if x.is_numeric() && y.is_numeric() => {
                let (Some(qa), Some(qb)) = (x.quantity(), y.quantity()) else {
                    return Ty::Error;
                };
                if qa.dim != qb.dim {
                    let da = self.describe_operand(Scope::Body, a, ta, g);
                    let db = self.describe_operand(Scope::Body, b, tb, g);
                    self.error(
                        Diagnostic::new(
                            Kind::UnitMismatch,
                            a.span.to(b.span),
                            format!("{what} must have the same dimension"),
                        )
                        .label(format!("{da} vs {db}"))
                        .with_secondary(a.span, da)
                        .with_secondary(b.span, db),
                    );
                    return Ty::Error;
                }
                if (qa.affinity == Affinity::Point) != (qb.affinity == Affinity::Point)
                    && (qa.dim == Dimension::base(crate::units::BaseDim::Temperature)
                        || super::probe::mentions_probes(&Ty::Real(qa), g.len()))
                {
                    let d = Diagnostic::new(
                        Kind::AffineMisuse,
                        a.span.to(b.span),
                        format!("{what} mix an absolute temperature with a temperature difference"),
                    )
                    .label("point and difference")
                    .with_help("use two absolute temperatures, or two differences");
                    if !self.affine(d, &[qa.dim], g) {
                        return Ty::Error;
                    }
                }
                let affinity = if qa.affinity == qb.affinity {
                    qa.affinity
                } else {
                    Affinity::Neutral
                };
                Ty::Real(Quantity {
                    dim: qa.dim,
                    affinity,
                })
            }
            (x, y) if x == y => x.clone(),
            (x, y) => {
                let (nx, ny) = (self.type_name(x), self.type_name(y));
                self.error(
                    Diagnostic::new(
                        Kind::TypeMismatch,
                        a.span.to(b.span),
                        format!("{what} must have the same type"),
                    )
                    .label(format!("`{nx}` vs `{ny}`"))
                    .with_secondary(a.span, nx)
                    .with_secondary(b.span, ny),
                );
                Ty::Error
            }
        }
    }
    /// Checks that a value fits a declared type; reports `unit-mismatch`,
    /// `affine-misuse` or `type-mismatch`. True when it fits.
    pub(crate) fn expect_type(
        &mut self,
        want: &Ty,
        got: &TExpr,
        shown: Option<&str>,
        g: &[Generic],
        what: &str,
    ) -> bool {
        match (want, &got.ty) {
            (Ty::Error, _) | (_, Ty::Error) => true,
            (Ty::Real(w), gt) if gt.is_numeric() => {
                let Some(q) = gt.quantity() else { return true };
                if w.dim != q.dim {
                    let dw = self.describe_quantity(w, shown, g);
                    let got_shown = self.written_unit(got);
                    let dg = self.describe_quantity(&q, got_shown.as_deref(), g);
                    self.error(
                        Diagnostic::new(
                            Kind::UnitMismatch,
                            got.span,
                            format!("expected {dw}, found {dg}"),
                        )
                        .label(format!("this is {dg}"))
                        .with_note(format!("{what} is {dw}")),
                    );
                    return false;
                }
                if w.affinity == Affinity::Point
                    && q.affinity != Affinity::Point
                    && !w.dim.is_dimensionless()
                {
                    let d = Diagnostic::new(
                        Kind::AffineMisuse,
                        got.span,
                        "a temperature difference where an absolute temperature is expected",
                    )
                    .label(if q.affinity == Affinity::Delta {
                        "this is a difference of two temperatures"
                    } else {
                        "this is a temperature difference (`K`)"
                    })
                    .with_note(format!("{what} is an absolute temperature"))
                    .with_help("add it to a reference temperature, or declare the target in `K`");
                    return self.affine(d, &[w.dim], g);
                }
                true
            }
            (Ty::Int, Ty::Int) => true,
            (w, gt) if w == gt => true,
            (w, gt) => {
                let (nw, ng) = (self.type_name(w), self.type_name(gt));
                self.error(
                    Diagnostic::new(
                        Kind::TypeMismatch,
                        got.span,
                        format!("expected `{nw}`, found `{ng}`"),
                    )
                    .label(format!("this is `{ng}`"))
                    .with_note(format!("{what} is `{nw}`")),
                );
                false
            }
        }
    }
}
