//! Twin and component bodies.
//!
//! Takes a twin or component item; gives its checked [`Body`]. Members are
//! collected first (so declaration order does not matter), then each is
//! checked on demand, the first time it is used or in source order,
//! whichever comes first; an unannotated `let` thus gets its type from its
//! value before anyone reads it. Then come the body-wide rules: every
//! state has exactly one `der`, `der` only of states, assignments only to
//! vars and actuators inside `on`/`every`, `step`/`solver` only in twins,
//! `out`/`return` only in components, and the acyclic-let rule.

use super::expr::{Scope, error_expr};
use super::types::{Affinity, Quantity, Ty};
use super::units::{Generic, probe};
use super::{Checker, ItemRef, Progress};
use crate::diagnostic::{Diagnostic, Kind};
use crate::hir::{
    Assignment, Body, DisplayUnit, Handler, InstanceOf, Member, MemberId, MemberKind, MessagePart,
    Solver, TExpr,
};
use crate::span::Span;
use crate::syntax::ast::{self, DeclKind, ExprKind, ItemKind, StrPart};
use crate::units::{BaseDim, Dimension};
use std::rc::Rc;

/// What kind of member a declaration makes, known before it is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    Input,
    Sensor,
    Actuator,
    Param,
    State,
    Var,
    Let,
    Out,
    Alarm,
    Instance,
}

impl Class {
    fn noun(self) -> &'static str {
        match self {
            Class::Input => "input",
            Class::Sensor => "sensor",
            Class::Actuator => "actuator",
            Class::Param => "param",
            Class::State => "state",
            Class::Var => "var",
            Class::Let => "let",
            Class::Out => "out",
            Class::Alarm => "alarm",
            Class::Instance => "instance",
        }
    }
}

/// A member found while collecting, before it is checked.
struct Entry {
    name: ast::Ident,
    class: Class,
    decl: Option<usize>,
    ty: Option<ast::TypeExpr>,
    doc: Option<String>,
}

/// A body being checked.
pub(crate) struct BodyState {
    pub module: usize,
    pub is_twin: bool,
    pub generics: Vec<Generic>,
    pub members: Vec<Member>,
    pub class: Vec<Class>,
    pub progress: Vec<Progress>,
    pub decl_of: Vec<Option<usize>>,
    pub declared: Vec<Option<(Ty, DisplayUnit)>>,
    pub used: Vec<bool>,
    /// Members whose type was asked for while their own declaration was
    /// being checked (a definition that uses itself).
    pub recursive: Vec<MemberId>,
    /// Named members by name (references are resolved once per use, so
    /// this must not be a scan).
    pub index: std::collections::HashMap<String, MemberId>,
    /// The module tree and the index of the item being checked.
    pub ast: Rc<ast::Module>,
    pub item: usize,
}

/// The declarations of item `item` of a module.
fn item_decls(ast: &ast::Module, item: usize) -> &[ast::Decl] {
    match &ast.items[item].kind {
        ItemKind::Twin(t) => &t.body,
        ItemKind::Component(c) => &c.body,
        _ => &[],
    }
}

impl BodyState {
    /// The component's signature parameters (none for twins).
    pub fn params(&self) -> &[ast::Param] {
        match &self.ast.items[self.item].kind {
            ItemKind::Component(c) => &c.params,
            _ => &[],
        }
    }

    pub fn member_named(&self, name: &str) -> Option<MemberId> {
        self.index.get(name).copied()
    }

    pub fn is_state(&self, id: MemberId) -> bool {
        self.class[id] == Class::State
    }

    pub fn is_sensor(&self, id: MemberId) -> bool {
        self.class[id] == Class::Sensor
    }

    pub fn is_instance(&self, id: MemberId) -> bool {
        self.class[id] == Class::Instance
    }

    pub fn instance_target(&self, id: MemberId) -> Option<InstanceOf> {
        match &self.members[id].kind {
            MemberKind::Instance { of, .. } => Some(*of),
            _ => None,
        }
    }
}

/// An empty body standing for one not yet (or not successfully) checked.
pub(crate) fn placeholder(name: &ast::Ident) -> Body {
    Body {
        name: name.name.clone(),
        span: name.span,
        doc: None,
        generics: Vec::new(),
        members: Vec::new(),
        ders: Vec::new(),
        handlers: Vec::new(),
        eval_order: Vec::new(),
        result: None,
        step: 1.0,
        solver: Solver::Rk4,
        feedthrough: Vec::new(),
    }
}

fn time() -> Dimension {
    Dimension::base(BaseDim::Time)
}

fn placeholder_kind() -> MemberKind {
    MemberKind::Let {
        value: error_expr(Span::default()),
    }
}

impl Checker {
    fn body(&self) -> &BodyState {
        // Only called while a body check is running.
        &self.stack[self.stack.len() - 1]
    }

    fn body_mut(&mut self) -> &mut BodyState {
        let n = self.stack.len() - 1;
        &mut self.stack[n]
    }

    pub(crate) fn mark_used(&mut self, id: MemberId) {
        if let Some(b) = self.stack.last_mut() {
            b.used[id] = true;
        }
    }

