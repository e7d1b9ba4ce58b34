//! Scenarios and tests.
//!
//! Takes `scenario` and `test` items; gives checked [`Run`]s: the twin they
//! drive, durations, param overrides, sensor inputs (expressions of `t` or
//! `csv(...)`), reported signals and expectations, with names resolved
//! against the twin's members.

use super::expr::Scope;
use super::types::Ty;
use super::{Checker, Global, ItemRef};
use crate::diagnostic::{Diagnostic, Kind};
use crate::hir::{Expect, ExpectWhen, MemberKind, Run, TExprKind};
use crate::syntax::ast::{self, ExpectMode, ItemKind, StmtKind};
use crate::units::{BaseDim, Dimension};

impl Checker {
    pub(crate) fn check_run(&mut self, at: ItemRef) -> Option<Run> {
        let m = at.module;
        let (name, span, twin_name, body, is_test) = match &self.item(at).kind {
            ItemKind::Scenario(s) => (
                s.name.name.clone(),
                s.name.span,
                s.twin.clone(),
                s.body.clone(),
                false,
            ),
            ItemKind::Test(t) => (
                t.name.clone(),
                t.name_span,
                t.twin.clone(),
                t.body.clone(),
                true,
            ),
            _ => return None,
        };
        let twin = match self.global(m, &twin_name.name) {
            Some(Global::Twin(i)) => i,
            Some(_) => {
                self.error(
                    Diagnostic::new(
                        Kind::InvalidTwinReference,
                        twin_name.span,
                        format!("`{}` is not a twin", twin_name.name),
                    )
                    .label("scenarios and tests run twins"),
                );
                return None;
            }
            None => {
                self.unknown_name(m, Scope::Const, &twin_name);
                return None;
            }
        };
        self.twin(twin);
        let time = Ty::real(Dimension::base(BaseDim::Time));
        let mut run = Run {
            name,
            span,
            twin,
            duration: None,
            set: Vec::new(),
            sensors: Vec::new(),
            report: Vec::new(),
            expects: Vec::new(),
        };
        for stmt in &body {
            match &stmt.kind {
                StmtKind::Duration(e) | StmtKind::Run(e) => {
                    let wrong = matches!(stmt.kind, StmtKind::Duration(_)) == is_test;
                    if wrong {
                        let (word, right) = if is_test {
                            ("duration", "run")
                        } else {
                            ("run", "duration")
                        };
                        self.error(
                            Diagnostic::new(
                                Kind::MisplacedDeclaration,
                                stmt.span,
                                format!(
                                    "`{word}` is not used in a {}",
                                    if is_test { "test" } else { "scenario" }
                                ),
                            )
                            .label(format!("use `{right}` here")),
                        );
                    }
                    let t = self.expr(m, Scope::Run(twin), e, &[]);
                    if self.expect_type(&time, &t, Some("s"), &[], "a run length")
                        && let Some(v) = self.constant_of(&t)
                    {
                        run.duration = Some(v);
                    }
                }
                StmtKind::Set(path, e) => {
                    if let Some(id) = self.run_member(
                        twin,
                        path,
                        |k| matches!(k, MemberKind::Param { .. }),
                        "param",
                    ) {
                        let t = self.expr(m, Scope::Run(twin), e, &[]);
                        self.expect_member_type(twin, id, &t, path);
                        run.set.push((id, t));
                    }
                }
                StmtKind::Sensor(path, e) => {
                    let target = if path.segments.len() > 1 {
                        self.instance_sensor(twin, path)
                    } else {
                        self.run_member(
                            twin,
                            path,
                            |k| matches!(k, MemberKind::Sensor { .. }),
                            "sensor",
                        )
                        .map(|id| {
                            let member = &self.program.twins[twin].members[id];
                            (member.ty.clone(), member.unit.text.clone())
                        })
                    };
                    if let Some((want, unit)) = target {
                        let t = self.expr(m, Scope::Run(twin), e, &[]);
                        if !matches!(t.kind, TExprKind::Csv(..)) {
                            let what = format!("`{}`", path.text());
                            self.expect_type(&want, &t, Some(&unit), &[], &what);
                        }
                        run.sensors.push((path.text(), t));
                    }
                }
                StmtKind::Report(paths) => {
                    for p in paths {
                        let as_expr = ast::Expr {
                            kind: ast::ExprKind::Path(p.clone()),
                            span: p.span,
                        };
                        let t = self.expr(m, Scope::Run(twin), &as_expr, &[]);
                        if !t.ty.is_error() {
                            run.report.push(t);
                        }
                    }
                }
                StmtKind::Expect(Expectation { mode, cond }) => {
                    if !is_test {
                        self.error(
                            Diagnostic::new(
                                Kind::MisplacedDeclaration,
                                stmt.span,
                                "`expect` belongs in tests",
                            )
                            .label("in a scenario")
                            .with_help("write a `test \"...\" for Twin { ... }` for assertions"),
                        );
                    }
                    let c = self.expr(m, Scope::Run(twin), cond, &[]);
                    self.expect_bool(&c, "an expectation");
                    let time_of = |c: &mut Checker, e: &ast::Expr| {
                        let t = c.expr(m, Scope::Run(twin), e, &[]);
                        if c.expect_type(&time, &t, Some("s"), &[], "a time") {
                            c.constant_of(&t)
                        } else {
                            None
                        }
                    };
                    let when = match mode {
                        ExpectMode::AtEnd => ExpectWhen::AtEnd,
                        ExpectMode::Always => ExpectWhen::Always,
                        ExpectMode::Eventually(within) => {
                            ExpectWhen::Eventually(within.as_ref().and_then(|w| time_of(self, w)))
                        }
                        ExpectMode::At(at) => match time_of(self, at) {
                            Some(v) => ExpectWhen::At(v),
                            None => continue,
                        },
                    };
                    run.expects.push(Expect {
                        mode: when,
                        cond: c,
                        span: stmt.span,
                    });
                }
                StmtKind::Error => {}
            }
        }
        if is_test && run.duration.is_none() {
            self.error(
                Diagnostic::new(
                    Kind::MisplacedDeclaration,
                    span,
                    "this test never says how long to run",
                )
                .label("no `run`")
                .with_help("add `run 10 min` (or any duration)"),
            );
        }
        Some(run)
    }

