//! The checked program: a typed, name-resolved tree.
//!
//! Takes nothing; gives the types [`crate::check`] produces and lowering to
//! IR consumes. Every name is resolved to what it denotes ([`Ref`]), every
//! expression carries its [`Ty`], and every literal is already in SI units:
//! after this point units are gone except as display units on signals.

use crate::check::types::{EnumId, Quantity, Ty};
use crate::span::Span;
use crate::syntax::ast::{AlarmSeverity, BinOp, UnOp};

/// The index of a member in its [`Body`].
pub type MemberId = usize;

/// The unit a signal is declared in, used at the I/O boundary.
#[derive(Clone, Debug, PartialEq)]
pub struct DisplayUnit {
    /// How the unit is written (`degC`, `kW`, or the SI symbol when the
    /// declaration has no unit).
    pub text: String,
    /// SI value = value × scale + offset.
    pub scale: f64,
    /// See `scale`.
    pub offset: f64,
}

impl DisplayUnit {
    /// The coherent SI unit of a dimension.
    pub fn si(text: impl Into<String>) -> DisplayUnit {
        DisplayUnit {
            text: text.into(),
            scale: 1.0,
            offset: 0.0,
        }
    }

    /// Converts an SI value into this unit.
    pub fn from_si(&self, v: f64) -> f64 {
        (v - self.offset) / self.scale
    }

    /// Converts a value in this unit into SI.
    pub fn to_si(&self, v: f64) -> f64 {
        v * self.scale + self.offset
    }
}

/// Functions built into the language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Builtin {
    /// `min(a, b, ...)`
    Min,
    /// `max(a, b, ...)`
    Max,
    /// `abs(x)`
    Abs,
    /// `clamp(x, lo, hi)`
    Clamp,
    /// `sqrt(x)`
    Sqrt,
    /// `exp(x)`
    Exp,
    /// `log(x)` (natural)
    Log,
    /// `sin(x)`
    Sin,
    /// `cos(x)`
    Cos,
    /// `tan(x)`
    Tan,
    /// `atan2(y, x)`
    Atan2,
    /// `floor(x)`
    Floor,
    /// `ceil(x)`
    Ceil,
    /// `x ^ y` with a non-constant dimensionless exponent.
    Pow,
}

impl Builtin {
    /// The builtin with this name.
    pub fn from_name(name: &str) -> Option<Builtin> {
        Some(match name {
            "min" => Builtin::Min,
            "max" => Builtin::Max,
            "abs" => Builtin::Abs,
            "clamp" => Builtin::Clamp,
            "sqrt" => Builtin::Sqrt,
            "exp" => Builtin::Exp,
            "log" => Builtin::Log,
            "sin" => Builtin::Sin,
            "cos" => Builtin::Cos,
            "tan" => Builtin::Tan,
            "atan2" => Builtin::Atan2,
            "floor" => Builtin::Floor,
            "ceil" => Builtin::Ceil,
            _ => return None,
        })
    }

    /// Every builtin function name (for completion and did-you-mean).
    pub const NAMES: &'static [&'static str] = &[
        "min", "max", "abs", "clamp", "sqrt", "exp", "log", "sin", "cos", "tan", "atan2", "floor",
        "ceil", "prev", "stale", "age",
    ];
}

/// What a name in an expression denotes.
#[derive(Clone, Debug, PartialEq)]
pub enum Ref {
    /// A member of the body being checked.
    Member(MemberId),
    /// A member of an instance, `inst.member` or `line.pump1.current`:
    /// the instance in this body, then member ids in each nested body.
    Path(Vec<MemberId>),
    /// A parameter of the function being checked (index).
    FnParam(usize),
}

/// A checked expression.
#[derive(Clone, Debug, PartialEq)]
pub struct TExpr {
    /// What it is.
    pub kind: TExprKind,
    /// Its type.
    pub ty: Ty,
    /// Where it was written.
    pub span: Span,
}

