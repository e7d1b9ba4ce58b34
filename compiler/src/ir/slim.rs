//! Slot slimming: lets that need no memory of their own.
//!
//! Takes a lowered [`Model`] and the extra expressions lowered with it
//! (tests' expectations, scenarios' drives and reports); gives the same
//! model with fewer per-instance slots, the programs and the extra
//! expressions rewritten to match. Every instance of a fleet carries every
//! persistent slot, so a slot saved is 8 bytes an instance, and a store
//! saved is work on every tick. Three kinds of `let` go:
//!
//! - **constants**: a let that every program stores the same constant in
//!   (`tau: 30 s` passed to a component) is read as that constant;
//! - **aliases**: a let that only ever copies another persistent slot
//!   (`let smooth = Lag(...)` is `smooth.y`) is read from that slot,
//!   where that slot provably holds the same value: at each read, the
//!   let's last store comes after the other slot's last store (checked
//!   through every branch and loop of every program; a program starts
//!   with the two out of step, as the driver may have changed the inputs
//!   and the solver the states);
//! - **dead** lets: stored, never read, not recorded.
//!
//! What stays: a let that is recorded, named in an alarm message, or read
//! by an extra expression keeps its slot (and its name in reports), except
//! that a recorded alias's column reads the aliased slot, which holds the
//! same value whenever a row is recorded (after the tick).
//!
//! Results are bit for bit those of the unslimmed model: a constant read
//! is the constant that was stored, and an alias read is the value that
//! was copied.

use super::renumber;
use super::{Expr, MessagePiece, Model, Slot, SlotKind, Stmt};

/// Slims `model`, rewriting `extras` (expressions over its slots) to match.
pub fn slim(model: &mut Model, extras: &mut [Expr]) {
    // A round can make more: a let that only fed a dropped one is dead
    // next round, an alias of a constant a constant. Each round drops at
    // least one slot, so this ends; the bound only caps the work.
    for _ in 0..16 {
        if !round(model, extras) {
            return;
        }
    }
}

/// One round: decides, rewrites, drops; whether anything was dropped.
fn round(model: &mut Model, extras: &mut [Expr]) -> bool {
    let n = model.slots.len();
    // Slots that must keep their own memory whatever they hold.
    let mut pinned = vec![false; n];
    for e in extras.iter() {
        loads(e, &mut |s| pin(&mut pinned, s));
    }
    for a in &model.alarms {
        for piece in &a.message {
            if let MessagePiece::Value(s, _, _) = piece {
                pin(&mut pinned, *s);
            }
        }
    }
    let mut recorded = vec![false; n];
    for o in &model.outputs {
        pin(&mut recorded, o.slot);
    }
    let candidate = |s: usize| {
        s < model.persistent as usize && model.slots[s].kind == SlotKind::Let && !pinned[s]
    };
    // What each let is stored with, and what is read, over all programs.
    let mut stored: Vec<Stored> = vec![Stored::Never; n];
    let mut read = vec![false; n];
    for list in programs(model) {
        walk_stores(list, &mut |slot, e| {
            if let Some(x) = stored.get_mut(slot as usize) {
                x.see(e);
            }
        });
        walk_loads(list, &mut |s| pin(&mut read, s));
    }
    let mut replace: Vec<Option<Expr>> = vec![None; n];
    for s in 0..n {
        if !candidate(s) {
            continue;
        }
        if !recorded[s] && !read[s] {
            // Dead: what it is replaced by is never read.
            replace[s] = Some(Expr::Const(0.0));
            continue;
        }
        match stored[s] {
            Stored::Const(bits) if !recorded[s] => {
                replace[s] = Some(Expr::Const(f64::from_bits(bits)));
            }
            Stored::Copy(from)
                if (from as usize) < model.persistent as usize
                    && from as usize != s
                    && in_step(model, s as Slot, from) =>
            {
                replace[s] = Some(Expr::Load(from));
            }
            _ => {}
        }
    }
    // An alias is checked against the slot it copies as the programs are
    // now; if that slot goes too, the alias waits for the next round.
    for s in 0..n {
        if let Some(Expr::Load(from)) = replace[s]
            && replace[from as usize].is_some()
        {
            replace[s] = None;
        }
    }
    if replace.iter().all(Option::is_none) {
        return false;
    }
    for list in programs_mut(model) {
        rewrite(list, &replace);
    }
    for e in extras.iter_mut() {
        substitute(e, &replace);
    }
    for o in &mut model.outputs {
        if let Some(Expr::Load(from)) = replace[o.slot as usize] {
            o.slot = from;
        }
    }
    let keep: Vec<usize> = (0..n).filter(|&s| replace[s].is_none()).collect();
    let map = renumber::keep_only(model, &keep);
    for e in extras.iter_mut() {
        renumber::remap_expr(e, &map);
    }
    true
}

/// What a let is stored with.
#[derive(Clone, Debug, PartialEq)]
enum Stored {
    /// Nothing yet.
    Never,
    /// Always this constant (its bits).
    Const(u64),
    /// Always a copy of this slot.
    Copy(Slot),
    /// Anything else.
    Mixed,
}

impl Stored {
    fn see(&mut self, e: &Expr) {
        let now = match e {
            Expr::Const(v) => Stored::Const(v.to_bits()),
            Expr::Load(s) => Stored::Copy(*s),
            _ => Stored::Mixed,
        };
        *self = match std::mem::replace(self, Stored::Mixed) {
            Stored::Never => now,
            same if same == now => same,
            _ => Stored::Mixed,
        };
    }
}

