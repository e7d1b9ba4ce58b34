//! Hover: what the thing under the cursor is.
//!
//! Takes an analysis and a byte offset; gives Markdown. On a name: its
//! declaration (as written), its type, unit and dimension from the
//! checker, for sensors and actuators their range, staleness limit and
//! slew rate, and its `///` documentation. On a built-in: what it does. On
//! any other expression (a literal, a product): its checked type, and for a
//! quantity literal its value in SI.

use twin_compiler::hir::{Body, MemberKind, TExpr, TExprKind};
use twin_compiler::span::FileId;

use crate::analysis::Analysis;
use crate::describe;
use crate::index::{Def, DefKind, ModuleKey};
use crate::stdlib;

/// Hover text at `offset`, with the byte range it is about.
pub fn hover(a: &Analysis, offset: u32) -> Option<(String, (u32, u32))> {
    if let Some(occ) = a.index.at(offset) {
        let def = &a.index.defs[occ.def];
        return Some((describe_def(a, def), (occ.start, occ.end)));
    }
    let text = a.text();
    let (start, end) = word_at(text, offset as usize);
    if let Some(doc) = builtin_doc(&text[start..end]) {
        return Some((doc.to_string(), (start as u32, end as u32)));
    }
    let e = smallest_expr(a, offset)?;
    let mut out = format!(
        "```twin\n{}\n```\n{}",
        text.get(e.span.range()).unwrap_or(""),
        describe::type_line(&e.ty, a.checked.program.lookup_unit(e), &a.checked.program)
    );
    if let TExprKind::Real(v) = e.kind
        && let Some(q) = e.ty.quantity()
    {
        out.push_str(&format!("\n\n= {v} {} in SI", q.dim.si_symbol()));
    }
    Some((out, (e.span.start, e.span.end)))
}

/// The identifier around `offset`.
fn word_at(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let is_word = |c: char| twin_compiler::syntax::lexer::is_ident_continue(c);
    let start = text[..offset]
        .char_indices()
        .rev()
        .take_while(|(_, c)| is_word(*c))
        .last()
        .map_or(offset, |(i, _)| i);
    let end = text[offset..]
        .char_indices()
        .find(|(_, c)| !is_word(*c))
        .map_or(text.len(), |(i, _)| offset + i);
    (start, end)
}

/// The text of a declaration as written: its first line, or up to `{`.
fn signature(a: &Analysis, def: &Def) -> String {
    let text = match &def.key.module {
        m if *m == a.key => a.text(),
        ModuleKey::Std(p) => stdlib::module(p).map_or("", |m| m.text),
        ModuleKey::File(_) => "",
    };
    let decl = text
        .get(def.decl.0 as usize..def.decl.1 as usize)
        .unwrap_or("");
    let mut head = decl.lines().next().unwrap_or("");
    if let Some(i) = head.find('{') {
        head = &head[..i];
    }
    head.trim().to_string()
}

fn describe_def(a: &Analysis, def: &Def) -> String {
    let program = &a.checked.program;
    let mut out = format!("```twin\n{}\n```", signature(a, def));
    let mut facts: Vec<String> = Vec::new();
    if let Some(c) = &def.container {
        facts.push(format!("{} of `{c}`", def.kind.word()));
    }
    if let Some((_, m)) = a.hir_member(def) {
        facts.push(describe::type_line(&m.ty, Some(&m.unit), program));
        match &m.kind {
            MemberKind::Sensor {
                range, stale_after, ..
            } => {
                if let Some((lo, hi)) = range {
                    facts.push(format!(
                        "**range** {} .. {}",
                        describe::value_in(*lo, &m.unit),
                        describe::value_in(*hi, &m.unit)
                    ));
                }
                match stale_after {
                    Some(s) => facts.push(format!("**stale after** {s} s without a good sample")),
                    None => facts.push("**staleness** not watched (no `stale after`)".into()),
                }
            }
            MemberKind::Actuator { range, slew, value } => {
                if let Some((lo, hi)) = range {
                    facts.push(format!(
                        "**range** {} .. {} (commands are clamped)",
                        describe::value_in(*lo, &m.unit),
                        describe::value_in(*hi, &m.unit)
                    ));
                }
                if let Some(s) = slew {
                    facts.push(format!(
                        "**slew** at most {} per s",
                        describe::value_in(*s, &describe_delta(&m.unit))
                    ));
                }
                facts.push(if value.is_some() {
                    "continuous: recomputed every tick".into()
                } else {
                    "holds the last value assigned in `on`/`every`".into()
                });
            }
            _ => {}
        }
    } else if let Some(body) = a.hir_body(def) {
        facts.push(body_facts(body));
    } else if def.kind == DefKind::Function
        && let Some(f) = program.functions.iter().find(|f| f.name == def.name)
        && let Some(ret) = describe::short(&f.ret, None, program)
    {
        facts.push(format!("**returns** `{ret}`"));
    }
    if !facts.is_empty() {
        out.push_str("\n\n");
        out.push_str(&facts.join("  \n"));
    }
    if let ModuleKey::Std(p) = def.key.module {
        out.push_str(&format!("\n\n*from `{p}`*"));
    }
    if let Some(doc) = &def.doc {
        out.push_str("\n\n---\n\n");
        out.push_str(doc);
    }
    out
}

