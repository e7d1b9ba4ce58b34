//! Unit parameters: inference at each call.
//!
//! Takes a signature's parameter types (products of known units and unit
//! parameters such as `U` or `U/s`) and the arguments' types; gives the
//! unit each parameter stands for at this call, the result type, and
//! `unit-mismatch` for arguments that do not fit.
//!
//! Absolute temperatures: a `degC` parameter takes only one (and a
//! `-> degC` result is one). A unit parameter is one at a call when an
//! argument for a bare `x: U` is one, and then every bare-`U` argument
//! must be; any other form of it (`U^1`, `U/s`) is a derived quantity,
//! for a temperature a difference, and takes none (`affine-misuse`).

use super::Checker;
use super::expr::error_expr;
use super::types::{Affinity, Quantity, Ty};
use super::units::Generic;
use crate::diagnostic::{Diagnostic, Kind};
use crate::hir::{TExpr, TExprKind};
use crate::span::Span;
use crate::syntax::ast::{TypeExpr, UnitExpr, UnitExprKind};
use crate::units::{Dimension, Rational, Unit};

/// A parameter type split into its known part and its unit-parameter
/// exponents.
pub(crate) struct Split {
    known: Unit,
    exps: Vec<Rational>,
    /// The type is exactly one unit parameter (`x: U`).
    bare: Option<usize>,
    /// The type is exactly an affine unit (`x: degC`): an absolute
    /// temperature. Products and powers of units drop the offset, so
    /// `known` alone cannot tell `degC` from `K`.
    point: bool,
}

impl Split {
    /// Whether the type mentions a unit parameter at all.
    pub(crate) fn mentions_generics(&self) -> bool {
        self.exps.iter().any(|e| !e.is_zero())
    }

    /// Whether the type mentions a unit parameter in any form but the bare
    /// name (`U^1`, `U/s`, `W/U`): a quantity derived from the unit, which
    /// for a temperature is a difference.
    fn derived(&self) -> bool {
        self.bare.is_none() && self.mentions_generics()
    }
}

/// `known × Π solved[i]^exps[i]` over the solved unit parameters.
pub(crate) fn known_part(
    known: Dimension,
    solved: &[Option<Quantity>],
    exps: &[Rational],
) -> Option<Dimension> {
    let mut dim = known;
    for (s, e) in solved.iter().zip(exps) {
        if let Some(s) = s {
            dim = dim.checked_mul(&s.dim.checked_pow(*e)?)?;
        }
    }
    Some(dim)
}

/// Settles whether each unit parameter bound by bare arguments
/// (`x: U`) is an absolute temperature: it is when any of them is one
/// (the others must then be one too, as for the arguments of `min`).
/// Gives, per unit parameter, the first argument that made it a point.
fn bare_affinities(
    splits: &[Option<Split>],
    targs: &[Option<TExpr>],
    solved: &mut [Option<Quantity>],
) -> Vec<Option<usize>> {
    let mut first_point = vec![None; solved.len()];
    for (i, s) in solved.iter_mut().enumerate() {
        let Some(s) = s else { continue };
        let bound: Vec<(usize, Affinity)> = splits
            .iter()
            .zip(targs)
            .enumerate()
            .filter(|(_, (sp, _))| sp.as_ref().is_some_and(|sp| sp.bare == Some(i)))
            .filter_map(|(k, (_, a))| Some((k, a.as_ref()?.ty.quantity()?)))
            .filter(|(_, q)| q.dim == s.dim)
            .map(|(k, q)| (k, q.affinity))
            .collect();
        first_point[i] = bound
            .iter()
            .find(|(_, a)| *a == Affinity::Point)
            .map(|(k, _)| *k);
        s.affinity = if first_point[i].is_some() {
            Affinity::Point
        } else if !bound.is_empty() && bound.iter().all(|(_, a)| *a == Affinity::Delta) {
            Affinity::Delta
        } else {
            Affinity::Neutral
        };
    }
    first_point
}

