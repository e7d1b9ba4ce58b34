//! Compile-time constants.
//!
//! Takes checked expressions; gives their value when it can be known
//! before the model runs: literals, `const`s, `pi`, arithmetic, builtins
//! and table lookups over those. Used for `const` items, ranges, hold times,
//! periods, `step` and unit exponents.

use super::{Checker, ConstValue, Progress};
use crate::diagnostic::{Diagnostic, Kind};
use crate::hir::{Builtin, TExpr, TExprKind, Table};
use crate::syntax::ast::{BinOp, ItemKind, UnOp};

/// A constant's value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Value {
    Real(f64),
    Int(i64),
    Bool(bool),
    Variant(usize, usize),
}

impl Value {
    /// The value as a real, for numbers.
    pub fn as_f64(self) -> Option<f64> {
        match self {
            Value::Real(x) => Some(x),
            Value::Int(i) => Some(i as f64),
            _ => None,
        }
    }
}

/// Evaluates a checked expression that uses only constants; `tables` are
/// the program's lookup tables.
pub(crate) fn eval(e: &TExpr, tables: &[Table]) -> Option<Value> {
    let ev = |e: &TExpr| eval(e, tables);
    use Value::*;
    Some(match &e.kind {
        TExprKind::Real(x) => Real(*x),
        TExprKind::Int(i) => Int(*i),
        TExprKind::Bool(b) => Bool(*b),
        TExprKind::Variant(en, v) => Variant(*en, *v),
        TExprKind::Unary(UnOp::Neg, x) => match ev(x)? {
            Int(i) => Int(i.checked_neg()?),
            v => Real(-v.as_f64()?),
        },
        TExprKind::Unary(UnOp::Not, x) => match ev(x)? {
            Bool(b) => Bool(!b),
            _ => return None,
        },
        TExprKind::Binary(op, a, b) => {
            let (a, b) = (ev(a)?, ev(b)?);
            match (op, a, b) {
                (BinOp::And, Bool(x), Bool(y)) => Bool(x && y),
                (BinOp::Or, Bool(x), Bool(y)) => Bool(x || y),
                (BinOp::Add, Int(x), Int(y)) => Int(x.checked_add(y)?),
                (BinOp::Sub, Int(x), Int(y)) => Int(x.checked_sub(y)?),
                (BinOp::Mul, Int(x), Int(y)) => Int(x.checked_mul(y)?),
                (BinOp::Eq, x, y) => {
                    Bool(x == y || x.as_f64().is_some_and(|a| Some(a) == y.as_f64()))
                }
                (BinOp::Ne, x, y) => {
                    Bool(!(x == y || x.as_f64().is_some_and(|a| Some(a) == y.as_f64())))
                }
                _ => {
                    let (x, y) = (a.as_f64()?, b.as_f64()?);
                    match op {
                        BinOp::Add => Real(x + y),
                        BinOp::Sub => Real(x - y),
                        BinOp::Mul => Real(x * y),
                        BinOp::Div => Real(x / y),
                        BinOp::Pow => Real(x.powf(y)),
                        BinOp::Lt => Bool(x < y),
                        BinOp::Gt => Bool(x > y),
                        BinOp::Le => Bool(x <= y),
                        BinOp::Ge => Bool(x >= y),
                        _ => return None,
                    }
                }
            }
        }
        TExprKind::If(c, a, b) => match ev(c)? {
            Bool(true) => ev(a)?,
            Bool(false) => ev(b)?,
            _ => return None,
        },
        TExprKind::Builtin(f, args) => {
            let xs: Option<Vec<f64>> = args.iter().map(|a| ev(a)?.as_f64()).collect();
            let xs = xs?;
            let x = *xs.first()?;
            Real(match f {
                Builtin::Min => xs.iter().copied().fold(f64::INFINITY, f64::min),
                Builtin::Max => xs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                Builtin::Abs => x.abs(),
                Builtin::Clamp => x.max(*xs.get(1)?).min(*xs.get(2)?),
                Builtin::Sqrt => x.sqrt(),
                Builtin::Exp => x.exp(),
                Builtin::Log => x.ln(),
                Builtin::Sin => x.sin(),
                Builtin::Cos => x.cos(),
                Builtin::Tan => x.tan(),
                Builtin::Atan2 => x.atan2(*xs.get(1)?),
                Builtin::Floor => x.floor(),
                Builtin::Ceil => x.ceil(),
                Builtin::Pow => x.powf(*xs.get(1)?),
            })
        }
        TExprKind::Lookup(t, x) => Real(tables.get(*t)?.lookup(ev(x)?.as_f64()?)?),
        _ => return None,
    })
}

impl Checker {
    /// The value of `const` number `i`, checking it first if needed.
    pub(crate) fn const_value(&mut self, i: usize) -> Option<ConstValue> {
        let (at, progress, value) = &self.consts[i];
        match progress {
            Progress::Done => return value.clone(),
            Progress::Started => {
                let ItemKind::Const(c) = &self.item(*at).kind else {
                    return None;
                };
                let d = Diagnostic::new(
                    Kind::AlgebraicLoop,
                    c.name.span,
                    format!("constant `{}` is defined in terms of itself", c.name.name),
                )
                .label("depends on itself");
                self.error(d);
                return None;
            }
            Progress::Pending => {}
        }
        let at = *at;
        self.consts[i].1 = Progress::Started;
        let ItemKind::Const(c) = &self.item(at).kind else {
            return None;
        };
        let c = c.clone();
        let value = self.const_expr(at.module, &c.value);
        let mut result = None;
        if let Some((te, v)) = value {
            let mut ty = te.ty.clone();
            if let Some(ann) = &c.ty {
                let (want, _) = self.resolve_type(at.module, ann, &[]);
                self.expect_type(&want, &te, None, &[], "the constant's declared type");
                if !want.is_error() {
                    ty = want;
                }
            }
            result = Some(ConstValue { ty, value: v });
        }
        self.consts[i] = (at, Progress::Done, result.clone());
        result
    }

    /// Checks an expression that must be a compile-time constant, in
    /// module `m` with no members in scope.
    pub(crate) fn const_expr(
        &mut self,
        m: usize,
        e: &crate::syntax::ast::Expr,
    ) -> Option<(TExpr, Value)> {
        let te = self.check_const_scope_expr(m, e);
        if te.ty.is_error() {
            return None;
        }
        match eval(&te, &self.program.tables) {
            Some(v) => Some((te, v)),
            None => {
                self.not_constant(&te);
                None
            }
        }
    }

    /// Reports an expression that had to be constant but is not.
    pub(crate) fn not_constant(&mut self, te: &TExpr) {
        self.error(
            Diagnostic::new(
                Kind::InvalidConstant,
                te.span,
                "this must be known before the model runs",
            )
            .label("not a constant")
            .with_help("use literals, `const`s and arithmetic on them here"),
        );
    }

    /// The constant value of a checked numeric expression, or `None`
    /// after reporting why not.
    pub(crate) fn constant_of(&mut self, te: &TExpr) -> Option<f64> {
        if te.ty.is_error() {
            return None;
        }
        match eval(te, &self.program.tables).and_then(Value::as_f64) {
            Some(v) => Some(v),
            None => {
                self.not_constant(te);
                None
            }
        }
    }
}