/// The forms of checked expression.
#[derive(Clone, Debug, PartialEq)]
pub enum TExprKind {
    /// A real constant in SI.
    Real(f64),
    /// An integer constant.
    Int(i64),
    /// A boolean constant.
    Bool(bool),
    /// An enum variant (enum, variant index).
    Variant(EnumId, usize),
    /// A string (only as `csv(...)` arguments).
    Str(String),
    /// A name.
    Ref(Ref),
    /// Twin time `t`, in s.
    Time,
    /// The step `dt`, in s.
    Dt,
    /// `-x`, `not x`.
    Unary(UnOp, Box<TExpr>),
    /// `a op b`; `Pow` only with a constant exponent.
    Binary(BinOp, Box<TExpr>, Box<TExpr>),
    /// A builtin function.
    Builtin(Builtin, Vec<TExpr>),
    /// A user function, arguments in parameter order.
    Call(usize, Vec<TExpr>),
    /// A lookup in a table (index in [`Program::tables`]) at the argument.
    Lookup(usize, Box<TExpr>),
    /// The result of a component instance created at this call site
    /// (member id of the instance).
    Instance(MemberId),
    /// `der(x)` of a state.
    Der(MemberId),
    /// `stale(x)` of a sensor.
    Stale(MemberId),
    /// `age(x)` of a sensor, in s.
    Age(MemberId),
    /// `prev(x, init)`.
    Prev(Box<TExpr>, Box<TExpr>),
    /// `if c then a else b`.
    If(Box<TExpr>, Box<TExpr>, Box<TExpr>),
    /// `csv("file", column: "x")` in a scenario or test.
    Csv(String, String),
    /// Something that failed to check; already reported.
    Error,
}

/// A piece of an alarm message.
#[derive(Clone, Debug, PartialEq)]
pub enum MessagePart {
    /// Literal text.
    Text(String),
    /// A value, printed in the given unit.
    Value(TExpr, DisplayUnit),
}

/// The integrator of a twin.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Solver {
    /// Explicit Euler.
    Euler,
    /// Classic 4th-order Runge–Kutta.
    Rk4,
    /// Adaptive Dormand–Prince 5(4) inside each tick.
    Dopri5 {
        /// Relative tolerance.
        rtol: f64,
        /// Absolute tolerance.
        atol: f64,
    },
}

/// What a component or twin instance instantiates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum InstanceOf {
    /// A component (index in [`Program::components`]).
    Component(usize),
    /// A twin (index in [`Program::twins`]).
    Twin(usize),
}

/// The forms of member.
// Alarms are the largest variant; a model has tens of members, so boxing
// would buy nothing measurable and cost an indirection on every access.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum MemberKind {
    /// A component input (signature parameter).
    Input {
        /// Its default, if the caller may leave it out.
        default: Option<TExpr>,
    },
    /// Telemetry input.
    Sensor {
        /// Valid range in SI.
        range: Option<(f64, f64)>,
        /// Staleness limit in s.
        stale_after: Option<f64>,
        /// Value before the first sample.
        default: Option<TExpr>,
    },
    /// Command to the asset.
    Actuator {
        /// Allowed range in SI.
        range: Option<(f64, f64)>,
        /// Maximum rate in SI units per second.
        slew: Option<f64>,
        /// Continuous command.
        value: Option<TExpr>,
    },
    /// Overridable constant.
    Param {
        /// Default value.
        value: TExpr,
    },
    /// Continuous state.
    State {
        /// Initial value.
        init: TExpr,
    },
    /// Discrete state.
    Var {
        /// Initial value.
        init: TExpr,
    },
    /// Derived signal.
    Let {
        /// Value.
        value: TExpr,
    },
    /// Named component result.
    Out {
        /// Value.
        value: TExpr,
    },
    /// Alarm.
    Alarm {
        /// Severity.
        severity: AlarmSeverity,
        /// Raise condition.
        when: TExpr,
        /// Hold time.
        hold: Option<TExpr>,
        /// Clear condition (default: `not when`).
        clear: Option<TExpr>,
        /// Message.
        message: Vec<MessagePart>,
    },
    /// An instance of a component or twin.
    Instance {
        /// What it instantiates.
        of: InstanceOf,
        /// Arguments: (member id of the input/param/sensor in the target's
        /// body, value).
        args: Vec<(MemberId, TExpr)>,
        /// What each unit parameter was inferred to be.
        generics: Vec<Quantity>,
    },
}

