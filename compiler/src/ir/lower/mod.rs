//! Lowering: checked HIR to the execution IR.
//!
//! Takes a checked [`Program`] and one of its twins; gives a [`Model`]. Every
//! component and twin instance is inlined (its members become slots named
//! `inst.member`); every computed value (lets, outs, component inputs and
//! results, continuous actuator targets) becomes a node, and all nodes of
//! all instances are put in one dependency order, so an instance whose
//! input depends on its own output through a state evaluates correctly.
//! Then the tick plan of the language's time semantics is written out as
//! statements, and the solver's stages after it. Last, [`crate::ir::slim`]
//! takes the slots of lets that need no memory of their own away
//! ([`lower_reference`] keeps them, for the tests that check that pass).

mod expr;
mod lookup;
mod plan;
mod rules;
mod schedule;
mod solver;

use rules::{actuator_update, alarm_update, clamp_expr};

use std::collections::HashMap;

use super::{
    ActuatorInfo, AlarmInfo, BinOp, Expr, Format, MessagePiece, Model, Output, ParamInfo,
    SensorInfo, Slot, SlotInfo, SlotKind, Stmt,
};
use crate::check::types::Ty;
use crate::hir::{
    Body, DisplayUnit, InstanceOf, MemberId, MemberKind, MessagePart, Program, Ref, Solver, TExpr,
    TExprKind,
};

/// Why a checked twin cannot be lowered (only programs with errors, or
/// constructs the engines do not run, such as recursive functions).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LowerError(pub String);

impl std::fmt::Display for LowerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LowerError {}

type Result<T> = std::result::Result<T, LowerError>;

/// Lowers twin `twin` of a checked program.
pub fn lower(program: &Program, twin: usize) -> Result<Model> {
    lower_with(program, twin, None)
}

/// Lowers twin `twin`, writing the integrator for `solver` instead of the
/// twin's own (`twinc sim --solver`).
pub fn lower_with(program: &Program, twin: usize, solver: Option<Solver>) -> Result<Model> {
    lower_with_exprs(program, twin, solver, &[]).map(|(m, _)| m)
}

/// Lowers twin `twin` and, in the context of its root (as scenarios and
/// tests see it), the extra expressions `exprs`; gives the model and those
/// expressions over the model's slots.
pub fn lower_with_exprs(
    program: &Program,
    twin: usize,
    solver: Option<Solver>,
    exprs: &[&TExpr],
) -> Result<(Model, Vec<Expr>)> {
    let (mut model, mut extra) = lower_unslimmed(program, twin, solver, exprs)?;
    crate::ir::slim::slim(&mut model, &mut extra);
    Ok((model, extra))
}

/// [`lower_with`] without [`crate::ir::slim`]: one slot for every let.
/// The reference that tests hold the slimmed model to.
pub fn lower_reference(program: &Program, twin: usize, solver: Option<Solver>) -> Result<Model> {
    lower_unslimmed(program, twin, solver, &[]).map(|(m, _)| m)
}

fn lower_unslimmed(
    program: &Program,
    twin: usize,
    solver: Option<Solver>,
    exprs: &[&TExpr],
) -> Result<(Model, Vec<Expr>)> {
    let body = program
        .twins
        .get(twin)
        .ok_or_else(|| LowerError(format!("no twin number {twin}")))?;
    let mut l = Lowerer {
        program,
        slots: Vec::new(),
        insts: Vec::new(),
        nodes: Vec::new(),
        node_of: HashMap::new(),
        prevs: Vec::new(),
        init_sensors: Vec::new(),
        state_inits: Vec::new(),
        var_inits: Vec::new(),
        sensors: Vec::new(),
        params: Vec::new(),
        alarms: Vec::new(),
        actuators: Vec::new(),
        ders: Vec::new(),
        outputs: Vec::new(),
        inline_depth: 0,
        in_node: false,
        lookup_args: 0,
        aliased: Vec::new(),
        time: 0,
        dt: 0,
        k: 0,
    };
    // Time is the same for every instance of a fleet: it lives in the
    // shared scratch, and the driver advances it after `integrate`.
    l.time = l.slot("#t", SlotKind::Scratch);
    l.dt = l.slot("#dt", SlotKind::Scratch);
    l.k = l.slot("#k", SlotKind::Scratch);
    let root = l.instantiate(body, String::new(), None)?;
    l.alias_inputs();
    l.lower_instance(root)?;
    l.collect_outputs(root, "");
    let extra: Vec<Expr> = exprs
        .iter()
        .map(|e| l.expr(root, e, None))
        .collect::<Result<_>>()?;
    let names: Vec<String> = l.slots.iter().map(|s| s.name.clone()).collect();
    let solver = solver.unwrap_or(body.solver);
    let model = l.finish(body, solver)?;
    // `finish` renumbers slots; the extra expressions follow by name.
    let map: Vec<Slot> = names.iter().map(|n| model.slot(n).unwrap_or(0)).collect();
    let extra = extra.into_iter().map(|mut e| {
        crate::ir::renumber::remap_expr(&mut e, &map);
        e
    });
    Ok((model, extra.collect()))
}

