//! The dependency graph of a body: evaluation order and algebraic loops.
//!
//! Takes the checked members of the current body; gives the order in
//! which lets, outs and instances are evaluated each tick, reports every
//! cycle among them as `algebraic-loop` (naming the cycle), and gives for
//! each member and for the result the members an instance's arguments
//! bind (component inputs; a twin's params and sensors) that it reads
//! within the same tick: its feedthrough, which use sites need.
//!
//! The nodes are the body's members and one node per argument of each
//! instance. Reading `inst.x`, or an instance's result, depends on exactly
//! the arguments that `x`, or the result, reads within the same tick in
//! the instantiated body. So feeding an instance's state back into its
//! arguments is no loop, while feeding back an output computed from the
//! same argument is one, as the lowering (which orders the nodes of all
//! instances together) would find. States, vars, alarms and `prev(...)`
//! break cycles.

use std::collections::HashMap;

use super::Checker;
use super::body::Class;
use crate::diagnostic::{Diagnostic, Kind};
use crate::hir::{Body, InstanceOf, Member, MemberId, MemberKind, Program, Ref, TExpr, TExprKind};

/// Something an expression reads within the same tick.
enum Read {
    /// A member of the same body.
    Member(MemberId),
    /// Arguments of an instance of the same body: the instance, and the
    /// members of its body that they bind.
    Args(MemberId, Vec<MemberId>),
}

/// How deep input defaults may refer to other inputs before the search
/// gives up (a cycle among defaults is the lowering's to report).
const MAX_DEPTH: usize = 64;

fn target(program: &Program, of: InstanceOf) -> &Body {
    match of {
        InstanceOf::Component(c) => &program.components[c],
        InstanceOf::Twin(t) => &program.twins[t],
    }
}

/// What member `id` instantiates, and its arguments, if it is an instance.
fn instance(members: &[Member], id: MemberId) -> Option<(InstanceOf, &[(MemberId, TExpr)])> {
    match &members.get(id)?.kind {
        MemberKind::Instance { of, args, .. } => Some((*of, args)),
        _ => None,
    }
}

/// What `e`, an expression of the body whose members are `members`, reads
/// within the same tick.
fn reads(program: &Program, members: &[Member], e: &TExpr, out: &mut Vec<Read>) {
    match &e.kind {
        TExprKind::Ref(Ref::Member(id)) => out.push(Read::Member(*id)),
        TExprKind::Ref(Ref::Path(ids)) => {
            if let Some((of, _)) = instance(members, ids[0]) {
                let inputs = path_inputs(program, target(program, of), &ids[1..]);
                out.push(Read::Args(ids[0], inputs));
            }
        }
        TExprKind::Instance(id) => {
            if let Some((of, _)) = instance(members, *id) {
                let inputs = target(program, of).result_inputs.clone();
                out.push(Read::Args(*id, inputs));
            }
        }
        TExprKind::Prev(_, init) => reads(program, members, init, out),
        TExprKind::Unary(_, x) | TExprKind::Lookup(_, x) => reads(program, members, x, out),
        TExprKind::Binary(_, a, b) => {
            reads(program, members, a, out);
            reads(program, members, b, out);
        }
        TExprKind::Builtin(_, xs) | TExprKind::Call(_, xs) => {
            xs.iter().for_each(|x| reads(program, members, x, out));
        }
        TExprKind::If(c, a, b) => {
            reads(program, members, c, out);
            reads(program, members, a, out);
            reads(program, members, b, out);
        }
        _ => {}
    }
}

/// The members of `body` bound by arguments that its member path `path`
/// (`x`, or `x.y` through its instance `x`) reads within the same tick.
fn path_inputs(program: &Program, body: &Body, path: &[MemberId]) -> Vec<MemberId> {
    match path {
        [] => Vec::new(),
        [x] => body.member_inputs.get(*x).cloned().unwrap_or_default(),
        [x, rest @ ..] => {
            let Some((of, _)) = instance(&body.members, *x) else {
                return Vec::new();
            };
            let mut out = Vec::new();
            for j in path_inputs(program, target(program, of), rest) {
                bound_inputs(program, body, *x, j, &mut out, 0);
            }
            out.sort_unstable();
            out.dedup();
            out
        }
    }
}

/// The members of `body` bound by arguments that the value of input `j`
/// of its instance `inst` reads: through the argument, or through the
/// input's default when the argument is left out.
fn bound_inputs(
    program: &Program,
    body: &Body,
    inst: MemberId,
    j: MemberId,
    out: &mut Vec<MemberId>,
    depth: usize,
) {
    let Some((of, args)) = instance(&body.members, inst) else {
        return;
    };
    if depth > MAX_DEPTH {
        return;
    }
    if let Some((_, e)) = args.iter().find(|(k, _)| *k == j) {
        let mut rs = Vec::new();
        reads(program, &body.members, e, &mut rs);
        for r in rs {
            match r {
                Read::Member(id) => out.extend(body.member_inputs.get(id).into_iter().flatten()),
                Read::Args(inner, js) => {
                    for k in js {
                        bound_inputs(program, body, inner, k, out, depth + 1);
                    }
                }
            }
        }
    } else {
        for k in default_inputs(program, of, j) {
            bound_inputs(program, body, inst, k, out, depth + 1);
        }
    }
}

