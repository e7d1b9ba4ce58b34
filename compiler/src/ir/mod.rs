//! The execution IR: flat programs over slots of `f64`.
//!
//! Takes nothing (built by [`lower`] from the checked HIR); gives
//! [`Model`]: a twin with every component instance inlined, every value in a
//! numbered slot, and three programs: [`Model::init`] (once, at t = 0),
//! [`Model::tick`] (spec §6 steps 2–4: lets, alarms, handlers, actuators,
//! before the row is recorded) and [`Model::integrate`] (step 5: the solver,
//! all its stages written out, dopri5's adaptive loop included). The
//! reference interpreter ([`crate::interp`]) and the JIT (`codegen`) execute
//! exactly these statements, so they perform the same floating-point
//! operations in the same order and agree bit for bit.
//!
//! Values: every slot holds an `f64`. Reals are in SI; `Bool`s are 0.0 or
//! 1.0; `Int`s and enum variants are whole numbers (exact up to 2^53).
//! Units are gone: a model with units and the same model without them lower
//! to the same IR.
//!
//! Slots below [`Model::persistent`] live in the instance's block (they are
//! the instance's state and signals); slots from there on are shared by a
//! fleet's instances: solver stage values (scratch), `t`, `dt` and the tick
//! index, which are the same for all of them, and the params that
//! [`share::share_params`] moved there because every instance has the same
//! value. Because a fleet's instances run one after the other over that
//! shared region, a program must write a scratch slot before reading it
//! (the clock and shared params excepted, which the driver sets and no
//! program writes).

pub mod lower;
mod print;
pub mod renumber;
pub mod share;
pub mod slim;

use crate::hir::{DisplayUnit, Solver};

/// A slot index.
pub type Slot = u32;

/// Unary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnOp {
    /// `-x`
    Neg,
    /// `x == 0.0` as 0.0/1.0.
    Not,
}

/// Binary operators. Comparisons and `And`/`Or` give 0.0 or 1.0;
/// `And`/`Or` treat any non-zero operand as true (both sides are always
/// evaluated: expressions are pure).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinOp {
    /// `a + b`
    Add,
    /// `a - b`
    Sub,
    /// `a * b`
    Mul,
    /// `a / b`
    Div,
    /// `a < b`
    Lt,
    /// `a <= b`
    Le,
    /// `a > b`
    Gt,
    /// `a >= b`
    Ge,
    /// `a == b`
    Eq,
    /// `a != b`
    Ne,
    /// both non-zero
    And,
    /// either non-zero
    Or,
    /// IEEE 754-2019 `minimum`: NaN if either is NaN; −0 < +0.
    Min,
    /// IEEE 754-2019 `maximum`: NaN if either is NaN; −0 < +0.
    Max,
}

/// Functions. `Sqrt` and `Abs` are exact instructions; the others are
/// called (the same Rust functions in both engines).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Func {
    /// Square root.
    Sqrt,
    /// Absolute value.
    Abs,
    /// Round down.
    Floor,
    /// Round up.
    Ceil,
    /// e^x.
    Exp,
    /// Natural logarithm.
    Log,
    /// Sine.
    Sin,
    /// Cosine.
    Cos,
    /// Tangent.
    Tan,
    /// atan2(y, x).
    Atan2,
    /// x^y.
    Pow,
}

impl Func {
    /// The function's value; the single definition both engines use.
    pub fn apply(self, a: f64, b: f64) -> f64 {
        match self {
            Func::Sqrt => a.sqrt(),
            Func::Abs => a.abs(),
            Func::Floor => a.floor(),
            Func::Ceil => a.ceil(),
            Func::Exp => a.exp(),
            Func::Log => a.ln(),
            Func::Sin => a.sin(),
            Func::Cos => a.cos(),
            Func::Tan => a.tan(),
            Func::Atan2 => a.atan2(b),
            Func::Pow => a.powf(b),
        }
    }

    /// How many arguments it takes (1 or 2).
    pub fn arity(self) -> usize {
        match self {
            Func::Atan2 | Func::Pow => 2,
            _ => 1,
        }
    }
}

