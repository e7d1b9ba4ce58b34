//! Lowering: checked HIR to the execution IR.
//!
//! Takes a checked [`Program`] and one of its twins; gives a [`Model`]. Every
//! component and twin instance is inlined (its members become slots named
//! `inst.member`); every computed value (lets, outs, component inputs and
//! results, continuous actuator targets) becomes a node, and all nodes of
//! all instances are put in one dependency order, so an instance whose
//! input depends on its own output through a state evaluates correctly.
//! Then the tick plan of the language's time semantics is written out as
//! statements, and the solver's stages after it.

use std::collections::HashMap;

use super::{
    ActuatorInfo, AlarmInfo, BinOp, Expr, Format, Func, MessagePiece, Model, Output, ParamInfo,
    SensorInfo, Slot, SlotInfo, SlotKind, Stmt, UnOp,
};
use crate::check::types::Ty;
use crate::hir::{
    Body, Builtin, DisplayUnit, Handler, InstanceOf, MemberId, MemberKind, MessagePart, Program,
    Ref, Solver, TExpr, TExprKind,
};
use crate::syntax::ast;

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
        time: 0,
        dt: 0,
        k: 0,
    };
    l.time = l.slot("t", SlotKind::Internal);
    l.dt = l.slot("dt", SlotKind::Internal);
    l.k = l.slot("k", SlotKind::Internal);
    let root = l.instantiate(body, String::new(), None)?;
    l.lower_instance(root)?;
    l.collect_outputs(root, "");
    let solver = solver.unwrap_or(body.solver);
    l.finish(body, solver)
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
                MemberKind::Input { .. } => Some(self.slot(&name, SlotKind::Let)),
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
        if body.result.is_some() {
            let r = self.slot(format!("{prefix}#result"), SlotKind::Let);
            self.insts[index].result = Some(r);
        }
        Ok(index)
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
                MemberKind::Input { default } => {
                    let e = match (bound, default) {
                        (Some((parent, arg)), _) => self.expr(parent, arg, None)?,
                        (None, Some(d)) => self.expr(inst, d, None)?,
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
                        let e = self.expr(parent, arg, None)?;
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
                    let e = self.expr(inst, value, None)?;
                    self.node(slot, e);
                }
                MemberKind::Actuator { range, slew, value } => {
                    let (target, clamps) = self.insts[inst].actuator_slots[&id];
                    if let Some(v) = value {
                        let e = self.expr(inst, v, None)?;
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
                                let s = self.slot(format!("{path}#message{k}"), SlotKind::Internal);
                                let e = self.expr(inst, e, None)?;
                                self.node(s, e);
                                let unit = self.insts[inst]
                                    .generic_units
                                    .get(&unit.text)
                                    .cloned()
                                    .unwrap_or_else(|| unit.clone());
                                pieces.push(MessagePiece::Value(s, unit));
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
            let e = self.expr(inst, result, None)?;
            self.node(r, e);
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
                    Ty::Real(q) => Some(DisplayUnit::si(q.dim.si_symbol())),
                    _ => None,
                },
            };
            if let Some(u) = unit {
                units.entry(m.unit.text.clone()).or_insert(u);
            }
        }
        self.insts[inst].generic_units = units;
    }

    /// Lowers a checked expression in the context of an instance; `args`
    /// are a function's arguments while inlining its body.
    fn expr(&mut self, inst: usize, e: &TExpr, args: Option<&[Expr]>) -> Result<Expr> {
        Ok(match &e.kind {
            TExprKind::Real(x) => c(*x),
            TExprKind::Int(i) => c(*i as f64),
            TExprKind::Bool(b) => c(if *b { 1.0 } else { 0.0 }),
            TExprKind::Variant(_, v) => c(*v as f64),
            TExprKind::Time => load(self.time),
            TExprKind::Dt => load(self.dt),
            TExprKind::Ref(Ref::Member(id)) => load(self.member_slot(inst, *id)?),
            TExprKind::Ref(Ref::Path(ids)) => {
                let mut cur = inst;
                for (n, id) in ids.iter().enumerate() {
                    if n + 1 == ids.len() {
                        return Ok(load(self.member_slot(cur, *id)?));
                    }
                    cur = self.insts[cur].child[*id].ok_or_else(|| {
                        LowerError("a member path does not lead through instances".into())
                    })?;
                }
                return Err(LowerError("an empty member path".into()));
            }
            TExprKind::Ref(Ref::FnParam(i)) => args
                .and_then(|a| a.get(*i))
                .cloned()
                .ok_or_else(|| LowerError("a function parameter outside its function".into()))?,
            TExprKind::Instance(id) => {
                let child = self.insts[inst].child[*id]
                    .ok_or_else(|| LowerError("an instance without a body".into()))?;
                load(self.insts[child].result.ok_or_else(|| {
                    LowerError(format!(
                        "`{}` has no single result",
                        self.insts[child].body.name
                    ))
                })?)
            }
            TExprKind::Unary(op, x) => {
                let x = self.expr(inst, x, args)?;
                Expr::Unary(
                    if *op == ast::UnOp::Neg {
                        UnOp::Neg
                    } else {
                        UnOp::Not
                    },
                    Box::new(x),
                )
            }
            TExprKind::Binary(op, a, b) => {
                let la = self.expr(inst, a, args)?;
                if *op == ast::BinOp::Pow {
                    return self.power(inst, la, b, args);
                }
                let lb = self.expr(inst, b, args)?;
                let op = match op {
                    ast::BinOp::Add => BinOp::Add,
                    ast::BinOp::Sub => BinOp::Sub,
                    ast::BinOp::Mul => BinOp::Mul,
                    ast::BinOp::Div => BinOp::Div,
                    ast::BinOp::Lt => BinOp::Lt,
                    ast::BinOp::Gt => BinOp::Gt,
                    ast::BinOp::Le => BinOp::Le,
                    ast::BinOp::Ge => BinOp::Ge,
                    ast::BinOp::Eq => BinOp::Eq,
                    ast::BinOp::Ne => BinOp::Ne,
                    ast::BinOp::And => BinOp::And,
                    ast::BinOp::Or => BinOp::Or,
                    ast::BinOp::Pow => BinOp::Mul,
                };
                bin(op, la, lb)
            }
            TExprKind::Builtin(f, xs) => {
                let xs: Vec<Expr> = xs
                    .iter()
                    .map(|x| self.expr(inst, x, args))
                    .collect::<Result<_>>()?;
                builtin(*f, xs)?
            }
            TExprKind::Call(f, xs) => {
                let xs: Vec<Expr> = xs
                    .iter()
                    .map(|x| self.expr(inst, x, args))
                    .collect::<Result<_>>()?;
                self.inline_depth += 1;
                if self.inline_depth > 64 {
                    return Err(LowerError(format!(
                        "function `{}` calls itself; recursive functions cannot run",
                        self.program.functions[*f].name
                    )));
                }
                let body = &self.program.functions[*f].body;
                let r = self.expr(inst, body, Some(&xs));
                self.inline_depth -= 1;
                r?
            }
            TExprKind::Der(id) => {
                let body = self.insts[inst].body;
                let der = body.ders.iter().find(|(s, _)| s == id).map(|(_, e)| e);
                let der =
                    der.ok_or_else(|| LowerError("`der` of a state without an equation".into()))?;
                self.inline_depth += 1;
                if self.inline_depth > 64 {
                    return Err(LowerError("`der(x)` used inside its own equation".into()));
                }
                let r = self.expr(inst, der, args);
                self.inline_depth -= 1;
                r?
            }
            TExprKind::Stale(id) => {
                let sampled = load(self.insts[inst].sample_slots[id]);
                let never = bin(BinOp::Ne, sampled.clone(), sampled.clone());
                let limit = match &self.insts[inst].body.members[*id].kind {
                    MemberKind::Sensor {
                        stale_after: Some(s),
                        ..
                    } => Some(*s),
                    _ => None,
                };
                match limit {
                    Some(s) => bin(
                        BinOp::Or,
                        never,
                        bin(BinOp::Gt, bin(BinOp::Sub, load(self.time), sampled), c(s)),
                    ),
                    None => never,
                }
            }
            TExprKind::Age(id) => {
                let sampled = load(self.insts[inst].sample_slots[id]);
                let never = bin(BinOp::Ne, sampled.clone(), sampled.clone());
                Expr::select(
                    never,
                    c(f64::INFINITY),
                    bin(BinOp::Sub, load(self.time), sampled),
                )
            }
            TExprKind::Prev(x, init) => {
                let x = self.expr(inst, x, args)?;
                let init = self.expr(inst, init, args)?;
                let slot = self.slot(
                    format!("{}#prev{}", self.insts[inst].prefix, self.prevs.len()),
                    SlotKind::Internal,
                );
                self.prevs.push((slot, x));
                Expr::select(bin(BinOp::Eq, load(self.k), c(0.0)), init, load(slot))
            }
            TExprKind::If(cond, a, b) => {
                let cond = self.expr(inst, cond, args)?;
                let a = self.expr(inst, a, args)?;
                let b = self.expr(inst, b, args)?;
                Expr::select(cond, a, b)
            }
            TExprKind::Str(_) | TExprKind::Csv(..) => {
                return Err(LowerError("a string where a value is needed".into()));
            }
            TExprKind::Error => return Err(LowerError("the model has errors".into())),
        })
    }

    /// `a ^ b`: small whole constant exponents become multiplications
    /// (exact, and the same in both engines); others call `pow`.
    fn power(&mut self, inst: usize, a: Expr, b: &TExpr, args: Option<&[Expr]>) -> Result<Expr> {
        if let Some(n) = crate::check::const_eval(b).filter(|n| n.fract() == 0.0 && n.abs() <= 4.0)
        {
            let n = n as i32;
            if n == 0 {
                return Ok(c(1.0));
            }
            let mut acc = a.clone();
            for _ in 1..n.abs() {
                acc = bin(BinOp::Mul, acc, a.clone());
            }
            return Ok(if n < 0 {
                bin(BinOp::Div, c(1.0), acc)
            } else {
                acc
            });
        }
        let b = self.expr(inst, b, args)?;
        Ok(Expr::Call(Func::Pow, vec![a, b]))
    }

    fn member_slot(&self, inst: usize, id: MemberId) -> Result<Slot> {
        self.insts[inst]
            .slot_of
            .get(id)
            .copied()
            .flatten()
            .ok_or_else(|| {
                LowerError(format!(
                    "`{}` has no value",
                    self.insts[inst]
                        .body
                        .members
                        .get(id)
                        .map_or("?", |m| m.name.as_str())
                ))
            })
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

    /// Puts nodes in dependency order: gives the node indices.
    fn order(&self, wanted: &[usize]) -> Result<Vec<usize>> {
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
    fn needed_by(&self, exprs: &[&Expr]) -> Vec<usize> {
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

    fn eval_nodes(&self, order: &[usize]) -> Vec<Stmt> {
        order
            .iter()
            .map(|&n| Stmt::Store(self.nodes[n].slot, self.nodes[n].expr.clone()))
            .collect()
    }

    /// Writes the programs and assembles the model.
    fn finish(mut self, body: &Body, solver: Solver) -> Result<Model> {
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
                let now = self.slot(format!("on{n}#now"), SlotKind::Internal);
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
            tick.extend(lets.clone());
        }
        for (_, spec) in &self.actuators {
            tick.extend(actuator_update(spec, self.k, self.dt));
        }
        for (slot, x) in &self.prevs {
            tick.push(Stmt::Store(*slot, x.clone()));
        }

        // Init: lets at t = 0 (states still 0), then states, vars,
        // actuator targets and commands.
        let mut init = vec![Stmt::Store(self.k, c(0.0)), Stmt::Store(self.time, c(0.0))];
        init.extend(lets.clone());
        init.append(&mut self.state_inits);
        init.append(&mut self.var_inits);
        init.extend(lets);
        for (_, spec) in &self.alarms {
            init.push(Stmt::Store(spec.streak, c(-1.0)));
        }
        for (_, spec) in &self.actuators {
            let start = clamp_expr(c(0.0), spec.range);
            if !spec.continuous {
                init.push(Stmt::Store(spec.target, start.clone()));
            }
            init.push(Stmt::Store(spec.cmd, start));
        }

        // Integrate: the lets the derivatives need, recomputed per stage.
        let der_exprs: Vec<&Expr> = self.ders.iter().map(|(_, e)| e).collect();
        let needed = self.needed_by(&der_exprs);
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
        // The solver allocated its scratch slots last.
        let persistent = self
            .slots
            .iter()
            .position(|s| s.kind == SlotKind::Scratch)
            .unwrap_or(self.slots.len()) as u32;
        if self.slots[persistent as usize..]
            .iter()
            .any(|s| s.kind != SlotKind::Scratch)
        {
            return Err(LowerError("internal: scratch slots are not last".into()));
        }
        Ok(Model {
            name: body.name.clone(),
            persistent,
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
        })
    }

    fn assign_target(&self, inst: usize, id: MemberId) -> Result<Slot> {
        match &self.insts[inst].body.members[id].kind {
            MemberKind::Actuator { .. } => Ok(self.insts[inst].actuator_slots[&id].0),
            _ => self.member_slot(inst, id),
        }
    }

    fn scratch(&mut self, name: String) -> Slot {
        self.slot(name, SlotKind::Scratch)
    }

    /// An explicit Runge–Kutta step with a fixed tableau.
    fn explicit_rk(
        &mut self,
        states: &[Slot],
        ders: &[(Slot, Expr)],
        stage_lets: &[Stmt],
        tab: &Tableau,
    ) -> Vec<Stmt> {
        let n = states.len();
        let mut out = Vec::new();
        let t0 = self.scratch("rk#t0".into());
        out.push(Stmt::Store(
            t0,
            bin(BinOp::Mul, load(self.k), load(self.dt)),
        ));
        let y0: Vec<Slot> = (0..n)
            .map(|i| self.scratch(format!("rk#y0[{i}]")))
            .collect();
        for i in 0..n {
            out.push(Stmt::Store(y0[i], load(states[i])));
        }
        let mut ks: Vec<Vec<Slot>> = Vec::new();
        for (stage, (ci, row)) in tab.c.iter().zip(tab.a).enumerate() {
            let k: Vec<Slot> = (0..n)
                .map(|i| self.scratch(format!("rk#k{stage}[{i}]")))
                .collect();
            if stage > 0 {
                out.push(Stmt::Store(
                    self.time,
                    bin(BinOp::Add, load(t0), bin(BinOp::Mul, c(*ci), load(self.dt))),
                ));
                for i in 0..n {
                    out.push(Stmt::Store(
                        states[i],
                        stage_value(y0[i], row, &ks, i, load(self.dt)),
                    ));
                }
            }
            out.extend(stage_lets.iter().cloned());
            for (i, (_, d)) in ders.iter().enumerate() {
                out.push(Stmt::Store(k[i], d.clone()));
            }
            ks.push(k);
        }
        for i in 0..n {
            out.push(Stmt::Store(
                states[i],
                stage_value(y0[i], tab.b, &ks, i, load(self.dt)),
            ));
        }
        out.push(Stmt::Store(self.k, bin(BinOp::Add, load(self.k), c(1.0))));
        out.push(Stmt::Store(
            self.time,
            bin(BinOp::Mul, load(self.k), load(self.dt)),
        ));
        out
    }

    /// Dormand–Prince 5(4) with adaptive sub-steps inside the tick. Gives
    /// the statements and the persistent slot holding the step size.
    fn dopri5(
        &mut self,
        states: &[Slot],
        ders: &[(Slot, Expr)],
        stage_lets: &[Stmt],
        rtol: f64,
        atol: f64,
    ) -> (Vec<Stmt>, Slot) {
        let n = states.len();
        let h_slot = self.slot("dopri5#h", SlotKind::Internal);
        let mut out = Vec::new();
        let tt = self.scratch("dp#t".into());
        let t_end = self.scratch("dp#t_end".into());
        let h = self.scratch("dp#h".into());
        let err = self.scratch("dp#err".into());
        let iters = self.scratch("dp#iters".into());
        let y0: Vec<Slot> = (0..n)
            .map(|i| self.scratch(format!("dp#y0[{i}]")))
            .collect();
        let y5: Vec<Slot> = (0..n)
            .map(|i| self.scratch(format!("dp#y5[{i}]")))
            .collect();
        let ks: Vec<Vec<Slot>> = (0..7)
            .map(|s| {
                (0..n)
                    .map(|i| self.scratch(format!("dp#k{s}[{i}]")))
                    .collect()
            })
            .collect();
        out.push(Stmt::Store(
            tt,
            bin(BinOp::Mul, load(self.k), load(self.dt)),
        ));
        out.push(Stmt::Store(t_end, bin(BinOp::Add, load(tt), load(self.dt))));
        out.push(Stmt::Store(h, bin(BinOp::Min, load(h_slot), load(self.dt))));
        out.push(Stmt::Store(iters, c(0.0)));
        let remaining = bin(BinOp::Sub, load(t_end), load(tt));
        let go_on = bin(
            BinOp::And,
            bin(
                BinOp::Gt,
                remaining.clone(),
                bin(BinOp::Mul, load(self.dt), c(1e-12)),
            ),
            bin(BinOp::Lt, load(iters), c(100_000.0)),
        );
        let mut body = Vec::new();
        body.push(Stmt::Store(h, bin(BinOp::Min, load(h), remaining)));
        for i in 0..n {
            body.push(Stmt::Store(y0[i], load(states[i])));
        }
        let mut done: Vec<Vec<Slot>> = Vec::new();
        for stage in 0..7 {
            body.push(Stmt::Store(
                self.time,
                bin(
                    BinOp::Add,
                    load(tt),
                    bin(BinOp::Mul, c(DP_C[stage]), load(h)),
                ),
            ));
            for i in 0..n {
                let v = stage_value(y0[i], DP_A[stage], &done, i, load(h));
                body.push(Stmt::Store(states[i], v));
            }
            body.extend(stage_lets.iter().cloned());
            for (i, (_, d)) in ders.iter().enumerate() {
                body.push(Stmt::Store(ks[stage][i], d.clone()));
            }
            done.push(ks[stage].clone());
        }
        // The 5th-order solution is the last stage's state (FSAL form:
        // DP_A[6] holds the b weights); the error uses b − b*.
        body.push(Stmt::Store(err, c(0.0)));
        for i in 0..n {
            body.push(Stmt::Store(y5[i], load(states[i])));
            let e = stage_value_diff(&done, i, load(h));
            let scale = bin(
                BinOp::Add,
                c(atol),
                bin(
                    BinOp::Mul,
                    c(rtol),
                    bin(
                        BinOp::Max,
                        Expr::Call(Func::Abs, vec![load(y0[i])]),
                        Expr::Call(Func::Abs, vec![load(y5[i])]),
                    ),
                ),
            );
            let r = bin(BinOp::Div, e, scale);
            body.push(Stmt::Store(
                err,
                bin(BinOp::Add, load(err), bin(BinOp::Mul, r.clone(), r)),
            ));
        }
        let denom = c(n.max(1) as f64);
        body.push(Stmt::Store(
            err,
            Expr::Call(Func::Sqrt, vec![bin(BinOp::Div, load(err), denom)]),
        ));
        let accept = bin(BinOp::Le, load(err), c(1.0));
        let mut on_accept: Vec<Stmt> = (0..n)
            .map(|i| Stmt::Store(states[i], load(y5[i])))
            .collect();
        on_accept.push(Stmt::Store(tt, bin(BinOp::Add, load(tt), load(h))));
        let on_reject: Vec<Stmt> = (0..n)
            .map(|i| Stmt::Store(states[i], load(y0[i])))
            .collect();
        body.push(Stmt::If(accept, on_accept, on_reject));
        // h ← h · clamp(0.9 · err^(−1/5), 0.2, 5); err = 0 gives the 5.
        let growth = Expr::select(
            bin(BinOp::Eq, load(err), c(0.0)),
            c(5.0),
            bin(
                BinOp::Min,
                c(5.0),
                bin(
                    BinOp::Max,
                    c(0.2),
                    bin(
                        BinOp::Mul,
                        c(0.9),
                        Expr::Call(Func::Pow, vec![load(err), c(-0.2)]),
                    ),
                ),
            ),
        );
        body.push(Stmt::Store(h, bin(BinOp::Mul, load(h), growth)));
        body.push(Stmt::Store(iters, bin(BinOp::Add, load(iters), c(1.0))));
        out.push(Stmt::While(go_on, body));
        out.push(Stmt::Store(h_slot, load(h)));
        out.push(Stmt::Store(self.k, bin(BinOp::Add, load(self.k), c(1.0))));
        out.push(Stmt::Store(
            self.time,
            bin(BinOp::Mul, load(self.k), load(self.dt)),
        ));
        // Scratch must come after every persistent slot: `h_slot` was
        // allocated first on purpose.
        (out, h_slot)
    }
}

/// `y0 + h · Σ a_j k_j` with the terms summed in order.
fn stage_value(y0: Slot, row: &[f64], ks: &[Vec<Slot>], i: usize, h: Expr) -> Expr {
    let mut sum: Option<Expr> = None;
    for (j, a) in row.iter().enumerate() {
        if *a == 0.0 || j >= ks.len() {
            continue;
        }
        let term = bin(BinOp::Mul, c(*a), load(ks[j][i]));
        sum = Some(match sum {
            Some(s) => bin(BinOp::Add, s, term),
            None => term,
        });
    }
    match sum {
        Some(s) => bin(BinOp::Add, load(y0), bin(BinOp::Mul, h, s)),
        None => load(y0),
    }
}

/// `h · Σ (b_j − b*_j) k_j`: dopri5's error estimate.
fn stage_value_diff(ks: &[Vec<Slot>], i: usize, h: Expr) -> Expr {
    let mut sum = c(0.0);
    for (j, e) in DP_E.iter().enumerate() {
        if *e != 0.0 {
            sum = bin(BinOp::Add, sum, bin(BinOp::Mul, c(*e), load(ks[j][i])));
        }
    }
    bin(BinOp::Mul, h, sum)
}

/// A Butcher tableau for explicit methods.
struct Tableau {
    c: &'static [f64],
    a: &'static [&'static [f64]],
    b: &'static [f64],
}

