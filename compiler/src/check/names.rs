//! Names in expressions and call arguments.
//!
//! Takes paths (`x`, `Mode::Idle`, `pump1.current`) and argument lists;
//! gives what they denote in the current scope (a member, a constant's
//! value, an enum variant, an instance member) and the argument for each
//! parameter, with did-you-mean help for anything unknown.

use super::expr::{Scope, error_expr, texpr};
use super::instance::Head;
use super::probe::{instantiate, instantiate_all, mentions_probes};
use super::types::{Quantity, Ty};
use super::{Checker, Global};
use crate::diagnostic::{Diagnostic, Kind};
use crate::hir::{InstanceOf, MemberId, MemberKind, Ref, TExpr, TExprKind};
use crate::span::Span;
use crate::syntax::ast::{Arg, Path};
use crate::units::Dimension;

/// One segment of a member path, resolved.
struct PathStep {
    /// The member, in the instantiated body.
    id: MemberId,
    /// Its type at this use.
    ty: Ty,
    /// What it instantiates, if it is an instance itself, and what that
    /// instance's unit parameters stand for here.
    next: Option<(InstanceOf, Option<Vec<Quantity>>)>,
}

impl Checker {
    /// A name in an expression.
    pub(crate) fn path_expr(&mut self, m: usize, scope: Scope, path: &Path) -> TExpr {
        let span = path.span;
        let first = &path.segments[0];
        if path.segments.len() == 2 && !path.members {
            return self.enum_variant(m, path);
        }
        if path.segments.len() > 1 {
            return self.member_path(m, scope, path);
        }
        let name = first.name.as_str();
        match scope {
            Scope::Body => {
                if let Some(id) = self.stack.last().and_then(|b| b.member_named(name)) {
                    self.mark_used(id);
                    let ty = self.member_ty(id);
                    let kind = if self.stack.last().is_some_and(|b| b.is_instance(id)) {
                        TExprKind::Instance(id)
                    } else {
                        TExprKind::Ref(Ref::Member(id))
                    };
                    return texpr(kind, ty, span);
                }
            }
            Scope::Fn(i) => {
                if let Some(k) = self.fn_param_index(i, name) {
                    let ty = self.program.functions[i].params[k].1.clone();
                    return texpr(TExprKind::Ref(Ref::FnParam(k)), ty, span);
                }
            }
            Scope::Run(twin) => {
                if let Some(id) = self.program.twins[twin].member(name) {
                    let ty = self.program.twins[twin].members[id].ty.clone();
                    return texpr(TExprKind::Ref(Ref::Member(id)), ty, span);
                }
            }
            Scope::Const => {}
        }
        match name {
            "t" if matches!(scope, Scope::Body | Scope::Run(_)) => {
                return texpr(
                    TExprKind::Time,
                    Ty::real(Dimension::base(crate::units::BaseDim::Time)),
                    span,
                );
            }
            "dt" if scope == Scope::Body => {
                return texpr(
                    TExprKind::Dt,
                    Ty::real(Dimension::base(crate::units::BaseDim::Time)),
                    span,
                );
            }
            "pi" => return texpr(TExprKind::Real(std::f64::consts::PI), Ty::NUMBER, span),
            _ => {}
        }
        match self.global(m, name) {
            Some(Global::Const(i)) => match self.const_value(i) {
                Some(c) => {
                    let kind = match c.value {
                        super::consts::Value::Real(x) => TExprKind::Real(x),
                        super::consts::Value::Int(x) => TExprKind::Int(x),
                        super::consts::Value::Bool(x) => TExprKind::Bool(x),
                        super::consts::Value::Variant(e, v) => TExprKind::Variant(e, v),
                    };
                    texpr(kind, c.ty, span)
                }
                None => error_expr(span),
            },
            Some(g) => {
                let what = match g {
                    Global::Enum(_) => "an enum; name a variant, e.g. `Mode::Idle`",
                    Global::Fn(_) => "a function; call it with arguments",
                    Global::Component(_) => {
                        "a component; call it with arguments to make an instance"
                    }
                    Global::Twin(_) => "a twin, not a value",
                    Global::Unit(_) => "a unit; write it after a number, e.g. `2 name`",
                    Global::Const(_) => "a constant",
                    Global::Table(_) => "a lookup table, not a value",
                };
                let mut d =
                    Diagnostic::new(Kind::TypeMismatch, span, format!("`{name}` is {what}"))
                        .label("not a value");
                if let Global::Table(t) = g
                    && let crate::syntax::ast::ItemKind::Table(decl) =
                        &self.item(self.table_items[t].0).kind
                {
                    let x = self.text(decl.x_unit.span);
                    d = d.with_help(format!(
                        "write `{name}(x)` for its value at `x`, a value in `{x}`"
                    ));
                }
                self.error(d);
                error_expr(span)
            }
            None => {
                self.unknown_name(m, scope, first);
                error_expr(span)
            }
        }
    }
    /// Reports an unknown name with the closest known one.
    pub(crate) fn unknown_name(
        &mut self,
        m: usize,
        scope: Scope,
        name: &crate::syntax::ast::Ident,
    ) {
        let mut candidates: Vec<String> = Vec::new();
        match scope {
            Scope::Body => {
                if let Some(b) = self.stack.last() {
                    candidates.extend(b.members.iter().filter(|x| x.named).map(|x| x.name.clone()));
                }
                candidates.extend(["t", "dt"].map(String::from));
            }
            Scope::Fn(i) => {
                candidates.extend(self.program.functions[i].params.iter().map(|p| p.0.clone()))
            }
            Scope::Run(twin) => {
                candidates.extend(
                    self.program.twins[twin]
                        .members
                        .iter()
                        .map(|x| x.name.clone()),
                );
                candidates.push("t".into());
            }
            Scope::Const => {}
        }
        candidates.push("pi".into());
        candidates.extend(self.modules[m].names.keys().cloned());
        let mut d = Diagnostic::new(
            Kind::UnknownName,
            name.span,
            format!("unknown name `{}`", name.name),
        )
        .label("not found in this scope");
        if let Some(best) = crate::units::closest(&name.name, candidates.iter().map(String::as_str))
        {
            d = d.with_help(format!("did you mean `{best}`?"));
        } else if self.units.lookup(&name.name).is_some() {
            d = d.with_help(format!(
                "`{}` is a unit: write it right after a number, e.g. `1 {}`",
                name.name, name.name
            ));
        }
        self.error(d);
    }
    pub(crate) fn enum_variant(&mut self, m: usize, path: &Path) -> TExpr {
        let (en, var) = (&path.segments[0], &path.segments[1]);
        match self.global(m, &en.name) {
            Some(Global::Enum(e)) => {
                let variants = self.program.enums[e].variants.clone();
                if let Some(v) = variants.iter().position(|x| *x == var.name) {
                    return texpr(TExprKind::Variant(e, v), Ty::Enum(e), path.span);
                }
                let mut d = Diagnostic::new(
                    Kind::UnknownName,
                    var.span,
                    format!("`{}` has no variant `{}`", en.name, var.name),
                )
                .label("unknown variant")
                .with_note(format!("its variants are {}", variants.join(", ")));
                if let Some(best) =
                    crate::units::closest(&var.name, variants.iter().map(String::as_str))
                {
                    d = d.with_help(format!("did you mean `{}::{best}`?", en.name));
                }
                self.error(d);
            }
            Some(_) => self.error(
                Diagnostic::new(
                    Kind::TypeMismatch,
                    en.span,
                    format!("`{}` is not an enum", en.name),
                )
                .label("not an enum"),
            ),
            None => self.unknown_name(m, Scope::Const, en),
        }
        error_expr(path.span)
    }
    /// `Mode.Idle` where `Mode::Idle` was meant.
    fn variant_with_a_dot(&mut self, e: usize, path: &Path) {
        let en = &path.segments[0].name;
        let variants = &self.program.enums[e].variants;
        let mut d = Diagnostic::new(
            Kind::UnknownName,
            path.span,
            format!("`{en}` is an enum: its variants are written with `::`"),
        )
        .label("not a member");
        let named = path.segments.get(1).filter(|_| path.segments.len() == 2);
        let variant = named.and_then(|v| {
            if variants.contains(&v.name) {
                Some(v.name.as_str())
            } else {
                crate::units::closest(&v.name, variants.iter().map(String::as_str))
            }
        });
        match variant {
            Some(v) => d = d.with_help(format!("did you mean `{en}::{v}`?")),
            None => d = d.with_note(format!("its variants are {}", variants.join(", "))),
        }
        self.error(d);
    }
    /// `inst.member` and deeper paths. An instance of the current body is
    /// checked first if it has not been yet (declaration order does not
    /// matter); one whose own declaration is being checked (an argument
    /// that feeds the instance back, as in `b = M(heat: k * b.temp)`) is
    /// known from its declaration, but not yet its unit parameters.
    pub(crate) fn member_path(&mut self, m: usize, scope: Scope, path: &Path) -> TExpr {
        let span = path.span;
        let first = &path.segments[0];
        let start = match scope {
            Scope::Body => self.stack.last().and_then(|b| b.member_named(&first.name)),
            Scope::Run(twin) => self.program.twins[twin].member(&first.name),
            _ => None,
        };
        let Some(start) = start else {
            if let Some(Global::Enum(e)) = self.global(m, &first.name) {
                self.variant_with_a_dot(e, path);
            } else {
                self.unknown_name(m, scope, first);
            }
            return error_expr(span);
        };
        let head = match scope {
            Scope::Body => {
                self.mark_used(start);
                self.instance_head(start)
            }
            Scope::Run(twin) => match &self.program.twins[twin].members[start].kind {
                MemberKind::Instance { of, generics, .. } => {
                    Head::Instance(*of, Some(generics.clone()))
                }
                _ => Head::NotInstance,
            },
            _ => Head::NotInstance,
        };
        let mut target = match head {
            Head::Instance(of, solved) => Some((of, solved)),
            Head::NotInstance => None,
            // The instance's declaration failed, with its own diagnostic.
            Head::Failed => return error_expr(span),
        };
        let mut ids = vec![start];
        let mut ty = Ty::Error;
        for depth in 1..path.segments.len() {
            let Some((of, solved)) = target.take() else {
                let seg = &path.segments[depth];
                self.error(
                    Diagnostic::new(
                        Kind::UnknownName,
                        seg.span,
                        format!(
                            "`{}` has no members",
                            self.text(path.span).rsplit_once('.').map_or("", |x| x.0)
                        ),
                    )
                    .label("only instances of components and twins have members"),
                );
                return error_expr(span);
            };
            let Some(step) = self.path_step(of, solved, path, depth) else {
                return error_expr(span);
            };
            ids.push(step.id);
            ty = step.ty;
            target = step.next;
        }
        texpr(TExprKind::Ref(Ref::Path(ids)), ty, span)
    }

