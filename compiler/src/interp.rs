//! The reference interpreter.
//!
//! Takes a lowered [`Model`] and an instance's memory; gives the effect of
//! running its programs. It is deliberately plain: one `match` per IR node,
//! no caching, no cleverness. It is the oracle the JIT is tested against,
//! and it computes every operation with the same definitions the JIT uses
//! ([`Func::apply`], [`minimum`], [`maximum`]).

use crate::ir::{BinOp, Expr, Func, Model, Slot, Stmt, UnOp, from_bool, maximum, minimum, truthy};

/// One instance's memory: its block of persistent slots and the scratch
/// slots its solver uses.
#[derive(Clone, Debug, PartialEq)]
pub struct Memory {
    /// Slots `0..persistent`.
    pub block: Vec<f64>,
    /// Slots `persistent..`.
    pub scratch: Vec<f64>,
    pub(crate) persistent: usize,
}

impl Memory {
    /// Fresh memory for `model`, every slot 0.
    pub fn new(model: &Model) -> Memory {
        Memory {
            block: vec![0.0; model.persistent as usize],
            scratch: vec![0.0; model.scratch_len()],
            persistent: model.persistent as usize,
        }
    }

    /// A slot's value.
    pub fn get(&self, slot: Slot) -> f64 {
        let s = slot as usize;
        if s < self.persistent {
            self.block[s]
        } else {
            self.scratch[s - self.persistent]
        }
    }

    /// Sets a slot.
    pub fn set(&mut self, slot: Slot, value: f64) {
        let s = slot as usize;
        if s < self.persistent {
            self.block[s] = value;
        } else {
            self.scratch[s - self.persistent] = value;
        }
    }
}

/// Sets every param of `model` in `mem`, in dependency order: to its
/// override in `overrides` (by name; the last one wins) or to its default,
/// which may read the params set before it. What a driver does before
/// `init_sensors`.
pub fn set_params(model: &Model, mem: &mut Memory, overrides: &[(String, f64)]) {
    for p in &model.params {
        let value = match overrides.iter().rev().find(|(n, _)| *n == p.name) {
            Some((_, v)) => *v,
            None => eval(&p.default, mem),
        };
        mem.set(p.slot, value);
    }
}

/// Evaluates an expression.
pub fn eval(e: &Expr, mem: &Memory) -> f64 {
    match e {
        Expr::Const(c) => *c,
        Expr::Load(s) => mem.get(*s),
        Expr::Unary(UnOp::Neg, x) => -eval(x, mem),
        Expr::Unary(UnOp::Not, x) => from_bool(eval(x, mem) == 0.0),
        Expr::Binary(op, a, b) => {
            let (a, b) = (eval(a, mem), eval(b, mem));
            match op {
                BinOp::Add => a + b,
                BinOp::Sub => a - b,
                BinOp::Mul => a * b,
                BinOp::Div => a / b,
                BinOp::Lt => from_bool(a < b),
                BinOp::Le => from_bool(a <= b),
                BinOp::Gt => from_bool(a > b),
                BinOp::Ge => from_bool(a >= b),
                BinOp::Eq => from_bool(a == b),
                BinOp::Ne => from_bool(a != b),
                BinOp::And => from_bool(truthy(a) && truthy(b)),
                BinOp::Or => from_bool(truthy(a) || truthy(b)),
                BinOp::Min => minimum(a, b),
                BinOp::Max => maximum(a, b),
            }
        }
        Expr::Call(f, args) => {
            let a = args.first().map_or(f64::NAN, |x| eval(x, mem));
            let b = if f.arity() == 2 {
                args.get(1).map_or(f64::NAN, |x| eval(x, mem))
            } else {
                0.0
            };
            Func::apply(*f, a, b)
        }
        Expr::Select(c, a, b) => {
            let (c, a, b) = (eval(c, mem), eval(a, mem), eval(b, mem));
            if truthy(c) { a } else { b }
        }
    }
}

/// Runs statements.
pub fn exec(stmts: &[Stmt], mem: &mut Memory) {
    for s in stmts {
        match s {
            Stmt::Store(slot, e) => {
                let v = eval(e, mem);
                mem.set(*slot, v);
            }
            Stmt::If(c, then, otherwise) => {
                if truthy(eval(c, mem)) {
                    exec(then, mem);
                } else {
                    exec(otherwise, mem);
                }
            }
            Stmt::While(c, body) => {
                while truthy(eval(c, mem)) {
                    exec(body, mem);
                }
            }
        }
    }
}
