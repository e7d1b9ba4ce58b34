//! Calls: builtins, functions, and component instances.
//!
//! Takes a call's name and arguments; gives a typed expression. Unit
//! parameters (`<U>`) are inferred at each call from the arguments: each
//! parameter's type is a product of known units and unit parameters, and a
//! parameter whose type holds one still-unknown unit parameter determines
//! it. A component call in a body creates an instance there (each call
//! site is its own instance, with its own state).

use super::expr::{Scope, error_expr, texpr};
use super::types::{Affinity, Quantity, Ty};
use super::units::Generic;
use super::{Checker, Global};
use crate::diagnostic::{Diagnostic, Kind};
use crate::hir::{Builtin, InstanceOf, TExpr, TExprKind};
use crate::span::Span;
use crate::syntax::ast::{Arg, ExprKind, ItemKind, Path, TypeExpr};
use crate::units::{Dimension, Rational};

impl Checker {
    pub(crate) fn call(
        &mut self,
        m: usize,
        scope: Scope,
        path: &Path,
        args: &[Arg],
        span: Span,
        g: &[Generic],
    ) -> TExpr {
        let name_ident = &path.segments[0];
        if path.segments.len() > 1 {
            self.error(
                Diagnostic::new(
                    Kind::UnknownName,
                    path.span,
                    format!("cannot call `{}`", path.text()),
                )
                .label("not a function or component"),
            );
            return error_expr(span);
        }
        let name = name_ident.name.as_str();
        let global = self.modules[m].names.get(name).map(|(g, _)| *g);
        match global {
            Some(Global::Fn(i)) => {
                self.used.insert((m, Global::Fn(i)));
                return self.fn_call(m, scope, i, args, span, g);
            }
            Some(Global::Table(i)) => {
                self.used.insert((m, Global::Table(i)));
                return self.table_call(m, scope, i, name, args, span, g);
            }
            Some(Global::Component(i)) => {
                self.used.insert((m, Global::Component(i)));
                return self.instance_call(
                    m,
                    scope,
                    InstanceOf::Component(i),
                    name,
                    args,
                    span,
                    g,
                    None,
                );
            }
            Some(Global::Twin(i)) => {
                self.used.insert((m, Global::Twin(i)));
                return self.instance_call(
                    m,
                    scope,
                    InstanceOf::Twin(i),
                    name,
                    args,
                    span,
                    g,
                    None,
                );
            }
            _ => {}
        }
        match name {
            "prev" if scope == Scope::Body => return self.prev_call(m, scope, args, span, g),
            "stale" | "age" if matches!(scope, Scope::Body) => {
                return self.sensor_helper(name, args, span);
            }
            "csv" if matches!(scope, Scope::Run(_)) => {
                return self.csv_call(m, scope, args, span, g);
            }
            _ => {}
        }
        let Some(builtin) = Builtin::from_name(name) else {
            let mut candidates: Vec<String> =
                Builtin::NAMES.iter().map(|s| s.to_string()).collect();
            candidates.extend(
                self.modules[m]
                    .names
                    .iter()
                    .filter(|(_, (g, _))| {
                        matches!(g, Global::Fn(_) | Global::Component(_) | Global::Table(_))
                    })
                    .map(|(n, _)| n.clone()),
            );
            let mut d = Diagnostic::new(
                Kind::UnknownName,
                name_ident.span,
                format!("unknown function `{name}`"),
            )
            .label("no function or component has this name");
            if name == "table" {
                d = d.with_help(
                    "a lookup table is a constant: `const name = table(X -> Y) { x: y, ... }`",
                );
            } else if let Some(best) =
                crate::units::closest(name, candidates.iter().map(String::as_str))
            {
                d = d.with_help(format!("did you mean `{best}`?"));
            } else if self.modules[m].names.is_empty()
                || name.chars().next().is_some_and(char::is_uppercase)
            {
                d = d.with_help("components from the standard library need a `use`, e.g. `use std::filters::Lag`");
            }
            self.error(d);
            for a in args {
                self.expr(m, scope, &a.value, g);
            }
            return error_expr(span);
        };
        self.builtin_call(m, scope, builtin, name, args, span, g)
    }

