//! Expressions: names, operators, calls, and the unit rules.
//!
//! Takes syntax expressions and the scope they appear in; gives typed
//! [`TExpr`]s, with every literal converted to SI. The unit rules:
//! `+ -` and comparisons need equal dimensions, `* /` combine them, `^`
//! needs a constant exponent, transcendental functions need dimensionless
//! arguments. Affine temperatures: point − point is a delta, point ± delta
//! is a point; adding points, scaling a point, or comparing a point with a
//! delta is `affine-misuse`.

use super::Checker;
use super::types::{Affinity, Quantity, Ty};
use super::units::Generic;
use crate::diagnostic::{Diagnostic, Kind};
use crate::hir::{Ref, TExpr, TExprKind};
use crate::span::Span;
use crate::syntax::ast::{BinOp, Expr, ExprKind, UnOp};
use crate::units::{Dimension, Rational};

/// Where an expression is being checked, which decides what names mean.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scope {
    /// A `const` or other compile-time context: constants only.
    Const,
    /// A function body: its parameters and constants.
    Fn(usize),
    /// The innermost body on the checker's stack.
    Body,
    /// A scenario or test against a twin.
    Run(usize),
}

pub(crate) fn texpr(kind: TExprKind, ty: Ty, span: Span) -> TExpr {
    TExpr { kind, ty, span }
}

pub(crate) fn error_expr(span: Span) -> TExpr {
    texpr(TExprKind::Error, Ty::Error, span)
}

/// A rational close to `x` with a small denominator, for unit exponents.
fn as_rational(x: f64) -> Option<Rational> {
    (1..=12).find_map(|d| {
        let n = x * d as f64;
        (n.fract().abs() < 1e-9 && n.abs() < 1e6).then(|| Rational::new(n.round() as i32, d))?
    })
}

impl Checker {
    pub(crate) fn check_const_scope_expr(&mut self, m: usize, e: &Expr) -> TExpr {
        self.expr(m, Scope::Const, e, &[])
    }

    /// Checks an expression.
    pub(crate) fn expr(&mut self, m: usize, scope: Scope, e: &Expr, generics: &[Generic]) -> TExpr {
        let span = e.span;
        match &e.kind {
            ExprKind::Number(n) => {
                if n.fract() == 0.0 && n.abs() < 9.0e15 {
                    texpr(TExprKind::Int(*n as i64), Ty::Int, span)
                } else {
                    texpr(TExprKind::Real(*n), Ty::NUMBER, span)
                }
            }
            ExprKind::Quantity(n, unit) => {
                match self.quantity_literal(m, *n, unit, span, generics) {
                    Some((si, q)) => texpr(TExprKind::Real(si), Ty::Real(q), span),
                    None => error_expr(span),
                }
            }
            ExprKind::Bool(b) => texpr(TExprKind::Bool(*b), Ty::Bool, span),
            ExprKind::Str(s) => {
                let text: String = s
                    .parts
                    .iter()
                    .map(|p| match p {
                        crate::syntax::ast::StrPart::Text(t) => t.clone(),
                        crate::syntax::ast::StrPart::Interp(_) => String::new(),
                    })
                    .collect();
                texpr(TExprKind::Str(text), Ty::Str, span)
            }
            ExprKind::Paren(inner) => {
                let mut t = self.expr(m, scope, inner, generics);
                t.span = span;
                t
            }
            ExprKind::Path(path) => self.path_expr(m, scope, path),
            // A minus written on a quantity literal is part of the literal:
            // `-10 degC` is an absolute temperature below freezing, not the
            // negation of one.
            ExprKind::Unary(UnOp::Neg, x) if matches!(x.kind, ExprKind::Quantity(..)) => {
                let ExprKind::Quantity(n, unit) = &x.kind else {
                    return error_expr(span);
                };
                match self.quantity_literal(m, -*n, unit, span, generics) {
                    Some((si, q)) => texpr(TExprKind::Real(si), Ty::Real(q), span),
                    None => error_expr(span),
                }
            }
            ExprKind::Unary(op, x) => self.unary(m, scope, *op, x, span, generics),
            ExprKind::Binary(op, a, b) => self.binary(m, scope, *op, a, b, span, generics),
            ExprKind::If(c, a, b) => {
                let c = self.expr(m, scope, c, generics);
                self.expect_bool(&c, "an `if` condition");
                let ta = self.expr(m, scope, a, generics);
                let tb = self.expr(m, scope, b, generics);
                let ty = self.join(&ta, &tb, a, b, generics, "the two branches of `if`");
                texpr(
                    TExprKind::If(Box::new(c), Box::new(ta), Box::new(tb)),
                    ty,
                    span,
                )
            }
            ExprKind::Call(path, args) => self.call(m, scope, path, args, span, generics),
            ExprKind::Der(x) => self.der_expr(scope, x),
            ExprKind::Error => error_expr(span),
        }
    }