    /// The type of member `id` of the current body, checking it first
    /// when needed. While a member is being checked its type is its
    /// annotation, or `Ty::Error` (a cycle, reported by the loop check).
    pub(crate) fn member_ty(&mut self, id: MemberId) -> Ty {
        match self.body().progress[id] {
            Progress::Done => self.body().members[id].ty.clone(),
            Progress::Started => match &self.body().declared[id] {
                Some(d) => d.0.clone(),
                None => {
                    self.body_mut().recursive.push(id);
                    Ty::Error
                }
            },
            Progress::Pending => {
                self.check_member(id);
                self.body().members[id].ty.clone()
            }
        }
    }

    pub(crate) fn set_member_kind(&mut self, id: MemberId, kind: MemberKind, ty: Ty) {
        let b = self.body_mut();
        b.members[id].kind = kind;
        b.members[id].ty = ty;
    }

    pub(crate) fn add_anonymous_instance(
        &mut self,
        callee: &str,
        kind: MemberKind,
        ty: Ty,
        span: Span,
    ) -> MemberId {
        let b = self.body_mut();
        let n = b.members.iter().filter(|m| !m.named).count();
        b.members.push(Member {
            name: format!("{callee}#{}", n + 1),
            span,
            doc: None,
            kind,
            ty,
            unit: DisplayUnit::si(""),
            named: false,
        });
        b.class.push(Class::Instance);
        b.progress.push(Progress::Done);
        b.decl_of.push(None);
        b.declared.push(None);
        b.used.push(true);
        b.members.len() - 1
    }

    /// Checks a whole twin or component.
    pub(crate) fn check_body(&mut self, at: ItemRef) -> Body {
        // The tree is shared, not copied: bodies are most of a file.
        let module_ast = Rc::clone(&self.modules[at.module].ast);
        let item = &module_ast.items[at.item];
        let (name, generics, params, decls, ret, is_twin): (
            _,
            &[ast::Ident],
            &[ast::Param],
            &[ast::Decl],
            _,
            _,
        ) = match &item.kind {
            ItemKind::Twin(t) => (&t.name, &[], &[], &t.body, None, true),
            ItemKind::Component(c) => (
                &c.name,
                &c.generics,
                &c.params,
                &c.body,
                c.ret.as_ref(),
                false,
            ),
            _ => {
                return placeholder(&ast::Ident {
                    name: String::new(),
                    span: item.span,
                });
            }
        };
        let generics: Vec<Generic> = generics
            .iter()
            .enumerate()
            .map(|(k, g)| Generic {
                name: g.name.clone(),
                probe: probe(k),
            })
            .collect();
        self.stack.push(BodyState {
            module: at.module,
            is_twin,
            generics: generics.clone(),
            members: Vec::new(),
            class: Vec::new(),
            progress: Vec::new(),
            decl_of: Vec::new(),
            declared: Vec::new(),
            used: Vec::new(),
            index: Default::default(),
            recursive: Vec::new(),
            ast: Rc::clone(&module_ast),
            item: at.item,
        });
        let errors_before = self.diags.len();
        self.collect_members(params, decls);
        for id in 0..self.body().members.len() {
            if self.body().progress[id] == Progress::Pending {
                self.check_member(id);
            }
        }
        let ders = self.check_ders(decls);
        let handlers = self.check_handlers(decls);
        let (step, solver) = self.check_twin_settings(decls, is_twin);
        let result = self.check_result(decls, ret, is_twin, name);
        let (eval_order, feedthrough, in_cycle) = self.order_and_loops(&result);
        self.report_recursive_inference(&in_cycle);
        // With errors in the body, "never used" warnings are mostly echoes
        // of them (a misspelt use, a use inside a broken expression): leave
        // them out until the errors are fixed.
        let had_errors = self.diags[errors_before..].iter().any(Diagnostic::is_error);
        if !had_errors {
            self.warn_unused_members(is_twin);
        }
        let state = self.stack.pop();
        let Some(state) = state else {
            return placeholder(name);
        };
        Body {
            name: name.name.clone(),
            span: name.span,
            doc: item.doc.clone(),
            generics: generics.iter().map(|g| g.name.clone()).collect(),
            members: state.members,
            ders,
            handlers,
            eval_order,
            result,
            step,
            solver,
            feedthrough,
        }
    }

