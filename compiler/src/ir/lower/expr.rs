//! Expressions: checked HIR expressions to IR expressions.
//!
//! Takes a checked expression and the instance it belongs to; gives an IR
//! expression over that instance's slots. Functions are inlined, `der(x)`
//! becomes x's derivative expression, `prev(x, init)` gets a slot written at
//! the end of each tick, and small whole powers become multiplications.

use super::{LowerError, Lowerer, Result, bin, c, load};
use crate::hir::{Builtin, MemberId, MemberKind, Ref, TExpr, TExprKind};
use crate::ir::{BinOp, Expr, Func, Slot, SlotKind, UnOp};
use crate::syntax::ast;

impl Lowerer<'_> {
    /// Lowers a checked expression in the context of an instance; `args`
    /// are a function's arguments while inlining its body.
    pub(super) fn expr(&mut self, inst: usize, e: &TExpr, args: Option<&[Expr]>) -> Result<Expr> {
        Ok(match &e.kind {
            TExprKind::Real(x) => c(*x),
            TExprKind::Int(i) => c(*i as f64),
            TExprKind::Bool(b) => c(if *b { 1.0 } else { 0.0 }),
            TExprKind::Variant(_, v) => c(*v as f64),
            TExprKind::Time => load(self.time),
            TExprKind::Dt => load(self.dt),
            TExprKind::Ref(Ref::Member(id)) => load(self.member_slot(inst, *id)?),
            TExprKind::Ref(Ref::Path(ids)) => {
                let mut cur = inst;
                for (n, id) in ids.iter().enumerate() {
                    if n + 1 == ids.len() {
                        return Ok(load(self.member_slot(cur, *id)?));
                    }
                    cur = self.insts[cur].child[*id].ok_or_else(|| {
                        LowerError("a member path does not lead through instances".into())
                    })?;
                }
                return Err(LowerError("an empty member path".into()));
            }
            TExprKind::Ref(Ref::FnParam(i)) => args
                .and_then(|a| a.get(*i))
                .cloned()
                .ok_or_else(|| LowerError("a function parameter outside its function".into()))?,
            TExprKind::Instance(id) => {
                let child = self.insts[inst].child[*id]
                    .ok_or_else(|| LowerError("an instance without a body".into()))?;
                load(self.insts[child].result.ok_or_else(|| {
                    LowerError(format!(
                        "`{}` has no single result",
                        self.insts[child].body.name
                    ))
                })?)
            }
            TExprKind::Unary(op, x) => {
                let x = self.expr(inst, x, args)?;
                Expr::Unary(
                    if *op == ast::UnOp::Neg {
                        UnOp::Neg
                    } else {
                        UnOp::Not
                    },
                    Box::new(x),
                )
            }
            TExprKind::Binary(op, a, b) => {
                let la = self.expr(inst, a, args)?;
                if *op == ast::BinOp::Pow {
                    return self.power(inst, la, b, args);
                }
                let lb = self.expr(inst, b, args)?;
                let op = match op {
                    ast::BinOp::Add => BinOp::Add,
                    ast::BinOp::Sub => BinOp::Sub,
                    ast::BinOp::Mul => BinOp::Mul,
                    ast::BinOp::Div => BinOp::Div,
                    ast::BinOp::Lt => BinOp::Lt,
                    ast::BinOp::Gt => BinOp::Gt,
                    ast::BinOp::Le => BinOp::Le,
                    ast::BinOp::Ge => BinOp::Ge,
                    ast::BinOp::Eq => BinOp::Eq,
                    ast::BinOp::Ne => BinOp::Ne,
                    ast::BinOp::And => BinOp::And,
                    ast::BinOp::Or => BinOp::Or,
                    ast::BinOp::Pow => BinOp::Mul,
                };
                bin(op, la, lb)
            }
            TExprKind::Builtin(f, xs) => {
                let xs: Vec<Expr> = xs
                    .iter()
                    .map(|x| self.expr(inst, x, args))
                    .collect::<Result<_>>()?;
                builtin(*f, xs)?
            }
            TExprKind::Call(f, xs) => {
                let xs: Vec<Expr> = xs
                    .iter()
                    .map(|x| self.expr(inst, x, args))
                    .collect::<Result<_>>()?;
                self.inline_depth += 1;
                if self.inline_depth > 64 {
                    return Err(LowerError(format!(
                        "function `{}` calls itself; recursive functions cannot run",
                        self.program.functions[*f].name
                    )));
                }
                let body = &self.program.functions[*f].body;
                let r = self.expr(inst, body, Some(&xs));
                self.inline_depth -= 1;
                r?
            }
            TExprKind::Lookup(t, x) => {
                let x = self.expr(inst, x, args)?;
                self.lookup(inst, *t, x)?
            }
            TExprKind::Der(id) => {
                let body = self.insts[inst].body;
                let der = body.ders.iter().find(|(s, _)| s == id).map(|(_, e)| e);
                let der =
                    der.ok_or_else(|| LowerError("`der` of a state without an equation".into()))?;
                self.inline_depth += 1;
                if self.inline_depth > 64 {
                    return Err(LowerError("`der(x)` used inside its own equation".into()));
                }
                let r = self.expr(inst, der, args);
                self.inline_depth -= 1;
                r?
            }
            TExprKind::Stale(id) => {
                let sampled = load(self.insts[inst].sample_slots[id]);
                let never = bin(BinOp::Ne, sampled.clone(), sampled.clone());
                let limit = match &self.insts[inst].body.members[*id].kind {
                    MemberKind::Sensor {
                        stale_after: Some(s),
                        ..
                    } => Some(*s),
                    _ => None,
                };
                match limit {
                    Some(s) => bin(
                        BinOp::Or,
                        never,
                        bin(BinOp::Gt, bin(BinOp::Sub, load(self.time), sampled), c(s)),
                    ),
                    None => never,
                }
            }
            TExprKind::Age(id) => {
                let sampled = load(self.insts[inst].sample_slots[id]);
                let never = bin(BinOp::Ne, sampled.clone(), sampled.clone());
                Expr::select(
                    never,
                    c(f64::INFINITY),
                    bin(BinOp::Sub, load(self.time), sampled),
                )
            }
            TExprKind::Prev(x, init) => {
                // `x` is stored after the actuators, when the nodes may be
                // stale: a lookup in it must not read a node of its own.
                let in_node = std::mem::replace(&mut self.in_node, false);
                let x = self.expr(inst, x, args);
                self.in_node = in_node;
                let x = x?;
                let init = self.expr(inst, init, args)?;
                let slot = self.slot(
                    format!("{}#prev{}", self.insts[inst].prefix, self.prevs.len()),
                    SlotKind::Internal,
                );
                self.prevs.push((slot, x));
                Expr::select(bin(BinOp::Eq, load(self.k), c(0.0)), init, load(slot))
            }
            TExprKind::If(cond, a, b) => {
                let cond = self.expr(inst, cond, args)?;
                let a = self.expr(inst, a, args)?;
                let b = self.expr(inst, b, args)?;
                Expr::select(cond, a, b)
            }
            TExprKind::Str(_) | TExprKind::Csv(..) => {
                return Err(LowerError("a string where a value is needed".into()));
            }
            TExprKind::Error => return Err(LowerError("the model has errors".into())),
        })
    }
    /// `a ^ b`: small whole constant exponents become multiplications
    /// (exact, and the same in both engines); others call `pow`.
    pub(super) fn power(
        &mut self,
        inst: usize,
        a: Expr,
        b: &TExpr,
        args: Option<&[Expr]>,
    ) -> Result<Expr> {
        if let Some(n) = crate::check::const_eval(b, &self.program.tables)
            .filter(|n| n.fract() == 0.0 && n.abs() <= 4.0)
        {
            let n = n as i32;
            if n == 0 {
                return Ok(c(1.0));
            }
            let mut acc = a.clone();
            for _ in 1..n.abs() {
                acc = bin(BinOp::Mul, acc, a.clone());
            }
            return Ok(if n < 0 {
                bin(BinOp::Div, c(1.0), acc)
            } else {
                acc
            });
        }
        let b = self.expr(inst, b, args)?;
        Ok(Expr::Call(Func::Pow, vec![a, b]))
    }
    pub(super) fn member_slot(&self, inst: usize, id: MemberId) -> Result<Slot> {
        self.insts[inst]
            .slot_of
            .get(id)
            .copied()
            .flatten()
            .ok_or_else(|| {
                LowerError(format!(
                    "`{}` has no value",
                    self.insts[inst]
                        .body
                        .members
                        .get(id)
                        .map_or("?", |m| m.name.as_str())
                ))
            })
    }
}

