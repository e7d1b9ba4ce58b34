//! Slot renumbering.
//!
//! Takes a lowered [`Model`] whose slots were allocated in any order; gives
//! the same model with persistent slots first and shared slots (scratch,
//! the clock, shared params) last (the layout [`Model::persistent`]
//! promises), every reference rewritten.
//! Lowering allocates a slot where it needs one; this pass restores the
//! layout once, at the end. [`keep_only`] also drops slots that
//! [`super::slim`] made unnecessary.

use super::{Expr, MessagePiece, Model, Slot, Stmt};

/// Rewrites the slots an expression reads through `map` (old → new).
pub fn remap_expr(e: &mut Expr, map: &[Slot]) {
    expr(e, map)
}

fn expr(e: &mut Expr, map: &[Slot]) {
    match e {
        Expr::Const(_) => {}
        Expr::Load(s) => *s = map[*s as usize],
        Expr::Unary(_, x) => expr(x, map),
        Expr::Binary(_, a, b) => {
            expr(a, map);
            expr(b, map);
        }
        Expr::Call(_, xs) => xs.iter_mut().for_each(|x| expr(x, map)),
        Expr::Select(a, b, c) => {
            expr(a, map);
            expr(b, map);
            expr(c, map);
        }
    }
}

fn stmts(list: &mut [Stmt], map: &[Slot]) {
    for s in list {
        match s {
            Stmt::Store(slot, e) => {
                *slot = map[*slot as usize];
                expr(e, map);
            }
            Stmt::If(c, a, b) => {
                expr(c, map);
                stmts(a, map);
                stmts(b, map);
            }
            Stmt::While(c, body) => {
                expr(c, map);
                stmts(body, map);
            }
        }
    }
}

/// Puts persistent slots before shared slots, keeping each group's order.
pub fn scratch_last(model: &mut Model) {
    let all: Vec<usize> = (0..model.slots.len()).collect();
    keep_only(model, &all);
}

/// Keeps the slots `keep` (ascending), persistent ones first, and gives
/// the map from old slot numbers to new ones ([`Slot::MAX`] for a slot
/// dropped). Nothing may refer to a dropped slot any more.
pub fn keep_only(model: &mut Model, keep: &[usize]) -> Vec<Slot> {
    let n = model.slots.len();
    let mut order: Vec<usize> = keep
        .iter()
        .copied()
        .filter(|&i| !model.slots[i].kind.is_shared())
        .collect();
    let persistent = order.len();
    order.extend(
        keep.iter()
            .copied()
            .filter(|&i| model.slots[i].kind.is_shared()),
    );
    let mut map = vec![Slot::MAX; n];
    for (new, &old) in order.iter().enumerate() {
        map[old] = new as Slot;
    }
    let old_slots = std::mem::take(&mut model.slots);
    model.slots = order.iter().map(|&i| old_slots[i].clone()).collect();
    model.persistent = persistent as u32;
    let m = &map;
    model.time = m[model.time as usize];
    model.dt = m[model.dt as usize];
    model.tick_index = m[model.tick_index as usize];
    model.states.iter_mut().for_each(|s| *s = m[*s as usize]);
    for list in [
        &mut model.init_sensors,
        &mut model.init,
        &mut model.tick,
        &mut model.integrate,
    ] {
        stmts(list, m);
    }
    for o in &mut model.outputs {
        o.slot = m[o.slot as usize];
    }
    for s in &mut model.sensors {
        s.slot = m[s.slot as usize];
        s.last_sample = m[s.last_sample as usize];
    }
    for p in &mut model.params {
        p.slot = m[p.slot as usize];
        expr(&mut p.default, m);
    }
    for a in &mut model.alarms {
        a.slot = m[a.slot as usize];
        for piece in &mut a.message {
            if let MessagePiece::Value(s, _, _) = piece {
                *s = m[*s as usize];
            }
        }
    }
    for a in &mut model.actuators {
        a.slot = m[a.slot as usize];
        a.clamps = m[a.clamps as usize];
    }
    map
}