    #[allow(clippy::too_many_arguments)]
    fn builtin_call(
        &mut self,
        m: usize,
        scope: Scope,
        f: Builtin,
        name: &str,
        args: &[Arg],
        span: Span,
        g: &[Generic],
    ) -> TExpr {
        let targs: Vec<TExpr> = args
            .iter()
            .map(|a| self.expr(m, scope, &a.value, g))
            .collect();
        if let Some(named) = args.iter().find_map(|a| a.name.as_ref()) {
            self.error(
                Diagnostic::new(
                    Kind::ArgumentMismatch,
                    named.span,
                    format!("`{name}` takes positional arguments"),
                )
                .label("named argument")
                .with_help("leave the name out"),
            );
        }
        let arity: (usize, usize) = match f {
            Builtin::Min | Builtin::Max => (2, usize::MAX),
            Builtin::Clamp => (3, 3),
            Builtin::Atan2 | Builtin::Pow => (2, 2),
            _ => (1, 1),
        };
        if targs.len() < arity.0 || targs.len() > arity.1 {
            let want = if arity.1 == usize::MAX {
                format!("at least {}", arity.0)
            } else {
                arity.0.to_string()
            };
            self.error(
                Diagnostic::new(
                    Kind::ArgumentMismatch,
                    span,
                    format!(
                        "`{name}` takes {want} argument{}, not {}",
                        if arity.0 == 1 { "" } else { "s" },
                        targs.len()
                    ),
                )
                .label("wrong number of arguments"),
            );
            return error_expr(span);
        }
        if targs.iter().any(|t| t.ty.is_error()) {
            return texpr(TExprKind::Builtin(f, targs), Ty::Error, span);
        }
        for t in &targs {
            if !t.ty.is_numeric() {
                let found = self.type_name(&t.ty);
                self.error(
                    Diagnostic::new(
                        Kind::TypeMismatch,
                        t.span,
                        format!("`{name}` needs numbers"),
                    )
                    .label(format!("this is `{found}`")),
                );
                return error_expr(span);
            }
        }
        let q0 = targs[0].ty.quantity().unwrap_or(Quantity::NUMBER);
        let ty = match f {
            Builtin::Min | Builtin::Max | Builtin::Clamp | Builtin::Atan2 => {
                let mut ty = targs[0].ty.clone();
                for (k, t) in targs.iter().enumerate().skip(1) {
                    ty = self.join(
                        &targs[0],
                        t,
                        &args[0].value,
                        &args[k].value,
                        g,
                        &format!("the arguments of `{name}`"),
                    );
                }
                if f == Builtin::Atan2 && !ty.is_error() {
                    Ty::NUMBER
                } else {
                    ty
                }
            }
            Builtin::Abs | Builtin::Floor | Builtin::Ceil => {
                if f == Builtin::Abs && q0.affinity == Affinity::Point {
                    Ty::real(q0.dim)
                } else {
                    targs[0].ty.clone()
                }
            }
            Builtin::Sqrt => {
                if q0.affinity == Affinity::Point {
                    let d = Diagnostic::new(
                        Kind::AffineMisuse,
                        targs[0].span,
                        "cannot take the square root of an absolute temperature",
                    )
                    .label("absolute temperature")
                    .with_help(
                        "subtract a reference temperature first, or declare the value in `K`",
                    );
                    if !self.affine(d, &[q0.dim], g) {
                        return error_expr(span);
                    }
                }
                match q0.dim.checked_pow(Rational::HALF) {
                    Some(d) => Ty::real(d),
                    None => return self.exponent_overflow(span),
                }
            }
            Builtin::Exp
            | Builtin::Log
            | Builtin::Sin
            | Builtin::Cos
            | Builtin::Tan
            | Builtin::Pow => {
                for t in &targs {
                    let q = t.ty.quantity().unwrap_or(Quantity::NUMBER);
                    if !q.dim.is_dimensionless() {
                        let d = self.describe_quantity(&q, None, g);
                        self.error(
                            Diagnostic::new(
                                Kind::UnitMismatch,
                                t.span,
                                format!("`{name}` needs a dimensionless argument"),
                            )
                            .label(format!("this is {d}"))
                            .with_help(format!(
                                "divide by a reference value of the same unit, e.g. `x / 1 {}`",
                                q.dim.si_symbol()
                            )),
                        );
                        return error_expr(span);
                    }
                }
                Ty::NUMBER
            }
        };
        texpr(TExprKind::Builtin(f, targs), ty, span)
    }

