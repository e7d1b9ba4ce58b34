//! The outline (document symbols) and inlay hints.
//!
//! Takes an analysis; gives the file's items as a tree of LSP document
//! symbols (twins and components with their members, enums with their
//! variants, functions, constants, tables, units, scenarios and tests),
//! and an inlay hint after the name of each declaration without a unit
//! annotation (`let power = ...` shows `: W`), with the unit the checker
//! inferred.

use tower_lsp_server::ls_types::{self as lsp, SymbolKind as S};
use twin_compiler::span::Span;
use twin_compiler::syntax::ast::{Decl, DeclKind, ItemKind};

use crate::analysis::Analysis;
use crate::describe;
use crate::diagnostics::range;
use crate::index::{DefKey, DefKind};

/// The document's symbols.
pub fn symbols(a: &Analysis) -> Vec<lsp::DocumentSymbol> {
    let mut out = Vec::new();
    for item in &a.parsed.module.items {
        let (name, kind, detail, children) = match &item.kind {
            ItemKind::Twin(t) => (&t.name, S::CLASS, "twin", members(a, &t.body)),
            ItemKind::Component(c) => {
                let mut ch: Vec<_> = c
                    .params
                    .iter()
                    .map(|p| {
                        symbol(
                            a,
                            &p.name.name,
                            S::VARIABLE,
                            "input",
                            p.name.span,
                            p.name.span,
                            None,
                        )
                    })
                    .collect();
                ch.extend(members(a, &c.body));
                (&c.name, S::CLASS, "component", ch)
            }
            ItemKind::Fn(f) => (&f.name, S::FUNCTION, "fn", Vec::new()),
            ItemKind::Const(c) => (&c.name, S::CONSTANT, "const", Vec::new()),
            ItemKind::Table(t) => (&t.name, S::FUNCTION, "table", Vec::new()),
            ItemKind::Unit(u) => (&u.name, S::TYPE_PARAMETER, "unit", Vec::new()),
            ItemKind::Enum(e) => {
                let ch = e
                    .variants
                    .iter()
                    .map(|v| symbol(a, &v.name, S::ENUM_MEMBER, "variant", v.span, v.span, None))
                    .collect();
                (&e.name, S::ENUM, "enum", ch)
            }
            ItemKind::Scenario(s) => (&s.name, S::EVENT, "scenario", Vec::new()),
            ItemKind::Test(t) => {
                out.push(symbol(
                    a,
                    &t.name,
                    S::METHOD,
                    "test",
                    item.span,
                    t.name_span,
                    None,
                ));
                continue;
            }
            ItemKind::Use(_) | ItemKind::Error => continue,
        };
        out.push(symbol(
            a,
            &name.name,
            kind,
            detail,
            item.span,
            name.span,
            Some(children),
        ));
    }
    out
}

fn members(a: &Analysis, body: &[Decl]) -> Vec<lsp::DocumentSymbol> {
    body.iter()
        .filter_map(|d| {
            let name = d.kind.defined_name()?;
            let (kind, word) = match &d.kind {
                DeclKind::Sensor { .. } => (S::VARIABLE, "sensor"),
                DeclKind::Actuator { .. } => (S::VARIABLE, "actuator"),
                DeclKind::Param { .. } => (S::CONSTANT, "param"),
                DeclKind::State { .. } => (S::VARIABLE, "state"),
                DeclKind::Var { .. } => (S::VARIABLE, "var"),
                DeclKind::Let { .. } => (S::VARIABLE, "let"),
                DeclKind::Instance { .. } => (S::OBJECT, "instance"),
                DeclKind::Out { .. } => (S::PROPERTY, "out"),
                DeclKind::Alarm { .. } => (S::EVENT, "alarm"),
                _ => return None,
            };
            let ty = member_type(a, name.span);
            let detail = match ty {
                Some(ty) => format!("{word}: {ty}"),
                None => word.to_string(),
            };
            Some(symbol(
                a, &name.name, kind, &detail, d.span, name.span, None,
            ))
        })
        .collect()
}

/// The unit or type the checker gave the member named at `span`.
fn member_type(a: &Analysis, span: Span) -> Option<String> {
    let key = DefKey {
        module: a.key.clone(),
        start: span.start,
        end: span.end,
    };
    let def = &a.index.defs[a.index.find(&key)?];
    let (_, m) = a.hir_member(def)?;
    describe::short(&m.ty, Some(&m.unit), &a.checked.program)
}

