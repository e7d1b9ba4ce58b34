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
    // The copies worth checking, each with the slot it copies.
    let mut copies: Vec<Option<Slot>> = vec![None; n];
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
                if (from as usize) < model.persistent as usize && from as usize != s =>
            {
                copies[s] = Some(from);
            }
            _ => {}
        }
    }
    for (s, fine) in in_step(model, &copies).into_iter().enumerate() {
        if let (true, Some(from)) = (fine, copies[s]) {
            replace[s] = Some(Expr::Load(from));
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
    // The extra expressions read only pinned slots, which stay as they are.
    for list in programs_mut(model) {
        rewrite(list, &replace);
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

/// For each slot with a `copies` entry (an alias and the slot it copies):
/// whether every read of the alias finds it equal to that slot, and it is
/// equal at the end of the tick (when rows are recorded). One pass over
/// the programs for all aliases.
fn in_step(m: &Model, copies: &[Option<Slot>]) -> Vec<bool> {
    let n = copies.len();
    let mut copied_by: Vec<Vec<Slot>> = vec![Vec::new(); n];
    for (alias, from) in copies.iter().enumerate() {
        if let Some(from) = from {
            copied_by[*from as usize].push(alias as Slot);
        }
    }
    let mut step = Step {
        copies,
        copied_by,
        broken: vec![false; n],
    };
    // Every program starts with the aliases out of step.
    let start = vec![false; n];
    step.block(&m.init_sensors, start.clone());
    step.block(&m.init, start.clone());
    let end_of_tick = step.block(&m.tick, start);
    step.block(&m.integrate, end_of_tick.clone());
    (0..n)
        .map(|s| copies[s].is_some() && !step.broken[s] && end_of_tick[s])
        .collect()
}

/// The dataflow of [`in_step`]: per slot, `true` while an alias holds the
/// value of the slot it copies.
struct Step<'a> {
    /// The slot each alias copies.
    copies: &'a [Option<Slot>],
    /// The aliases of each slot.
    copied_by: Vec<Vec<Slot>>,
    /// Aliases read while out of step.
    broken: Vec<bool>,
}

impl Step<'_> {
    /// The state after `list` entered in state `now`.
    fn block(&mut self, list: &[Stmt], mut now: Vec<bool>) -> Vec<bool> {
        for stmt in list {
            now = self.stmt(stmt, now);
        }
        now
    }

    fn read(&mut self, e: &Expr, now: &[bool]) {
        let broken = &mut self.broken;
        let copies = self.copies;
        loads(e, &mut |s| {
            let i = s as usize;
            if copies.get(i).is_some_and(Option::is_some) && !now[i] {
                broken[i] = true;
            }
        });
    }

    fn stmt(&mut self, stmt: &Stmt, mut now: Vec<bool>) -> Vec<bool> {
        match stmt {
            Stmt::Store(slot, e) => {
                self.read(e, &now);
                let i = *slot as usize;
                if let Some(from) = self.copies.get(i).copied().flatten() {
                    now[i] = *e == Expr::Load(from);
                }
                if let Some(aliases) = self.copied_by.get(i) {
                    for a in aliases {
                        now[*a as usize] = false;
                    }
                }
                now
            }
            Stmt::If(c, a, b) => {
                self.read(c, &now);
                let then = self.block(a, now.clone());
                let otherwise = self.block(b, now);
                then.iter().zip(otherwise).map(|(x, y)| *x && y).collect()
            }
            Stmt::While(c, body) => {
                // At the condition: the entry's state and every
                // iteration's end; it only falls, so it settles.
                let mut entry = now;
                loop {
                    self.read(c, &entry);
                    let end = self.block(body, entry.clone());
                    let next: Vec<bool> = entry.iter().zip(&end).map(|(x, y)| *x && *y).collect();
                    if next == entry {
                        return entry;
                    }
                    entry = next;
                }
            }
        }
    }
}

/// Calls `f` with every slot `e` loads: by recursion to a modest depth
/// (no allocation, the common case), then with an explicit stack
/// (expressions can be very deep).
fn loads(e: &Expr, f: &mut impl FnMut(Slot)) {
    loads_at(e, f, 0)
}

/// How deep [`loads`] and [`substitute`] recurse before they switch to a
/// heap stack.
const RECURSE: usize = 64;

fn loads_at(e: &Expr, f: &mut impl FnMut(Slot), depth: usize) {
    if depth > RECURSE {
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
        return;
    }
    match e {
        Expr::Load(s) => f(*s),
        Expr::Const(_) => {}
        Expr::Unary(_, x) => loads_at(x, f, depth + 1),
        Expr::Binary(_, a, b) => {
            loads_at(a, f, depth + 1);
            loads_at(b, f, depth + 1);
        }
        Expr::Call(_, xs) => xs.iter().for_each(|x| loads_at(x, f, depth + 1)),
        Expr::Select(a, b, c) => {
            loads_at(a, f, depth + 1);
            loads_at(b, f, depth + 1);
            loads_at(c, f, depth + 1);
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
    substitute_at(e, replace, 0)
}

fn substitute_at(e: &mut Expr, replace: &[Option<Expr>], depth: usize) {
    if depth > RECURSE {
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
        return;
    }
    match e {
        Expr::Load(s) => {
            if let Some(r) = &replace[*s as usize] {
                *e = r.clone();
            }
        }
        Expr::Const(_) => {}
        Expr::Unary(_, x) => substitute_at(x, replace, depth + 1),
        Expr::Binary(_, a, b) => {
            substitute_at(a, replace, depth + 1);
            substitute_at(b, replace, depth + 1);
        }
        Expr::Call(_, xs) => xs
            .iter_mut()
            .for_each(|x| substitute_at(x, replace, depth + 1)),
        Expr::Select(a, b, c) => {
            substitute_at(a, replace, depth + 1);
            substitute_at(b, replace, depth + 1);
            substitute_at(c, replace, depth + 1);
        }
    }
}
