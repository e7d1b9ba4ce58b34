//! The syntax tree.
//!
//! Takes nothing; gives the types the parser builds: a [`Module`] of
//! [`Item`]s, twin and component bodies of [`Decl`]s, [`Expr`]essions,
//! [`TypeExpr`]s and [`UnitExpr`]s. Every node carries its [`Span`]. The tree
//! is faithful to the source (parentheses are kept) so the formatter and
//! the editor can work from it; meaning is given later, by `check`.

use crate::span::Span;

/// A name as written, with where it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    /// The text.
    pub name: String,
    /// Where.
    pub span: Span,
}

/// One parsed file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Module {
    /// The `//!` documentation of the file.
    pub doc: Option<String>,
    /// The top-level items in source order.
    pub items: Vec<Item>,
}

/// A top-level item with its `///` documentation.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    /// The doc comment before the item, if any.
    pub doc: Option<String>,
    /// What it is.
    pub kind: ItemKind,
    /// The whole item.
    pub span: Span,
}

/// The forms of top-level item.
#[derive(Clone, Debug, PartialEq)]
pub enum ItemKind {
    /// `use std::filters::Lag`
    Use(UsePath),
    /// `const g: m/s^2 = 9.81 m/s^2`
    Const(ConstDecl),
    /// `const curve = table(L/s -> m) { 0: 42, 10: 35 }`
    Table(TableDecl),
    /// `unit lpm = L/min`
    Unit(UnitDecl),
    /// `enum Mode { Off, Idle, Running }`
    Enum(EnumDecl),
    /// `fn name(a: U) -> U = expr`
    Fn(FnDecl),
    /// `component Lag<U>(x: U, tau: s) -> U { ... }`
    Component(ComponentDecl),
    /// `twin Pump { ... }`
    Twin(TwinDecl),
    /// `scenario name for Twin { ... }`
    Scenario(ScenarioDecl),
    /// `test "name" for Twin { ... }`
    Test(TestDecl),
    /// Something that did not parse; already reported.
    Error,
}

/// `use a::b::C`.
#[derive(Clone, Debug, PartialEq)]
pub struct UsePath {
    /// The path segments; the last one is the imported name.
    pub segments: Vec<Ident>,
}

/// `const name[: T] = expr`.
#[derive(Clone, Debug, PartialEq)]
pub struct ConstDecl {
    /// The constant's name.
    pub name: Ident,
    /// Its declared type, if written.
    pub ty: Option<TypeExpr>,
    /// Its value: must be computable at compile time.
    pub value: Expr,
}

/// `const name = table(X -> Y) { x: y, ... }`: a lookup table, called
/// like a one-argument function.
#[derive(Clone, Debug, PartialEq)]
pub struct TableDecl {
    /// The table's name.
    pub name: Ident,
    /// The unit of the x values (and of the argument).
    pub x_unit: TypeExpr,
    /// The unit of the y values (and of the result).
    pub y_unit: TypeExpr,
    /// The points as written, in source order.
    pub points: Vec<TablePoint>,
    /// The span of the braces around the points.
    pub body_span: Span,
}

/// One `x: y` point of a lookup table; both are plain numbers in the
/// units of the table's header.
#[derive(Clone, Debug, PartialEq)]
pub struct TablePoint {
    /// The x value.
    pub x: Expr,
    /// The y value.
    pub y: Expr,
    /// The whole point.
    pub span: Span,
}

/// `unit name = [factor] unit-expression`: `unit lpm = L/min`,
/// `unit kcal = 4184 J`.
#[derive(Clone, Debug, PartialEq)]
pub struct UnitDecl {
    /// The new unit's name.
    pub name: Ident,
    /// A number the unit is multiplied by, when written.
    pub factor: Option<f64>,
    /// The unit it is defined from.
    pub unit: UnitExpr,
}

/// `enum Name { A, B }`.
#[derive(Clone, Debug, PartialEq)]
pub struct EnumDecl {
    /// The enum's name.
    pub name: Ident,
    /// Its variants, in order.
    pub variants: Vec<Ident>,
}

/// A parameter of a `fn` or `component` signature.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    /// The parameter's name.
    pub name: Ident,
    /// Its type or unit.
    pub ty: TypeExpr,
    /// Its default value, if the caller may leave it out.
    pub default: Option<Expr>,
}

/// `fn name<U>(params) -> T = expr`.
#[derive(Clone, Debug, PartialEq)]
pub struct FnDecl {
    /// The function's name.
    pub name: Ident,
    /// Unit parameters, inferred at each call.
    pub generics: Vec<Ident>,
    /// Value parameters.
    pub params: Vec<Param>,
    /// The declared result type, if written.
    pub ret: Option<TypeExpr>,
    /// The body.
    pub body: Expr,
}

