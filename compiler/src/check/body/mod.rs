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

use super::expr::error_expr;
use super::types::Ty;
use super::units::{Generic, probe};
use super::{Checker, ItemRef, Progress};
use crate::diagnostic::{Diagnostic, Kind};
use crate::hir::{Body, DisplayUnit, Member, MemberId, MemberKind, Solver};
use crate::span::Span;
use crate::syntax::ast::{self, DeclKind, ExprKind, ItemKind};
use crate::units::{BaseDim, Dimension};

mod member;
mod rules;
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
        member_inputs: Vec::new(),
        result_inputs: Vec::new(),
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
    pub(crate) fn body(&self) -> &BodyState {
        // Only called while a body check is running.
        &self.stack[self.stack.len() - 1]
    }

    pub(crate) fn body_mut(&mut self) -> &mut BodyState {
        let n = self.stack.len() - 1;
        &mut self.stack[n]
    }

    pub(crate) fn mark_used(&mut self, id: MemberId) {
        if let Some(b) = self.stack.last_mut() {
            b.used[id] = true;
        }
    }

    /// The type of member `id` of the current body: its annotation if it
    /// has one, else what checking it gives (checking it first when
    /// needed). An unannotated member asked for while it is being checked
    /// is `Ty::Error` (a cycle, reported by the loop check or as a unit
    /// that depends on itself), except an instance whose signature fixes
    /// its result.
    pub(crate) fn member_ty(&mut self, id: MemberId) -> Ty {
        let b = self.body();
        if b.progress[id] != Progress::Done
            && let Some(d) = &b.declared[id]
        {
            // A declared type is known without checking the value (which
            // is checked in its turn): so an annotation settles a cycle of
            // inference whatever the order of the declarations, such as
            // an instance whose argument reads, through a `let`, one of
            // the instance's own generic results.
            return d.0.clone();
        }
        match b.progress[id] {
            Progress::Done => self.body().members[id].ty.clone(),
            Progress::Started => {
                // An instance read by its own arguments has the result its
                // signature gives, unless that depends on the arguments.
                if self.body().is_instance(id)
                    && let Some(ty) = self.started_instance_ty(id)
                {
                    return ty;
                }
                self.body_mut().recursive.push(id);
                Ty::Error
            }
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
        let generic = !generics.is_empty();
        if generic {
            self.owners.push((at.module, at.item));
        }
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
        let ordered = self.order_and_loops(&result);
        self.report_recursive_inference(&ordered.in_cycle);
        // With errors in the body, "never used" warnings are mostly echoes
        // of them (a misspelt use, a use inside a broken expression): leave
        // them out until the errors are fixed.
        let had_errors = self.diags[errors_before..].iter().any(Diagnostic::is_error);
        if !had_errors {
            self.warn_unused_members(is_twin);
        }
        if generic {
            self.owners.pop();
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
            eval_order: ordered.eval_order,
            result,
            step,
            solver,
            member_inputs: ordered.member_inputs,
            result_inputs: ordered.result_inputs,
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
}