    fn prev_call(
        &mut self,
        m: usize,
        scope: Scope,
        args: &[Arg],
        span: Span,
        g: &[Generic],
    ) -> TExpr {
        if args.len() != 2 {
            self.error(
                Diagnostic::new(
                    Kind::ArgumentMismatch,
                    span,
                    "`prev` takes 2 arguments: the signal and its value before t = 0",
                )
                .label("wrong number of arguments")
                .with_help("e.g. `prev(x, 0 m)`"),
            );
            return error_expr(span);
        }
        let x = self.expr(m, scope, &args[0].value, g);
        let init = self.expr(m, scope, &args[1].value, g);
        let ty = self.join(
            &x,
            &init,
            &args[0].value,
            &args[1].value,
            g,
            "the arguments of `prev`",
        );
        texpr(TExprKind::Prev(Box::new(x), Box::new(init)), ty, span)
    }

    fn sensor_helper(&mut self, name: &str, args: &[Arg], span: Span) -> TExpr {
        let target = match args {
            [arg] => match &arg.value.kind {
                ExprKind::Path(p) if p.segments.len() == 1 => self
                    .stack
                    .last()
                    .and_then(|b| b.member_named(&p.segments[0].name))
                    .map(|id| (id, p.segments[0].span)),
                _ => None,
            },
            _ => None,
        };
        let Some((id, _)) =
            target.filter(|(id, _)| self.stack.last().is_some_and(|b| b.is_sensor(*id)))
        else {
            self.error(
                Diagnostic::new(
                    Kind::ArgumentMismatch,
                    span,
                    format!("`{name}` takes one sensor"),
                )
                .label("not a sensor")
                .with_help(format!("e.g. `{name}(current)`")),
            );
            return error_expr(span);
        };
        self.mark_used(id);
        if name == "stale" {
            texpr(TExprKind::Stale(id), Ty::Bool, span)
        } else {
            texpr(
                TExprKind::Age(id),
                Ty::real(Dimension::base(crate::units::BaseDim::Time)),
                span,
            )
        }
    }

    fn csv_call(
        &mut self,
        m: usize,
        scope: Scope,
        args: &[Arg],
        span: Span,
        g: &[Generic],
    ) -> TExpr {
        let (slots, _) =
            self.match_args("csv", &["path".into(), "column".into()], args, true, span);
        let mut texts = Vec::new();
        for (k, slot) in slots.iter().enumerate() {
            match slot {
                Some(a) => {
                    let t = self.expr(m, scope, &a.value, g);
                    match t.kind {
                        TExprKind::Str(s) => texts.push(s),
                        _ => {
                            self.error(
                                Diagnostic::new(
                                    Kind::TypeMismatch,
                                    a.value.span,
                                    "`csv` takes strings",
                                )
                                .label("not a string")
                                .with_help("e.g. `csv(\"telemetry.csv\", column: \"current\")`"),
                            );
                            return error_expr(span);
                        }
                    }
                }
                None => {
                    self.error(
                        Diagnostic::new(
                            Kind::ArgumentMismatch,
                            span,
                            format!(
                                "`csv` needs its {} argument",
                                if k == 0 { "file path" } else { "`column`" }
                            ),
                        )
                        .label("missing argument")
                        .with_help("e.g. `csv(\"telemetry.csv\", column: \"current\")`"),
                    );
                    return error_expr(span);
                }
            }
        }
        texpr(
            TExprKind::Csv(texts[0].clone(), texts[1].clone()),
            Ty::Error,
            span,
        )
    }