    fn collect_members(&mut self, params: &[ast::Param], decls: &[ast::Decl]) {
        let m = self.body().module;
        let generics = self.body().generics.clone();
        let mut entries: Vec<Entry> = Vec::new();
        for p in params {
            entries.push(Entry {
                name: p.name.clone(),
                class: Class::Input,
                decl: None,
                ty: Some(p.ty.clone()),
                doc: None,
            });
        }
        for (k, d) in decls.iter().enumerate() {
            let (name, class, ty) = match &d.kind {
                DeclKind::Sensor { name, ty, .. } => (name, Class::Sensor, ty),
                DeclKind::Actuator { name, ty, .. } => (name, Class::Actuator, ty),
                DeclKind::Param { name, ty, .. } => (name, Class::Param, ty),
                DeclKind::State { name, ty, .. } => (name, Class::State, ty),
                DeclKind::Var { name, ty, .. } => (name, Class::Var, ty),
                // `let p = Comp(...)` of a component with several results
                // (or of a twin) names an instance, like `p = Comp(...)`.
                DeclKind::Let {
                    name,
                    ty: None,
                    value,
                } if self.makes_named_instance(value) => (name, Class::Instance, &None),
                DeclKind::Let { name, ty, .. } => (name, Class::Let, ty),
                DeclKind::Out { name, ty, .. } => (name, Class::Out, ty),
                DeclKind::Alarm { name, .. } => (name, Class::Alarm, &None),
                DeclKind::Instance { name, call } => {
                    if !matches!(call.kind, ExprKind::Call(..)) {
                        let assignable = decls.iter().any(|x| {
                            matches!(&x.kind, DeclKind::Var { name: n, .. } | DeclKind::Actuator { name: n, .. } if n.name == name.name)
                        });
                        let help = if assignable {
                            format!("assign `{}` inside an `on` or `every` block", name.name)
                        } else {
                            format!("to define a signal, write `let {} = ...`", name.name)
                        };
                        self.error(
                            Diagnostic::new(
                                Kind::MisplacedDeclaration,
                                d.span,
                                format!("`{} = ...` outside an `on` or `every` block", name.name),
                            )
                            .label("assignment in a body")
                            .with_help(help),
                        );
                        continue;
                    }
                    (name, Class::Instance, &None)
                }
                _ => continue,
            };
            entries.push(Entry {
                name: name.clone(),
                class,
                decl: Some(k),
                ty: ty.clone(),
                doc: d.doc.clone(),
            });
        }
        for Entry {
            name,
            class,
            decl,
            ty,
            doc,
        } in entries
        {
            if let Some(first) = self.body().member_named(&name.name) {
                let first_span = self.body().members[first].span;
                let noun = self.body().class[first].noun();
                self.error(
                    Diagnostic::new(
                        Kind::DuplicateDefinition,
                        name.span,
                        format!("`{}` is defined more than once", name.name),
                    )
                    .label("defined again here")
                    .with_secondary(first_span, format!("first defined here, as a {noun}"))
                    .with_help("rename one of them"),
                );
                continue;
            }
            let declared = match (&ty, class) {
                (Some(te), _) => Some(self.resolve_type(m, te, &generics)),
                (None, Class::Alarm) => Some((Ty::Bool, DisplayUnit::si(""))),
                _ => None,
            };
            let b = self.body_mut();
            b.index.insert(name.name.clone(), b.members.len());
            b.members.push(Member {
                name: name.name.clone(),
                span: name.span,
                doc,
                kind: placeholder_kind(),
                ty: Ty::Error,
                unit: declared
                    .as_ref()
                    .map_or(DisplayUnit::si(""), |d| d.1.clone()),
                named: true,
            });
            b.class.push(class);
            b.progress.push(Progress::Pending);
            b.decl_of.push(decl);
            b.declared.push(declared);
            b.used.push(false);
        }
    }

