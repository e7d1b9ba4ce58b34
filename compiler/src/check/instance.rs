//! Component and twin instances.
//!
//! Takes a call of a component or twin inside a body; gives the instance
//! member it creates (each call site its own instance, with its own state)
//! and its result, after matching named arguments and inferring unit
//! parameters.

use super::expr::{Scope, error_expr, texpr};
use super::types::{Quantity, Ty};
use super::units::Generic;
use super::{Checker, Global, Progress};
use crate::diagnostic::{Diagnostic, Kind};
use crate::hir::{InstanceOf, MemberId, MemberKind, TExpr, TExprKind};
use crate::span::Span;
use crate::syntax::ast::{Arg, DeclKind, ExprKind, ItemKind, TypeExpr};

/// What the first name of a path `a.b` is, as far as members go.
pub(crate) enum Head {
    /// An instance of this component or twin, with what its unit
    /// parameters stand for (`None` while its own declaration is being
    /// checked: they come from the arguments).
    Instance(InstanceOf, Option<Vec<Quantity>>),
    /// Something else, which has no members.
    NotInstance,
    /// An instance whose declaration failed (already reported).
    Failed,
}

impl Checker {
    /// A component or twin call: creates an instance in the current body.
    /// `named` is the instance's name when it is declared as
    /// `name = Comp(...)`; otherwise the instance is anonymous.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn instance_call(
        &mut self,
        m: usize,
        scope: Scope,
        of: InstanceOf,
        callee: &str,
        args: &[Arg],
        span: Span,
        g: &[Generic],
        named: Option<usize>,
    ) -> TExpr {
        if scope != Scope::Body {
            self.error(
                Diagnostic::new(Kind::MisplacedDeclaration, span, format!("`{callee}` can only be instantiated inside a twin or component"))
                    .label("instance outside a body")
                    .with_note("components keep state, so they cannot be called from functions, constants or tests"),
            );
            return error_expr(span);
        }
        let (at, ready) = match of {
            InstanceOf::Component(i) => (self.component_items[i].0, self.component(i).is_some()),
            InstanceOf::Twin(i) => (self.twin_items[i].0, self.twin(i).is_some()),
        };
        if !ready {
            self.error(
                Diagnostic::new(
                    Kind::InvalidTwinReference,
                    span,
                    format!("`{callee}` contains itself"),
                )
                .label("recursive instance")
                .with_help(
                    "an instance cannot contain an instance of itself, directly or through others",
                ),
            );
            return error_expr(span);
        }
        let (generics, params, ret) = match &self.item(at).kind {
            ItemKind::Component(c) => (
                c.generics
                    .iter()
                    .map(|g| g.name.clone())
                    .collect::<Vec<_>>(),
                c.params
                    .iter()
                    .map(|p| (p.name.name.clone(), Some(p.ty.clone()), p.default.is_some()))
                    .collect::<Vec<_>>(),
                c.ret.clone(),
            ),
            _ => (Vec::new(), Vec::new(), None),
        };
        let target = match of {
            InstanceOf::Component(i) => &self.program.components[i],
            InstanceOf::Twin(i) => &self.program.twins[i],
        };
        // A twin takes its params and sensors as arguments.
        let (names, types, member_ids): (Vec<String>, Vec<Option<TypeExpr>>, Vec<usize>) = match of
        {
            InstanceOf::Component(_) => {
                let ids = params
                    .iter()
                    .filter_map(|(n, _, _)| target.member(n))
                    .collect();
                (
                    params.iter().map(|p| p.0.clone()).collect(),
                    params.iter().map(|p| p.1.clone()).collect(),
                    ids,
                )
            }
            InstanceOf::Twin(_) => {
                let ids: Vec<usize> = target
                    .members
                    .iter()
                    .enumerate()
                    .filter(|(_, x)| {
                        matches!(x.kind, MemberKind::Param { .. } | MemberKind::Sensor { .. })
                    })
                    .map(|(i, _)| i)
                    .collect();
                (
                    ids.iter()
                        .map(|&i| target.members[i].name.clone())
                        .collect(),
                    vec![None; ids.len()],
                    ids,
                )
            }
        };
        let twin_member_tys: Vec<Ty> = member_ids
            .iter()
            .map(|&i| target.members[i].ty.clone())
            .collect();
        let (slots, reported) = self.match_args(callee, &names, args, false, span);
        let mut targs: Vec<Option<TExpr>> = Vec::new();
        let mut missing = false;
        for (k, slot) in slots.iter().enumerate() {
            targs.push(match slot {
                Some(a) => Some(self.expr(m, scope, &a.value, g)),
                None => {
                    let has_default =
                        matches!(of, InstanceOf::Twin(_)) || params.get(k).is_some_and(|p| p.2);
                    if !has_default {
                        if !reported {
                            self.missing_arg(callee, &names[k], span);
                        }
                        missing = true;
                    }
                    None
                }
            });
        }
        let solved = match of {
            InstanceOf::Component(_) => {
                let solved =
                    self.infer_and_check_args(callee, &generics, &types, &names, &targs, g);
                self.blocked_points(at, callee, &generics, &solved, span, g);
                solved
            }
            InstanceOf::Twin(_) => {
                for (k, t) in targs.iter().enumerate() {
                    if let Some(t) = t {
                        let want = twin_member_tys[k].clone();
                        self.expect_type(
                            &want,
                            t,
                            None,
                            g,
                            &format!("`{}` of `{callee}`", names[k]),
                        );
                    }
                }
                Vec::new()
            }
        };
        if named.is_none() && ret.is_none() {
            self.error(
                Diagnostic::new(Kind::TypeMismatch, span, format!("`{callee}` has no single result to use as a value"))
                    .label("used as a value")
                    .with_help(format!("name the instance, e.g. `inst = {callee}(...)` or `let inst = {callee}(...)`, and read its results as `inst.<out>`")),
            );
            return error_expr(span);
        }
        let ty = match of {
            InstanceOf::Component(_) if ret.is_some() => {
                let failed = targs.iter().flatten().any(|t| t.ty.is_error());
                self.result_type(ret.as_ref(), &generics, &solved, span, callee, failed)
            }
            _ => Ty::Error,
        };
        if missing {
            return error_expr(span);
        }
        let inst_args: Vec<(usize, TExpr)> = targs
            .into_iter()
            .enumerate()
            .filter_map(|(k, t)| Some((*member_ids.get(k)?, t?)))
            .collect();
        let kind = MemberKind::Instance {
            of,
            args: inst_args,
            generics: solved
                .iter()
                .map(|s| s.unwrap_or(Quantity::NUMBER))
                .collect(),
        };
        let id = match named {
            Some(id) => {
                self.set_member_kind(id, kind, ty.clone());
                id
            }
            None => self.add_anonymous_instance(callee, kind, ty.clone(), span),
        };
        texpr(TExprKind::Instance(id), ty, span)
    }
}