/// `component Name<U>(params) [-> T] { decls }`.
#[derive(Clone, Debug, PartialEq)]
pub struct ComponentDecl {
    /// The component's name.
    pub name: Ident,
    /// Unit parameters, inferred at each use.
    pub generics: Vec<Ident>,
    /// Inputs and parameters.
    pub params: Vec<Param>,
    /// The single result's type, when there is one (`-> U`).
    pub ret: Option<TypeExpr>,
    /// The body.
    pub body: Vec<Decl>,
    /// The span of the body's braces.
    pub body_span: Span,
}

/// `twin Name { decls }`.
#[derive(Clone, Debug, PartialEq)]
pub struct TwinDecl {
    /// The twin's name.
    pub name: Ident,
    /// The body.
    pub body: Vec<Decl>,
    /// The span of the body's braces.
    pub body_span: Span,
}

/// `scenario name for Twin { ... }`.
#[derive(Clone, Debug, PartialEq)]
pub struct ScenarioDecl {
    /// The scenario's name.
    pub name: Ident,
    /// The twin it runs.
    pub twin: Ident,
    /// Its statements.
    pub body: Vec<Stmt>,
}

/// `test "name" for Twin { ... }`.
#[derive(Clone, Debug, PartialEq)]
pub struct TestDecl {
    /// The test's name (the string's contents).
    pub name: String,
    /// The span of the name string.
    pub name_span: Span,
    /// The twin it runs.
    pub twin: Ident,
    /// Its statements.
    pub body: Vec<Stmt>,
}

/// A statement of a scenario or test.
#[derive(Clone, Debug, PartialEq)]
pub struct Stmt {
    /// What it is.
    pub kind: StmtKind,
    /// Where.
    pub span: Span,
}

/// The forms of scenario and test statement.
#[derive(Clone, Debug, PartialEq)]
pub enum StmtKind {
    /// `duration D`
    Duration(Expr),
    /// `run D`
    Run(Expr),
    /// `set p = expr`
    Set(Path, Expr),
    /// `sensor x = expr` (an expression of `t`, or `csv("f.csv", column: "x")`)
    Sensor(Path, Expr),
    /// `report a, b`
    Report(Vec<Path>),
    /// `expect [always | eventually] C [within D] [at T]`
    Expect(Expectation),
    /// Something that did not parse; already reported.
    Error,
}

/// When an expectation must hold.
#[derive(Clone, Debug, PartialEq)]
pub enum ExpectMode {
    /// At the end of the run (`expect C`).
    AtEnd,
    /// At every tick (`expect always C`).
    Always,
    /// At some tick, optionally no later than a time (`expect eventually C within D`).
    Eventually(Option<Expr>),
    /// At one time (`expect C at T`).
    At(Expr),
}

/// `expect ...`.
#[derive(Clone, Debug, PartialEq)]
pub struct Expectation {
    /// When.
    pub mode: ExpectMode,
    /// What.
    pub cond: Expr,
}

/// A declaration in a twin or component body.
#[derive(Clone, Debug, PartialEq)]
pub struct Decl {
    /// The doc comment before it, if any.
    pub doc: Option<String>,
    /// What it is.
    pub kind: DeclKind,
    /// The whole declaration.
    pub span: Span,
}

/// `lo .. hi`.
#[derive(Clone, Debug, PartialEq)]
pub struct RangeExpr {
    /// Lower bound.
    pub lo: Expr,
    /// Upper bound.
    pub hi: Expr,
    /// The whole range.
    pub span: Span,
}

/// Alarm severities.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AlarmSeverity {
    /// `info`
    Info,
    /// `warning`
    Warning,
    /// `critical`
    Critical,
}

impl AlarmSeverity {
    /// The keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            AlarmSeverity::Info => "info",
            AlarmSeverity::Warning => "warning",
            AlarmSeverity::Critical => "critical",
        }
    }
}

/// An assignment in an `on` or `every` block.
#[derive(Clone, Debug, PartialEq)]
pub struct Assign {
    /// What is assigned (a var or an actuator).
    pub target: Path,
    /// The new value.
    pub value: Expr,
    /// The whole assignment.
    pub span: Span,
}