    fn fn_call(
        &mut self,
        m: usize,
        scope: Scope,
        i: usize,
        args: &[Arg],
        span: Span,
        g: &[Generic],
    ) -> TExpr {
        if self.fn_items[i].1 == super::Progress::Started {
            let name = self.program.functions[i].name.clone();
            self.error(
                Diagnostic::new(Kind::InvalidTwinReference, span, format!("`{name}` calls itself"))
                    .label("recursive call")
                    .with_help("functions are inlined into the model and cannot recurse; write the repetition out, or use a state"),
            );
            return error_expr(span);
        }
        self.check_fn(i);
        let at = self.fn_items[i].0;
        let ItemKind::Fn(decl) = &self.item(at).kind else {
            return error_expr(span);
        };
        let decl = decl.clone();
        let names: Vec<String> = decl.params.iter().map(|p| p.name.name.clone()).collect();
        let (slots, reported) = self.match_args(&decl.name.name, &names, args, true, span);
        let mut targs = Vec::new();
        for (k, slot) in slots.iter().enumerate() {
            targs.push(match slot {
                Some(a) => Some(self.expr(m, scope, &a.value, g)),
                None => match &decl.params[k].default {
                    Some(d) => Some(self.expr(at.module, Scope::Const, d, &[])),
                    None => {
                        if !reported {
                            self.missing_arg(&decl.name.name, &names[k], span);
                        }
                        None
                    }
                },
            });
        }
        let generics: Vec<String> = decl.generics.iter().map(|g| g.name.clone()).collect();
        let types: Vec<Option<TypeExpr>> = decl.params.iter().map(|p| Some(p.ty.clone())).collect();
        let solved =
            self.infer_and_check_args(&decl.name.name, &generics, &types, &names, &targs, g);
        self.blocked_points(at, &decl.name.name, &generics, &solved, span, g);
        let ty = match &decl.ret {
            Some(_) => {
                let failed = targs.iter().flatten().any(|t| t.ty.is_error());
                self.result_type(
                    decl.ret.as_ref(),
                    &generics,
                    &solved,
                    span,
                    &decl.name.name,
                    failed,
                )
            }
            None => self.program.functions[i].ret.clone(),
        };
        if targs.iter().any(Option::is_none) {
            return error_expr(span);
        }
        let targs = targs.into_iter().flatten().collect();
        texpr(TExprKind::Call(i, targs), ty, span)
    }

    pub(crate) fn missing_arg(&mut self, callee: &str, param: &str, span: Span) {
        self.error(
            Diagnostic::new(
                Kind::ArgumentMismatch,
                span,
                format!("missing argument `{param}` of `{callee}`"),
            )
            .label(format!("`{param}` is not given"))
            .with_help(format!("add `{param}: ...` to the call")),
        );
    }

    /// The unit parameters of function `i`, as probes.
    pub(crate) fn fn_generics(&self, i: usize) -> Vec<Generic> {
        let at = self.fn_items[i].0;
        match &self.item(at).kind {
            ItemKind::Fn(f) => f
                .generics
                .iter()
                .enumerate()
                .map(|(k, g)| Generic {
                    name: g.name.clone(),
                    probe: super::units::probe(k),
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    pub(crate) fn fn_param_index(&self, i: usize, name: &str) -> Option<usize> {
        self.program.functions[i]
            .params
            .iter()
            .position(|p| p.0 == name)
    }

    /// Checks function `i` once.
    pub(crate) fn check_fn(&mut self, i: usize) {
        if self.fn_items[i].1 != super::Progress::Pending {
            return;
        }
        self.fn_items[i].1 = super::Progress::Started;
        let at = self.fn_items[i].0;
        let ItemKind::Fn(decl) = &self.item(at).kind else {
            return;
        };
        let decl = decl.clone();
        let generics = self.fn_generics(i);
        let mut params = Vec::new();
        for p in &decl.params {
            let (ty, _) = self.resolve_type(at.module, &p.ty, &generics);
            params.push((p.name.name.clone(), ty));
        }
        self.program.functions[i].params = params;
        if !generics.is_empty() {
            self.owners.push((at.module, at.item));
        }
        let body = self.expr(at.module, Scope::Fn(i), &decl.body, &generics);
        let ret = match &decl.ret {
            Some(r) => {
                let (ty, unit) = self.resolve_type(at.module, r, &generics);
                self.expect_type(
                    &ty,
                    &body,
                    Some(&unit.text),
                    &generics,
                    &format!("the result of `{}`", decl.name.name),
                );
                ty
            }
            None => body.ty.clone(),
        };
        if !generics.is_empty() {
            self.owners.pop();
        }
        self.program.functions[i].ret = ret;
        self.program.functions[i].body = body;
        self.fn_items[i].1 = super::Progress::Done;
    }
}