    /// Checks one member's declaration.
    fn check_member(&mut self, id: MemberId) {
        self.body_mut().progress[id] = Progress::Started;
        let m = self.body().module;
        let g = self.body().generics.clone();
        let class = self.body().class[id];
        let declared = self.body().declared[id].clone();
        let ast = Rc::clone(&self.body().ast);
        let decls = item_decls(&ast, self.body().item);
        let decl = self.body().decl_of[id].map(|k| &decls[k]);
        let name = self.body().members[id].name.clone();
        let what = format!("`{name}`");
        let typed = |c: &mut Checker, e: &ast::Expr| -> TExpr {
            let t = c.expr(m, Scope::Body, e, &g);
            if let Some((want, unit)) = &declared {
                c.expect_type(want, &t, Some(&unit.text), &g, &what.clone());
            }
            t
        };
        let (kind, value_ty) = match (class, decl.map(|d| &d.kind)) {
            (Class::Input, _) => {
                let default = self
                    .body()
                    .params()
                    .iter()
                    .find(|p| p.name.name == name)
                    .and_then(|p| p.default.clone());
                let default = default.as_ref().map(|d| typed(self, d));
                (MemberKind::Input { default }, None)
            }
            (
                Class::Sensor,
                Some(DeclKind::Sensor {
                    range,
                    stale,
                    default,
                    ..
                }),
            ) => {
                let default = default.as_ref().map(|d| typed(self, d));
                let ty = declared
                    .as_ref()
                    .map(|d| d.0.clone())
                    .or(default.as_ref().map(|d| d.ty.clone()))
                    .unwrap_or(Ty::NUMBER);
                let range = range
                    .as_ref()
                    .and_then(|r| self.const_range(r, &ty, &declared));
                let stale_after = stale
                    .as_ref()
                    .and_then(|s| self.const_of_dim(s, time(), "a staleness limit"));
                (
                    MemberKind::Sensor {
                        range,
                        stale_after,
                        default,
                    },
                    Some(ty),
                )
            }
            (
                Class::Actuator,
                Some(DeclKind::Actuator {
                    range, slew, value, ..
                }),
            ) => {
                let value = value.as_ref().map(|v| typed(self, v));
                let ty = declared
                    .as_ref()
                    .map(|d| d.0.clone())
                    .or(value.as_ref().map(|d| d.ty.clone()))
                    .unwrap_or(Ty::NUMBER);
                let range = range
                    .as_ref()
                    .and_then(|r| self.const_range(r, &ty, &declared));
                let slew = match (slew.as_ref(), ty.quantity()) {
                    (Some(s), Some(q)) => match q.dim.checked_div(&time()) {
                        Some(dim) => self.const_of_dim(s, dim, "a slew rate"),
                        None => None,
                    },
                    _ => None,
                };
                if let (Some((lo, hi)), Some(v)) = (range, value.as_ref()) {
                    self.warn_if_outside(&name, v, lo, hi, declared.as_ref().map(|d| &d.1));
                }
                (MemberKind::Actuator { range, slew, value }, Some(ty))
            }
            (Class::Param, Some(DeclKind::Param { value, .. })) => {
                let value = typed(self, value);
                self.expect_param_constant(&value);
                let ty = value.ty.clone();
                (MemberKind::Param { value }, Some(ty))
            }
            (Class::State, Some(DeclKind::State { init, .. })) => {
                let init = typed(self, init);
                let ty = init.ty.clone();
                if declared.is_none() && !ty.is_numeric() && !ty.is_error() {
                    self.error(
                        Diagnostic::new(Kind::TypeMismatch, init.span, "a state must be a number")
                            .label(format!("this is `{}`", self.type_name(&ty)))
                            .with_help("use `var` for discrete values"),
                    );
                }
                (MemberKind::State { init }, Some(ty))
            }
            (Class::Var, Some(DeclKind::Var { init, .. })) => {
                let init = typed(self, init);
                let ty = init.ty.clone();
                (MemberKind::Var { init }, Some(ty))
            }
            (Class::Let, Some(DeclKind::Let { value, .. })) => {
                let value = typed(self, value);
                let ty = value.ty.clone();
                (MemberKind::Let { value }, Some(ty))
            }
            (Class::Out, Some(DeclKind::Out { value, .. })) => {
                if self.body().is_twin {
                    let span = self.body().members[id].span;
                    self.error(
                        Diagnostic::new(
                            Kind::MisplacedDeclaration,
                            span,
                            "`out` belongs in components",
                        )
                        .label("`out` in a twin")
                        .with_help("every `let` of a twin is already visible: use `let`"),
                    );
                }
                let value = typed(self, value);
                let ty = value.ty.clone();
                (MemberKind::Out { value }, Some(ty))
            }
            (
                Class::Alarm,
                Some(DeclKind::Alarm {
                    severity,
                    when,
                    hold,
                    clear,
                    message,
                    ..
                }),
            ) => {
                let when = self.expr(m, Scope::Body, when, &g);
                self.expect_bool(&when, "an alarm's `when`");
                let hold = hold.as_ref().map(|h| {
                    let t = self.expr(m, Scope::Body, h, &g);
                    self.expect_type(&Ty::real(time()), &t, Some("s"), &g, "a hold time");
                    t
                });
                let clear = clear.as_ref().map(|c| {
                    let t = self.expr(m, Scope::Body, c, &g);
                    self.expect_bool(&t, "an alarm's `clear when`");
                    t
                });
                let message = message
                    .as_ref()
                    .map(|msg| self.message(msg))
                    .unwrap_or_default();
                (
                    MemberKind::Alarm {
                        severity: severity.0,
                        when,
                        hold,
                        clear,
                        message,
                    },
                    Some(Ty::Bool),
                )
            }
            (
                Class::Instance,
                Some(DeclKind::Instance { call, .. } | DeclKind::Let { value: call, .. }),
            ) => {
                if let ExprKind::Call(path, args) = &call.kind {
                    let callee = path.text();
                    let target = match self.global(m, &callee) {
                        Some(super::Global::Component(i)) => Some(InstanceOf::Component(i)),
                        Some(super::Global::Twin(i)) => Some(InstanceOf::Twin(i)),
                        _ => None,
                    };
                    match target {
                        Some(of) => {
                            let t = self.instance_call(
                                m,
                                Scope::Body,
                                of,
                                &callee,
                                args,
                                call.span,
                                &g,
                                Some(id),
                            );
                            let ty = t.ty.clone();
                            let kind = self.body().members[id].kind.clone();
                            (kind, Some(ty))
                        }
                        None => {
                            let t = self.expr(m, Scope::Body, call, &g);
                            let span = self.body().members[id].span;
                            if !t.ty.is_error() {
                                self.error(
                                    Diagnostic::new(
                                        Kind::MisplacedDeclaration,
                                        span,
                                        format!("`{name} = ...` outside an `on` or `every` block"),
                                    )
                                    .label("not an instance")
                                    .with_help(format!(
                                        "to define a signal write `let {name} = ...`"
                                    )),
                                );
                            }
                            (MemberKind::Let { value: t }, Some(Ty::Error))
                        }
                    }
                } else {
                    (placeholder_kind(), None)
                }
            }
            _ => (placeholder_kind(), None),
        };
        // The member's type: its annotation, else what its value has
        // (integers widen to reals: only `: Int` makes an Int).
        let ty = match (&declared, value_ty) {
            (Some((t, _)), _) => t.clone(),
            (None, Some(Ty::Int)) => Ty::NUMBER,
            (None, Some(t)) => t,
            (None, None) => Ty::Error,
        };
        let unit = match (&declared, &ty) {
            (Some((_, u)), _) => u.clone(),
            (None, Ty::Real(q)) => {
                let g = self
                    .body()
                    .generics
                    .iter()
                    .find(|x| x.probe == q.dim)
                    .map(|x| x.name.clone());
                DisplayUnit::si(g.unwrap_or_else(|| q.dim.si_symbol()))
            }
            _ => DisplayUnit::si(""),
        };
        let b = self.body_mut();
        b.members[id].kind = kind;
        b.members[id].ty = ty;
        b.members[id].unit = unit;
        b.progress[id] = Progress::Done;
    }