impl Checker {
    /// Splits a signature type into known units and unit-parameter powers.
    pub(crate) fn split_type(&mut self, te: &UnitExpr, generics: &[String]) -> Option<Split> {
        let mut exps = vec![Rational::ZERO; generics.len()];
        let known = self.split_rec(te, generics, &mut exps, Rational::ONE)?;
        let mut inner = te;
        while let UnitExprKind::Paren(x) = &inner.kind {
            inner = x;
        }
        let (bare, point) = match &inner.kind {
            UnitExprKind::Name(n) => match generics.iter().position(|g| g == n) {
                Some(i) => (Some(i), false),
                None => (None, self.units.lookup(n).is_some_and(|u| u.is_affine())),
            },
            _ => (None, false),
        };
        Some(Split {
            known,
            exps,
            bare,
            point,
        })
    }
    pub(crate) fn split_rec(
        &mut self,
        u: &UnitExpr,
        generics: &[String],
        exps: &mut [Rational],
        sign: Rational,
    ) -> Option<Unit> {
        match &u.kind {
            UnitExprKind::Name(n) => {
                if let Some(i) = generics.iter().position(|g| g == n) {
                    exps[i] = exps[i].add(sign)?;
                    return Some(Unit::DIMENSIONLESS);
                }
                match n.as_str() {
                    "Real" => Some(Unit::DIMENSIONLESS),
                    _ => self.units.lookup(n).map(|x| x.powr(sign)),
                }
            }
            UnitExprKind::One => Some(Unit::DIMENSIONLESS),
            UnitExprKind::Paren(a) => self.split_rec(a, generics, exps, sign),
            UnitExprKind::Mul(a, b) => {
                let a = self.split_rec(a, generics, exps, sign)?;
                let b = self.split_rec(b, generics, exps, sign)?;
                Some(a.mul(&b))
            }
            UnitExprKind::Div(a, b) => {
                let a = self.split_rec(a, generics, exps, sign)?;
                let b = self.split_rec(b, generics, exps, -sign)?;
                Some(a.mul(&b))
            }
            UnitExprKind::Pow(a, n, d) => {
                let r = Rational::new(*n, *d)?;
                self.split_rec(a, generics, exps, sign.mul(r)?)
            }
        }
    }
    /// Infers unit parameters from arguments and checks every argument's
    /// dimension. Gives the inferred quantities (None where not inferred).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn infer_and_check_args(
        &mut self,
        callee: &str,
        generics: &[String],
        param_types: &[Option<TypeExpr>],
        param_names: &[String],
        targs: &[Option<TExpr>],
        g: &[Generic],
    ) -> Vec<Option<Quantity>> {
        let mut solved: Vec<Option<Quantity>> = vec![None; generics.len()];
        let mut splits = Vec::new();
        for te in param_types {
            splits.push(
                te.as_ref()
                    .and_then(|te| self.split_type(&te.unit, generics)),
            );
        }
        // Solve in passes: each pass may unlock parameters that mention
        // several unit parameters.
        for _ in 0..=generics.len() {
            for (k, split) in splits.iter().enumerate() {
                let (Some(split), Some(Some(arg))) = (split, targs.get(k)) else {
                    continue;
                };
                let Some(q) = arg.ty.quantity() else { continue };
                let unknown: Vec<usize> = (0..generics.len())
                    .filter(|&i| !split.exps[i].is_zero() && solved[i].is_none())
                    .collect();
                if unknown.len() != 1 {
                    continue;
                }
                let i = unknown[0];
                let Some(rest) = known_part(split.known.dim, &solved, &split.exps) else {
                    continue;
                };
                let Some(inv) = split.exps[i].recip() else {
                    continue;
                };
                let Some(dim) = q.dim.checked_div(&rest).and_then(|d| d.checked_pow(inv)) else {
                    continue;
                };
                solved[i] = Some(Quantity {
                    dim,
                    affinity: Affinity::Neutral,
                });
            }
        }
        let first_point = bare_affinities(&splits, targs, &mut solved);
        for (k, split) in splits.iter().enumerate() {
            let (Some(split), Some(Some(arg))) = (split, targs.get(k)) else {
                continue;
            };
            if arg.ty.is_error() {
                continue;
            }
            if split
                .exps
                .iter()
                .enumerate()
                .any(|(i, e)| !e.is_zero() && solved[i].is_none())
            {
                continue;
            }
            let Some(dim) = known_part(split.known.dim, &solved, &split.exps) else {
                continue;
            };
            let want_affinity = match split.bare {
                Some(i) => solved[i].map_or(Affinity::Neutral, |s| s.affinity),
                None if split.point => Affinity::Point,
                None => Affinity::Neutral,
            };
            let shown = param_types[k].as_ref().map(|t| t.unit.to_compact());
            let want = if matches!(
                param_types[k].as_ref().and_then(|t| t.unit.as_name()),
                Some("Bool")
            ) {
                Ty::Bool
            } else {
                Ty::Real(Quantity {
                    dim,
                    affinity: want_affinity,
                })
            };
            let what = format!("parameter `{}` of `{callee}`", param_names[k]);
            if matches!(want, Ty::Real(_)) && !arg.ty.is_numeric()
                || want == Ty::Bool && arg.ty != Ty::Bool
            {
                let (nw, ng) = (self.type_name(&want), self.type_name(&arg.ty));
                self.error(
                    Diagnostic::new(
                        Kind::ArgumentMismatch,
                        arg.span,
                        format!("expected `{nw}`, found `{ng}`"),
                    )
                    .label(format!("this is `{ng}`"))
                    .with_note(format!("{what} is `{nw}`")),
                );
                continue;
            }
            if let Ty::Real(wq) = want
                && let Some(q) = arg.ty.quantity()
                && wq.dim != q.dim
            {
                let dw = self.describe_quantity(&wq, shown.as_deref(), g);
                let dg = self.describe_quantity(&q, None, g);
                self.error(
                    Diagnostic::new(
                        Kind::UnitMismatch,
                        arg.span,
                        format!("expected {dw}, found {dg}"),
                    )
                    .label(format!("this is {dg}"))
                    .with_note(format!("{what} is {dw}")),
                );
                continue;
            }
            if let Some(q) = arg.ty.quantity() {
                let from = split.bare.and_then(|i| first_point[i]);
                let from = from.map(|k| param_names[k].as_str());
                let shown = shown.unwrap_or_default();
                self.check_arg_affinity(arg, q, want_affinity, split, &what, &shown, from, g);
            }
        }
        solved
    }

    /// Reports an argument on the wrong side of an affine scale: a
    /// difference where the parameter is an absolute temperature (`degC`,
    /// or a bare `U` that another argument made one), or an absolute
    /// temperature where the parameter is derived from a unit parameter
    /// (`U^1`, `U/s`), which makes it a difference. `from` names the
    /// argument that made the unit parameter a point.
    #[allow(clippy::too_many_arguments)]
    fn check_arg_affinity(
        &mut self,
        arg: &TExpr,
        q: Quantity,
        want: Affinity,
        split: &Split,
        what: &str,
        shown: &str,
        from: Option<&str>,
        g: &[Generic],
    ) {
        if q.dim.is_dimensionless() {
            return;
        }
        if want == Affinity::Point && q.affinity != Affinity::Point {
            let note = match (split.bare, from) {
                (Some(_), Some(from)) => format!(
                    "{what} is `{shown}`, an absolute temperature at this call: `{from}` is one"
                ),
                _ => format!("{what} is an absolute temperature"),
            };
            self.affine(
                Diagnostic::new(
                    Kind::AffineMisuse,
                    arg.span,
                    "a temperature difference where an absolute temperature is expected",
                )
                .label(if q.affinity == Affinity::Delta {
                    "this is a difference of two temperatures"
                } else {
                    "this is a temperature difference (`K`)"
                })
                .with_note(note)
                .with_help("add it to a reference temperature, or pass an absolute temperature"),
                &[q.dim],
                g,
            );
        } else if split.derived() && q.affinity == Affinity::Point {
            let literal = matches!(arg.kind, TExprKind::Real(_));
            let help = match self.written_unit(arg).as_deref() {
                Some(u @ ("degC" | "°C")) if literal => {
                    let text = self.text(arg.span);
                    let number = text.strip_suffix(u).unwrap_or(text);
                    format!("a difference is written in `K`: `{number}K`")
                }
                _ => "pass a difference (`x - x0`) or a value in `K`".to_string(),
            };
            self.affine(
                Diagnostic::new(
                    Kind::AffineMisuse,
                    arg.span,
                    "an absolute temperature where a temperature difference is expected",
                )
                .label("this is an absolute temperature")
                .with_note(format!(
                    "{what} is `{shown}`, derived from a unit parameter: for a temperature, a difference"
                ))
                .with_help(help),
                &[q.dim],
                g,
            );
        }
    }
    /// The result type of a call, given the inferred unit parameters.
    pub(crate) fn result_type(
        &mut self,
        ret: Option<&TypeExpr>,
        generics: &[String],
        solved: &[Option<Quantity>],
        span: Span,
        callee: &str,
        args_failed: bool,
    ) -> Ty {
        let Some(ret) = ret else { return Ty::Error };
        match ret.unit.as_name() {
            Some("Bool") => return Ty::Bool,
            Some("Int") => return Ty::Int,
            Some("Real") => return Ty::NUMBER,
            _ => {}
        }
        let Some(split) = self.split_type(&ret.unit, generics) else {
            return Ty::Error;
        };
        for (i, e) in split.exps.iter().enumerate() {
            if e.is_zero() {
                continue;
            }
            match solved[i] {
                Some(_) => {}
                // An argument that failed to check already has its error.
                None if args_failed => return Ty::Error,
                None => {
                    self.error(
                        Diagnostic::new(
                            Kind::ArgumentMismatch,
                            span,
                            format!("cannot infer the unit `{}` of this `{callee}`", generics[i]),
                        )
                        .label("unit parameter not determined by the arguments")
                        .with_help("pass the arguments whose types mention it"),
                    );
                    return Ty::Error;
                }
            }
        }
        let Some(dim) = known_part(split.known.dim, solved, &split.exps) else {
            return self.exponent_overflow(span).ty;
        };
        let affinity = match split.bare {
            Some(i) => solved[i].map_or(Affinity::Neutral, |s| s.affinity),
            None if split.point => Affinity::Point,
            None => Affinity::Neutral,
        };
        Ty::Real(Quantity { dim, affinity })
    }
    /// Reports a dimension whose exponents no longer fit (only absurd
    /// towers of powers get there).
    pub(crate) fn exponent_overflow(&mut self, span: Span) -> TExpr {
        self.error(
            Diagnostic::new(
                Kind::InvalidUnitExponent,
                span,
                "the unit of this expression has exponents too large to represent",
            )
            .label("unit exponent overflow"),
        );
        error_expr(span)
    }
}
