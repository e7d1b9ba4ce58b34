//! The dependency graph of a body: evaluation order and algebraic loops.
//!
//! Takes the checked members of the current body; gives the order in
//! which lets, outs and instances are evaluated each tick, reports every
//! cycle among them as `algebraic-loop` (naming the cycle), and computes
//! per component input whether the result depends on it without a state
//! in between (feedthrough). States, vars, `prev(...)` and instance
//! inputs without feedthrough break cycles.

use super::Checker;
use super::body::Class;
use crate::diagnostic::{Diagnostic, Kind};
use crate::hir::{InstanceOf, MemberId, MemberKind, Ref, TExpr, TExprKind};

/// Members `e` reads directly (through lets, outs and instances only).
fn reads(e: &TExpr, out: &mut Vec<MemberId>) {
    match &e.kind {
        TExprKind::Ref(Ref::Member(id)) => out.push(*id),
        TExprKind::Ref(Ref::Path(ids)) => out.push(ids[0]),
        TExprKind::Instance(id) => out.push(*id),
        TExprKind::Prev(_, init) => reads(init, out),
        TExprKind::Unary(_, x) | TExprKind::Lookup(_, x) => reads(x, out),
        TExprKind::Binary(_, a, b) => {
            reads(a, out);
            reads(b, out);
        }
        TExprKind::Builtin(_, xs) | TExprKind::Call(_, xs) => xs.iter().for_each(|x| reads(x, out)),
        TExprKind::If(c, a, b) => {
            reads(c, out);
            reads(a, out);
            reads(b, out);
        }
        _ => {}
    }
}

impl Checker {
    /// The direct same-tick dependencies of each member.
    fn edges(&self) -> Vec<Vec<MemberId>> {
        let b = &self.stack[self.stack.len() - 1];
        b.members
            .iter()
            .map(|m| {
                let mut out = Vec::new();
                match &m.kind {
                    MemberKind::Let { value } | MemberKind::Out { value } => reads(value, &mut out),
                    MemberKind::Actuator { value: Some(v), .. } => reads(v, &mut out),
                    MemberKind::Instance { of, args, .. } => {
                        let target = match of {
                            InstanceOf::Component(c) => &self.program.components[*c],
                            InstanceOf::Twin(t) => &self.program.twins[*t],
                        };
                        for (input, value) in args {
                            // An input only feeds the result through when
                            // no state sits in between.
                            let through = match of {
                                InstanceOf::Component(_) => {
                                    target.feedthrough.get(*input).copied().unwrap_or(true)
                                }
                                InstanceOf::Twin(_) => true,
                            };
                            if through {
                                reads(value, &mut out);
                            }
                        }
                    }
                    _ => {}
                }
                out
            })
            .collect()
    }

    /// Orders lets, outs, continuous actuators and instances, reports
    /// cycles, and computes feedthrough of the component inputs.
    pub(crate) fn order_and_loops(
        &mut self,
        result: &Option<TExpr>,
    ) -> (Vec<MemberId>, Vec<bool>, Vec<bool>) {
        let edges = self.edges();
        let n = edges.len();
        let b = &self.stack[self.stack.len() - 1];
        let computed = |id: MemberId| {
            matches!(
                b.members[id].kind,
                MemberKind::Let { .. }
                    | MemberKind::Out { .. }
                    | MemberKind::Instance { .. }
                    | MemberKind::Actuator { value: Some(_), .. }
            ) && b.class[id] != Class::Input
        };
        // Depth-first search; `path` holds the members on the current
        // chain so a back edge yields the cycle itself.
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            Active,
            Done,
        }
        let mut mark = vec![Mark::New; n];
        let mut order = Vec::new();
        let mut cycles: Vec<Vec<MemberId>> = Vec::new();
        for root in 0..n {
            if !computed(root) || mark[root] != Mark::New {
                continue;
            }
            let mut stack: Vec<(MemberId, usize)> = vec![(root, 0)];
            let mut path: Vec<MemberId> = vec![root];
            mark[root] = Mark::Active;
            while let Some(&mut (node, ref mut next)) = stack.last_mut() {
                if let Some(&dep) = edges[node].get(*next) {
                    *next += 1;
                    if !computed(dep) {
                        continue;
                    }
                    match mark[dep] {
                        Mark::New => {
                            mark[dep] = Mark::Active;
                            stack.push((dep, 0));
                            path.push(dep);
                        }
                        Mark::Active => {
                            if let Some(pos) = path.iter().position(|&x| x == dep) {
                                cycles.push(path[pos..].to_vec());
                            }
                        }
                        Mark::Done => {}
                    }
                } else {
                    mark[node] = Mark::Done;
                    order.push(node);
                    stack.pop();
                    path.pop();
                }
            }
        }
        let mut in_cycle = vec![false; n];
        for cycle in &cycles {
            for &id in cycle {
                in_cycle[id] = true;
            }
        }
        let mut seen_sets: Vec<Vec<MemberId>> = Vec::new();
        let mut diags = Vec::new();
        for cycle in cycles {
            let mut key = cycle.clone();
            key.sort_unstable();
            if seen_sets.contains(&key) {
                continue;
            }
            seen_sets.push(key);
            let first = *cycle.iter().min().unwrap_or(&cycle[0]);
            let start = cycle.iter().position(|&x| x == first).unwrap_or(0);
            let rotated: Vec<MemberId> = cycle[start..]
                .iter()
                .chain(&cycle[..start])
                .copied()
                .collect();
            let names: Vec<String> = rotated
                .iter()
                .map(|&i| format!("`{}`", b.members[i].name))
                .collect();
            let chain = format!("{} → {}", names.join(" → "), names[0]);
            let mut d = Diagnostic::new(
                Kind::AlgebraicLoop,
                b.members[first].span,
                if rotated.len() == 1 {
                    format!("`{}` depends on itself", b.members[first].name)
                } else {
                    format!("algebraic loop: {chain}")
                },
            )
            .label(if rotated.len() == 1 { "defined in terms of itself".to_string() } else { format!("starts a cycle: {chain}") })
            .with_help("break the cycle with a state (`der`), or use `prev(x, init)` to read the value of the previous tick");
            for &other in &rotated[1..] {
                d = d.with_secondary(b.members[other].span, "part of the cycle");
            }
            diags.push(d);
        }
        // Feedthrough: which inputs the result reaches through computed
        // members only.
        let inputs: Vec<MemberId> = (0..n).filter(|&i| b.class[i] == Class::Input).collect();
        let mut roots = Vec::new();
        if let Some(r) = result {
            reads(r, &mut roots);
        }
        for (i, m) in b.members.iter().enumerate() {
            if matches!(m.kind, MemberKind::Out { .. }) {
                roots.push(i);
            }
        }
        let mut reach = vec![false; n];
        while let Some(x) = roots.pop() {
            if std::mem::replace(&mut reach[x], true) {
                continue;
            }
            if computed(x) {
                roots.extend(edges[x].iter().copied());
            }
        }
        let feedthrough = inputs.iter().map(|&i| reach[i]).collect();
        self.diags.extend(diags);
        (order, feedthrough, in_cycle)
    }
}