    /// Whether a let's value is a call that makes a named instance: a
    /// twin, or a component without a single result.
    fn makes_named_instance(&self, value: &ast::Expr) -> bool {
        let ExprKind::Call(path, _) = &value.kind else {
            return false;
        };
        if path.segments.len() != 1 {
            return false;
        }
        match self.modules[self.body().module]
            .names
            .get(&path.segments[0].name)
        {
            Some((super::Global::Twin(_), _)) => true,
            Some((super::Global::Component(i), _)) => {
                let at = self.component_items[*i].0;
                matches!(&self.item(at).kind, ItemKind::Component(c) if c.ret.is_none())
            }
            _ => false,
        }
    }

    /// Params are fixed for a run: their values may use constants and
    /// other params, not signals or time.
    fn expect_param_constant(&mut self, value: &TExpr) {
        fn first_signal(c: &Checker, e: &TExpr) -> Option<Span> {
            use crate::hir::{Ref, TExprKind as K};
            match &e.kind {
                K::Ref(Ref::Member(id)) => (c.body().class[*id] != Class::Param).then_some(e.span),
                K::Ref(Ref::Path(_))
                | K::Time
                | K::Dt
                | K::Instance(_)
                | K::Der(_)
                | K::Stale(_)
                | K::Age(_)
                | K::Prev(..) => Some(e.span),
                K::Unary(_, x) => first_signal(c, x),
                K::Binary(_, a, b) => first_signal(c, a).or_else(|| first_signal(c, b)),
                K::Builtin(_, xs) | K::Call(_, xs) => xs.iter().find_map(|x| first_signal(c, x)),
                K::If(a, b, d) => first_signal(c, a)
                    .or_else(|| first_signal(c, b))
                    .or_else(|| first_signal(c, d)),
                _ => None,
            }
        }
        if let Some(span) = first_signal(self, value) {
            self.error(
                Diagnostic::new(Kind::InvalidConstant, span, "a param's value must be known before the model runs")
                    .label("changes while the model runs")
                    .with_help("use literals, `const`s and other params here; for a value that changes, use `let`"),
            );
        }
    }

    fn message(&mut self, msg: &ast::StrLit) -> Vec<MessagePart> {
        let m = self.body().module;
        let g = self.body().generics.clone();
        msg.parts
            .iter()
            .map(|p| match p {
                StrPart::Text(t) => MessagePart::Text(t.clone()),
                StrPart::Interp(e) => {
                    let t = self.expr(m, Scope::Body, e, &g);
                    let unit = match (&e.kind, &t.ty) {
                        (ExprKind::Path(p), _) if p.segments.len() == 1 => self
                            .body()
                            .member_named(&p.segments[0].name)
                            .map(|id| self.body().members[id].unit.clone())
                            .unwrap_or_else(|| DisplayUnit::si("")),
                        (_, Ty::Real(q)) => DisplayUnit::si(q.dim.si_symbol()),
                        _ => DisplayUnit::si(""),
                    };
                    MessagePart::Value(t, unit)
                }
            })
            .collect()
    }

    /// A constant of the given dimension, in SI.
    fn const_of_dim(&mut self, e: &ast::Expr, dim: Dimension, what: &str) -> Option<f64> {
        let m = self.body().module;
        let g = self.body().generics.clone();
        let t = self.expr(m, Scope::Body, e, &g);
        let want = Ty::real(dim);
        let shown = (dim == time()).then_some("s");
        if !self.expect_type(&want, &t, shown, &g, what) || t.ty.is_error() {
            return None;
        }
        let v = self.constant_of(&t)?;
        if v < 0.0 {
            self.error(
                Diagnostic::new(
                    Kind::InvalidRange,
                    t.span,
                    format!("{what} cannot be negative"),
                )
                .label("negative"),
            );
            return None;
        }
        Some(v)
    }