impl Checker {
    /// Member `id` of the current body as the head of a path, checking
    /// its declaration first if that has not started yet.
    pub(crate) fn instance_head(&mut self, id: MemberId) -> Head {
        if !self.body().is_instance(id) {
            return Head::NotInstance;
        }
        if self.body().progress[id] == Progress::Pending {
            self.check_member(id);
        }
        if self.body().progress[id] == Progress::Started {
            return match self.declared_instance_of(id) {
                Some(of) => Head::Instance(of, None),
                None => Head::Failed,
            };
        }
        match &self.body().members[id].kind {
            MemberKind::Instance { of, generics, .. } => {
                Head::Instance(*of, Some(generics.clone()))
            }
            _ => Head::Failed,
        }
    }

    /// What instance member `id` instantiates, read from its declaration
    /// (for an instance whose declaration is being checked); `None` unless
    /// that component or twin is fully checked.
    fn declared_instance_of(&self, id: MemberId) -> Option<InstanceOf> {
        let b = self.body();
        let decls = match &b.ast.items[b.item].kind {
            ItemKind::Twin(t) => &t.body,
            ItemKind::Component(c) => &c.body,
            _ => return None,
        };
        let call = match &decls.get(b.decl_of[id]?)?.kind {
            DeclKind::Instance { call, .. } | DeclKind::Let { value: call, .. } => call,
            _ => return None,
        };
        let ExprKind::Call(path, _) = &call.kind else {
            return None;
        };
        match self.modules[b.module].names.get(&path.text())?.0 {
            Global::Component(i) if self.component_items[i].1 == Progress::Done => {
                Some(InstanceOf::Component(i))
            }
            Global::Twin(i) if self.twin_items[i].1 == Progress::Done => Some(InstanceOf::Twin(i)),
            _ => None,
        }
    }

    /// The result type of instance member `id` while its declaration is
    /// being checked (an argument reads the instance's own result), when
    /// the component's signature fixes it without the arguments: `-> W`,
    /// not `-> U`.
    pub(crate) fn started_instance_ty(&mut self, id: MemberId) -> Option<Ty> {
        let InstanceOf::Component(i) = self.declared_instance_of(id)? else {
            return None;
        };
        let at = self.component_items[i].0;
        let ItemKind::Component(c) = &self.item(at).kind else {
            return None;
        };
        let (ret, generics, callee) = (
            c.ret.clone()?,
            c.generics
                .iter()
                .map(|g| g.name.clone())
                .collect::<Vec<_>>(),
            c.name.name.clone(),
        );
        let split = self.split_type(&ret.unit, &generics);
        if split.is_some_and(|s| s.mentions_generics()) {
            return None;
        }
        let unsolved = vec![None; generics.len()];
        let span = self.body().members[id].span;
        Some(self.result_type(Some(&ret), &generics, &unsolved, span, &callee, true))
    }
}