/// IEEE 754-2019 `minimum` (what Cranelift's `fmin` computes).
pub fn minimum(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a < b {
        a
    } else if b < a {
        b
    } else if a.is_sign_negative() {
        a
    } else {
        b
    }
}

/// IEEE 754-2019 `maximum` (what Cranelift's `fmax` computes).
pub fn maximum(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a > b {
        a
    } else if b > a {
        b
    } else if a.is_sign_positive() {
        a
    } else {
        b
    }
}

/// A map keyed by slot with a cheap multiplicative hash: the compiler's
/// passes over slots (scheduling, forwarding) look slots up once per load
/// or store, where SipHash would cost more than the rest of the work.
pub type SlotMap<V> = std::collections::HashMap<Slot, V, std::hash::BuildHasherDefault<SlotHasher>>;

/// The hasher of [`SlotMap`] (Fibonacci hashing of the slot number; not
/// resistant to chosen keys, which slots are not).
#[derive(Clone, Copy, Debug, Default)]
pub struct SlotHasher(u64);

impl std::hash::Hasher for SlotHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// Truth of a stored value.
pub fn truthy(x: f64) -> bool {
    x != 0.0
}

/// 0.0 or 1.0.
pub fn from_bool(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// An expression: a pure function of the slots.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// A constant.
    Const(f64),
    /// A slot's value.
    Load(Slot),
    /// A unary operation.
    Unary(UnOp, Box<Expr>),
    /// A binary operation.
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// A function call (one or two arguments).
    Call(Func, Vec<Expr>),
    /// `if c != 0 { a } else { b }`; both sides are evaluated.
    Select(Box<Expr>, Box<Expr>, Box<Expr>),
}

impl Expr {
    /// `a op b`.
    pub fn bin(op: BinOp, a: Expr, b: Expr) -> Expr {
        Expr::Binary(op, Box::new(a), Box::new(b))
    }

    /// `if c { a } else { b }`.
    pub fn select(c: Expr, a: Expr, b: Expr) -> Expr {
        Expr::Select(Box::new(c), Box::new(a), Box::new(b))
    }
}

impl Expr {
    /// Calls `f` with every slot the expression reads, left to right
    /// (without recursion: expressions can be very deep). A call reads
    /// only the arguments its function takes, as the engines evaluate it.
    pub fn for_each_load(&self, f: &mut impl FnMut(Slot)) {
        let mut stack = vec![self];
        while let Some(e) = stack.pop() {
            match e {
                Expr::Const(_) => {}
                Expr::Load(s) => f(*s),
                Expr::Unary(_, x) => stack.push(x),
                Expr::Binary(_, a, b) => stack.extend([&**b, &**a]),
                Expr::Call(func, xs) => stack.extend(xs.iter().take(func.arity()).rev()),
                Expr::Select(a, b, c) => stack.extend([&**c, &**b, &**a]),
            }
        }
    }
}

/// A statement.
#[derive(Clone, Debug, PartialEq)]
pub enum Stmt {
    /// `slot = expr`.
    Store(Slot, Expr),
    /// `if cond != 0 { then } else { otherwise }`.
    If(Expr, Vec<Stmt>, Vec<Stmt>),
    /// `while cond != 0 { body }`. Every loop the lowering emits is
    /// bounded (dopri5 caps its sub-steps per tick).
    While(Expr, Vec<Stmt>),
}

/// What a slot holds, for reports and debugging.
#[derive(Clone, Debug, PartialEq)]
pub enum SlotKind {
    /// A parameter.
    Param,
    /// A sensor's held value.
    Sensor,
    /// A continuous state.
    State,
    /// A discrete var.
    Var,
    /// A let or out.
    Let,
    /// An actuator's command (after slew and clamp).
    Actuator,
    /// An actuator's target (the last value assigned).
    ActuatorTarget,
    /// An alarm's state (0/1).
    Alarm,
    /// Bookkeeping: time, tick counters, edge memories, timers, counters.
    Internal,
    /// A parameter that every instance of a fleet shares: it lives in the
    /// shared region, set once by the driver ([`share::share_params`]).
    SharedParam,
    /// Solver scratch (stage values), and the clock.
    Scratch,
}

