//! Store-to-load forwarding and the stores it makes dead.
//!
//! Takes the slots a function stored and loaded most recently; gives the
//! value a load can reuse instead of reading memory ([`Window`]), and, for
//! a run of consecutive `Store` statements about to be translated, which
//! of their stores no one will read ([`dead_stores`]).
//!
//! A [`Window`] keeps the [`FORWARD`] most recently stored or loaded slots
//! with their values. Slots never alias, and a forwarded value is exactly
//! what the load would read, so results stay bit-identical. Forwarding
//! further back stretches live ranges until the register allocator spills
//! them, which costs more than the loads it saves (and slows compilation).
//!
//! A store is dead when the same run stores its slot again before any
//! load of it reads memory: every load in between is forwarded. Then no
//! one can see the value in memory: stores of one run have no branch,
//! loop or chunk call between them (the host functions an expression may
//! call touch no slot), and the run's last store of each slot is kept, so
//! memory is as the interpreter leaves it whenever anything else could
//! look. Dropping the store changes nothing but the time it takes. In a solver
//! stage put in demand order (`ir::lower::schedule`) the lets and state
//! values of one stage are read only while still in the window and are
//! stored again by the next stage: those stores go.

use std::collections::VecDeque;

use crate::ir::{Expr, Slot, SlotMap, Stmt};

/// How many recently stored or loaded slots are forwarded.
pub(super) const FORWARD: usize = 32;

/// The values of the most recently stored or loaded slots, as far as the
/// code emitted so far knows, valid in the current block because they were
/// defined in a block that dominates it. Emptied wherever control merges
/// or memory may change behind the code's back (loops, chunk calls, the
/// next instance of a fleet).
#[derive(Clone, Debug)]
pub(super) struct Window<V> {
    /// Each slot's value.
    known: SlotMap<V>,
    /// The order slots entered `known`, oldest first; at most [`FORWARD`].
    recent: VecDeque<Slot>,
}

impl<V: Copy> Window<V> {
    /// An empty window.
    pub(super) fn new() -> Self {
        Window {
            known: SlotMap::default(),
            recent: VecDeque::new(),
        }
    }

    /// The value `slot` holds, if known.
    pub(super) fn get(&self, slot: Slot) -> Option<V> {
        self.known.get(&slot).copied()
    }

    /// Records that `slot` holds `v`, forgetting the oldest slot past
    /// [`FORWARD`]. A slot already known keeps its place in the order.
    pub(super) fn remember(&mut self, slot: Slot, v: V) {
        if self.known.insert(slot, v).is_none() {
            self.recent.push_back(slot);
            if self.recent.len() > FORWARD
                && let Some(old) = self.recent.pop_front()
            {
                self.known.remove(&old);
            }
        }
    }

    /// Forgets everything.
    pub(super) fn forget(&mut self) {
        self.known.clear();
        self.recent.clear();
    }

    /// The same slots, without their values.
    fn slots(&self) -> Window<()> {
        Window {
            known: self.known.keys().map(|&s| (s, ())).collect(),
            recent: self.recent.clone(),
        }
    }
}

/// For each statement of `run` (consecutive `Store`s; anything else ends
/// the analysis and keeps its stores), whether its store is dead, when the
/// translator starts the run with `window` and translates it as
/// `Translator::expr` does: loads in evaluation order (operands left to
/// right, only the arguments a function takes), then the store.
pub(super) fn dead_stores<V: Copy>(window: &Window<V>, run: &[Stmt]) -> Vec<bool> {
    let mut sim = window.slots();
    // Per store, its slot and where its loads that read memory end in
    // `misses` (they start where the previous store's end).
    let mut steps: Vec<(Slot, usize)> = Vec::new();
    let mut misses: Vec<Slot> = Vec::new();
    let mut exprs: Vec<&Expr> = Vec::new();
    for s in run {
        let Stmt::Store(slot, e) = s else { break };
        exprs.push(e);
        while let Some(e) = exprs.pop() {
            match e {
                Expr::Const(_) => {}
                Expr::Load(s) => {
                    if sim.get(*s).is_none() {
                        misses.push(*s);
                        sim.remember(*s, ());
                    }
                }
                Expr::Unary(_, x) => exprs.push(x),
                Expr::Binary(_, a, b) => exprs.extend([&**b, &**a]),
                Expr::Call(f, args) => exprs.extend(args.iter().take(f.arity()).rev()),
                Expr::Select(c, a, b) => exprs.extend([&**b, &**a, &**c]),
            }
        }
        sim.remember(*slot, ());
        steps.push((*slot, misses.len()));
    }
    // Backwards: a store is dead if the next thing to touch its slot's
    // memory is another store.
    let mut stored_next: SlotMap<bool> = SlotMap::default();
    let mut dead = vec![false; run.len()];
    for (k, &(slot, end)) in steps.iter().enumerate().rev() {
        dead[k] = stored_next.insert(slot, true) == Some(true);
        let start = k.checked_sub(1).map_or(0, |p| steps[p].1);
        for m in &misses[start..end] {
            stored_next.insert(*m, false);
        }
    }
    dead
}

#[cfg(test)]
mod tests {
    //! Guards [`dead_stores`]: a store is dropped only when every read of
    //! its value before the next store of its slot is forwarded.

    use super::{FORWARD, Window, dead_stores};
    use crate::ir::{BinOp, Expr, Slot, Stmt};

    fn set(slot: Slot, e: Expr) -> Stmt {
        Stmt::Store(slot, e)
    }

    fn plus_one(slot: Slot) -> Expr {
        Expr::bin(BinOp::Add, Expr::Load(slot), Expr::Const(1.0))
    }

    /// `s0 = 1`, then `gap` stores to other slots, `s1000 = s0 + 1`, `s0 = 2`.
    fn program(gap: u32) -> Vec<Stmt> {
        let mut run = vec![set(0, Expr::Const(1.0))];
        run.extend((1..=gap).map(|s| set(s, Expr::Const(0.0))));
        run.push(set(1000, plus_one(0)));
        run.push(set(0, Expr::Const(2.0)));
        run
    }

    #[test]
    fn a_store_read_only_through_the_window_is_dead() {
        let dead = dead_stores(&Window::<()>::new(), &program(3));
        assert_eq!(dead, vec![true, false, false, false, false, false]);
    }

    #[test]
    fn a_store_read_from_memory_is_kept() {
        // The gap pushes s0 out of the window: s1000 reads it from memory.
        let gap = FORWARD as u32;
        let dead = dead_stores(&Window::<()>::new(), &program(gap));
        assert!(dead.iter().all(|d| !d), "{dead:?}");
    }

    #[test]
    fn the_last_store_and_stores_after_a_branch_are_kept() {
        let run = vec![
            set(0, Expr::Const(1.0)),
            Stmt::If(Expr::Const(1.0), vec![set(1, plus_one(0))], vec![]),
            set(0, Expr::Const(2.0)),
        ];
        assert_eq!(dead_stores(&Window::<()>::new(), &run), vec![false; 3]);
    }

    #[test]
    fn a_slot_known_before_the_run_is_forwarded() {
        // s0 is in the window when the run starts, so `s1 = s0` does not
        // read memory, and the first store of s1 is overwritten unread.
        let mut window = Window::new();
        window.remember(0, ());
        let run = vec![
            set(1, Expr::Load(0)),
            set(2, plus_one(1)),
            set(1, Expr::Const(0.0)),
        ];
        assert_eq!(dead_stores(&window, &run), vec![true, false, false]);
    }
}