/// A declared name in a twin or component.
#[derive(Clone, Debug, PartialEq)]
pub struct Member {
    /// Its name.
    pub name: String,
    /// Where the name is written.
    pub span: Span,
    /// Its doc comment.
    pub doc: Option<String>,
    /// What it is.
    pub kind: MemberKind,
    /// Its type.
    pub ty: Ty,
    /// The unit it is reported in.
    pub unit: DisplayUnit,
    /// False for instances made for a component call inside an
    /// expression: they have no name of their own in the source.
    pub named: bool,
}

/// An assignment in an `on`/`every` block.
#[derive(Clone, Debug, PartialEq)]
pub struct Assignment {
    /// The var or actuator assigned.
    pub target: MemberId,
    /// The value.
    pub value: TExpr,
}

/// An `on` or `every` block.
#[derive(Clone, Debug, PartialEq)]
pub struct Handler {
    /// `on`: the condition whose rising edge runs it.
    pub on: Option<TExpr>,
    /// `every`: the period in s.
    pub every: Option<f64>,
    /// The assignments, in order.
    pub body: Vec<Assignment>,
}

/// A checked twin or component.
#[derive(Clone, Debug, PartialEq)]
pub struct Body {
    /// Its name.
    pub name: String,
    /// Where the name is written.
    pub span: Span,
    /// Its doc comment.
    pub doc: Option<String>,
    /// Unit parameter names (components).
    pub generics: Vec<String>,
    /// Members, in declaration order; component inputs come first.
    pub members: Vec<Member>,
    /// `der(x) = e` for each state.
    pub ders: Vec<(MemberId, TExpr)>,
    /// Handlers in source order.
    pub handlers: Vec<Handler>,
    /// Lets, outs and instances in evaluation order.
    pub eval_order: Vec<MemberId>,
    /// The single result (`return e`), for components.
    pub result: Option<TExpr>,
    /// The base step in s (twins; default 1 s).
    pub step: f64,
    /// The integrator (twins; default rk4).
    pub solver: Solver,
    /// Per member, the members an instance's arguments bind (component
    /// inputs; a twin's params and sensors) that it reads within the same
    /// tick, that is without a state in between (used for algebraic-loop
    /// detection at use sites).
    pub member_inputs: Vec<Vec<MemberId>>,
    /// The same for the single result.
    pub result_inputs: Vec<MemberId>,
}

impl Body {
    /// The member with this name.
    pub fn member(&self, name: &str) -> Option<MemberId> {
        self.members.iter().position(|m| m.name == name && m.named)
    }
}

/// A checked function.
#[derive(Clone, Debug, PartialEq)]
pub struct Function {
    /// Its name.
    pub name: String,
    /// Parameter names and types.
    pub params: Vec<(String, Ty)>,
    /// The result type.
    pub ret: Ty,
    /// The body.
    pub body: TExpr,
}

/// A checked lookup table: a piecewise-linear function of one argument,
/// clamped to its first and last points.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    /// Its name.
    pub name: String,
    /// The points `(x, y)` in SI, x strictly increasing, at least two; empty
    /// when the table has errors (already reported).
    pub points: Vec<(f64, f64)>,
    /// The type its argument must have.
    pub arg: Ty,
    /// The unit of the x values as written in the header.
    pub x_unit: DisplayUnit,
    /// The type of its results.
    pub ty: Ty,
    /// The unit of the y values as written in the header; results are
    /// shown in it.
    pub y_unit: DisplayUnit,
}