/// One inlined instance.
struct Inst<'p> {
    body: &'p Body,
    prefix: String,
    /// The slot of each member (None for members with no value of their own).
    slot_of: Vec<Option<Slot>>,
    /// The instance made for each instance member.
    child: Vec<Option<usize>>,
    /// The parent instance and the arguments it passes, by member id.
    parent: Option<(usize, &'p [(MemberId, TExpr)])>,
    /// The slot of the single result (components with `return`).
    result: Option<Slot>,
    /// For actuators: (target slot, clamp counter slot).
    actuator_slots: HashMap<MemberId, (Slot, Slot)>,
    /// For sensors: the last-sample-time slot.
    sample_slots: HashMap<MemberId, Slot>,
    /// For alarms: the streak-start slot.
    streak_slots: HashMap<MemberId, Slot>,
    /// Display units of unit parameters, from the arguments.
    generic_units: HashMap<String, DisplayUnit>,
}

struct Node {
    slot: Slot,
    expr: Expr,
}

struct AlarmSpec {
    slot: Slot,
    streak: Slot,
    when: Expr,
    hold: Option<Expr>,
    clear: Option<Expr>,
}

struct ActuatorSpec {
    cmd: Slot,
    target: Slot,
    clamps: Slot,
    continuous: bool,
    range: Option<(f64, f64)>,
    slew: Option<f64>,
}

struct Lowerer<'p> {
    program: &'p Program,
    slots: Vec<SlotInfo>,
    insts: Vec<Inst<'p>>,
    nodes: Vec<Node>,
    node_of: HashMap<Slot, usize>,
    prevs: Vec<(Slot, Expr)>,
    init_sensors: Vec<Stmt>,
    state_inits: Vec<Stmt>,
    var_inits: Vec<Stmt>,
    sensors: Vec<SensorInfo>,
    params: Vec<ParamInfo>,
    alarms: Vec<(AlarmInfo, AlarmSpec)>,
    actuators: Vec<(ActuatorInfo, ActuatorSpec)>,
    ders: Vec<(Slot, Expr)>,
    outputs: Vec<Output>,
    inline_depth: usize,
    /// Whether the expression being lowered is a node's (a computed
    /// value), where a lookup's argument may become a node of its own.
    in_node: bool,
    /// How many lookup arguments got a slot, for unique names.
    lookup_args: usize,
    /// Inputs that share their argument's slot (instance, member).
    aliased: Vec<(usize, MemberId)>,
    time: Slot,
    dt: Slot,
    k: Slot,
}

fn load(s: Slot) -> Expr {
    Expr::Load(s)
}

fn c(x: f64) -> Expr {
    Expr::Const(x)
}

fn bin(op: BinOp, a: Expr, b: Expr) -> Expr {
    Expr::bin(op, a, b)
}

fn format_of(ty: &Ty, program: &Program) -> Format {
    match ty {
        Ty::Int => Format::Int,
        Ty::Bool => Format::Bool,
        Ty::Enum(e) => Format::Enum(
            program
                .enums
                .get(*e)
                .map(|e| e.variants.clone())
                .unwrap_or_default(),
        ),
        _ => Format::Real,
    }
}