    /// `lo .. hi` as SI constants, checked against the signal's type.
    fn const_range(
        &mut self,
        r: &ast::RangeExpr,
        ty: &Ty,
        declared: &Option<(Ty, DisplayUnit)>,
    ) -> Option<(f64, f64)> {
        let m = self.body().module;
        let g = self.body().generics.clone();
        let lo = self.expr(m, Scope::Body, &r.lo, &g);
        let hi = self.expr(m, Scope::Body, &r.hi, &g);
        let shown = declared.as_ref().map(|d| d.1.text.clone());
        let ok_lo = self.expect_type(ty, &lo, shown.as_deref(), &g, "the signal");
        let ok_hi = self.expect_type(ty, &hi, shown.as_deref(), &g, "the signal");
        if !ok_lo || !ok_hi || lo.ty.is_error() || hi.ty.is_error() {
            return None;
        }
        let (lo_v, hi_v) = (self.constant_of(&lo)?, self.constant_of(&hi)?);
        if lo_v >= hi_v {
            self.error(
                Diagnostic::new(
                    Kind::InvalidRange,
                    r.span,
                    "the lower bound of a range must be below the upper bound",
                )
                .label("empty range")
                .with_secondary(r.lo.span, format!("lower bound: {}", self.text(r.lo.span)))
                .with_secondary(r.hi.span, format!("upper bound: {}", self.text(r.hi.span)))
                .with_help("swap the bounds"),
            );
            return None;
        }
        Some((lo_v, hi_v))
    }

    fn check_ders(&mut self, decls: &[ast::Decl]) -> Vec<(MemberId, TExpr)> {
        let m = self.body().module;
        let g = self.body().generics.clone();
        let mut ders: Vec<(MemberId, TExpr)> = Vec::new();
        let mut first_der: Vec<Option<Span>> = vec![None; self.body().members.len()];
        for d in decls {
            let DeclKind::Der { target, value } = &d.kind else {
                continue;
            };
            let value_t = self.expr(m, Scope::Body, value, &g);
            let Some(id) = self.body().member_named(&target.name) else {
                self.unknown_name(m, Scope::Body, target);
                continue;
            };
            if !self.body().is_state(id) {
                let noun = self.body().class[id].noun();
                let def = self.body().members[id].span;
                self.error(
                    Diagnostic::new(
                        Kind::DerivativeOfNonState,
                        target.span,
                        format!(
                            "`der({})`, but `{}` is a {noun}, not a state",
                            target.name, target.name
                        ),
                    )
                    .label("not a state")
                    .with_secondary(def, format!("declared as a {noun} here"))
                    .with_help(format!(
                        "declare it as `state {}: ... = ...` to integrate it",
                        target.name
                    )),
                );
                continue;
            }
            if let Some(first) = first_der[id] {
                self.error(
                    Diagnostic::new(
                        Kind::DuplicateDefinition,
                        d.span,
                        format!("`{}` has more than one `der`", target.name),
                    )
                    .label("second derivative equation")
                    .with_secondary(first, "first one here")
                    .with_help(
                        "a state has exactly one derivative: combine the terms into one equation",
                    ),
                );
                continue;
            }
            first_der[id] = Some(d.span);
            self.mark_used(id);
            if let Ty::Real(q) = self.member_ty(id)
                && let Some(rate_dim) = q.dim.checked_div(&time())
            {
                let unit = self.body().members[id].unit.text.clone();
                let want = Ty::Real(Quantity {
                    dim: rate_dim,
                    affinity: Affinity::Neutral,
                });
                let affine = self.body().members[id].unit.offset != 0.0;
                let rate = if affine {
                    "K/s".to_string()
                } else if unit.is_empty() || unit == "1" {
                    "1/s".to_string()
                } else {
                    format!("{unit}/s")
                };
                self.expect_type(
                    &want,
                    &value_t,
                    Some(&rate),
                    &g,
                    &format!("`der({})`", target.name),
                );
            }
            ders.push((id, value_t));
        }
        for (id, first) in first_der.iter().enumerate() {
            if self.body().is_state(id) && first.is_none() {
                let name = self.body().members[id].name.clone();
                let span = self.body().members[id].span;
                self.error(
                    Diagnostic::new(Kind::MissingDerivative, span, format!("state `{name}` has no derivative"))
                        .label("never given a `der`")
                        .with_help(format!("add `der({name}) = ...`, or make it a `var` or `param` if it does not change continuously")),
                );
            }
        }
        ders
    }

    fn check_handlers(&mut self, decls: &[ast::Decl]) -> Vec<Handler> {
        let m = self.body().module;
        let g = self.body().generics.clone();
        let mut handlers = Vec::new();
        for d in decls {
            let (on, every, body) = match &d.kind {
                DeclKind::On { cond, body } => {
                    let c = self.expr(m, Scope::Body, cond, &g);
                    self.expect_bool(&c, "an `on` condition");
                    (Some(c), None, body)
                }
                DeclKind::Every { period, body } => {
                    let p = self.const_of_dim(period, time(), "a period");
                    if p == Some(0.0) {
                        self.error(
                            Diagnostic::new(
                                Kind::InvalidRange,
                                period.span,
                                "an `every` period must be longer than zero",
                            )
                            .label("zero period"),
                        );
                    }
                    (None, p, body)
                }
                _ => continue,
            };
            let mut assignments = Vec::new();
            for a in body {
                if let Some(x) = self.assignment(a) {
                    assignments.push(x);
                }
            }
            handlers.push(Handler {
                on,
                every,
                body: assignments,
            });
        }
        handlers
    }