pub(super) fn builtin(f: Builtin, xs: Vec<Expr>) -> Result<Expr> {
    let mut it = xs.into_iter();
    let first = it
        .next()
        .ok_or_else(|| LowerError("a builtin without arguments".into()))?;
    Ok(match f {
        Builtin::Min => it.fold(first, |a, b| bin(BinOp::Min, a, b)),
        Builtin::Max => it.fold(first, |a, b| bin(BinOp::Max, a, b)),
        Builtin::Clamp => {
            let lo = it.next().unwrap_or(c(f64::NEG_INFINITY));
            let hi = it.next().unwrap_or(c(f64::INFINITY));
            bin(BinOp::Min, bin(BinOp::Max, first, lo), hi)
        }
        Builtin::Abs => Expr::Call(Func::Abs, vec![first]),
        Builtin::Sqrt => Expr::Call(Func::Sqrt, vec![first]),
        Builtin::Floor => Expr::Call(Func::Floor, vec![first]),
        Builtin::Ceil => Expr::Call(Func::Ceil, vec![first]),
        Builtin::Exp => Expr::Call(Func::Exp, vec![first]),
        Builtin::Log => Expr::Call(Func::Log, vec![first]),
        Builtin::Sin => Expr::Call(Func::Sin, vec![first]),
        Builtin::Cos => Expr::Call(Func::Cos, vec![first]),
        Builtin::Tan => Expr::Call(Func::Tan, vec![first]),
        Builtin::Atan2 => Expr::Call(Func::Atan2, vec![first, it.next().unwrap_or(c(1.0))]),
        Builtin::Pow => Expr::Call(Func::Pow, vec![first, it.next().unwrap_or(c(1.0))]),
    })
}