/// The slots an expression reads.
fn reads(e: &Expr, out: &mut Vec<Slot>) {
    match e {
        Expr::Const(_) => {}
        Expr::Load(s) => out.push(*s),
        Expr::Unary(_, x) => reads(x, out),
        Expr::Binary(_, a, b) => {
            reads(a, out);
            reads(b, out);
        }
        Expr::Call(_, xs) => xs.iter().for_each(|x| reads(x, out)),
        Expr::Select(a, b, d) => {
            reads(a, out);
            reads(b, out);
            reads(d, out);
        }
    }
}

impl<'p> Lowerer<'p> {
    fn slot(&mut self, name: impl Into<String>, kind: SlotKind) -> Slot {
        self.slots.push(SlotInfo {
            name: name.into(),
            kind,
        });
        (self.slots.len() - 1) as Slot
    }

    /// Lowers an expression that becomes a node's value.
    fn node_expr(&mut self, inst: usize, e: &TExpr) -> Result<Expr> {
        let outer = std::mem::replace(&mut self.in_node, true);
        let r = self.expr(inst, e, None);
        self.in_node = outer;
        r
    }

    fn node(&mut self, slot: Slot, expr: Expr) {
        self.node_of.insert(slot, self.nodes.len());
        self.nodes.push(Node { slot, expr });
    }