const EULER: Tableau = Tableau {
    c: &[0.0],
    a: &[&[]],
    b: &[1.0],
};

const RK4: Tableau = Tableau {
    c: &[0.0, 0.5, 0.5, 1.0],
    a: &[&[], &[0.5], &[0.0, 0.5], &[0.0, 0.0, 1.0]],
    b: &[1.0 / 6.0, 2.0 / 6.0, 2.0 / 6.0, 1.0 / 6.0],
};

const DP_C: [f64; 7] = [0.0, 1.0 / 5.0, 3.0 / 10.0, 4.0 / 5.0, 8.0 / 9.0, 1.0, 1.0];
const DP_A: [&[f64]; 7] = [
    &[],
    &[1.0 / 5.0],
    &[3.0 / 40.0, 9.0 / 40.0],
    &[44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0],
    &[
        19372.0 / 6561.0,
        -25360.0 / 2187.0,
        64448.0 / 6561.0,
        -212.0 / 729.0,
    ],
    &[
        9017.0 / 3168.0,
        -355.0 / 33.0,
        46732.0 / 5247.0,
        49.0 / 176.0,
        -5103.0 / 18656.0,
    ],
    &[
        35.0 / 384.0,
        0.0,
        500.0 / 1113.0,
        125.0 / 192.0,
        -2187.0 / 6784.0,
        11.0 / 84.0,
    ],
];
/// b − b* (5th minus 4th order weights).
const DP_E: [f64; 7] = [
    35.0 / 384.0 - 5179.0 / 57600.0,
    0.0,
    500.0 / 1113.0 - 7571.0 / 16695.0,
    125.0 / 192.0 - 393.0 / 640.0,
    -2187.0 / 6784.0 + 92097.0 / 339200.0,
    11.0 / 84.0 - 187.0 / 2100.0,
    -1.0 / 40.0,
];