impl SlotKind {
    /// Whether slots of this kind live in the region a fleet's instances
    /// share (after [`Model::persistent`]) rather than in each instance's
    /// block.
    pub fn is_shared(&self) -> bool {
        matches!(self, SlotKind::SharedParam | SlotKind::Scratch)
    }
}

/// A slot's description.
#[derive(Clone, Debug, PartialEq)]
pub struct SlotInfo {
    /// Its path, e.g. `bearing_temp`, `smooth.y`, `overheating#streak`.
    pub name: String,
    /// What it holds.
    pub kind: SlotKind,
}

/// A recorded column.
#[derive(Clone, Debug, PartialEq)]
pub struct Output {
    /// The column name (`inst.member` for instance members).
    pub name: String,
    /// The slot.
    pub slot: Slot,
    /// The unit the column is written in.
    pub unit: DisplayUnit,
    /// How values print: real, whole number, 0/1, or an enum's variants.
    pub format: Format,
}

/// How an output value prints.
#[derive(Clone, Debug, PartialEq)]
pub enum Format {
    /// A real in the output's unit.
    Real,
    /// A whole number.
    Int,
    /// 0 or 1.
    Bool,
    /// An enum variant name.
    Enum(Vec<String>),
}

/// A sensor's interface to the data.
#[derive(Clone, Debug, PartialEq)]
pub struct SensorInfo {
    /// Its path.
    pub name: String,
    /// The slot holding its value (SI).
    pub slot: Slot,
    /// The slot holding the time of its last good sample (NaN before one).
    pub last_sample: Slot,
    /// The unit samples arrive in unless the data says otherwise.
    pub unit: DisplayUnit,
    /// The sensor's dimension, to check units that data declares.
    pub dimension: crate::units::Dimension,
    /// Valid range in SI.
    pub range: Option<(f64, f64)>,
    /// Staleness limit in s.
    pub stale_after: Option<f64>,
    /// Its type: a sample of an `Int`, `Bool` or enum sensor must be a
    /// whole number, 0 or 1, or a variant's index.
    pub format: Format,
}

impl SensorInfo {
    /// Whether an SI value is one this sensor can hold: within its range
    /// and of its type.
    pub fn accepts(&self, si: f64) -> bool {
        let in_range = self.range.is_none_or(|(lo, hi)| (lo..=hi).contains(&si));
        let of_type = match &self.format {
            Format::Real => true,
            Format::Int => si.fract() == 0.0,
            Format::Bool => si == 0.0 || si == 1.0,
            Format::Enum(names) => si.fract() == 0.0 && si >= 0.0 && (si as usize) < names.len(),
        };
        in_range && of_type
    }
}

/// A parameter's interface.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamInfo {
    /// Its path.
    pub name: String,
    /// Its slot.
    pub slot: Slot,
    /// Its default value (may read params before it).
    pub default: Expr,
    /// Its declared unit (for `--set p=VALUE`).
    pub unit: DisplayUnit,
    /// The dimension's SI symbol, to check `--set` units against.
    pub dimension: crate::units::Dimension,
    /// Whether it is an affine point (degC).
    pub affine: bool,
}

/// An alarm's interface.
#[derive(Clone, Debug, PartialEq)]
pub struct AlarmInfo {
    /// Its path.
    pub name: String,
    /// Its state slot (0/1).
    pub slot: Slot,
    /// Severity keyword.
    pub severity: &'static str,
    /// The message: text and (slot, unit) values.
    pub message: Vec<MessagePiece>,
}

/// A piece of an alarm message.
#[derive(Clone, Debug, PartialEq)]
pub enum MessagePiece {
    /// Literal text.
    Text(String),
    /// A value to print in a unit, as its type prints (a number, or an
    /// enum's variant name).
    Value(Slot, DisplayUnit, Format),
}

