//! Body-wide rules.
//!
//! Takes the checked members of a body; gives its derivative equations,
//! handlers and settings, and reports what breaks the rules between
//! declarations: every state has exactly one `der`, `der` only of states,
//! assignments only to vars and non-continuous actuators, `step`/`solver`
//! only in twins, `return` only in components, a result where one is
//! declared, and definitions nothing uses.

use super::{Class, time};
use crate::check::Checker;
use crate::check::expr::Scope;
use crate::check::types::{Affinity, Quantity, Ty};
use crate::diagnostic::{Diagnostic, Kind};
use crate::hir::{Assignment, DisplayUnit, Handler, MemberId, MemberKind, Solver, TExpr};
use crate::span::Span;
use crate::syntax::ast::{self, DeclKind};

impl Checker {
    pub(crate) fn check_ders(&mut self, decls: &[ast::Decl]) -> Vec<(MemberId, TExpr)> {
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
    pub(crate) fn check_handlers(&mut self, decls: &[ast::Decl]) -> Vec<Handler> {
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
    pub(crate) fn assignment(&mut self, a: &ast::Assign) -> Option<Assignment> {
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
    pub(crate) fn warn_if_outside(
        &mut self,
        name: &str,
        value: &TExpr,
        lo: f64,
        hi: f64,
        unit: Option<&DisplayUnit>,
    ) {
        let Some(v) =
            crate::check::consts::eval(value, &self.program.tables).and_then(|v| v.as_f64())
        else {
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
    pub(crate) fn check_twin_settings(
        &mut self,
        decls: &[ast::Decl],
        is_twin: bool,
    ) -> (f64, Solver) {
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
    pub(crate) fn check_result(
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
    pub(crate) fn report_recursive_inference(&mut self, in_cycle: &[bool]) {
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
    pub(crate) fn warn_unused_members(&mut self, is_twin: bool) {
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