#[allow(deprecated)] // `deprecated` is a required field of the struct.
fn symbol(
    a: &Analysis,
    name: &str,
    kind: S,
    detail: &str,
    whole: Span,
    name_span: Span,
    children: Option<Vec<lsp::DocumentSymbol>>,
) -> lsp::DocumentSymbol {
    let whole_range = range(&a.lines, whole.start, whole.end);
    let mut selection = range(&a.lines, name_span.start, name_span.end);
    // The selection must lie inside the whole range.
    if selection.start < whole_range.start || selection.end > whole_range.end {
        selection = whole_range;
    }
    lsp::DocumentSymbol {
        name: if name.is_empty() {
            "?".into()
        } else {
            name.into()
        },
        detail: Some(detail.into()),
        kind,
        tags: None,
        deprecated: None,
        range: whole_range,
        selection_range: selection,
        children,
    }
}

/// Inlay hints in the byte range `start..end`.
pub fn inlay_hints(a: &Analysis, start: u32, end: u32) -> Vec<lsp::InlayHint> {
    let mut out = Vec::new();
    for item in &a.parsed.module.items {
        if item.span.end < start || item.span.start > end {
            continue;
        }
        let body = match &item.kind {
            ItemKind::Twin(t) => &t.body,
            ItemKind::Component(c) => &c.body,
            _ => continue,
        };
        for d in body {
            let (name, ty) = match &d.kind {
                DeclKind::Let { name, ty, .. }
                | DeclKind::Out { name, ty, .. }
                | DeclKind::Param { name, ty, .. }
                | DeclKind::State { name, ty, .. }
                | DeclKind::Var { name, ty, .. } => (name, ty),
                _ => continue,
            };
            if ty.is_some() || name.span.end < start || name.span.start > end {
                continue;
            }
            let key = DefKey {
                module: a.key.clone(),
                start: name.span.start,
                end: name.span.end,
            };
            let Some(def) = a.index.find(&key).map(|i| &a.index.defs[i]) else {
                continue;
            };
            if def.kind == DefKind::Instance {
                continue;
            }
            let Some((_, m)) = a.hir_member(def) else {
                continue;
            };
            let Some(ty) = describe::short(&m.ty, Some(&m.unit), &a.checked.program) else {
                continue;
            };
            let p = a.lines.position(name.span.end as usize);
            out.push(lsp::InlayHint {
                position: lsp::Position::new(p.line, p.character),
                label: lsp::InlayHintLabel::String(format!(": {ty}")),
                kind: Some(lsp::InlayHintKind::TYPE),
                text_edits: Some(vec![lsp::TextEdit::new(
                    lsp::Range::new(
                        lsp::Position::new(p.line, p.character),
                        lsp::Position::new(p.line, p.character),
                    ),
                    format!(": {ty}"),
                )]),
                tooltip: m.ty.quantity().map(|q| {
                    lsp::InlayHintTooltip::String(format!("inferred: {}", describe::dimension(&q)))
                }),
                padding_left: None,
                padding_right: None,
                data: None,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::ModuleKey;

    const SRC: &str = "enum Mode { Off, On }\ntwin Pump {\n    sensor current: A\n    \
        let power = 400 V * current\n    let typed: kW = power\n    var mode: Mode = Mode::Off\n}\n\
        test \"runs\" for Pump {\n    run 1 s\n}\n";

    fn analysis() -> Analysis {
        Analysis::new("t.twin", SRC, 1, ModuleKey::File("file:///t.twin".into()))
    }

    #[test]
    fn outline_has_items_and_members() {
        let s = symbols(&analysis());
        let names: Vec<&str> = s.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["Mode", "Pump", "runs"]);
        let pump = &s[1];
        let members: Vec<String> = pump
            .children
            .iter()
            .flatten()
            .map(|c| format!("{} {}", c.name, c.detail.clone().unwrap_or_default()))
            .collect();
        assert_eq!(
            members,
            [
                "current sensor: A",
                "power let: W",
                "typed let: kW",
                "mode var: Mode"
            ]
        );
    }

    #[test]
    fn hints_only_for_unannotated_declarations() {
        let h = inlay_hints(&analysis(), 0, SRC.len() as u32);
        let labels: Vec<String> = h
            .iter()
            .map(|h| match &h.label {
                lsp::InlayHintLabel::String(s) => s.clone(),
                lsp::InlayHintLabel::LabelParts(_) => String::new(),
            })
            .collect();
        assert_eq!(labels, [": W"]);
        assert_eq!(h[0].position, lsp::Position::new(3, 13));
    }
}