    /// Pass A: creates an instance and, recursively, its children, with a
    /// slot for every member.
    fn instantiate(
        &mut self,
        body: &'p Body,
        prefix: String,
        parent: Option<(usize, &'p [(MemberId, TExpr)])>,
    ) -> Result<usize> {
        if self.insts.len() > 100_000 {
            return Err(LowerError(
                "more than 100000 instances: is an instance recursive?".into(),
            ));
        }
        let index = self.insts.len();
        self.insts.push(Inst {
            body,
            prefix: prefix.clone(),
            slot_of: vec![None; body.members.len()],
            child: vec![None; body.members.len()],
            parent,
            result: None,
            actuator_slots: HashMap::new(),
            sample_slots: HashMap::new(),
            streak_slots: HashMap::new(),
            generic_units: HashMap::new(),
        });
        // Anonymous instances bound directly to a let take the let's name.
        let mut anon_names: HashMap<MemberId, String> = HashMap::new();
        for m in &body.members {
            if let MemberKind::Let { value } = &m.kind
                && let TExprKind::Instance(id) = value.kind
                && !body.members[id].named
            {
                anon_names.insert(id, m.name.clone());
            }
        }
        let mut anon_count = 0;
        for (id, m) in body.members.iter().enumerate() {
            let name = format!("{prefix}{}", m.name);
            let slot = match &m.kind {
                // Inputs get their slot after the whole tree exists
                // (`alias_inputs`): a plain signal is passed by reference.
                MemberKind::Input { .. } => None,
                MemberKind::Sensor { .. } => {
                    let s = self.slot(&name, SlotKind::Sensor);
                    let t = self.slot(format!("{name}#sampled_at"), SlotKind::Internal);
                    self.insts[index].sample_slots.insert(id, t);
                    Some(s)
                }
                MemberKind::Actuator { .. } => {
                    let s = self.slot(&name, SlotKind::Actuator);
                    let target = self.slot(format!("{name}#target"), SlotKind::ActuatorTarget);
                    let clamps = self.slot(format!("{name}#clamps"), SlotKind::Internal);
                    self.insts[index]
                        .actuator_slots
                        .insert(id, (target, clamps));
                    Some(s)
                }
                MemberKind::Param { .. } => Some(self.slot(&name, SlotKind::Param)),
                MemberKind::State { .. } => Some(self.slot(&name, SlotKind::State)),
                MemberKind::Var { .. } => Some(self.slot(&name, SlotKind::Var)),
                MemberKind::Let { .. } | MemberKind::Out { .. } => {
                    Some(self.slot(&name, SlotKind::Let))
                }
                MemberKind::Alarm { .. } => {
                    let s = self.slot(&name, SlotKind::Alarm);
                    let streak = self.slot(format!("{name}#streak"), SlotKind::Internal);
                    self.insts[index].streak_slots.insert(id, streak);
                    Some(s)
                }
                MemberKind::Instance { of, args, .. } => {
                    let target = match of {
                        InstanceOf::Component(c) => &self.program.components[*c],
                        InstanceOf::Twin(t) => &self.program.twins[*t],
                    };
                    let child_name = if m.named {
                        m.name.clone()
                    } else if let Some(n) = anon_names.get(&id) {
                        n.clone()
                    } else {
                        anon_count += 1;
                        format!("{}_{anon_count}", target.name)
                    };
                    let child = self.instantiate(
                        target,
                        format!("{prefix}{child_name}."),
                        Some((index, args)),
                    )?;
                    self.insts[index].child[id] = Some(child);
                    self.insts[child].result
                }
            };
            self.insts[index].slot_of[id] = slot;
        }
        // A result that is just a member (`return y`) is that member's slot.
        let result = match &body.result {
            Some(TExpr {
                kind: TExprKind::Ref(Ref::Member(j)),
                ..
            }) if self.insts[index].slot_of[*j].is_some() => self.insts[index].slot_of[*j],
            Some(_) => Some(self.slot(format!("{prefix}#result"), SlotKind::Let)),
            None => None,
        };
        self.insts[index].result = result;
        Ok(index)
    }

    /// Gives every component input a slot: the argument's own slot when
    /// the argument is a plain signal of the parent (no copy each tick),
    /// a fresh one otherwise.
    fn alias_inputs(&mut self) {
        for inst in 0..self.insts.len() {
            let body = self.insts[inst].body;
            for (id, m) in body.members.iter().enumerate() {
                if !matches!(m.kind, MemberKind::Input { .. }) {
                    continue;
                }
                let aliased = match self.bound_arg(inst, id) {
                    Some((
                        parent,
                        TExpr {
                            kind: TExprKind::Ref(Ref::Member(j)),
                            ..
                        },
                    )) => self.insts[parent].slot_of[*j],
                    _ => None,
                };
                let slot = match aliased {
                    Some(s) => {
                        self.aliased.push((inst, id));
                        s
                    }
                    None => {
                        let name = format!("{}{}", self.insts[inst].prefix, m.name);
                        self.slot(name, SlotKind::Let)
                    }
                };
                self.insts[inst].slot_of[id] = Some(slot);
            }
        }
    }

    /// The display unit a member is reported in, with unit parameters
    /// replaced by the units of the arguments that fixed them.
    fn unit_of(&self, inst: usize, id: MemberId) -> DisplayUnit {
        let m = &self.insts[inst].body.members[id];
        self.insts[inst]
            .generic_units
            .get(&m.unit.text)
            .cloned()
            .unwrap_or_else(|| m.unit.clone())
    }

    /// Pass B: lowers every member of an instance and its children.
    fn lower_instance(&mut self, inst: usize) -> Result<()> {
        let body = self.insts[inst].body;
        self.resolve_generic_units(inst);
        for (id, m) in body.members.iter().enumerate() {
            let Some(slot) = self.insts[inst].slot_of[id] else {
                if let Some(child) = self.insts[inst].child[id] {
                    self.lower_instance(child)?;
                }
                continue;
            };
            let path = format!("{}{}", self.insts[inst].prefix, m.name);
            let bound = self.bound_arg(inst, id);
            match &m.kind {
                MemberKind::Input { .. } if self.aliased.contains(&(inst, id)) => {}
                MemberKind::Input { default } => {
                    let e = match (bound, default) {
                        (Some((parent, arg)), _) => self.node_expr(parent, arg)?,
                        (None, Some(d)) => self.node_expr(inst, d)?,
                        (None, None) => c(f64::NAN),
                    };
                    self.node(slot, e);
                }
                MemberKind::Sensor {
                    range,
                    stale_after,
                    default,
                } => {
                    let sampled = self.insts[inst].sample_slots[&id];
                    if let Some((parent, arg)) = bound {
                        // A sub-twin's sensor wired by its parent.
                        let e = self.node_expr(parent, arg)?;
                        self.node(slot, e);
                        self.init_sensors.push(Stmt::Store(sampled, c(0.0)));
                        continue;
                    }
                    let d = match default {
                        Some(d) => self.expr(inst, d, None)?,
                        None => c(f64::NAN),
                    };
                    self.init_sensors.push(Stmt::Store(slot, d));
                    self.init_sensors.push(Stmt::Store(sampled, c(f64::NAN)));
                    let dimension = match &m.ty {
                        Ty::Real(q) => q.dim,
                        _ => crate::units::Dimension::NONE,
                    };
                    self.sensors.push(SensorInfo {
                        name: path,
                        slot,
                        last_sample: sampled,
                        unit: self.unit_of(inst, id),
                        dimension,
                        range: *range,
                        stale_after: *stale_after,
                        format: format_of(&m.ty, self.program),
                    });
                }
                MemberKind::Param { value } => {
                    let default = match bound {
                        Some((parent, arg)) => self.expr(parent, arg, None)?,
                        None => self.expr(inst, value, None)?,
                    };
                    let (dimension, affine) = match &m.ty {
                        Ty::Real(q) => (q.dim, q.affinity == crate::check::types::Affinity::Point),
                        _ => (crate::units::Dimension::NONE, false),
                    };
                    self.params.push(ParamInfo {
                        name: path,
                        slot,
                        default,
                        unit: self.unit_of(inst, id),
                        dimension,
                        affine,
                    });
                }
                MemberKind::State { init } => {
                    let e = self.expr(inst, init, None)?;
                    self.state_inits.push(Stmt::Store(slot, e));
                }
                MemberKind::Var { init } => {
                    let e = self.expr(inst, init, None)?;
                    self.var_inits.push(Stmt::Store(slot, e));
                }
                MemberKind::Let { value } | MemberKind::Out { value } => {
                    let e = self.node_expr(inst, value)?;
                    self.node(slot, e);
                }
                MemberKind::Actuator { range, slew, value } => {
                    let (target, clamps) = self.insts[inst].actuator_slots[&id];
                    if let Some(v) = value {
                        let e = self.node_expr(inst, v)?;
                        self.node(target, e);
                    }
                    let spec = ActuatorSpec {
                        cmd: slot,
                        target,
                        clamps,
                        continuous: value.is_some(),
                        range: *range,
                        slew: *slew,
                    };
                    let info = ActuatorInfo {
                        name: path,
                        slot,
                        clamps,
                        unit: self.unit_of(inst, id),
                    };
                    self.actuators.push((info, spec));
                }
                MemberKind::Alarm {
                    severity,
                    when,
                    hold,
                    clear,
                    message,
                } => {
                    let streak = self.insts[inst].streak_slots[&id];
                    let when = self.expr(inst, when, None)?;
                    let hold = hold
                        .as_ref()
                        .map(|h| self.expr(inst, h, None))
                        .transpose()?;
                    let clear = clear
                        .as_ref()
                        .map(|h| self.expr(inst, h, None))
                        .transpose()?;
                    let mut pieces = Vec::new();
                    for (k, part) in message.iter().enumerate() {
                        match part {
                            MessagePart::Text(t) => pieces.push(MessagePiece::Text(t.clone())),
                            MessagePart::Value(e, unit) => {
                                let format = format_of(&e.ty, self.program);
                                // Anything but a plain slot becomes a node.
                                let e = self.node_expr(inst, e)?;
                                let s = match e {
                                    Expr::Load(s) => s,
                                    e => {
                                        let s = self
                                            .slot(format!("{path}#message{k}"), SlotKind::Internal);
                                        self.node(s, e);
                                        s
                                    }
                                };
                                let unit = self.insts[inst]
                                    .generic_units
                                    .get(&unit.text)
                                    .cloned()
                                    .unwrap_or_else(|| unit.clone());
                                pieces.push(MessagePiece::Value(s, unit, format));
                            }
                        }
                    }
                    let info = AlarmInfo {
                        name: path,
                        slot,
                        severity: severity.as_str(),
                        message: pieces,
                    };
                    self.alarms.push((
                        info,
                        AlarmSpec {
                            slot,
                            streak,
                            when,
                            hold,
                            clear,
                        },
                    ));
                }
                MemberKind::Instance { .. } => {
                    if let Some(child) = self.insts[inst].child[id] {
                        self.lower_instance(child)?;
                    }
                }
            }
        }
        if let (Some(r), Some(result)) = (self.insts[inst].result, &body.result) {
            let e = self.node_expr(inst, result)?;
            // `return y` shares y's slot: nothing to compute.
            if e != Expr::Load(r) {
                self.node(r, e);
            }
        }
        for (state, der) in &body.ders {
            let Some(slot) = self.insts[inst].slot_of[*state] else {
                continue;
            };
            let e = self.expr(inst, der, None)?;
            self.ders.push((slot, e));
        }
        Ok(())
    }

    /// The argument the parent binds to member `id`, if any.
    fn bound_arg(&self, inst: usize, id: MemberId) -> Option<(usize, &'p TExpr)> {
        let (parent, args) = self.insts[inst].parent?;
        args.iter()
            .find(|(m, _)| *m == id)
            .map(|(_, e)| (parent, e))
    }

    /// Units of the unit parameters, from arguments of type exactly `U`.
    fn resolve_generic_units(&mut self, inst: usize) {
        let body = self.insts[inst].body;
        if body.generics.is_empty() {
            return;
        }
        let Some((parent, args)) = self.insts[inst].parent else {
            return;
        };
        let mut units = HashMap::new();
        for (id, arg) in args {
            let m = &body.members[*id];
            if !body.generics.contains(&m.unit.text) {
                continue;
            }
            let unit = match &arg.kind {
                TExprKind::Ref(Ref::Member(j)) => Some(self.unit_of(parent, *j)),
                _ => match &arg.ty {
                    Ty::Real(q) => Some(
                        self.program
                            .lookup_unit(arg)
                            .cloned()
                            .unwrap_or_else(|| DisplayUnit::si(q.dim.si_symbol())),
                    ),
                    _ => None,
                },
            };
            if let Some(u) = unit {
                units.entry(m.unit.text.clone()).or_insert(u);
            }
        }
        self.insts[inst].generic_units = units;
    }

    /// The recorded columns of an instance, in declaration order.
    fn collect_outputs(&mut self, inst: usize, prefix: &str) {
        let body = self.insts[inst].body;
        for (id, m) in body.members.iter().enumerate() {
            let recorded = matches!(
                m.kind,
                MemberKind::State { .. }
                    | MemberKind::Let { .. }
                    | MemberKind::Out { .. }
                    | MemberKind::Var { .. }
                    | MemberKind::Actuator { .. }
                    | MemberKind::Alarm { .. }
            );
            if recorded
                && m.named
                && let Some(slot) = self.insts[inst].slot_of[id]
            {
                self.outputs.push(Output {
                    name: format!("{prefix}{}", m.name),
                    slot,
                    unit: self.unit_of(inst, id),
                    format: format_of(&m.ty, self.program),
                });
            }
            // An instance's members follow the declaration that made it.
            let child = match &m.kind {
                MemberKind::Instance { .. } if m.named => self.insts[inst].child[id],
                MemberKind::Let { value } => match value.kind {
                    TExprKind::Instance(anon) if !body.members[anon].named => {
                        self.insts[inst].child[anon]
                    }
                    _ => None,
                },
                _ => None,
            };
            if let Some(child) = child {
                let p = self.insts[child].prefix.clone();
                self.collect_outputs(child, &p);
            }
        }
        // Anonymous instances inside larger expressions come last.
        for (id, m) in body.members.iter().enumerate() {
            if !m.named
                && !body.members.iter().any(|x| matches!(&x.kind, MemberKind::Let { value } if value.kind == TExprKind::Instance(id)))
                && let Some(child) = self.insts[inst].child[id]
            {
                let p = self.insts[child].prefix.clone();
                self.collect_outputs(child, &p);
            }
        }
    }
}
