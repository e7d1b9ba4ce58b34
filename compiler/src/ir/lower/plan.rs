//! The tick plan: ordering the computed values and writing the programs.
//!
//! Takes every node, alarm, actuator, handler and derivative of the inlined
//! twin; gives the model's `init`, `tick` and `integrate` programs in the
//! order of the language's time semantics: lets in dependency order,
//! alarms, `on`/`every` handlers (then the lets that read what those
//! changed), actuators, `prev` memories; then the solver's stages, recomputing only the lets that move
//! with the states.

use super::solver::{EULER, RK4};
use super::{
    LowerError, Lowerer, Result, actuator_update, alarm_update, bin, c, clamp_expr, load, reads,
};
use crate::hir::{Body, Handler, MemberId, MemberKind, Solver};
use crate::ir::{BinOp, Expr, Func, Model, Slot, SlotKind, Stmt, UnOp};

impl<'p> Lowerer<'p> {
    /// Puts nodes in dependency order: gives the node indices.
    pub(super) fn order(&self, wanted: &[usize]) -> Result<Vec<usize>> {
        let mut mark = vec![0u8; self.nodes.len()];
        let mut out = Vec::new();
        for &root in wanted {
            if mark[root] != 0 {
                continue;
            }
            let mut stack = vec![(root, false)];
            while let Some((n, expanded)) = stack.pop() {
                if expanded {
                    mark[n] = 2;
                    out.push(n);
                    continue;
                }
                if mark[n] == 2 {
                    continue;
                }
                if mark[n] == 1 {
                    return Err(LowerError(format!(
                        "`{}` depends on itself",
                        self.slots[self.nodes[n].slot as usize].name
                    )));
                }
                mark[n] = 1;
                stack.push((n, true));
                let mut deps = Vec::new();
                reads(&self.nodes[n].expr, &mut deps);
                for d in deps {
                    if let Some(&dn) = self.node_of.get(&d) {
                        match mark[dn] {
                            0 => stack.push((dn, false)),
                            1 => {
                                return Err(LowerError(format!(
                                    "`{}` depends on itself",
                                    self.slots[self.nodes[dn].slot as usize].name
                                )));
                            }
                            _ => {}
                        }
                    }
                }
            }
        }
        Ok(out)
    }
    /// Nodes that an expression needs, transitively.
    pub(super) fn needed_by(&self, exprs: &[&Expr]) -> Vec<usize> {
        let mut seen = vec![false; self.nodes.len()];
        let mut stack = Vec::new();
        for e in exprs {
            reads(e, &mut stack);
        }
        let mut out = Vec::new();
        while let Some(s) = stack.pop() {
            if let Some(&n) = self.node_of.get(&s)
                && !seen[n]
            {
                seen[n] = true;
                out.push(n);
                reads(&self.nodes[n].expr, &mut stack);
            }
        }
        out.sort_unstable();
        out
    }
    /// Which nodes depend, directly or through other nodes, on a state or
    /// on time. `order` must be a dependency order of all nodes.
    pub(super) fn dynamic_nodes(&self, order: &[usize], states: &[Slot]) -> Vec<bool> {
        let mut dynamic = vec![false; self.nodes.len()];
        let mut reads_buf = Vec::new();
        for &n in order {
            reads_buf.clear();
            reads(&self.nodes[n].expr, &mut reads_buf);
            dynamic[n] = reads_buf.iter().any(|s| {
                *s == self.time
                    || states.contains(s)
                    || self.node_of.get(s).is_some_and(|&d| dynamic[d])
            });
        }
        dynamic
    }
    /// The nodes of `order` (a dependency order of all nodes) that read a
    /// slot of `changed` or a node that does, in that order.
    pub(super) fn reading(&self, order: &[usize], changed: &[Slot]) -> Vec<usize> {
        let mut stored = vec![false; self.slots.len()];
        for &s in changed {
            if let Some(x) = stored.get_mut(s as usize) {
                *x = true;
            }
        }
        let mut moved = vec![false; self.nodes.len()];
        let mut reads_buf = Vec::new();
        let mut out = Vec::new();
        for &n in order {
            reads_buf.clear();
            reads(&self.nodes[n].expr, &mut reads_buf);
            moved[n] = reads_buf.iter().any(|&s| {
                stored.get(s as usize).copied().unwrap_or(false)
                    || self.node_of.get(&s).is_some_and(|&d| moved[d])
            });
            if moved[n] {
                out.push(n);
            }
        }
        out
    }
    pub(super) fn eval_nodes(&self, order: &[usize]) -> Vec<Stmt> {
        order
            .iter()
            .map(|&n| Stmt::Store(self.nodes[n].slot, self.nodes[n].expr.clone()))
            .collect()
    }
    /// Writes the programs and assembles the model.
    pub(super) fn finish(mut self, body: &Body, solver: Solver) -> Result<Model> {
        let all: Vec<usize> = (0..self.nodes.len()).collect();
        let all_order = self.order(&all)?;
        let lets = self.eval_nodes(&all_order);

        // Handlers, collected depth-first in source order.
        let mut handlers: Vec<(usize, &'p Handler)> = Vec::new();
        let mut stack = vec![0usize];
        while let Some(i) = stack.pop() {
            for h in &self.insts[i].body.handlers {
                handlers.push((i, h));
            }
            let children: Vec<usize> = self.insts[i].child.iter().flatten().copied().collect();
            stack.extend(children.into_iter().rev());
        }
        let mut tick = lets.clone();
        // What runs between the two passes over the lets (alarms, then
        // handlers): the second pass recomputes only the lets that read,
        // directly or through other lets, a slot stored there.
        let lets_end = tick.len();
        for (_, spec) in &self.alarms {
            tick.extend(alarm_update(spec, self.k, self.dt));
        }
        let mut handler_stmts = Vec::new();
        for (n, (inst, h)) in handlers.iter().enumerate() {
            let mut body_stmts = Vec::new();
            for a in &h.body {
                let target = self.assign_target(*inst, a.target)?;
                let v = self.expr(*inst, &a.value, None)?;
                body_stmts.push(Stmt::Store(target, v));
            }
            if let Some(cond) = &h.on {
                let cond = self.expr(*inst, cond, None)?;
                let now = self.slot(format!("on{n}#now"), SlotKind::Scratch);
                let before = self.slot(format!("on{n}#before"), SlotKind::Internal);
                handler_stmts.push(Stmt::Store(
                    now,
                    Expr::Binary(BinOp::Ne, Box::new(cond), Box::new(c(0.0))),
                ));
                handler_stmts.push(Stmt::If(
                    bin(
                        BinOp::And,
                        load(now),
                        Expr::Unary(UnOp::Not, Box::new(load(before))),
                    ),
                    body_stmts,
                    Vec::new(),
                ));
                handler_stmts.push(Stmt::Store(before, load(now)));
            } else if let Some(period) = h.every {
                // Every D runs at t = D, 2D, ...: when k is a positive
                // multiple of the period in ticks (at least one tick).
                let p = Expr::Call(
                    Func::Floor,
                    vec![bin(
                        BinOp::Add,
                        bin(BinOp::Div, c(period), load(self.dt)),
                        c(0.5),
                    )],
                );
                let p = bin(BinOp::Max, p, c(1.0));
                let k = load(self.k);
                let rem = bin(
                    BinOp::Sub,
                    k.clone(),
                    bin(
                        BinOp::Mul,
                        Expr::Call(Func::Floor, vec![bin(BinOp::Div, k.clone(), p.clone())]),
                        p,
                    ),
                );
                let due = bin(
                    BinOp::And,
                    bin(BinOp::Gt, k, c(0.0)),
                    bin(BinOp::Eq, rem, c(0.0)),
                );
                handler_stmts.push(Stmt::If(due, body_stmts, Vec::new()));
            }
        }
        if !handler_stmts.is_empty() {
            tick.extend(handler_stmts);
            let (mut changed, mut loads) = (Vec::new(), Vec::new());
            for stmt in &tick[lets_end..] {
                stmt_slots(stmt, &mut changed, &mut loads);
            }
            tick.extend(self.eval_nodes(&self.reading(&all_order, &changed)));
        }
        for (_, spec) in &self.actuators {
            tick.extend(actuator_update(spec, self.k, self.dt));
        }
        for (slot, x) in &self.prevs {
            tick.push(Stmt::Store(*slot, x.clone()));
        }

        // Init: lets, initial states and vars in dependency order (a state
        // starting at a let that reads another state sees that state's
        // initial value), the lets once more, then actuator targets and
        // commands.
        let mut init = vec![Stmt::Store(self.k, c(0.0)), Stmt::Store(self.time, c(0.0))];
        let mut first: Vec<Stmt> = lets.clone();
        first.append(&mut self.state_inits);
        first.append(&mut self.var_inits);
        init.extend(dependency_order(first));
        init.extend(lets);
        for (_, spec) in &self.alarms {
            init.push(Stmt::Store(spec.streak, c(-1.0)));
        }
        for (_, spec) in &self.actuators {
            // A continuous actuator starts at its target (so a let reading
            // it at t = 0 sees that, not 0), or at 0 while the target is
            // NaN (no data yet: a slew could never leave NaN); another at
            // 0; both clamped.
            if spec.continuous {
                let target = load(spec.target);
                let known = bin(BinOp::Eq, target.clone(), target.clone());
                init.push(Stmt::Store(
                    spec.cmd,
                    Expr::Select(
                        Box::new(known),
                        Box::new(clamp_expr(target, spec.range)),
                        Box::new(clamp_expr(c(0.0), spec.range)),
                    ),
                ));
            } else {
                let start = clamp_expr(c(0.0), spec.range);
                init.push(Stmt::Store(spec.target, start.clone()));
                init.push(Stmt::Store(spec.cmd, start));
            }
        }

        // Integrate: the lets the derivatives need, recomputed per stage.
        let der_exprs: Vec<&Expr> = self.ders.iter().map(|(_, e)| e).collect();
        let needed = self.needed_by(&der_exprs);
        // Only lets that move with the states (or time) change between
        // stages; the others keep the values the tick computed.
        let state_slots: Vec<Slot> = self.ders.iter().map(|(s, _)| *s).collect();
        let dynamic = self.dynamic_nodes(&all_order, &state_slots);
        let needed: Vec<usize> = needed.into_iter().filter(|n| dynamic[*n]).collect();
        let stage_order = self.order(&needed)?;
        let stage_lets = self.eval_nodes(&stage_order);
        let states: Vec<Slot> = self.ders.iter().map(|(s, _)| *s).collect();
        let ders = std::mem::take(&mut self.ders);
        let integrate = match solver {
            Solver::Euler => self.explicit_rk(&states, &ders, &stage_lets, &EULER),
            Solver::Rk4 => self.explicit_rk(&states, &ders, &stage_lets, &RK4),
            Solver::Dopri5 { rtol, atol } => {
                let (stmts, h) = self.dopri5(&states, &ders, &stage_lets, rtol, atol);
                init.push(Stmt::Store(h, load(self.dt)));
                stmts
            }
        };
        let mut model = Model {
            name: body.name.clone(),
            persistent: 0,
            time: self.time,
            dt: self.dt,
            tick_index: self.k,
            step: body.step,
            solver,
            states,
            init_sensors: self.init_sensors,
            init,
            tick,
            integrate,
            outputs: self.outputs,
            sensors: self.sensors,
            params: self.params,
            alarms: self.alarms.into_iter().map(|(i, _)| i).collect(),
            actuators: self.actuators.into_iter().map(|(i, _)| i).collect(),
            slots: self.slots,
        };
        crate::ir::renumber::scratch_last(&mut model);
        Ok(model)
    }
    pub(super) fn assign_target(&self, inst: usize, id: MemberId) -> Result<Slot> {
        match &self.insts[inst].body.members[id].kind {
            MemberKind::Actuator { .. } => Ok(self.insts[inst].actuator_slots[&id].0),
            _ => self.member_slot(inst, id),
        }
    }
}

/// Orders statements so that each runs after the statements that store
/// what it reads; ties (and cycles, which are broken at the earliest
/// statement left) keep the given order.
fn dependency_order(stmts: Vec<Stmt>) -> Vec<Stmt> {
    use std::cmp::Reverse;
    use std::collections::{BinaryHeap, HashMap};
    let n = stmts.len();
    let mut writer: HashMap<Slot, usize> = HashMap::new();
    let mut reads: Vec<Vec<Slot>> = Vec::with_capacity(n);
    for (i, stmt) in stmts.iter().enumerate() {
        let (mut stores, mut loads) = (Vec::new(), Vec::new());
        stmt_slots(stmt, &mut stores, &mut loads);
        for s in stores {
            writer.entry(s).or_insert(i);
        }
        reads.push(loads);
    }
    let mut waiting = vec![0usize; n];
    let mut unblocks: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, loads) in reads.iter().enumerate() {
        let mut deps: Vec<usize> = loads
            .iter()
            .filter_map(|s| writer.get(s).copied())
            .filter(|&w| w != i)
            .collect();
        deps.sort_unstable();
        deps.dedup();
        waiting[i] = deps.len();
        for d in deps {
            unblocks[d].push(i);
        }
    }
    let mut ready: BinaryHeap<Reverse<usize>> =
        (0..n).filter(|&i| waiting[i] == 0).map(Reverse).collect();
    let mut done = vec![false; n];
    let mut order = Vec::with_capacity(n);
    while order.len() < n {
        let next = match ready.pop() {
            Some(Reverse(i)) => i,
            // A cycle: run its earliest statement as the old order did.
            None => match (0..n).find(|&i| !done[i]) {
                Some(i) => i,
                None => break,
            },
        };
        if done[next] {
            continue;
        }
        done[next] = true;
        order.push(next);
        for &u in &unblocks[next] {
            waiting[u] = waiting[u].saturating_sub(1);
            if waiting[u] == 0 && !done[u] {
                ready.push(Reverse(u));
            }
        }
    }
    let mut slots: Vec<Option<Stmt>> = stmts.into_iter().map(Some).collect();
    order.into_iter().filter_map(|i| slots[i].take()).collect()
}