    /// The unit a checked expression was written in, when the source shows
    /// it: a member's declared unit, a quantity literal's unit, or the y
    /// unit of a table lookup.
    pub(crate) fn written_unit(&self, t: &TExpr) -> Option<String> {
        match &t.kind {
            TExprKind::Ref(Ref::Member(id)) => {
                let text = &self.stack.last()?.members.get(*id)?.unit.text;
                (!text.is_empty()).then(|| text.clone())
            }
            TExprKind::Lookup(..) => self.program.lookup_unit(t).map(|u| u.text.clone()),
            TExprKind::Real(_) => {
                let lexed = crate::syntax::lexer::lex(self.text(t.span), t.span.file);
                match lexed.tokens.as_slice() {
                    [
                        (crate::syntax::token::Token::Number(_), _),
                        (crate::syntax::token::Token::Unit(u), _),
                    ] => Some(u.to_string()),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// The source text a span covers.
    pub(crate) fn text(&self, span: Span) -> &str {
        self.texts
            .get(&span.file)
            .and_then(|t| t.get(span.range()))
            .unwrap_or("")
    }

    /// The unit an operand was written in, when it is evident from the
    /// source (a literal's unit, a signal's declared unit).
    pub(crate) fn shown_unit(&self, scope: Scope, e: &Expr) -> Option<String> {
        match &e.kind {
            ExprKind::Quantity(_, u) => Some(u.to_compact()),
            ExprKind::Paren(x) => self.shown_unit(scope, x),
            ExprKind::Path(p) if p.segments.len() == 1 => {
                let name = &p.segments[0].name;
                match scope {
                    Scope::Body => {
                        let b = self.stack.last()?;
                        let id = b.member_named(name)?;
                        let text = &b.members[id].unit.text;
                        (!text.is_empty()).then(|| text.clone())
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }

    pub(crate) fn describe_operand(
        &self,
        scope: Scope,
        e: &Expr,
        t: &TExpr,
        generics: &[Generic],
    ) -> String {
        match t.ty.quantity() {
            Some(q) => self.describe_quantity(&q, self.shown_unit(scope, e).as_deref(), generics),
            None => format!("`{}`", self.type_name(&t.ty)),
        }
    }

    /// A type's name for messages.
    pub(crate) fn type_name(&self, ty: &Ty) -> String {
        match ty {
            Ty::Real(q) if q.dim.is_dimensionless() => "Real".into(),
            Ty::Real(q) => q.dim.si_symbol(),
            Ty::Int => "Int".into(),
            Ty::Bool => "Bool".into(),
            Ty::Enum(e) => self
                .program
                .enums
                .get(*e)
                .map_or("enum".into(), |e| e.name.clone()),
            Ty::Str => "string".into(),
            Ty::Error => "?".into(),
        }
    }

    fn unary(
        &mut self,
        m: usize,
        scope: Scope,
        op: UnOp,
        x: &Expr,
        span: Span,
        g: &[Generic],
    ) -> TExpr {
        let t = self.expr(m, scope, x, g);
        let ty = match (op, &t.ty) {
            (_, Ty::Error) => Ty::Error,
            (UnOp::Not, Ty::Bool) => Ty::Bool,
            (UnOp::Neg, Ty::Int) => Ty::Int,
            (UnOp::Neg, Ty::Real(q)) => {
                if q.affinity == Affinity::Point {
                    let d = Diagnostic::new(
                        Kind::AffineMisuse,
                        span,
                        "cannot negate an absolute temperature",
                    )
                    .label("an absolute temperature has no negative")
                    .with_help("subtract a reference temperature first, e.g. `(T0 - T)`");
                    if self.affine(d, &[q.dim], g) {
                        Ty::real(q.dim)
                    } else {
                        Ty::Error
                    }
                } else {
                    t.ty.clone()
                }
            }
            (UnOp::Not, other) => {
                let found = self.type_name(other);
                self.error(
                    Diagnostic::new(Kind::TypeMismatch, x.span, "`not` needs a condition")
                        .label(format!("this is `{found}`, not `Bool`")),
                );
                Ty::Error
            }
            (UnOp::Neg, other) => {
                let found = self.type_name(other);
                self.error(
                    Diagnostic::new(Kind::TypeMismatch, x.span, "`-` needs a number")
                        .label(format!("this is `{found}`")),
                );
                Ty::Error
            }
        };
        texpr(TExprKind::Unary(op, Box::new(t)), ty, span)
    }

    #[allow(clippy::too_many_arguments)]
    fn binary(
        &mut self,
        m: usize,
        scope: Scope,
        op: BinOp,
        a: &Expr,
        b: &Expr,
        span: Span,
        g: &[Generic],
    ) -> TExpr {
        let ta = self.expr(m, scope, a, g);
        let tb = self.expr(m, scope, b, g);
        let ty = self.binary_type(scope, op, a, b, &ta, &tb, span, g);
        texpr(TExprKind::Binary(op, Box::new(ta), Box::new(tb)), ty, span)
    }

    #[allow(clippy::too_many_arguments)]
    fn binary_type(
        &mut self,
        scope: Scope,
        op: BinOp,
        a: &Expr,
        b: &Expr,
        ta: &TExpr,
        tb: &TExpr,
        span: Span,
        g: &[Generic],
    ) -> Ty {
        if ta.ty.is_error() || tb.ty.is_error() {
            return Ty::Error;
        }
        match op {
            BinOp::And | BinOp::Or => {
                let ok_a = self.expect_bool(ta, &format!("`{}`", op.as_str()));
                let ok_b = self.expect_bool(tb, &format!("`{}`", op.as_str()));
                if ok_a && ok_b { Ty::Bool } else { Ty::Error }
            }
            BinOp::Eq | BinOp::Ne if !ta.ty.is_numeric() || !tb.ty.is_numeric() => {
                if ta.ty == tb.ty && matches!(ta.ty, Ty::Bool | Ty::Enum(_)) {
                    Ty::Bool
                } else {
                    self.operand_mismatch(scope, op, a, b, ta, tb, span, g);
                    Ty::Error
                }
            }
            _ => {
                let (Some(qa), Some(qb)) = (ta.ty.quantity(), tb.ty.quantity()) else {
                    self.operand_mismatch(scope, op, a, b, ta, tb, span, g);
                    return Ty::Error;
                };
                self.numeric_binary(scope, op, a, b, ta, tb, qa, qb, span, g)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn operand_mismatch(
        &mut self,
        scope: Scope,
        op: BinOp,
        a: &Expr,
        b: &Expr,
        ta: &TExpr,
        tb: &TExpr,
        span: Span,
        g: &[Generic],
    ) {
        let da = self.describe_operand(scope, a, ta, g);
        let db = self.describe_operand(scope, b, tb, g);
        self.error(
            Diagnostic::new(
                Kind::TypeMismatch,
                span,
                format!("cannot apply `{}` to {da} and {db}", op.as_str()),
            )
            .label(format!("`{}` does not take these types", op.as_str()))
            .with_secondary(a.span, da)
            .with_secondary(b.span, db),
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn numeric_binary(
        &mut self,
        scope: Scope,
        op: BinOp,
        a: &Expr,
        b: &Expr,
        ta: &TExpr,
        tb: &TExpr,
        qa: Quantity,
        qb: Quantity,
        span: Span,
        g: &[Generic],
    ) -> Ty {
        use Affinity::*;
        let both_int = ta.ty == Ty::Int && tb.ty == Ty::Int;
        match op {
            BinOp::Add
            | BinOp::Sub
            | BinOp::Lt
            | BinOp::Gt
            | BinOp::Le
            | BinOp::Ge
            | BinOp::Eq
            | BinOp::Ne => {
                if qa.dim != qb.dim {
                    let da = self.describe_operand(scope, a, ta, g);
                    let db = self.describe_operand(scope, b, tb, g);
                    let message = match op {
                        BinOp::Add => format!("cannot add {da} to {db}"),
                        BinOp::Sub => format!("cannot subtract {db} from {da}"),
                        _ => format!("cannot compare {da} with {db}"),
                    };
                    let mut d = Diagnostic::new(Kind::UnitMismatch, a.span, message)
                        .label(da)
                        .with_secondary(b.span, db)
                        .with_note(format!(
                            "`{}` needs both sides in the same dimension",
                            op.as_str()
                        ));
                    if qa.dim.is_dimensionless() || qb.dim.is_dimensionless() {
                        let (plain, other) = if qa.dim.is_dimensionless() {
                            (a, qb)
                        } else {
                            (b, qa)
                        };
                        if matches!(plain.kind, ExprKind::Number(_)) {
                            d = d.with_help(format!(
                                "give the number a unit, e.g. `{} {}`",
                                self.text(plain.span),
                                other.dim.si_symbol()
                            ));
                        }
                    }
                    self.error(d);
                    return Ty::Error;
                }
                let affinity = match (op, qa.affinity, qb.affinity) {
                    (BinOp::Add, Point, Point) => {
                        if !self.affine_error(span, "cannot add two absolute temperatures", a, b,
                            "subtract a reference temperature from one of them: `(a - b)` is a temperature difference", qa.dim, g) {
                            return Ty::Error;
                        }
                        Point
                    }
                    (BinOp::Add, Point, _) | (BinOp::Add, _, Point) => Point,
                    (BinOp::Sub, Point, Point) => Delta,
                    (BinOp::Sub, Point, _) => Point,
                    (BinOp::Sub, _, Point) => {
                        if !self.affine_error(
                            span,
                            "cannot subtract an absolute temperature from a temperature difference",
                            a,
                            b,
                            "subtract it from another absolute temperature instead",
                            qa.dim,
                            g,
                        ) {
                            return Ty::Error;
                        }
                        Neutral
                    }
                    (BinOp::Add | BinOp::Sub, Delta, _) | (BinOp::Add | BinOp::Sub, _, Delta) => {
                        Delta
                    }
                    (BinOp::Add | BinOp::Sub, _, _) => Neutral,
                    // `K` is the unit of differences (spec: point − point
                    // is K), so a point compares only with points.
                    (_, Point, Delta | Neutral) | (_, Delta | Neutral, Point) => {
                        if !self.affine_error(
                            span,
                            "cannot compare an absolute temperature with a temperature difference",
                            a,
                            b,
                            "compare two absolute temperatures, or two differences",
                            qa.dim,
                            g,
                        ) {
                            return Ty::Error;
                        }
                        Neutral
                    }
                    _ => Neutral,
                };
                if op.is_comparison() {
                    Ty::Bool
                } else if both_int {
                    Ty::Int
                } else {
                    Ty::Real(Quantity {
                        dim: qa.dim,
                        affinity,
                    })
                }
            }
            BinOp::Mul | BinOp::Div => {
                if qa.affinity == Point || qb.affinity == Point {
                    let (p, other) = if qa.affinity == Point { (a, b) } else { (b, a) };
                    let verb = if op == BinOp::Mul {
                        "multiply"
                    } else {
                        "divide"
                    };
                    let d = Diagnostic::new(Kind::AffineMisuse, span, format!("cannot {verb} an absolute temperature"))
                        .label("an absolute temperature cannot be scaled")
                        .with_secondary(p.span, "absolute temperature")
                        .with_secondary(other.span, "scaled by this")
                        .with_help("subtract a reference temperature first (`T - T0` is a difference, which scales), or declare the value in `K`");
                    let point = if qa.affinity == Point { qa.dim } else { qb.dim };
                    if !self.affine(d, &[point], g) {
                        return Ty::Error;
                    }
                }
                if both_int && op == BinOp::Mul {
                    return Ty::Int;
                }
                let dim = if op == BinOp::Mul {
                    qa.dim.checked_mul(&qb.dim)
                } else {
                    qa.dim.checked_div(&qb.dim)
                };
                match dim {
                    Some(d) => Ty::real(d),
                    None => self.exponent_overflow(span).ty,
                }
            }
            BinOp::Pow => {
                if !qb.dim.is_dimensionless() {
                    let db = self.describe_operand(scope, b, tb, g);
                    self.error(
                        Diagnostic::new(
                            Kind::UnitMismatch,
                            b.span,
                            "an exponent must be dimensionless",
                        )
                        .label(format!("this is {db}")),
                    );
                    return Ty::Error;
                }
                if qa.affinity == Point
                    && !self.affine_error(
                        span,
                        "cannot raise an absolute temperature to a power",
                        a,
                        b,
                        "subtract a reference temperature first, or declare the value in `K`",
                        qa.dim,
                        g,
                    )
                {
                    return Ty::Error;
                }
                if qa.dim.is_dimensionless() {
                    return Ty::NUMBER;
                }
                let exponent = super::consts::eval(tb, &self.program.tables)
                    .and_then(|v| v.as_f64())
                    .and_then(as_rational);
                match exponent {
                    Some(r) => match qa.dim.checked_pow(r) {
                        Some(d) => Ty::real(d),
                        None => self.exponent_overflow(span).ty,
                    },
                    None => {
                        let da = self.describe_operand(scope, a, ta, g);
                        self.error(
                            Diagnostic::new(Kind::InvalidConstant, b.span, "the exponent of a quantity with a unit must be a constant fraction")
                                .label("not a constant fraction")
                                .with_secondary(a.span, da)
                                .with_help("units must be known before the model runs: use a literal such as `2` or `(1/2)`, or make the base dimensionless"),
                        );
                        Ty::Error
                    }
                }
            }
            BinOp::And | BinOp::Or => Ty::Error,
        }
    }

    /// Reports (or, in a generic body, keeps: [`Checker::affine`]) an
    /// `affine-misuse` between `a` and `b`, values of dimension `dim`.
    /// True when it was kept.
    #[allow(clippy::too_many_arguments)]
    fn affine_error(
        &mut self,
        span: Span,
        message: &str,
        a: &Expr,
        b: &Expr,
        help: &str,
        dim: Dimension,
        g: &[Generic],
    ) -> bool {
        let _ = span;
        let describe = |c: &Checker, e: &Expr| {
            c.shown_unit(Scope::Body, e)
                .map_or(String::new(), |u| format!("in `{u}`"))
        };
        let (la, lb) = (describe(self, a), describe(self, b));
        let d = Diagnostic::new(Kind::AffineMisuse, a.span, message)
            .label(la)
            .with_secondary(b.span, lb)
            .with_note("`degC` and `degF` values are points on a scale whose zero is arbitrary")
            .with_help(help.to_string());
        self.affine(d, &[dim], g)
    }

    fn der_expr(&mut self, scope: Scope, x: &crate::syntax::ast::Ident) -> TExpr {
        if scope == Scope::Body
            && let Some(id) = self.stack.last().and_then(|b| b.member_named(&x.name))
        {
            let is_state = self.stack.last().is_some_and(|b| b.is_state(id));
            if is_state {
                let ty = match self.member_ty(id) {
                    Ty::Real(q) => q
                        .dim
                        .checked_div(&Dimension::base(crate::units::BaseDim::Time))
                        .map_or(Ty::Error, Ty::real),
                    _ => Ty::Error,
                };
                self.mark_used(id);
                return texpr(TExprKind::Der(id), ty, x.span);
            }
        }
        self.error(
            Diagnostic::new(
                Kind::DerivativeOfNonState,
                x.span,
                format!("`der` of `{}`, which is not a state", x.name),
            )
            .label("not a state")
            .with_help("declare it with `state` to give it a derivative"),
        );
        error_expr(x.span)
    }
}