impl Table {
    /// The slope of segment `i`, from point `i` to point `i + 1`, in SI.
    /// Lowering and [`Table::lookup`] both use it, so they agree exactly.
    pub fn slope(&self, i: usize) -> f64 {
        let ((x0, y0), (x1, y1)) = (self.points[i], self.points[i + 1]);
        (y1 - y0) / (x1 - x0)
    }

    /// The table's value at `x` (SI), with the floating-point operations
    /// the lowered IR performs: the first y at or below the first x, the
    /// last y at or above the last x, `y_i + slope_i * (x - x_i)` on the
    /// segment holding `x` in between, and NaN for NaN. `None` when the
    /// table has errors.
    pub fn lookup(&self, x: f64) -> Option<f64> {
        let (first, last) = (self.points.first()?, self.points.last()?);
        if self.points.len() < 2 {
            return None;
        }
        if x <= first.0 {
            return Some(first.1);
        }
        if x >= last.0 {
            return Some(last.1);
        }
        // The segment whose start is the last x at or below `x` (segment
        // 0 for NaN, which then propagates through the formula).
        let i = self
            .points
            .partition_point(|p| p.0 <= x)
            .saturating_sub(1)
            .min(self.points.len() - 2);
        let (xi, yi) = self.points[i];
        Some(yi + self.slope(i) * (x - xi))
    }
}

/// A checked enum.
#[derive(Clone, Debug, PartialEq)]
pub struct Enum {
    /// Its name.
    pub name: String,
    /// Variant names in order.
    pub variants: Vec<String>,
}

/// A checked scenario or test statement list, against one twin.
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    /// Scenario name, or test name.
    pub name: String,
    /// Where the name is written.
    pub span: Span,
    /// The twin (index in [`Program::twins`]).
    pub twin: usize,
    /// How long to run, in s.
    pub duration: Option<f64>,
    /// Param overrides (member id, value).
    pub set: Vec<(MemberId, TExpr)>,
    /// Sensor inputs (the sensor's path, `current` or `cell.current` for
    /// an instance's own sensor, and an expression of `t` or `csv(...)`).
    pub sensors: Vec<(String, TExpr)>,
    /// Reported signals (members of the twin or of its instances).
    pub report: Vec<TExpr>,
    /// Test expectations.
    pub expects: Vec<Expect>,
}

/// A checked test expectation.
#[derive(Clone, Debug, PartialEq)]
pub struct Expect {
    /// When it must hold.
    pub mode: ExpectWhen,
    /// The condition.
    pub cond: TExpr,
    /// Where it is written.
    pub span: Span,
}

/// When a test expectation must hold.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ExpectWhen {
    /// At the end of the run.
    AtEnd,
    /// At every tick.
    Always,
    /// At some tick no later than the time (s), or the end.
    Eventually(Option<f64>),
    /// At the tick at this time (s).
    At(f64),
}

/// A whole checked program: the root file and the modules it uses.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Program {
    /// Enums.
    pub enums: Vec<Enum>,
    /// Functions.
    pub functions: Vec<Function>,
    /// Lookup tables.
    pub tables: Vec<Table>,
    /// Components.
    pub components: Vec<Body>,
    /// Twins.
    pub twins: Vec<Body>,
    /// Scenarios.
    pub scenarios: Vec<Run>,
    /// Tests.
    pub tests: Vec<Run>,
}

impl Program {
    /// The twin with this name.
    pub fn twin(&self, name: &str) -> Option<usize> {
        self.twins.iter().position(|t| t.name == name)
    }

    /// The unit a value is shown in when its expression fixes one: the y
    /// unit of a table lookup.
    pub fn lookup_unit(&self, e: &TExpr) -> Option<&DisplayUnit> {
        match &e.kind {
            TExprKind::Lookup(t, _) => self.tables.get(*t).map(|t| &t.y_unit),
            _ => None,
        }
    }
}
