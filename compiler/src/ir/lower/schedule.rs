//! Ordering a solver stage's statements so each value is used soon after
//! it is computed.
//!
//! Takes a list of statements (one solver stage: the stage's state values,
//! the lets the derivatives need, the derivatives); gives the same
//! statements in an order that keeps every dependency between them: a
//! statement still comes after the last earlier statement writing a slot
//! it reads or writes, and after every earlier statement reading a slot it
//! writes. Every load therefore still reads the value it read before and
//! every slot ends with the same value, so the result is the same, bit for
//! bit, in either order (and both engines run the new one).
//!
//! The order is demand-driven: the statements nothing else in the list
//! reads (the derivatives) are taken in their original order, each
//! preceded by whatever it depends on that is not placed yet, recursively,
//! in original order. Written out state by state, let by let and
//! derivative by derivative, a stage touches each value again hundreds of
//! statements later; in this order a derivative follows the lets it reads
//! and a let the states it reads, so the JIT forwards them in registers
//! instead of reloading them (a neighbour chain of 100 states loses two of
//! its four loads per state and stage).
//!
//! Linear in the size of the statements and the number of dependencies;
//! the walk uses an explicit stack.

use crate::ir::{Expr, Slot, SlotMap, Stmt};

/// `stmts` in demand-driven order (see the module docs).
pub(super) fn schedule(stmts: Vec<Stmt>) -> Vec<Stmt> {
    let preds = Dependencies::of(&stmts);
    let mut needed = vec![false; stmts.len()];
    for &p in &preds.flat {
        needed[p as usize] = true;
    }
    let sinks = (0..stmts.len()).filter(|&i| !needed[i]);
    let mut placed = vec![false; stmts.len()];
    let mut order = Vec::with_capacity(stmts.len());
    for root in sinks.chain(0..stmts.len()) {
        place(root, &preds, &mut placed, &mut order);
    }
    let mut slots: Vec<Option<Stmt>> = stmts.into_iter().map(Some).collect();
    order.into_iter().filter_map(|i| slots[i].take()).collect()
}

/// Appends `root` to `order` after its unplaced dependencies (depth first,
/// each node's dependencies in original order).
fn place(root: usize, preds: &Dependencies, placed: &mut [bool], order: &mut Vec<usize>) {
    if placed[root] {
        return;
    }
    // (statement, how many of its dependencies were visited)
    let mut stack = vec![(root, 0usize)];
    placed[root] = true;
    while let Some((node, next)) = stack.last_mut() {
        let node = *node;
        match preds.of_stmt(node).get(*next) {
            Some(&p) => {
                *next += 1;
                let p = p as usize;
                if !placed[p] {
                    placed[p] = true;
                    stack.push((p, 0));
                }
            }
            None => {
                order.push(node);
                stack.pop();
            }
        }
    }
}

/// For each statement, the earlier statements it must follow, ascending,
/// all in one vector.
struct Dependencies {
    /// Statement `i`'s are `flat[start[i]..start[i + 1]]`.
    flat: Vec<u32>,
    /// Where each statement's begin; one more entry than statements.
    start: Vec<usize>,
}

/// No reader: the end of a chain of readers.
const NONE: u32 = u32::MAX;

impl Dependencies {
    fn of_stmt(&self, i: usize) -> &[u32] {
        &self.flat[self.start[i]..self.start[i + 1]]
    }

    fn of(stmts: &[Stmt]) -> Dependencies {
        let mut last_writer: SlotMap<u32> = SlotMap::default();
        // The statements reading each slot since its last write, as chains
        // through `links`: (statement, the previous link or NONE).
        let mut readers: SlotMap<u32> = SlotMap::default();
        let mut links: Vec<(u32, u32)> = Vec::new();
        let mut deps = Dependencies {
            flat: Vec::new(),
            start: vec![0],
        };
        let mut walk = Walk::default();
        for (i, s) in stmts.iter().enumerate() {
            let i = i as u32;
            walk.slots_of(s);
            let first = deps.flat.len();
            for r in &walk.reads {
                deps.flat.extend(last_writer.get(r));
            }
            for w in &walk.writes {
                deps.flat.extend(last_writer.get(w));
                let mut link = readers.remove(w).unwrap_or(NONE);
                while let Some(&(reader, previous)) = links.get(link as usize) {
                    deps.flat.push(reader);
                    link = previous;
                }
            }
            for r in &walk.reads {
                let previous = readers.get(r).copied().unwrap_or(NONE);
                readers.insert(*r, links.len() as u32);
                links.push((i, previous));
            }
            for w in &walk.writes {
                last_writer.insert(*w, i);
            }
            let own = &mut deps.flat[first..];
            own.sort_unstable();
            let mut kept = first;
            for k in first..deps.flat.len() {
                let p = deps.flat[k];
                if p != i && (kept == first || deps.flat[kept - 1] != p) {
                    deps.flat[kept] = p;
                    kept += 1;
                }
            }
            deps.flat.truncate(kept);
            deps.start.push(kept);
        }
        deps
    }
}