/// A unit's difference form (a slew of a `degC` actuator is in K/s).
fn describe_delta(u: &twin_compiler::hir::DisplayUnit) -> twin_compiler::hir::DisplayUnit {
    twin_compiler::hir::DisplayUnit {
        text: u.text.clone(),
        scale: u.scale,
        offset: 0.0,
    }
}

fn body_facts(body: &Body) -> String {
    let named = body.members.iter().filter(|m| m.named).count();
    let mut s = format!("{named} members");
    if !body.generics.is_empty() {
        s.push_str(&format!(" · unit parameters {}", body.generics.join(", ")));
    }
    if let Some(r) = &body.result
        && let Some(q) = r.ty.quantity()
    {
        s.push_str(&format!(" · result {}", describe::dimension(&q)));
    }
    s
}

/// Documentation of the built-in names and functions.
pub fn builtin_doc(name: &str) -> Option<&'static str> {
    Some(match name {
        "t" => "`t`: twin time, in `s`",
        "dt" => "`dt`: the twin's step, in `s`",
        "pi" => "`pi`: π, dimensionless",
        "min" | "max" => {
            "`min(a, b, ...)`, `max(a, b, ...)`: least, greatest; all of one dimension"
        }
        "clamp" => "`clamp(x, lo, hi)`: `x` limited to `lo .. hi`; one dimension",
        "abs" => "`abs(x)`: absolute value; same dimension (of a point: a plain `K` value)",
        "floor" | "ceil" => "`floor(x)`, `ceil(x)`: round down, up; same type and dimension",
        "sqrt" => "`sqrt(x)`: square root; halves the exponents (`m^2` → `m`)",
        "exp" | "log" | "sin" | "cos" | "tan" => {
            "`exp log sin cos tan`: dimensionless argument and result"
        }
        "atan2" => "`atan2(y, x)`: angle of (x, y); `y`, `x` of one dimension",
        "prev" => "`prev(x, init)`: `x` at the previous tick; `init` at t = 0",
        "stale" => {
            "`stale(s)`: `true` while sensor `s` has had no good sample for longer than its `stale after`"
        }
        "age" => "`age(s)`: time since sensor `s`'s last good sample, in `s`",
        _ => return None,
    })
}