/// The slots a statement stores and loads (loads include conditions).
fn stmt_slots(stmt: &Stmt, stores: &mut Vec<Slot>, loads: &mut Vec<Slot>) {
    match stmt {
        Stmt::Store(s, e) => {
            stores.push(*s);
            expr_loads(e, loads);
        }
        Stmt::If(cond, a, b) => {
            expr_loads(cond, loads);
            a.iter().chain(b).for_each(|s| stmt_slots(s, stores, loads));
        }
        Stmt::While(cond, body) => {
            expr_loads(cond, loads);
            body.iter().for_each(|s| stmt_slots(s, stores, loads));
        }
    }
}

/// The slots an expression loads, without recursion (expressions can be
/// very deep).
fn expr_loads(e: &Expr, loads: &mut Vec<Slot>) {
    let mut stack = vec![e];
    while let Some(e) = stack.pop() {
        match e {
            Expr::Load(s) => loads.push(*s),
            Expr::Const(_) => {}
            Expr::Unary(_, x) => stack.push(x),
            Expr::Binary(_, a, b) => stack.extend([&**a, &**b]),
            Expr::Call(_, xs) => stack.extend(xs.iter()),
            Expr::Select(a, b, c) => stack.extend([&**a, &**b, &**c]),
        }
    }
}