/// The forms of declaration.
#[derive(Clone, Debug, PartialEq)]
pub enum DeclKind {
    /// `sensor x: U [range lo .. hi] [stale after D] [= default]`
    Sensor {
        /// Name.
        name: Ident,
        /// Unit or type.
        ty: Option<TypeExpr>,
        /// Valid range.
        range: Option<RangeExpr>,
        /// Staleness limit.
        stale: Option<Expr>,
        /// Value before the first sample.
        default: Option<Expr>,
    },
    /// `actuator y: U [range lo .. hi] [slew R] [= expr]`
    Actuator {
        /// Name.
        name: Ident,
        /// Unit or type.
        ty: Option<TypeExpr>,
        /// Allowed range; commands are clamped to it.
        range: Option<RangeExpr>,
        /// Maximum rate of change.
        slew: Option<Expr>,
        /// Continuous command, if given.
        value: Option<Expr>,
    },
    /// `param p: U = expr`
    Param {
        /// Name.
        name: Ident,
        /// Unit or type.
        ty: Option<TypeExpr>,
        /// Default value.
        value: Expr,
    },
    /// `state x: U = init`
    State {
        /// Name.
        name: Ident,
        /// Unit.
        ty: Option<TypeExpr>,
        /// Initial value.
        init: Expr,
    },
    /// `der(x) = expr`
    Der {
        /// The state.
        target: Ident,
        /// Its time derivative.
        value: Expr,
    },
    /// `var v: T = init`
    Var {
        /// Name.
        name: Ident,
        /// Type or unit.
        ty: Option<TypeExpr>,
        /// Initial value.
        init: Expr,
    },
    /// `let name[: U] = expr` (a component instance when `expr` calls one)
    Let {
        /// Name.
        name: Ident,
        /// Unit or type.
        ty: Option<TypeExpr>,
        /// Value.
        value: Expr,
    },
    /// `name = Component(...)` or `name = Twin(...)`
    Instance {
        /// Instance name.
        name: Ident,
        /// The call that creates it.
        call: Expr,
    },
    /// `out name: U = expr` (components)
    Out {
        /// Name.
        name: Ident,
        /// Unit or type.
        ty: Option<TypeExpr>,
        /// Value.
        value: Expr,
    },
    /// `return expr` (components with a single result)
    Return(Expr),
    /// `alarm a: SEVERITY when c [for D] [clear when c2] [message "..."]`
    Alarm {
        /// Name.
        name: Ident,
        /// Severity and where it was written.
        severity: (AlarmSeverity, Span),
        /// Raise condition.
        when: Expr,
        /// Hold time.
        hold: Option<Expr>,
        /// Clear condition.
        clear: Option<Expr>,
        /// Message template.
        message: Option<StrLit>,
    },
    /// `on cond { assignments }`
    On {
        /// Edge condition.
        cond: Expr,
        /// Assignments.
        body: Vec<Assign>,
    },
    /// `every D { assignments }`
    Every {
        /// Period.
        period: Expr,
        /// Assignments.
        body: Vec<Assign>,
    },
    /// `step D`
    Step(Expr),
    /// `solver name[(args)]`
    Solver {
        /// Solver name.
        name: Ident,
        /// Options such as `rtol: 1e-6`.
        args: Vec<Arg>,
    },
    /// Something that did not parse; already reported.
    Error,
}

impl DeclKind {
    /// The name a declaration defines, if it defines one.
    pub fn defined_name(&self) -> Option<&Ident> {
        match self {
            DeclKind::Sensor { name, .. }
            | DeclKind::Actuator { name, .. }
            | DeclKind::Param { name, .. }
            | DeclKind::State { name, .. }
            | DeclKind::Var { name, .. }
            | DeclKind::Let { name, .. }
            | DeclKind::Instance { name, .. }
            | DeclKind::Out { name, .. }
            | DeclKind::Alarm { name, .. } => Some(name),
            _ => None,
        }
    }
}

/// A string literal, split into text and `{expr}` interpolations.
#[derive(Clone, Debug, PartialEq)]
pub struct StrLit {
    /// Text and interpolated expressions in order.
    pub parts: Vec<StrPart>,
    /// The whole literal including quotes.
    pub span: Span,
}

/// A piece of a string literal.
#[derive(Clone, Debug, PartialEq)]
pub enum StrPart {
    /// Literal text (escapes undone).
    Text(String),
    /// `{expr}`
    Interp(Expr),
}

/// A `::`-separated path: `x`, `Mode::Idle`, `std::filters::Lag`; or a
/// `.`-separated member path `pump1.current` (see [`Path::members`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Path {
    /// The segments.
    pub segments: Vec<Ident>,
    /// Whether segments were joined with `.` (members) rather than `::`.
    pub members: bool,
    /// The whole path.
    pub span: Span,
}