    fn assignment(&mut self, a: &ast::Assign) -> Option<Assignment> {
        let m = self.body().module;
        let g = self.body().generics.clone();
        let value = self.expr(m, Scope::Body, &a.value, &g);
        let name = &a.target.segments[0];
        if a.target.segments.len() > 1 {
            self.error(
                Diagnostic::new(
                    Kind::AssignToReadonly,
                    a.target.span,
                    "only this body's vars and actuators can be assigned",
                )
                .label("member of an instance")
                .with_help("pass the value to the instance as an argument instead"),
            );
            return None;
        }
        let Some(id) = self.body().member_named(&name.name) else {
            self.unknown_name(m, Scope::Body, name);
            return None;
        };
        let class = self.body().class[id];
        let continuous = matches!(
            &self.body().members[id].kind,
            MemberKind::Actuator { value: Some(_), .. }
        );
        if !matches!(class, Class::Var | Class::Actuator) || continuous {
            let def = self.body().members[id].span;
            let why = if continuous {
                "a continuous actuator (it has `= expr`)".to_string()
            } else {
                format!("a {}", class.noun())
            };
            self.error(
                Diagnostic::new(Kind::AssignToReadonly, a.target.span, format!("cannot assign to `{}`, which is {why}", name.name))
                    .label("read-only here")
                    .with_secondary(def, "declared here")
                    .with_help("only `var`s and actuators without `= expr` are assigned in `on`/`every` blocks"),
            );
            return None;
        }
        self.mark_used(id);
        let ty = self.member_ty(id);
        let unit = self.body().members[id].unit.clone();
        let fits = self.expect_type(
            &ty,
            &value,
            Some(&unit.text),
            &g,
            &format!("`{}`", name.name),
        );
        if fits
            && let MemberKind::Actuator {
                range: Some((lo, hi)),
                ..
            } = self.body().members[id].kind
        {
            self.warn_if_outside(&name.name, &value, lo, hi, Some(&unit));
        }
        Some(Assignment { target: id, value })
    }

    /// Warns when a constant command lies outside an actuator's range.
    fn warn_if_outside(
        &mut self,
        name: &str,
        value: &TExpr,
        lo: f64,
        hi: f64,
        unit: Option<&DisplayUnit>,
    ) {
        let Some(v) = super::consts::eval(value).and_then(|v| v.as_f64()) else {
            return;
        };
        if v < lo || v > hi {
            let unit = unit.cloned().unwrap_or_else(|| DisplayUnit::si(""));
            let (lo, hi) = (unit.from_si(lo), unit.from_si(hi));
            let shown = unit.from_si(v);
            let text = &unit.text;
            self.error(
                Diagnostic::new(
                    Kind::ActuatorMayExceedRange,
                    value.span,
                    format!("`{name}` is commanded to {shown} {text}, outside its range {lo} .. {hi} {text}"),
                )
                .label("will be clamped")
                .with_note("commands outside the range are clamped to it, and each clamp is reported"),
            );
        }
    }

    fn check_twin_settings(&mut self, decls: &[ast::Decl], is_twin: bool) -> (f64, Solver) {
        let m = self.body().module;
        let g = self.body().generics.clone();
        let (mut step, mut solver) = (1.0, Solver::Rk4);
        for d in decls {
            match &d.kind {
                DeclKind::Step(_) | DeclKind::Solver { .. } if !is_twin => {
                    self.error(
                        Diagnostic::new(Kind::MisplacedDeclaration, d.span, "`step` and `solver` belong in twins")
                            .label("in a component")
                            .with_note("a component runs at the step and with the solver of the twin that uses it"),
                    );
                }
                DeclKind::Step(e) => {
                    if let Some(v) = self.const_of_dim(e, time(), "a step") {
                        if v > 0.0 {
                            step = v;
                        } else {
                            self.error(
                                Diagnostic::new(
                                    Kind::InvalidRange,
                                    e.span,
                                    "the step must be longer than zero",
                                )
                                .label("zero step"),
                            );
                        }
                    }
                }
                DeclKind::Solver { name, args } => {
                    let mut rtol = 1e-9;
                    let mut atol = 1e-12;
                    for a in args {
                        let t = self.expr(m, Scope::Body, &a.value, &g);
                        let key = a.name.as_ref().map(|n| n.name.as_str());
                        let v = if self.expect_type(&Ty::NUMBER, &t, Some("1"), &g, "a tolerance") {
                            self.constant_of(&t)
                        } else {
                            None
                        };
                        match (key, v) {
                            (Some("rtol"), Some(v)) if name.name == "dopri5" => rtol = v,
                            (Some("atol"), Some(v)) if name.name == "dopri5" => atol = v,
                            (_, None) => {}
                            _ => self.error(
                                Diagnostic::new(Kind::ArgumentMismatch, a.value.span, format!("`{}` takes no such option", name.name))
                                    .label("unknown option")
                                    .with_help("`dopri5` takes `rtol:` and `atol:`; `euler` and `rk4` take none"),
                            ),
                        }
                    }
                    solver = match name.name.as_str() {
                        "euler" => Solver::Euler,
                        "rk4" => Solver::Rk4,
                        "dopri5" => Solver::Dopri5 { rtol, atol },
                        other => {
                            let mut diag = Diagnostic::new(
                                Kind::UnknownName,
                                name.span,
                                format!("unknown solver `{other}`"),
                            )
                            .label("not a solver")
                            .with_note("the solvers are euler, rk4 and dopri5");
                            if let Some(best) =
                                crate::units::closest(other, ["euler", "rk4", "dopri5"])
                            {
                                diag = diag.with_help(format!("did you mean `{best}`?"));
                            }
                            self.error(diag);
                            solver
                        }
                    };
                }
                _ => {}
            }
        }
        (step, solver)
    }