    /// Checks a value given to a member of the twin against the member's
    /// declared type and unit.
    fn expect_member_type(
        &mut self,
        twin: usize,
        id: usize,
        t: &crate::hir::TExpr,
        path: &ast::Path,
    ) {
        let member = &self.program.twins[twin].members[id];
        let (want, unit) = (member.ty.clone(), member.unit.text.clone());
        self.expect_type(&want, t, Some(&unit), &[], &format!("`{}`", path.text()));
    }

    /// Resolves `inst.sensor` (or deeper, `a.b.sensor`) to a sensor of an
    /// instance that its parent leaves unwired; gives its type and unit
    /// as the instance has them (unit parameters put in).
    fn instance_sensor(&mut self, twin: usize, path: &ast::Path) -> Option<(Ty, String)> {
        let (last, instances) = path.segments.split_last()?;
        let mut body = &self.program.twins[twin];
        let mut generics: Vec<crate::check::types::Quantity> = Vec::new();
        let mut owner = body.name.clone();
        let mut args: &[(usize, crate::hir::TExpr)] = &[];
        let mut problem = None;
        for seg in instances {
            match body.member(&seg.name).map(|id| &body.members[id].kind) {
                Some(MemberKind::Instance {
                    of,
                    args: a,
                    generics: g,
                }) => {
                    body = match of {
                        crate::hir::InstanceOf::Component(c) => &self.program.components[*c],
                        crate::hir::InstanceOf::Twin(t) => &self.program.twins[*t],
                    };
                    owner = body.name.clone();
                    args = a;
                    generics = g.clone();
                }
                _ => {
                    problem = Some((
                        seg.span,
                        format!("`{owner}` has no instance `{}`", seg.name),
                        "not an instance".to_string(),
                    ));
                    break;
                }
            }
        }
        let found = match problem {
            Some(p) => Err(p),
            None => match body.member(&last.name) {
                Some(id) if matches!(body.members[id].kind, MemberKind::Sensor { .. }) => {
                    if args.iter().any(|(a, _)| *a == id) {
                        Err((
                            path.span,
                            format!("`{}` is wired by its parent", path.text()),
                            "given as an argument".to_string(),
                        ))
                    } else {
                        Ok(id)
                    }
                }
                _ => Err((
                    last.span,
                    format!("`{owner}` has no sensor `{}`", last.name),
                    "unknown sensor".to_string(),
                )),
            },
        };
        match found {
            Ok(id) => {
                let member = &body.members[id];
                let ty = super::probe::instantiate(
                    &member.ty,
                    &member.unit.text,
                    &body.generics,
                    &generics,
                )
                .unwrap_or_else(|| member.ty.clone());
                Some((ty, member.unit.text.clone()))
            }
            Err((span, message, label)) => {
                self.error(Diagnostic::new(Kind::UnknownName, span, message).label(label));
                None
            }
        }
    }

    /// Resolves a scenario/test name to a member of the twin.
    fn run_member(
        &mut self,
        twin: usize,
        path: &ast::Path,
        ok: impl Fn(&MemberKind) -> bool,
        noun: &str,
    ) -> Option<usize> {
        let name = path.text();
        let body = &self.program.twins[twin];
        match body.member(&name) {
            Some(id) if ok(&body.members[id].kind) => Some(id),
            Some(_) => {
                let twin_name = body.name.clone();
                self.error(
                    Diagnostic::new(
                        Kind::TypeMismatch,
                        path.span,
                        format!("`{name}` is not a {noun} of `{twin_name}`"),
                    )
                    .label(format!("not a {noun}")),
                );
                None
            }
            None => {
                let twin_name = body.name.clone();
                let names: Vec<String> = body
                    .members
                    .iter()
                    .filter(|x| x.named && ok(&x.kind))
                    .map(|x| x.name.clone())
                    .collect();
                let mut d = Diagnostic::new(
                    Kind::UnknownName,
                    path.span,
                    format!("`{twin_name}` has no {noun} `{name}`"),
                )
                .label(format!("unknown {noun}"));
                if let Some(best) = crate::units::closest(&name, names.iter().map(String::as_str)) {
                    d = d.with_help(format!("did you mean `{best}`?"));
                }
                self.error(d);
                None
            }
        }
    }
}

use ast::Expectation;