impl Path {
    /// The path as written, e.g. `pump1.current`.
    pub fn text(&self) -> String {
        let sep = if self.members { "." } else { "::" };
        self.segments
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(sep)
    }
}

/// A call argument: `name: expr` or a positional `expr`.
#[derive(Clone, Debug, PartialEq)]
pub struct Arg {
    /// The argument name, for named arguments.
    pub name: Option<Ident>,
    /// The value.
    pub value: Expr,
}

/// Binary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `^`
    Pow,
    /// `<`
    Lt,
    /// `>`
    Gt,
    /// `<=`
    Le,
    /// `>=`
    Ge,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `and`
    And,
    /// `or`
    Or,
}

impl BinOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Pow => "^",
            BinOp::Lt => "<",
            BinOp::Gt => ">",
            BinOp::Le => "<=",
            BinOp::Ge => ">=",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::And => "and",
            BinOp::Or => "or",
        }
    }

    /// Whether the operator compares two values.
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinOp::Lt | BinOp::Gt | BinOp::Le | BinOp::Ge | BinOp::Eq | BinOp::Ne
        )
    }
}

/// Unary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnOp {
    /// `-x`
    Neg,
    /// `not x`
    Not,
}

/// An expression.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where.
    pub span: Span,
}

/// The forms of expression.
#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// A plain number: `12`, `3.5`, `1e-3`.
    Number(f64),
    /// A number with a compact unit: `12 A`, `9.81 m/s^2`.
    Quantity(f64, UnitExpr),
    /// `true` or `false`.
    Bool(bool),
    /// A string (only as a call argument, e.g. `csv("f.csv")`).
    Str(StrLit),
    /// A name or path: `x`, `Mode::Idle`, `inst.member`.
    Path(Path),
    /// `-x`, `not x`.
    Unary(UnOp, Box<Expr>),
    /// `a + b`, `a and b`, ...
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `f(args)`.
    Call(Path, Vec<Arg>),
    /// `der(x)` used as a value.
    Der(Ident),
    /// `if c then a else b`.
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `(e)`.
    Paren(Box<Expr>),
    /// Something that did not parse; already reported.
    Error,
}

/// A type in a declaration: a unit, a named type, or a unit-generic expression.
#[derive(Clone, Debug, PartialEq)]
pub struct TypeExpr {
    /// The unit expression; `Real`, `Bool`, `Int`, enum names and unit
    /// parameters are single names and are told apart by the checker.
    pub unit: UnitExpr,
    /// Where.
    pub span: Span,
}

/// A unit expression: `kW`, `m/s^2`, `W / (m^2 * K)`, `1/min`, `U`.
#[derive(Clone, Debug, PartialEq)]
pub struct UnitExpr {
    /// What it is.
    pub kind: UnitExprKind,
    /// Where.
    pub span: Span,
}

/// The forms of unit expression.
#[derive(Clone, Debug, PartialEq)]
pub enum UnitExprKind {
    /// A unit name (possibly prefixed: `kW`) or a type/unit parameter name.
    Name(String),
    /// `1`, as in `1/s`.
    One,
    /// `a * b`.
    Mul(Box<UnitExpr>, Box<UnitExpr>),
    /// `a / b`.
    Div(Box<UnitExpr>, Box<UnitExpr>),
    /// `a^n` with a rational exponent `num/den`.
    Pow(Box<UnitExpr>, i32, i32),
    /// `(a)`.
    Paren(Box<UnitExpr>),
}

impl UnitExpr {
    /// The unit written back out compactly, e.g. `W/(m^2*K)`.
    pub fn to_compact(&self) -> String {
        match &self.kind {
            UnitExprKind::Name(n) => n.clone(),
            UnitExprKind::One => "1".into(),
            UnitExprKind::Mul(a, b) => format!("{}*{}", a.to_compact(), b.to_compact()),
            UnitExprKind::Div(a, b) => format!("{}/{}", a.to_compact(), b.to_compact()),
            UnitExprKind::Pow(a, n, 1) => format!("{}^{n}", a.to_compact()),
            UnitExprKind::Pow(a, n, d) => format!("{}^({n}/{d})", a.to_compact()),
            UnitExprKind::Paren(a) => format!("({})", a.to_compact()),
        }
    }

    /// Whether this is a single name, and which.
    pub fn as_name(&self) -> Option<&str> {
        match &self.kind {
            UnitExprKind::Name(n) => Some(n),
            _ => None,
        }
    }
}