/// The smallest checked expression of the document containing `offset`.
fn smallest_expr<'a>(a: &'a Analysis, offset: u32) -> Option<&'a TExpr> {
    let program = &a.checked.program;
    let mut roots: Vec<&'a TExpr> = Vec::new();
    let mut visit = |e: &'a TExpr| roots.push(e);
    for body in program.twins.iter().chain(&program.components) {
        if body.span.file != a.root {
            continue;
        }
        for m in &body.members {
            match &m.kind {
                MemberKind::Input { default } => default.iter().for_each(&mut visit),
                MemberKind::Sensor { default, .. } => default.iter().for_each(&mut visit),
                MemberKind::Actuator { value, .. } => value.iter().for_each(&mut visit),
                MemberKind::Param { value }
                | MemberKind::Let { value }
                | MemberKind::Out { value }
                | MemberKind::State { init: value }
                | MemberKind::Var { init: value } => visit(value),
                MemberKind::Alarm {
                    when, hold, clear, ..
                } => {
                    visit(when);
                    hold.iter().chain(clear).for_each(&mut visit);
                }
                MemberKind::Instance { args, .. } => args.iter().for_each(|(_, e)| visit(e)),
            }
        }
        body.ders.iter().for_each(|(_, e)| visit(e));
        body.result.iter().for_each(&mut visit);
        for h in &body.handlers {
            h.on.iter().for_each(&mut visit);
            h.body.iter().for_each(|x| visit(&x.value));
        }
    }
    for f in &program.functions {
        visit(&f.body);
    }
    for r in program.scenarios.iter().chain(&program.tests) {
        r.set.iter().for_each(|(_, e)| visit(e));
        r.sensors.iter().for_each(|(_, e)| visit(e));
        r.report.iter().for_each(&mut visit);
        r.expects.iter().for_each(|x| visit(&x.cond));
    }
    let mut best = None;
    for e in roots {
        visit_expr(e, a.root, offset, &mut best);
    }
    best
}

fn visit_expr<'a>(e: &'a TExpr, file: FileId, offset: u32, best: &mut Option<&'a TExpr>) {
    if e.span.file != file || !(e.span.start <= offset && offset < e.span.end) {
        return;
    }
    if best.is_none_or(|b| e.span.end - e.span.start <= b.span.end - b.span.start) {
        *best = Some(e);
    }
    let mut go = |x: &'a TExpr| visit_expr(x, file, offset, best);
    match &e.kind {
        TExprKind::Unary(_, x) | TExprKind::Lookup(_, x) => go(x),
        TExprKind::Binary(_, x, y) | TExprKind::Prev(x, y) => {
            go(x);
            go(y);
        }
        TExprKind::If(c, x, y) => {
            go(c);
            go(x);
            go(y);
        }
        TExprKind::Builtin(_, xs) | TExprKind::Call(_, xs) => xs.iter().for_each(go),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hover_at(src: &str, needle: &str) -> String {
        let a = Analysis::new("t.twin", src, 1, ModuleKey::File("file:///t.twin".into()));
        let at = src.find(needle).unwrap_or(0) as u32 + 1;
        hover(&a, at).map(|h| h.0).unwrap_or_default()
    }

    const SRC: &str = "use std::filters::Lag\n\
        twin Pump {\n    /// Motor current.\n    sensor current: A range 0 A .. 60 A stale after 5 s\n    \
        actuator valve: % range 0 % .. 100 % slew 10 %/s\n    \
        let power = 400 V * current\n    let smooth = Lag(x: current, tau: 3 s)\n}\n";

    #[test]
    fn sensor_hover_shows_unit_range_staleness_and_doc() {
        let h = hover_at(SRC, "current:");
        assert!(h.contains("sensor current: A range 0 A .. 60 A"), "{h}");
        assert!(h.contains("**unit** `A`"), "{h}");
        assert!(h.contains("**range** 0 A .. 60 A"), "{h}");
        assert!(h.contains("**stale after** 5 s"), "{h}");
        assert!(h.contains("Motor current."), "{h}");
    }

    #[test]
    fn let_hover_shows_the_inferred_dimension() {
        let h = hover_at(SRC, "power =");
        assert!(h.contains("**unit** `W`"), "{h}");
        assert!(h.contains("power"), "{h}");
        let h = hover_at(SRC, "valve:");
        assert!(h.contains("**slew** at most 10 % per s"), "{h}");
    }

    #[test]
    fn stdlib_and_literals_and_builtins() {
        let h = hover_at(SRC, "Lag(x");
        assert!(h.contains("component Lag<U>(x: U, tau: s) -> U"), "{h}");
        assert!(h.contains("*from `std::filters`*"), "{h}");
        let h = hover_at(SRC, "400 V");
        assert!(h.contains("= 400 V in SI") || h.contains("**unit**"), "{h}");
        let h = hover_at(SRC, "3 s)");
        assert!(h.contains("= 3 s in SI"), "{h}");
    }
}
