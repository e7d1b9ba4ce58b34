//! One member's declaration.
//!
//! Takes a member of the body being checked; gives its kind with checked
//! expressions, its type and the unit it is reported in: sensors with their
//! range and staleness, actuators with range and slew, params (constant),
//! states, vars, lets, outs, alarms and instances.

use super::{Class, item_decls, placeholder_kind, time};
use crate::check::Checker;
use crate::check::expr::Scope;
use crate::check::types::Ty;
use crate::check::{Global, Progress};
use crate::diagnostic::{Diagnostic, Kind};
use crate::hir::{DisplayUnit, InstanceOf, MemberId, MemberKind, MessagePart, TExpr};
use crate::span::Span;
use crate::syntax::ast::{self, DeclKind, ExprKind, ItemKind, StrPart};
use crate::units::Dimension;
use std::rc::Rc;

impl Checker {
    /// Checks one member's declaration.
    pub(crate) fn check_member(&mut self, id: MemberId) {
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
                        Some(Global::Component(i)) => Some(InstanceOf::Component(i)),
                        Some(Global::Twin(i)) => Some(InstanceOf::Twin(i)),
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
        // (integers widen to reals: only `: Int` makes an Int). An
        // instance has no value of its own to widen: it is its component's
        // result, which says `-> Int` when it is one.
        let ty = match (&declared, value_ty) {
            (Some((t, _)), _) => t.clone(),
            (None, Some(Ty::Int)) if class != Class::Instance => Ty::NUMBER,
            (None, Some(t)) => t,
            (None, None) => Ty::Error,
        };
        // An unannotated value that is a table lookup is shown in the
        // table's y unit.
        let looked_up = match &kind {
            MemberKind::Let { value }
            | MemberKind::Out { value }
            | MemberKind::Param { value }
            | MemberKind::State { init: value }
            | MemberKind::Var { init: value }
            | MemberKind::Actuator {
                value: Some(value), ..
            } => self.program.lookup_unit(value).cloned(),
            _ => None,
        };
        let unit = match (&declared, &ty, looked_up) {
            (Some((_, u)), _, _) => u.clone(),
            (None, Ty::Real(_), Some(u)) => u,
            (None, Ty::Real(q), None) => {
                let g = super::super::units::with_unit_params(q.dim, &self.body().generics);
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
    pub(crate) fn makes_named_instance(&self, value: &ast::Expr) -> bool {
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
            Some((Global::Twin(_), _)) => true,
            Some((Global::Component(i), _)) => {
                let at = self.component_items[*i].0;
                matches!(&self.item(at).kind, ItemKind::Component(c) if c.ret.is_none())
            }
            _ => false,
        }
    }
    /// Params are fixed for a run: their values may use constants and
    /// other params, not signals or time.
    pub(crate) fn expect_param_constant(&mut self, value: &TExpr) {
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
                K::Unary(_, x) | K::Lookup(_, x) => first_signal(c, x),
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
    pub(crate) fn message(&mut self, msg: &ast::StrLit) -> Vec<MessagePart> {
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
                        (_, Ty::Real(q)) => self
                            .program
                            .lookup_unit(&t)
                            .cloned()
                            .unwrap_or_else(|| DisplayUnit::si(q.dim.si_symbol())),
                        _ => DisplayUnit::si(""),
                    };
                    MessagePart::Value(t, unit)
                }
            })
            .collect()
    }
    /// A constant of the given dimension, in SI.
    pub(crate) fn const_of_dim(
        &mut self,
        e: &ast::Expr,
        dim: Dimension,
        what: &str,
    ) -> Option<f64> {
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
    pub(crate) fn const_range(
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
}