    fn check_result(
        &mut self,
        decls: &[ast::Decl],
        ret: Option<&ast::TypeExpr>,
        is_twin: bool,
        name: &ast::Ident,
    ) -> Option<TExpr> {
        let m = self.body().module;
        let g = self.body().generics.clone();
        let returns: Vec<&ast::Decl> = decls
            .iter()
            .filter(|d| matches!(d.kind, DeclKind::Return(_)))
            .collect();
        if is_twin {
            for r in returns {
                self.error(
                    Diagnostic::new(
                        Kind::MisplacedDeclaration,
                        r.span,
                        "`return` belongs in components",
                    )
                    .label("`return` in a twin")
                    .with_help("a twin's lets are all visible; remove the `return`"),
                );
            }
            return None;
        }
        let Some(ret) = ret else {
            if let Some(r) = returns.first() {
                self.error(
                    Diagnostic::new(
                        Kind::MisplacedDeclaration,
                        r.span,
                        format!("`{}` declares no result type", name.name),
                    )
                    .label("`return` without `-> Type`")
                    .with_help("add `-> Unit` after the parameters"),
                );
            }
            return None;
        };
        let Some(first) = returns.first() else {
            self.error(
                Diagnostic::new(
                    Kind::MisplacedDeclaration,
                    ret.span,
                    format!("`{}` declares a result but never returns one", name.name),
                )
                .label("result declared here")
                .with_help("end the body with `return <expression>`"),
            );
            return None;
        };
        for extra in &returns[1..] {
            self.error(
                Diagnostic::new(
                    Kind::DuplicateDefinition,
                    extra.span,
                    "a component has one `return`",
                )
                .label("second `return`")
                .with_secondary(first.span, "first one here")
                .with_help("use `out name: U = ...` for several results"),
            );
        }
        let DeclKind::Return(e) = &first.kind else {
            return None;
        };
        let t = self.expr(m, Scope::Body, e, &g);
        let (want, unit) = self.resolve_type(m, ret, &g);
        self.expect_type(&want, &t, Some(&unit.text), &g, "the declared result");
        Some(t)
    }

    /// A member whose value uses the member itself gets its type from
    /// nowhere. When a real cycle is behind it, the loop error says it
    /// all; otherwise (a state breaks the cycle, as in
    /// `let y = Lag(x: 1 - y, ...)`) the fix is to declare the unit.
    fn report_recursive_inference(&mut self, in_cycle: &[bool]) {
        let mut ids = std::mem::take(&mut self.body_mut().recursive);
        ids.sort_unstable();
        ids.dedup();
        for id in ids {
            if in_cycle.get(id).copied().unwrap_or(false) {
                continue;
            }
            let name = self.body().members[id].name.clone();
            let span = self.body().members[id].span;
            self.error(
                Diagnostic::new(
                    Kind::TypeMismatch,
                    span,
                    format!(
                        "the unit of `{name}` cannot be inferred: its value uses `{name}` itself"
                    ),
                )
                .label("type depends on itself")
                .with_help(format!(
                    "declare its unit, e.g. `let {name}: 1 = ...` for a plain number"
                )),
            );
        }
    }

    fn warn_unused_members(&mut self, is_twin: bool) {
        let mut warnings = Vec::new();
        let b = self.body();
        for (id, member) in b.members.iter().enumerate() {
            if !member.named || b.used[id] || member.name.starts_with('_') {
                continue;
            }
            let class = b.class[id];
            // In a twin, lets, states, vars, actuators and alarms are all
            // outputs; params and sensors that nothing reads are suspicious.
            let suspicious = if is_twin {
                // Sensors stay quiet: an enclosing twin may read them
                // (`line.pump1.current`), and telemetry is worth keeping.
                matches!(class, Class::Param)
            } else {
                matches!(class, Class::Param | Class::Input | Class::Let | Class::Var)
            };
            if suspicious {
                warnings.push(
                    Diagnostic::new(
                        Kind::UnusedDefinition,
                        member.span,
                        format!("{} `{}` is never used", class.noun(), member.name),
                    )
                    .label("never read")
                    .with_help(format!(
                        "remove it, or prefix it with an underscore (`_{}`) to keep it",
                        member.name
                    )),
                );
            }
        }
        self.diags.extend(warnings);
    }
}
