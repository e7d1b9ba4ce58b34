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
use crate::hir::{Builtin, InstanceOf, MemberKind, TExpr, TExprKind};
use crate::span::Span;
use crate::syntax::ast::{Arg, ExprKind, ItemKind, Path, TypeExpr, UnitExpr, UnitExprKind};
use crate::units::{Dimension, Rational, Unit};

/// A parameter type split into its known part and its unit-parameter
/// exponents.
struct Split {
    known: Unit,
    exps: Vec<Rational>,
    /// The type is exactly one unit parameter (`x: U`).
    bare: Option<usize>,
}

/// `known × Π solved[i]^exps[i]` over the solved unit parameters.
fn known_part(
    known: Dimension,
    solved: &[Option<Quantity>],
    exps: &[Rational],
) -> Option<Dimension> {
    let mut dim = known;
    for (s, e) in solved.iter().zip(exps) {
        if let Some(s) = s {
            dim = dim.checked_mul(&s.dim.checked_pow(*e)?)?;
        }
    }
    Some(dim)
}

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
                self.used.insert(Global::Fn(i));
                return self.fn_call(m, scope, i, args, span, g);
            }
            Some(Global::Component(i)) => {
                self.used.insert(Global::Component(i));
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
                self.used.insert(Global::Twin(i));
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
                    .filter(|(_, (g, _))| matches!(g, Global::Fn(_) | Global::Component(_)))
                    .map(|(n, _)| n.clone()),
            );
            let mut d = Diagnostic::new(
                Kind::UnknownName,
                name_ident.span,
                format!("unknown function `{name}`"),
            )
            .label("no function or component has this name");
            if let Some(best) = crate::units::closest(name, candidates.iter().map(String::as_str)) {
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
                    self.error(
                        Diagnostic::new(
                            Kind::AffineMisuse,
                            targs[0].span,
                            "cannot take the square root of an absolute temperature",
                        )
                        .label("absolute temperature")
                        .with_help(
                            "subtract a reference temperature first, or declare the value in `K`",
                        ),
                    );
                    return error_expr(span);
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

    /// Splits a signature type into known units and unit-parameter powers.
    fn split_type(&mut self, te: &UnitExpr, generics: &[String]) -> Option<Split> {
        let mut exps = vec![Rational::ZERO; generics.len()];
        let known = self.split_rec(te, generics, &mut exps, Rational::ONE)?;
        let bare = match &te.kind {
            UnitExprKind::Name(n) => generics.iter().position(|g| g == n),
            _ => None,
        };
        Some(Split { known, exps, bare })
    }

    fn split_rec(
        &mut self,
        u: &UnitExpr,
        generics: &[String],
        exps: &mut [Rational],
        sign: Rational,
    ) -> Option<Unit> {
        match &u.kind {
            UnitExprKind::Name(n) => {
                if let Some(i) = generics.iter().position(|g| g == n) {
                    exps[i] = exps[i].add(sign)?;
                    return Some(Unit::DIMENSIONLESS);
                }
                match n.as_str() {
                    "Real" => Some(Unit::DIMENSIONLESS),
                    _ => self.units.lookup(n).map(|x| x.powr(sign)),
                }
            }
            UnitExprKind::One => Some(Unit::DIMENSIONLESS),
            UnitExprKind::Paren(a) => self.split_rec(a, generics, exps, sign),
            UnitExprKind::Mul(a, b) => {
                let a = self.split_rec(a, generics, exps, sign)?;
                let b = self.split_rec(b, generics, exps, sign)?;
                Some(a.mul(&b))
            }
            UnitExprKind::Div(a, b) => {
                let a = self.split_rec(a, generics, exps, sign)?;
                let b = self.split_rec(b, generics, exps, -sign)?;
                Some(a.mul(&b))
            }
            UnitExprKind::Pow(a, n, d) => {
                let r = Rational::new(*n, *d)?;
                self.split_rec(a, generics, exps, sign.mul(r)?)
            }
        }
    }

    /// Infers unit parameters from arguments and checks every argument's
    /// dimension. Gives the inferred quantities (None where not inferred).
    #[allow(clippy::too_many_arguments)]
    fn infer_and_check_args(
        &mut self,
        callee: &str,
        generics: &[String],
        param_types: &[Option<TypeExpr>],
        param_names: &[String],
        targs: &[Option<TExpr>],
        g: &[Generic],
    ) -> Vec<Option<Quantity>> {
        let mut solved: Vec<Option<Quantity>> = vec![None; generics.len()];
        let mut splits = Vec::new();
        for te in param_types {
            splits.push(
                te.as_ref()
                    .and_then(|te| self.split_type(&te.unit, generics)),
            );
        }
        // Solve in passes: each pass may unlock parameters that mention
        // several unit parameters.
        for _ in 0..=generics.len() {
            for (k, split) in splits.iter().enumerate() {
                let (Some(split), Some(Some(arg))) = (split, targs.get(k)) else {
                    continue;
                };
                let Some(q) = arg.ty.quantity() else { continue };
                let unknown: Vec<usize> = (0..generics.len())
                    .filter(|&i| !split.exps[i].is_zero() && solved[i].is_none())
                    .collect();
                if unknown.len() != 1 {
                    continue;
                }
                let i = unknown[0];
                let Some(rest) = known_part(split.known.dim, &solved, &split.exps) else {
                    continue;
                };
                let Some(inv) = split.exps[i].recip() else {
                    continue;
                };
                let Some(dim) = q.dim.checked_div(&rest).and_then(|d| d.checked_pow(inv)) else {
                    continue;
                };
                let affinity = if split.bare == Some(i) {
                    q.affinity
                } else {
                    Affinity::Neutral
                };
                solved[i] = Some(Quantity { dim, affinity });
            }
        }
        for (k, split) in splits.iter().enumerate() {
            let (Some(split), Some(Some(arg))) = (split, targs.get(k)) else {
                continue;
            };
            if arg.ty.is_error() {
                continue;
            }
            if split
                .exps
                .iter()
                .enumerate()
                .any(|(i, e)| !e.is_zero() && solved[i].is_none())
            {
                continue;
            }
            let Some(dim) = known_part(split.known.dim, &solved, &split.exps) else {
                continue;
            };
            let want_affinity = match split.bare {
                Some(i) => solved[i].map_or(Affinity::Neutral, |s| s.affinity),
                None if split.known.is_affine() => Affinity::Point,
                None => Affinity::Neutral,
            };
            let shown = param_types[k].as_ref().map(|t| t.unit.to_compact());
            let want = if matches!(
                param_types[k].as_ref().and_then(|t| t.unit.as_name()),
                Some("Bool")
            ) {
                Ty::Bool
            } else {
                Ty::Real(Quantity {
                    dim,
                    affinity: want_affinity,
                })
            };
            let what = format!("parameter `{}` of `{callee}`", param_names[k]);
            if matches!(want, Ty::Real(_)) && !arg.ty.is_numeric()
                || want == Ty::Bool && arg.ty != Ty::Bool
            {
                let (nw, ng) = (self.type_name(&want), self.type_name(&arg.ty));
                self.error(
                    Diagnostic::new(
                        Kind::ArgumentMismatch,
                        arg.span,
                        format!("expected `{nw}`, found `{ng}`"),
                    )
                    .label(format!("this is `{ng}`"))
                    .with_note(format!("{what} is `{nw}`")),
                );
                continue;
            }
            if let Ty::Real(wq) = want
                && let Some(q) = arg.ty.quantity()
                && wq.dim != q.dim
            {
                let dw = self.describe_quantity(&wq, shown.as_deref(), g);
                let dg = self.describe_quantity(&q, None, g);
                self.error(
                    Diagnostic::new(
                        Kind::UnitMismatch,
                        arg.span,
                        format!("expected {dw}, found {dg}"),
                    )
                    .label(format!("this is {dg}"))
                    .with_note(format!("{what} is {dw}")),
                );
            }
        }
        solved
    }

    /// The result type of a call, given the inferred unit parameters.
    fn result_type(
        &mut self,
        ret: Option<&TypeExpr>,
        generics: &[String],
        solved: &[Option<Quantity>],
        span: Span,
        callee: &str,
        args_failed: bool,
    ) -> Ty {
        let Some(ret) = ret else { return Ty::Error };
        match ret.unit.as_name() {
            Some("Bool") => return Ty::Bool,
            Some("Int") => return Ty::Int,
            Some("Real") => return Ty::NUMBER,
            _ => {}
        }
        let Some(split) = self.split_type(&ret.unit, generics) else {
            return Ty::Error;
        };
        for (i, e) in split.exps.iter().enumerate() {
            if e.is_zero() {
                continue;
            }
            match solved[i] {
                Some(_) => {}
                // An argument that failed to check already has its error.
                None if args_failed => return Ty::Error,
                None => {
                    self.error(
                        Diagnostic::new(
                            Kind::ArgumentMismatch,
                            span,
                            format!("cannot infer the unit `{}` of this `{callee}`", generics[i]),
                        )
                        .label("unit parameter not determined by the arguments")
                        .with_help("pass the arguments whose types mention it"),
                    );
                    return Ty::Error;
                }
            }
        }
        let Some(dim) = known_part(split.known.dim, solved, &split.exps) else {
            return self.exponent_overflow(span).ty;
        };
        let affinity = match split.bare {
            Some(i) => solved[i].map_or(Affinity::Neutral, |s| s.affinity),
            None if split.known.is_affine() => Affinity::Point,
            None => Affinity::Neutral,
        };
        Ty::Real(Quantity { dim, affinity })
    }

    /// Reports a dimension whose exponents no longer fit (only absurd
    /// towers of powers get there).
    pub(crate) fn exponent_overflow(&mut self, span: Span) -> TExpr {
        self.error(
            Diagnostic::new(
                Kind::InvalidUnitExponent,
                span,
                "the unit of this expression has exponents too large to represent",
            )
            .label("unit exponent overflow"),
        );
        error_expr(span)
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

    fn missing_arg(&mut self, callee: &str, param: &str, span: Span) {
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
                self.infer_and_check_args(callee, &generics, &types, &names, &targs, g)
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
        self.program.functions[i].ret = ret;
        self.program.functions[i].body = body;
        self.fn_items[i].1 = super::Progress::Done;
    }
}