/// An actuator's interface.
#[derive(Clone, Debug, PartialEq)]
pub struct ActuatorInfo {
    /// Its path.
    pub name: String,
    /// The command slot.
    pub slot: Slot,
    /// Counts the ticks at which the command was clamped to the range.
    pub clamps: Slot,
    /// Its unit.
    pub unit: DisplayUnit,
}

/// A twin, lowered.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    /// The twin's name.
    pub name: String,
    /// Every slot.
    pub slots: Vec<SlotInfo>,
    /// Slots `0..persistent` belong to an instance; the rest are shared
    /// (scratch, the clock, shared params).
    pub persistent: u32,
    /// Twin time `t` (s).
    pub time: Slot,
    /// The step `dt` (s).
    pub dt: Slot,
    /// The tick index k.
    pub tick_index: Slot,
    /// The declared step (s).
    pub step: f64,
    /// The solver `integrate` was written for.
    pub solver: Solver,
    /// State slots, in order.
    pub states: Vec<Slot>,
    /// Runs once after params are set and before the first samples are
    /// applied: sensor defaults (NaN where none) and sample times.
    pub init_sensors: Vec<Stmt>,
    /// Runs once after the samples at t = 0 are applied: the lets, then
    /// initial states, vars, actuator targets and solver memory.
    pub init: Vec<Stmt>,
    /// Spec §6 steps 2–4 at t_k.
    pub tick: Vec<Stmt>,
    /// Spec §6 step 5: the states from t_k to t_k + dt. It leaves `time`
    /// at a stage's time; the driver then sets `tick_index` to k + 1 and
    /// `time` to (k + 1)·dt (both are shared by a fleet's instances).
    pub integrate: Vec<Stmt>,
    /// Recorded columns, in declaration order.
    pub outputs: Vec<Output>,
    /// Sensors.
    pub sensors: Vec<SensorInfo>,
    /// Params in dependency order; the driver sets each to its default
    /// unless it is overridden, before `init` runs (a shared param once for
    /// the whole fleet).
    pub params: Vec<ParamInfo>,
    /// Alarms.
    pub alarms: Vec<AlarmInfo>,
    /// Actuators.
    pub actuators: Vec<ActuatorInfo>,
}

impl Model {
    /// A model with no programs and no interface: `slots` slots named
    /// `s0`, `s1`, ..., the first `persistent` of them vars of the instance
    /// and the rest scratch, step 1 s, euler, the clock at slot 0. What
    /// tests and tools build programs on by hand.
    pub fn bare(name: &str, slots: u32, persistent: u32) -> Model {
        Model {
            name: name.to_string(),
            slots: (0..slots)
                .map(|i| SlotInfo {
                    name: format!("s{i}"),
                    kind: if i < persistent {
                        SlotKind::Var
                    } else {
                        SlotKind::Scratch
                    },
                })
                .collect(),
            persistent,
            time: 0,
            dt: 0,
            tick_index: 0,
            step: 1.0,
            solver: Solver::Euler,
            states: Vec::new(),
            init_sensors: Vec::new(),
            init: Vec::new(),
            tick: Vec::new(),
            integrate: Vec::new(),
            outputs: Vec::new(),
            sensors: Vec::new(),
            params: Vec::new(),
            alarms: Vec::new(),
            actuators: Vec::new(),
        }
    }

    /// Moves the shared clock to tick `k` (after `integrate`, before the
    /// next `tick`): sets the tick index and `t = k·dt`.
    pub fn set_tick(&self, scratch_or_block: &mut impl FnMut(Slot, f64), k: u64, dt: f64) {
        scratch_or_block(self.tick_index, k as f64);
        scratch_or_block(self.time, k as f64 * dt);
    }

    /// The slot with this name.
    pub fn slot(&self, name: &str) -> Option<Slot> {
        self.slots
            .iter()
            .position(|s| s.name == name)
            .map(|i| i as Slot)
    }

    /// The number of slots after the instance block: scratch, the clock
    /// and shared params.
    pub fn scratch_len(&self) -> usize {
        self.slots.len().saturating_sub(self.persistent as usize)
    }
}