/// The other inputs of `of` that the default of its input `j` reads.
fn default_inputs(program: &Program, of: InstanceOf, j: MemberId) -> Vec<MemberId> {
    let body = target(program, of);
    let Some(MemberKind::Input { default: Some(d) }) = body.members.get(j).map(|m| &m.kind) else {
        return Vec::new();
    };
    let mut rs = Vec::new();
    reads(program, &body.members, d, &mut rs);
    let mut out: Vec<MemberId> = rs
        .into_iter()
        .filter_map(|r| match r {
            Read::Member(k) => body.member_inputs.get(k).cloned(),
            Read::Args(..) => None,
        })
        .flatten()
        .filter(|&k| k != j)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The graph of the body being checked: nodes `0..n` are its members,
/// then one node per instance argument.
struct Graph {
    /// Per node, the nodes it reads within the same tick.
    edges: Vec<Vec<usize>>,
    /// Per argument node (from `n` on), its instance and the input it binds.
    args: Vec<(MemberId, MemberId)>,
    /// The argument node of (instance, input).
    arg_node: HashMap<(MemberId, MemberId), usize>,
}

impl Graph {
    fn build(program: &Program, members: &[Member]) -> Graph {
        let n = members.len();
        let mut g = Graph {
            edges: Vec::new(),
            args: Vec::new(),
            arg_node: HashMap::new(),
        };
        for (id, _) in members.iter().enumerate() {
            for (j, _) in instance(members, id).map_or(&[][..], |(_, a)| a) {
                g.arg_node.insert((id, *j), n + g.args.len());
                g.args.push((id, *j));
            }
        }
        for m in members {
            let value = match &m.kind {
                MemberKind::Let { value }
                | MemberKind::Out { value }
                | MemberKind::Actuator {
                    value: Some(value), ..
                } => Some(value),
                _ => None,
            };
            let edges = value.map_or_else(Vec::new, |v| g.nodes_read(program, members, v));
            g.edges.push(edges);
        }
        for k in 0..g.args.len() {
            let (inst, j) = g.args[k];
            let edges = instance(members, inst)
                .and_then(|(_, a)| a.iter().find(|(x, _)| *x == j))
                .map_or_else(Vec::new, |(_, e)| g.nodes_read(program, members, e));
            g.edges.push(edges);
        }
        g
    }

    /// The nodes an expression of the body reads within the same tick.
    fn nodes_read(&self, program: &Program, members: &[Member], e: &TExpr) -> Vec<usize> {
        let mut rs = Vec::new();
        reads(program, members, e, &mut rs);
        let mut out = Vec::new();
        for r in rs {
            match r {
                Read::Member(id) => out.push(id),
                Read::Args(inst, js) => {
                    for j in js {
                        self.arg_nodes(program, members, inst, j, &mut out, 0);
                    }
                }
            }
        }
        out
    }

    /// The argument nodes that input `j` of instance `inst` stands for:
    /// its argument, or those its default reads when it has none.
    fn arg_nodes(
        &self,
        program: &Program,
        members: &[Member],
        inst: MemberId,
        j: MemberId,
        out: &mut Vec<usize>,
        depth: usize,
    ) {
        if let Some(&node) = self.arg_node.get(&(inst, j)) {
            out.push(node);
        } else if depth <= MAX_DEPTH
            && let Some((of, _)) = instance(members, inst)
        {
            for k in default_inputs(program, of, j) {
                self.arg_nodes(program, members, inst, k, out, depth + 1);
            }
        }
    }
}

impl Checker {
    /// Orders lets, outs, continuous actuators and instances, reports
    /// cycles, and gives the feedthrough of every member and of the
    /// result, and which members are on a cycle.
    pub(crate) fn order_and_loops(&mut self, result: &Option<TExpr>) -> Ordered {
        let b = &self.stack[self.stack.len() - 1];
        let members = &b.members;
        let n = members.len();
        let graph = Graph::build(&self.program, members);
        let total = graph.edges.len();
        let owner = |node: usize| {
            if node < n {
                node
            } else {
                graph.args[node - n].0
            }
        };
        let computed = |node: usize| {
            node >= n
                || matches!(
                    members[node].kind,
                    MemberKind::Let { .. }
                        | MemberKind::Out { .. }
                        | MemberKind::Instance { .. }
                        | MemberKind::Actuator { value: Some(_), .. }
                ) && b.class[node] != Class::Input
        };
        let bindable = |id: MemberId| {
            id < n
                && (b.class[id] == Class::Input
                    || b.is_twin && matches!(b.class[id], Class::Param | Class::Sensor))
        };
        let (order, cycles) = depth_first(&graph.edges, computed);

        // Feedthrough: dependencies come first in `order` (but along a
        // cycle, which is an error anyway).
        let mut inputs: Vec<Vec<MemberId>> = vec![Vec::new(); total];
        let gather = |inputs: &Vec<Vec<MemberId>>, deps: &[usize]| {
            let mut out: Vec<MemberId> = Vec::new();
            for &d in deps {
                if bindable(d) {
                    out.push(d);
                } else if computed(d) {
                    out.extend(&inputs[d]);
                }
            }
            out.sort_unstable();
            out.dedup();
            out
        };
        for &node in &order {
            inputs[node] = gather(&inputs, &graph.edges[node]);
        }
        let member_inputs = (0..n)
            .map(|id| {
                if bindable(id) {
                    vec![id]
                } else {
                    inputs[id].clone()
                }
            })
            .collect();
        let result_inputs = result.as_ref().map_or_else(Vec::new, |r| {
            gather(&inputs, &graph.nodes_read(&self.program, members, r))
        });

        let mut in_cycle = vec![false; n];
        for cycle in &cycles {
            for &node in cycle {
                in_cycle[owner(node)] = true;
            }
        }
        let diags = cycle_diagnostics(members, cycles, owner);
        let eval_order = order.into_iter().filter(|&x| x < n).collect();
        self.diags.extend(diags);
        Ordered {
            eval_order,
            member_inputs,
            result_inputs,
            in_cycle,
        }
    }
}

/// What [`Checker::order_and_loops`] gives.
pub(crate) struct Ordered {
    /// Lets, outs, continuous actuators and instances in evaluation order.
    pub eval_order: Vec<MemberId>,
    /// Per member, the argument-bound members it reads within a tick.
    pub member_inputs: Vec<Vec<MemberId>>,
    /// The same for the result.
    pub result_inputs: Vec<MemberId>,
    /// Per member, whether it is on an algebraic loop.
    pub in_cycle: Vec<bool>,
}

/// Depth-first search from every computed node, following edges between
/// computed nodes: gives the nodes in post-order (dependencies first) and
/// every cycle found, as the list of its nodes.
fn depth_first(
    edges: &[Vec<usize>],
    computed: impl Fn(usize) -> bool,
) -> (Vec<usize>, Vec<Vec<usize>>) {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    let mut mark = vec![Mark::New; edges.len()];
    let mut order = Vec::new();
    let mut cycles = Vec::new();
    for root in 0..edges.len() {
        if !computed(root) || mark[root] != Mark::New {
            continue;
        }
        // `path` holds the nodes on the current chain, so a back edge
        // yields the cycle itself.
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        let mut path: Vec<usize> = vec![root];
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
    (order, cycles)
}

/// One `algebraic-loop` per distinct cycle, naming its members (an
/// argument node stands for its instance).
fn cycle_diagnostics(
    members: &[Member],
    cycles: Vec<Vec<usize>>,
    owner: impl Fn(usize) -> MemberId,
) -> Vec<Diagnostic> {
    let mut seen_sets: Vec<Vec<MemberId>> = Vec::new();
    let mut diags = Vec::new();
    for cycle in cycles {
        let mut cycle: Vec<MemberId> = cycle.into_iter().map(&owner).collect();
        cycle.dedup();
        while cycle.len() > 1 && cycle.first() == cycle.last() {
            cycle.pop();
        }
        let mut key = cycle.clone();
        key.sort_unstable();
        key.dedup();
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
            .map(|&i| format!("`{}`", members[i].name))
            .collect();
        let chain = format!("{} → {}", names.join(" → "), names[0]);
        let mut d = Diagnostic::new(
            Kind::AlgebraicLoop,
            members[first].span,
            if rotated.len() == 1 {
                format!("`{}` depends on itself", members[first].name)
            } else {
                format!("algebraic loop: {chain}")
            },
        )
        .label(match (rotated.len(), &members[first].kind) {
            (1, MemberKind::Instance { .. }) => {
                "its arguments read its own results, with no state in between".to_string()
            }
            (1, _) => "defined in terms of itself".to_string(),
            _ => format!("starts a cycle: {chain}"),
        })
        .with_help("break the cycle with a state (`der`), or use `prev(x, init)` to read the value of the previous tick");
        for &other in &rotated[1..] {
            d = d.with_secondary(members[other].span, "part of the cycle");
        }
        diags.push(d);
    }
    diags
}
