//! The tick's rules for alarms and actuators, as IR.
//!
//! Takes an alarm's or actuator's specification; gives the statements that
//! update it once per tick: the alarm's hold-time streak and clear
//! condition, the actuator's slew limit, range clamp and clamp count.

use super::{ActuatorSpec, AlarmSpec, bin, c, load};
use crate::ir::{BinOp, Expr, Slot, Stmt, UnOp};

pub(super) fn clamp_expr(x: Expr, range: Option<(f64, f64)>) -> Expr {
    match range {
        Some((lo, hi)) => bin(BinOp::Min, bin(BinOp::Max, x, c(lo)), c(hi)),
        None => x,
    }
}

/// The alarm rule: raise at the first tick at which `when` has held at
/// every tick of a streak spanning at least the hold time; clear at the
/// first tick at which `clear when` holds (default: `not when`).
pub(super) fn alarm_update(a: &AlarmSpec, k: Slot, dt: Slot) -> Vec<Stmt> {
    let when = a.when.clone();
    let held = match &a.hold {
        // (k − streak) ≥ hold / dt, with a margin for rounding.
        Some(hold) => bin(
            BinOp::Ge,
            bin(BinOp::Sub, load(k), load(a.streak)),
            bin(BinOp::Sub, bin(BinOp::Div, hold.clone(), load(dt)), c(1e-9)),
        ),
        None => c(1.0),
    };
    let clear = a
        .clear
        .clone()
        .unwrap_or_else(|| Expr::Unary(UnOp::Not, Box::new(a.when.clone())));
    let inactive = vec![Stmt::If(
        when,
        vec![
            Stmt::If(
                bin(BinOp::Lt, load(a.streak), c(0.0)),
                vec![Stmt::Store(a.streak, load(k))],
                Vec::new(),
            ),
            Stmt::If(held, vec![Stmt::Store(a.slot, c(1.0))], Vec::new()),
        ],
        vec![Stmt::Store(a.streak, c(-1.0))],
    )];
    let active = vec![Stmt::If(
        clear,
        vec![Stmt::Store(a.slot, c(0.0)), Stmt::Store(a.streak, c(-1.0))],
        Vec::new(),
    )];
    vec![Stmt::If(
        bin(BinOp::Eq, load(a.slot), c(0.0)),
        inactive,
        active,
    )]
}

/// The actuator rule: toward the target by at most slew·dt, then into the
/// range, counting clamps. A continuous actuator starts at its target.
pub(super) fn actuator_update(a: &ActuatorSpec, k: Slot, dt: Slot) -> Vec<Stmt> {
    let mut out = Vec::new();
    let moved = match a.slew {
        Some(rate) => {
            let step = bin(BinOp::Mul, c(rate), load(dt));
            let delta = bin(BinOp::Sub, load(a.target), load(a.cmd));
            let limited = bin(
                BinOp::Min,
                bin(
                    BinOp::Max,
                    delta,
                    Expr::Unary(UnOp::Neg, Box::new(step.clone())),
                ),
                step,
            );
            bin(BinOp::Add, load(a.cmd), limited)
        }
        None => load(a.target),
    };
    let next = if a.continuous {
        Expr::select(bin(BinOp::Eq, load(k), c(0.0)), load(a.target), moved)
    } else {
        moved
    };
    out.push(Stmt::Store(a.cmd, next));
    if let Some((lo, hi)) = a.range {
        out.push(Stmt::If(
            bin(BinOp::Lt, load(a.cmd), c(lo)),
            vec![
                Stmt::Store(a.cmd, c(lo)),
                Stmt::Store(a.clamps, bin(BinOp::Add, load(a.clamps), c(1.0))),
            ],
            Vec::new(),
        ));
        out.push(Stmt::If(
            bin(BinOp::Gt, load(a.cmd), c(hi)),
            vec![
                Stmt::Store(a.cmd, c(hi)),
                Stmt::Store(a.clamps, bin(BinOp::Add, load(a.clamps), c(1.0))),
            ],
            Vec::new(),
        ));
    }
    out
}