fn clamp_expr(x: Expr, range: Option<(f64, f64)>) -> Expr {
    match range {
        Some((lo, hi)) => bin(BinOp::Min, bin(BinOp::Max, x, c(lo)), c(hi)),
        None => x,
    }
}

fn builtin(f: Builtin, xs: Vec<Expr>) -> Result<Expr> {
    let mut it = xs.into_iter();
    let first = it
        .next()
        .ok_or_else(|| LowerError("a builtin without arguments".into()))?;
    Ok(match f {
        Builtin::Min => it.fold(first, |a, b| bin(BinOp::Min, a, b)),
        Builtin::Max => it.fold(first, |a, b| bin(BinOp::Max, a, b)),
        Builtin::Clamp => {
            let lo = it.next().unwrap_or(c(f64::NEG_INFINITY));
            let hi = it.next().unwrap_or(c(f64::INFINITY));
            bin(BinOp::Min, bin(BinOp::Max, first, lo), hi)
        }
        Builtin::Abs => Expr::Call(Func::Abs, vec![first]),
        Builtin::Sqrt => Expr::Call(Func::Sqrt, vec![first]),
        Builtin::Floor => Expr::Call(Func::Floor, vec![first]),
        Builtin::Ceil => Expr::Call(Func::Ceil, vec![first]),
        Builtin::Exp => Expr::Call(Func::Exp, vec![first]),
        Builtin::Log => Expr::Call(Func::Log, vec![first]),
        Builtin::Sin => Expr::Call(Func::Sin, vec![first]),
        Builtin::Cos => Expr::Call(Func::Cos, vec![first]),
        Builtin::Tan => Expr::Call(Func::Tan, vec![first]),
        Builtin::Atan2 => Expr::Call(Func::Atan2, vec![first, it.next().unwrap_or(c(1.0))]),
        Builtin::Pow => Expr::Call(Func::Pow, vec![first, it.next().unwrap_or(c(1.0))]),
    })
}

/// The alarm rule: raise at the first tick at which `when` has held at
/// every tick of a streak spanning at least the hold time; clear at the
/// first tick at which `clear when` holds (default: `not when`).
fn alarm_update(a: &AlarmSpec, k: Slot, dt: Slot) -> Vec<Stmt> {
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
fn actuator_update(a: &ActuatorSpec, k: Slot, dt: Slot) -> Vec<Stmt> {
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