    /// Segment `depth` of a path, a member of an instance of `of` whose
    /// unit parameters stand for `solved` (unknown while the instance's
    /// own declaration is being checked).
    fn path_step(
        &mut self,
        of: InstanceOf,
        solved: Option<Vec<Quantity>>,
        path: &Path,
        depth: usize,
    ) -> Option<PathStep> {
        let seg = &path.segments[depth];
        let body = match of {
            InstanceOf::Component(c) => &self.program.components[c],
            InstanceOf::Twin(t) => &self.program.twins[t],
        };
        let Some(id) = body.member(&seg.name) else {
            let names: Vec<String> = body
                .members
                .iter()
                .filter(|x| x.named)
                .map(|x| x.name.clone())
                .collect();
            let mut d = Diagnostic::new(
                Kind::UnknownName,
                seg.span,
                format!("`{}` has no member `{}`", body.name, seg.name),
            )
            .label("no such member");
            if let Some(best) = crate::units::closest(&seg.name, names.iter().map(String::as_str)) {
                d = d.with_help(format!("did you mean `{best}`?"));
            }
            self.error(d);
            return None;
        };
        let member = &body.members[id];
        let ty = match &solved {
            Some(s) => instantiate(&member.ty, &member.unit.text, &body.generics, s),
            None if mentions_probes(&member.ty, body.generics.len()) => None,
            None => Some(member.ty.clone()),
        };
        // An instance inside this one: its unit parameters, in terms of
        // this call's.
        let next = match &member.kind {
            MemberKind::Instance { of, generics, .. } => Some((
                *of,
                solved
                    .as_ref()
                    .map(|s| instantiate_all(generics, &body.generics, s)),
            )),
            _ => None,
        };
        if let Some(ty) = ty {
            return Some(PathStep { id, ty, next });
        }
        let shown = path.segments[..=depth]
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(".");
        let d = if solved.is_none() {
            Diagnostic::new(
                Kind::TypeMismatch,
                seg.span,
                format!(
                    "the unit of `{shown}` cannot be inferred: it depends on the arguments of `{}`, which use it",
                    path.segments[0].name
                ),
            )
            .label("unit depends on itself")
            .with_help(format!(
                "declare the unit of the value fed back, e.g. `let fed: 1 = {shown}` for a plain number, and pass `fed`"
            ))
        } else {
            let owner = body.name.clone();
            Diagnostic::new(
                Kind::TypeMismatch,
                seg.span,
                format!("the unit of `{shown}` cannot be worked out at this use"),
            )
            .label("unit not known")
            .with_help(format!("declare the unit of `{}` in `{owner}`", seg.name))
        };
        self.error(d);
        None
    }
    /// Matches call arguments to parameter names: gives, per parameter,
    /// the argument expression (if any), and whether a problem was
    /// reported (the caller then leaves out "missing argument" errors,
    /// which would mostly repeat it). `positional_ok` is false for
    /// components, whose arguments must be named: positional ones are
    /// still matched in order, and one error shows the named call.
    pub(crate) fn match_args<'a>(
        &mut self,
        callee: &str,
        params: &[String],
        args: &'a [Arg],
        positional_ok: bool,
        call_span: Span,
    ) -> (Vec<Option<&'a Arg>>, bool) {
        let mut slots: Vec<Option<&Arg>> = vec![None; params.len()];
        let mut reported = false;
        let mut unnamed = false;
        let mut next = 0;
        for arg in args {
            let index = match &arg.name {
                Some(n) => match params.iter().position(|p| *p == n.name) {
                    Some(i) => i,
                    None => {
                        let listed = if params.is_empty() {
                            "none".to_string()
                        } else {
                            params.join(", ")
                        };
                        let mut d = Diagnostic::new(
                            Kind::ArgumentMismatch,
                            n.span,
                            format!("`{callee}` has no parameter `{}`", n.name),
                        )
                        .label("unknown parameter")
                        .with_note(format!("its parameters are {listed}"));
                        if let Some(best) =
                            crate::units::closest(&n.name, params.iter().map(String::as_str))
                        {
                            d = d.with_help(format!("did you mean `{best}`?"));
                        }
                        self.error(d);
                        reported = true;
                        continue;
                    }
                },
                None => {
                    unnamed |= !positional_ok;
                    while next < params.len() && slots[next].is_some() {
                        next += 1;
                    }
                    if next >= params.len() {
                        let n = params.len();
                        self.error(
                            Diagnostic::new(
                                Kind::ArgumentMismatch,
                                arg.value.span,
                                format!("too many arguments for `{callee}`"),
                            )
                            .label("extra argument")
                            .with_note(format!(
                                "`{callee}` takes {n} argument{}",
                                if n == 1 { "" } else { "s" }
                            )),
                        );
                        reported = true;
                        continue;
                    }
                    next
                }
            };
            if let Some(prev) = slots[index] {
                self.error(
                    Diagnostic::new(
                        Kind::ArgumentMismatch,
                        arg.value.span,
                        format!("`{}` is given twice", params[index]),
                    )
                    .label("given again here")
                    .with_secondary(prev.value.span, "first given here"),
                );
                reported = true;
                continue;
            }
            slots[index] = Some(arg);
        }
        if unnamed {
            let named: Vec<String> = slots
                .iter()
                .zip(params)
                .filter_map(|(a, p)| a.map(|a| format!("{p}: {}", self.text(a.value.span))))
                .collect();
            self.error(
                Diagnostic::new(Kind::ArgumentMismatch, call_span, format!("the arguments of `{callee}` must be named"))
                    .label("unnamed arguments")
                    .with_help(format!("write `{callee}({})`", named.join(", ")))
                    .with_note("components take named arguments so that a call reads the same whatever the order"),
            );
            reported = true;
        }
        (slots, reported)
    }
}