/// The slots a statement loads and stores, anywhere inside it, with the
/// work lists reused from one statement to the next.
#[derive(Default)]
struct Walk<'s> {
    reads: Vec<Slot>,
    writes: Vec<Slot>,
    stmts: Vec<&'s Stmt>,
    exprs: Vec<&'s Expr>,
}

impl<'s> Walk<'s> {
    fn slots_of(&mut self, s: &'s Stmt) {
        self.reads.clear();
        self.writes.clear();
        self.stmts.push(s);
        while let Some(s) = self.stmts.pop() {
            match s {
                Stmt::Store(slot, e) => {
                    self.writes.push(*slot);
                    self.exprs.push(e);
                }
                Stmt::If(c, then, otherwise) => {
                    self.exprs.push(c);
                    self.stmts.extend(then.iter().chain(otherwise));
                }
                Stmt::While(c, body) => {
                    self.exprs.push(c);
                    self.stmts.extend(body);
                }
            }
        }
        while let Some(e) = self.exprs.pop() {
            match e {
                Expr::Const(_) => {}
                Expr::Load(slot) => self.reads.push(*slot),
                Expr::Unary(_, x) => self.exprs.push(x),
                Expr::Binary(_, a, b) => self.exprs.extend([&**a, &**b]),
                Expr::Call(_, args) => self.exprs.extend(args),
                Expr::Select(c, a, b) => self.exprs.extend([&**c, &**a, &**b]),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! Guards the scheduler's one promise: the new order computes the same
    //! memory, bit for bit, as the old one.

    use super::schedule;
    use crate::interp::{Memory, exec};
    use crate::ir::{BinOp, Expr, Slot, Stmt};

    const SLOTS: u32 = 12;

    /// A small linear congruential generator: deterministic, no dependency.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 33) % n
        }
    }

    fn expr(rng: &mut Rng, depth: u32) -> Expr {
        match rng.below(if depth == 0 { 2 } else { 4 }) {
            0 => Expr::Const(rng.below(7) as f64 - 3.0),
            1 => Expr::Load(rng.below(u64::from(SLOTS)) as Slot),
            2 => Expr::bin(BinOp::Sub, expr(rng, depth - 1), expr(rng, depth - 1)),
            _ => Expr::bin(BinOp::Mul, expr(rng, depth - 1), expr(rng, depth - 1)),
        }
    }

    fn stmt(rng: &mut Rng) -> Stmt {
        let store = |rng: &mut Rng| Stmt::Store(rng.below(u64::from(SLOTS)) as Slot, expr(rng, 2));
        if rng.below(8) == 0 {
            Stmt::If(expr(rng, 1), vec![store(rng)], vec![store(rng), store(rng)])
        } else {
            store(rng)
        }
    }

    fn memory() -> Memory {
        let model = crate::ir::Model::bare("", SLOTS, SLOTS);
        let mut mem = Memory::new(&model);
        for s in 0..SLOTS {
            mem.set(s, 1.0 + f64::from(s) * 0.37);
        }
        mem
    }

    #[test]
    fn random_straight_line_programs_compute_the_same_memory() {
        let mut rng = Rng(7);
        let mut reordered = 0;
        for _ in 0..2000 {
            let len = 1 + rng.below(20) as usize;
            let stmts: Vec<Stmt> = (0..len).map(|_| stmt(&mut rng)).collect();
            let scheduled = schedule(stmts.clone());
            assert_eq!(scheduled.len(), stmts.len());
            reordered += usize::from(scheduled != stmts);
            let (mut want, mut got) = (memory(), memory());
            exec(&stmts, &mut want);
            exec(&scheduled, &mut got);
            let bits = |m: &Memory| m.block.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                bits(&want),
                bits(&got),
                "{stmts:?}\nscheduled as {scheduled:?}"
            );
        }
        // The test is only worth something if the order does change.
        assert!(reordered > 500, "only {reordered} programs were reordered");
    }

    #[test]
    fn a_derivative_follows_the_lets_it_reads() {
        // x0, x1, x2 (states); f1 = x0 - x1, f2 = x1 - x2; k0 = -f1,
        // k1 = f1 - f2: in demand order x0 x1 f1 k0 x2 f2 k1.
        let (x, f, k) = (|i| i as Slot, |i| 2 + i as Slot, |i| 5 + i as Slot);
        let sub = |a, b| Expr::bin(BinOp::Sub, Expr::Load(a), Expr::Load(b));
        let stmts = vec![
            Stmt::Store(x(0), Expr::Const(1.0)),
            Stmt::Store(x(1), Expr::Const(2.0)),
            Stmt::Store(x(2), Expr::Const(3.0)),
            Stmt::Store(f(1), sub(x(0), x(1))),
            Stmt::Store(f(2), sub(x(1), x(2))),
            Stmt::Store(
                k(0),
                Expr::Unary(crate::ir::UnOp::Neg, Box::new(Expr::Load(f(1)))),
            ),
            Stmt::Store(k(1), sub(f(1), f(2))),
        ];
        let order: Vec<Slot> = schedule(stmts)
            .iter()
            .map(|s| match s {
                Stmt::Store(slot, _) => *slot,
                _ => Slot::MAX,
            })
            .collect();
        assert_eq!(order, vec![x(0), x(1), f(1), k(0), x(2), f(2), k(1)]);
    }
}