fn pin(flags: &mut [bool], s: Slot) {
    if let Some(x) = flags.get_mut(s as usize) {
        *x = true;
    }
}

fn programs(m: &Model) -> [&[Stmt]; 4] {
    [&m.init_sensors, &m.init, &m.tick, &m.integrate]
}

fn programs_mut(m: &mut Model) -> [&mut Vec<Stmt>; 4] {
    [
        &mut m.init_sensors,
        &mut m.init,
        &mut m.tick,
        &mut m.integrate,
    ]
}

/// Whether every read of `alias` finds it equal to `from`, and it is equal
/// at the end of the tick (when rows are recorded).
fn in_step(m: &Model, alias: Slot, from: Slot) -> bool {
    let step = Step { alias, from };
    let fine = |list: &[Stmt], start: bool| step.block(list, start);
    fine(&m.init_sensors, false).is_some()
        && fine(&m.init, false).is_some()
        && match fine(&m.tick, false) {
            Some(end_of_tick) => end_of_tick && fine(&m.integrate, end_of_tick).is_some(),
            None => false,
        }
}

/// The dataflow of [`in_step`]: `true` while the alias holds the value
/// of `from`.
struct Step {
    alias: Slot,
    from: Slot,
}

impl Step {
    /// The state after `list` entered in state `now`; `None` if the alias
    /// is read out of step.
    fn block(&self, list: &[Stmt], mut now: bool) -> Option<bool> {
        for stmt in list {
            now = self.stmt(stmt, now)?;
        }
        Some(now)
    }

    fn reads_ok(&self, e: &Expr, now: bool) -> bool {
        let mut ok = true;
        loads(e, &mut |s| ok &= now || s != self.alias);
        ok
    }

    fn stmt(&self, stmt: &Stmt, now: bool) -> Option<bool> {
        match stmt {
            Stmt::Store(slot, e) => {
                if !self.reads_ok(e, now) {
                    return None;
                }
                Some(if *slot == self.alias {
                    *e == Expr::Load(self.from)
                } else if *slot == self.from {
                    false
                } else {
                    now
                })
            }
            Stmt::If(c, a, b) => {
                if !self.reads_ok(c, now) {
                    return None;
                }
                Some(self.block(a, now)? && self.block(b, now)?)
            }
            Stmt::While(c, body) => {
                // The state at the condition is the entry's and every
                // iteration's end; one bit, so it settles at once.
                let mut entry = now;
                loop {
                    if !self.reads_ok(c, entry) {
                        return None;
                    }
                    let next = entry && self.block(body, entry)?;
                    if next == entry {
                        return Some(entry);
                    }
                    entry = next;
                }
            }
        }
    }
}

/// Calls `f` with every slot `e` loads (iteratively: expressions can be
/// very deep).
fn loads(e: &Expr, f: &mut impl FnMut(Slot)) {
    let mut stack = vec![e];
    while let Some(e) = stack.pop() {
        match e {
            Expr::Load(s) => f(*s),
            Expr::Const(_) => {}
            Expr::Unary(_, x) => stack.push(x),
            Expr::Binary(_, a, b) => stack.extend([&**a, &**b]),
            Expr::Call(_, xs) => stack.extend(xs.iter()),
            Expr::Select(a, b, c) => stack.extend([&**a, &**b, &**c]),
        }
    }
}

fn walk_loads(list: &[Stmt], f: &mut impl FnMut(Slot)) {
    for stmt in list {
        match stmt {
            Stmt::Store(_, e) => loads(e, f),
            Stmt::If(c, a, b) => {
                loads(c, f);
                walk_loads(a, f);
                walk_loads(b, f);
            }
            Stmt::While(c, body) => {
                loads(c, f);
                walk_loads(body, f);
            }
        }
    }
}

fn walk_stores(list: &[Stmt], f: &mut impl FnMut(Slot, &Expr)) {
    for stmt in list {
        match stmt {
            Stmt::Store(s, e) => f(*s, e),
            Stmt::If(_, a, b) => {
                walk_stores(a, f);
                walk_stores(b, f);
            }
            Stmt::While(_, body) => walk_stores(body, f),
        }
    }
}

/// Drops the stores to replaced slots and substitutes their reads.
fn rewrite(list: &mut Vec<Stmt>, replace: &[Option<Expr>]) {
    list.retain(|s| !matches!(s, Stmt::Store(slot, _) if replace[*slot as usize].is_some()));
    for stmt in list.iter_mut() {
        match stmt {
            Stmt::Store(_, e) => substitute(e, replace),
            Stmt::If(c, a, b) => {
                substitute(c, replace);
                rewrite(a, replace);
                rewrite(b, replace);
            }
            Stmt::While(c, body) => {
                substitute(c, replace);
                rewrite(body, replace);
            }
        }
    }
}

fn substitute(e: &mut Expr, replace: &[Option<Expr>]) {
    let mut stack = vec![e];
    while let Some(e) = stack.pop() {
        match e {
            Expr::Load(s) => {
                if let Some(r) = &replace[*s as usize] {
                    *e = r.clone();
                }
            }
            Expr::Const(_) => {}
            Expr::Unary(_, x) => stack.push(x),
            Expr::Binary(_, a, b) => {
                stack.push(a);
                stack.push(b);
            }
            Expr::Call(_, xs) => stack.extend(xs.iter_mut()),
            Expr::Select(a, b, c) => {
                stack.push(a);
                stack.push(b);
                stack.push(c);
            }
        }
    }
}
