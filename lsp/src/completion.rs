//! Completion.
//!
//! Takes an analysis of the current text and a byte offset; gives the
//! completion items that fit where the cursor is, decided from the tokens
//! before it:
//! - after `inst.` (or `a.b.`): the members of what the instance
//!   instantiates; after `Enum::`, its variants; after `use std::`, the
//!   stdlib modules and their items;
//! - after a number and a space (`12 `): units, built-in and declared;
//! - in type position (after `:` in a declaration or signature, after
//!   `->`, in a `table(` header): units, `Real`, `Int`, `Bool`, enums and
//!   unit parameters; after `alarm name:` the severities;
//! - at the start of a line: snippets for each declaration form (body
//!   declarations inside a twin or component, items at the top level),
//!   then the names in scope;
//! - elsewhere: the names in scope (members, parameters, top-level items
//!   and imports, built-in values and functions) and expression keywords.

use tower_lsp_server::ls_types::{
    self as lsp, CompletionItem, CompletionItemKind as K, InsertTextFormat,
};
use twin_compiler::span::FileId;
use twin_compiler::syntax::lexer::lex;
use twin_compiler::syntax::token::{Kw, Punct, Token};
use twin_compiler::units::UnitTable;

use crate::analysis::Analysis;
use crate::describe;
use crate::hover::builtin_doc;
use crate::index::{DefKind, Index};
use crate::stdlib;

/// Prefixed spellings offered beside the unit table's names.
const PREFIXED: &[&str] = &[
    "mm", "cm", "km", "mg", "kg", "ms", "us", "µs", "mA", "kA", "µA", "mV", "kV", "kW", "MW", "GW",
    "mW", "kJ", "MJ", "kWh", "MWh", "mAh", "kPa", "MPa", "mbar", "kN", "kHz", "MHz", "mL", "kΩ",
    "kOhm", "mrad", "mol",
];

/// The completion items at `offset`. `trigger` is the character whose
/// typing asked for them, if any: a space asks only for units after a
/// number, `:` only for types, `.` only for members (elsewhere they give
/// nothing, so typing does not keep opening the list).
pub fn complete(a: &Analysis, offset: usize, trigger: Option<char>) -> Vec<CompletionItem> {
    let text = a.text();
    let offset = offset.min(text.len());
    let mut offset = offset;
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    // The word being typed is not part of the context.
    let word_start = before
        .char_indices()
        .rev()
        .take_while(|(_, c)| twin_compiler::syntax::lexer::is_ident_continue(*c) || *c == '°')
        .last()
        .map_or(offset, |(i, _)| i);
    let tokens = lex(&text[..word_start], FileId(0)).tokens;
    let toks: Vec<Token<'_>> = tokens.iter().map(|(t, _)| *t).collect();
    let last = toks.last().copied();
    let glued = |i: usize| {
        // Whether token `len - i` ends right where the word starts.
        tokens
            .len()
            .checked_sub(i)
            .and_then(|k| tokens.get(k))
            .is_some_and(|(_, s)| s.end as usize == word_start)
    };
    // `inst.`, `a.b.`
    if last == Some(Token::Punct(Punct::Dot)) && glued(1) {
        return member_items(a, &toks, offset as u32);
    }
    if last == Some(Token::Punct(Punct::ColonColon)) && glued(1) {
        return path_items(a, &toks);
    }
    if matches!(last, Some(Token::Number(_)))
        && !glued(1)
        && !before[line_start..].trim().is_empty()
    {
        return unit_items(a, false);
    }
    if trigger == Some(' ') || trigger == Some('.') {
        return Vec::new();
    }
    let line_first = tokens.partition_point(|(_, s)| (s.start as usize) < line_start);
    if let Some(items) = type_position(&toks, line_first).map(|alarm| {
        if alarm {
            ["info", "warning", "critical"]
                .iter()
                .map(|s| item(s, K::KEYWORD, Some("alarm severity".into())))
                .collect()
        } else {
            unit_items(a, true)
        }
    }) {
        return items;
    }
    if trigger == Some(':') {
        return Vec::new();
    }
    let depth = toks.iter().fold(0i64, |d, t| match t {
        Token::Punct(Punct::LBrace) => d + 1,
        Token::Punct(Punct::RBrace) => (d - 1).max(0),
        _ => d,
    });
    let at_line_start = before[line_start..word_start].trim().is_empty();
    let mut items = Vec::new();
    if at_line_start {
        items.extend(snippets(if depth == 0 {
            ITEM_SNIPPETS
        } else {
            BODY_SNIPPETS
        }));
        if depth == 0 {
            return items;
        }
    }
    items.extend(name_items(a, offset as u32));
    items.extend(
        [
            "if", "then", "else", "and", "or", "not", "true", "false", "der",
        ]
        .iter()
        .map(|k| item(k, K::KEYWORD, None)),
    );
    items
}

fn item(label: &str, kind: K, detail: Option<String>) -> CompletionItem {
    CompletionItem {
        label: label.to_string(),
        kind: Some(kind),
        detail,
        ..CompletionItem::default()
    }
}

/// Whether the tokens end in a type position (one opened on the line
/// whose first token is `line_first`); `Some(true)` for an alarm's
/// severity.
fn type_position(toks: &[Token<'_>], line_first: usize) -> Option<bool> {
    // Skip back over a unit expression being written (`kW/`, `m^`).
    let mut i = toks.len();
    while i > 0 {
        match toks[i - 1] {
            Token::Punct(Punct::Slash | Punct::Star | Punct::Caret | Punct::LParen)
            | Token::Ident(_)
            | Token::Number(_) => i -= 1,
            _ => break,
        }
        // Stop at the name before `:`: `sensor x: ` must not skip `x`.
        if i > 0 && matches!(toks[i - 1], Token::Punct(Punct::Colon | Punct::Arrow)) {
            break;
        }
    }
    if i <= line_first {
        return None;
    }
    let prev = toks.get(i.checked_sub(1)?)?;
    match prev {
        Token::Punct(Punct::Arrow) => Some(false),
        Token::Punct(Punct::Colon) => {
            let name_at = i.checked_sub(2)?;
            let before_name = name_at.checked_sub(1).and_then(|k| toks.get(k));
            match before_name {
                Some(Token::Kw(Kw::Alarm)) => Some(true),
                Some(Token::Kw(
                    Kw::Sensor | Kw::Actuator | Kw::Param | Kw::State | Kw::Var | Kw::Let | Kw::Out,
                )) => Some(false),
                Some(Token::Kw(Kw::Const)) => Some(false),
                // A signature parameter: `(a: ` or `, b: ` inside the
                // parentheses that follow `fn name` or `component Name<..>`.
                Some(Token::Punct(Punct::LParen | Punct::Comma)) => {
                    in_signature(&toks[..name_at]).then_some(false)
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// Whether the innermost open parenthesis belongs to a `fn` or
/// `component` signature.
fn in_signature(toks: &[Token<'_>]) -> bool {
    let mut depth = 0i32;
    for (i, t) in toks.iter().enumerate().rev() {
        match t {
            Token::Punct(Punct::RParen) => depth += 1,
            Token::Punct(Punct::LParen) if depth > 0 => depth -= 1,
            Token::Punct(Punct::LParen) => {
                let head = &toks[..i];
                let mut k = head.len();
                // Skip `<U, V>` generics.
                if k > 0 && head[k - 1] == Token::Punct(Punct::Gt) {
                    while k > 0 && head[k - 1] != Token::Punct(Punct::Lt) {
                        k -= 1;
                    }
                    k = k.saturating_sub(1);
                }
                return k >= 2
                    && matches!(head[k - 1], Token::Ident(_))
                    && matches!(head[k - 2], Token::Kw(Kw::Fn | Kw::Component));
            }
            Token::Punct(Punct::LBrace | Punct::RBrace) => return false,
            _ => {}
        }
    }
    false
}

/// Units; in type position also the named types, enums and unit
/// parameters.
fn unit_items(a: &Analysis, types: bool) -> Vec<CompletionItem> {
    let table = UnitTable::builtin();
    let mut items: Vec<CompletionItem> = table
        .names()
        .chain(PREFIXED.iter().copied())
        .filter_map(|name| {
            let u = table.lookup(name)?;
            let dim = if u.dim.is_dimensionless() {
                "dimensionless".to_string()
            } else {
                u.dim.describe()
            };
            let mut it = item(
                name,
                K::UNIT,
                Some(format!(
                    "{dim} · 1 {name} = {} {}",
                    u.scale,
                    u.dim.si_symbol()
                )),
            );
            if u.is_affine() {
                it.detail = Some(format!("{dim} (absolute scale)"));
            }
            Some(it)
        })
        .collect();
    for (name, d) in &a.index.globals {
        match a.index.defs[*d].kind {
            DefKind::Unit => items.push(item(name, K::UNIT, Some("declared unit".into()))),
            DefKind::Enum if types => items.push(item(name, K::ENUM, Some("enum".into()))),
            _ => {}
        }
    }
    if types {
        for t in ["Real", "Int", "Bool"] {
            items.push(item(t, K::KEYWORD, Some("type".into())));
        }
    }
    items
}

/// The names visible at `offset`.
fn name_items(a: &Analysis, offset: u32) -> Vec<CompletionItem> {
    let index = &a.index;
    let mut items = Vec::new();
    let scope = index.scope_at(offset);
    if let Some(scope) = scope {
        for &d in &scope.names {
            items.push(def_item(a, index, d));
        }
        if scope.body {
            for (n, what) in [("t", "twin time"), ("dt", "the step")] {
                items.push(item(n, K::CONSTANT, Some(what.into())));
            }
        }
    }
    items.push(item("pi", K::CONSTANT, Some("π".into())));
    for (name, d) in &index.globals {
        if index.defs[*d].kind == DefKind::Unit {
            continue;
        }
        let mut it = def_item(a, index, *d);
        it.label = name.clone();
        items.push(it);
    }
    for f in twin_compiler::hir::Builtin::NAMES {
        let mut it = item(f, K::FUNCTION, Some("built-in".into()));
        it.documentation = builtin_doc(f).map(|d| markdown(d.to_string()));
        items.push(it);
    }
    items
}

fn markdown(value: String) -> lsp::Documentation {
    lsp::Documentation::MarkupContent(lsp::MarkupContent {
        kind: lsp::MarkupKind::Markdown,
        value,
    })
}

fn def_item(a: &Analysis, index: &Index, d: usize) -> CompletionItem {
    let def = &index.defs[d];
    let kind = match def.kind {
        DefKind::Twin | DefKind::Component => K::CLASS,
        DefKind::Function | DefKind::Table => K::FUNCTION,
        DefKind::Const => K::CONSTANT,
        DefKind::Unit => K::UNIT,
        DefKind::Enum => K::ENUM,
        DefKind::Variant => K::ENUM_MEMBER,
        DefKind::Input | DefKind::FnParam | DefKind::Generic => K::VARIABLE,
        DefKind::Alarm => K::EVENT,
        DefKind::Instance => K::MODULE,
        DefKind::Scenario | DefKind::Test => K::TEXT,
        _ => K::FIELD,
    };
    let ty = a
        .hir_member(def)
        .and_then(|(_, m)| describe::short(&m.ty, Some(&m.unit), &a.checked.program));
    let detail = match ty {
        Some(ty) => format!("{} : {ty}", def.kind.word()),
        None => def.kind.word().to_string(),
    };
    let mut it = item(&def.name, kind, Some(detail));
    it.documentation = def.doc.clone().map(markdown);
    it
}

/// Members after `a.b.`: resolve the path's names one by one.
fn member_items(a: &Analysis, toks: &[Token<'_>], offset: u32) -> Vec<CompletionItem> {
    let mut names = Vec::new();
    let mut i = toks.len();
    while i >= 2 {
        match (toks[i - 2], toks[i - 1]) {
            (Token::Ident(n), Token::Punct(Punct::Dot)) => {
                names.push(n);
                i -= 2;
            }
            _ => break,
        }
    }
    names.reverse();
    let index = &a.index;
    let Some(first) = names.first() else {
        return Vec::new();
    };
    let scope = index.scope_at(offset);
    let mut cur = scope.and_then(|s| {
        s.names
            .iter()
            .copied()
            .find(|&d| index.defs[d].name == *first)
    });
    for n in &names[1..] {
        cur = cur.and_then(|d| index.defs[d].target).and_then(|t| {
            index
                .members_of(t)
                .into_iter()
                .find(|&m| index.defs[m].name == *n)
        });
    }
    let Some(target) = cur.and_then(|d| index.defs[d].target) else {
        return Vec::new();
    };
    index
        .members_of(target)
        .into_iter()
        .filter(|&m| index.defs[m].kind != DefKind::Input)
        .map(|m| def_item(a, index, m))
        .collect()
}

/// After `Enum::` (variants) and `use std::...::` (modules and items).
fn path_items(a: &Analysis, toks: &[Token<'_>]) -> Vec<CompletionItem> {
    let mut segs = Vec::new();
    let mut i = toks.len();
    while i >= 2 {
        match (toks[i - 2], toks[i - 1]) {
            (Token::Ident(n), Token::Punct(Punct::ColonColon)) => {
                segs.push(n);
                i -= 2;
            }
            _ => break,
        }
    }
    segs.reverse();
    if i > 0 && toks[i - 1] == Token::Kw(Kw::Use) {
        let path = segs.join("::");
        if let Some(m) = stdlib::module(&path) {
            return m
                .ast
                .items
                .iter()
                .filter_map(|it| {
                    let (name, kind) = match &it.kind {
                        twin_compiler::syntax::ast::ItemKind::Component(c) => (&c.name, K::CLASS),
                        twin_compiler::syntax::ast::ItemKind::Fn(f) => (&f.name, K::FUNCTION),
                        twin_compiler::syntax::ast::ItemKind::Const(c) => (&c.name, K::CONSTANT),
                        twin_compiler::syntax::ast::ItemKind::Table(t) => (&t.name, K::FUNCTION),
                        twin_compiler::syntax::ast::ItemKind::Enum(e) => (&e.name, K::ENUM),
                        twin_compiler::syntax::ast::ItemKind::Unit(u) => (&u.name, K::UNIT),
                        _ => return None,
                    };
                    let mut c = item(&name.name, kind, Some(path.clone()));
                    c.documentation = it.doc.clone().map(markdown);
                    Some(c)
                })
                .collect();
        }
        return stdlib::modules()
            .iter()
            .filter_map(|m| m.path.strip_prefix(&format!("{path}::")))
            .map(|rest| item(rest, K::MODULE, Some("standard library module".into())))
            .collect();
    }
    let index = &a.index;
    let Some(enum_name) = segs.last() else {
        return Vec::new();
    };
    let Some(&(_, e)) = index.globals.iter().find(|(n, _)| n == enum_name) else {
        return Vec::new();
    };
    let en = &index.defs[e];
    index
        .defs
        .iter()
        .filter(|d| {
            d.kind == DefKind::Variant
                && d.key.module == en.key.module
                && d.container.as_deref() == Some(en.name.as_str())
        })
        .map(|d| {
            item(
                &d.name,
                K::ENUM_MEMBER,
                Some(format!("variant of {}", en.name)),
            )
        })
        .collect()
}

/// (label, snippet, what it declares)
type Snippet = (&'static str, &'static str, &'static str);

const ITEM_SNIPPETS: &[Snippet] = &[
    (
        "twin",
        "twin ${1:Name} {\n    step ${2:1 s}\n    $0\n}",
        "a deployable twin",
    ),
    (
        "component",
        "component ${1:Name}(${2:x}: ${3:U}) -> ${4:U} {\n    $0\n    return ${2:x}\n}",
        "a reusable body with state",
    ),
    (
        "fn",
        "fn ${1:name}(${2:x}: ${3:1}) -> ${4:1} = ${0:x}",
        "a pure function",
    ),
    (
        "const",
        "const ${1:NAME} = ${0:value}",
        "a compile-time constant",
    ),
    (
        "table",
        "const ${1:curve} = table(${2:X} -> ${3:Y}) { ${4:0}: ${5:0}, ${6:1}: ${0:1} }",
        "a lookup table",
    ),
    ("unit", "unit ${1:name} = ${0:unit}", "a unit"),
    ("enum", "enum ${1:Name} { ${0:A, B} }", "an enum"),
    (
        "use",
        "use std::${1:filters}::${0:Lag}",
        "an import from the standard library",
    ),
    (
        "scenario",
        "scenario ${1:name} for ${2:Twin} {\n    duration ${3:1 h}\n    $0\n}",
        "a what-if run",
    ),
    (
        "test",
        "test \"${1:name}\" for ${2:Twin} {\n    run ${3:1 min}\n    expect ${0:true}\n}",
        "a test",
    ),
];

const BODY_SNIPPETS: &[Snippet] = &[
    (
        "sensor",
        "sensor ${1:name}: ${2:unit} range ${3:0} .. ${4:100} stale after ${5:5 s}",
        "telemetry input",
    ),
    (
        "actuator",
        "actuator ${1:name}: ${2:unit} range ${3:0} .. ${4:100}",
        "command to the asset",
    ),
    (
        "param",
        "param ${1:name}: ${2:unit} = ${0:value}",
        "a value fixed for a run",
    ),
    (
        "state",
        "state ${1:name}: ${2:unit} = ${3:init}\nder(${1:name}) = ${0:rate}",
        "continuous state and its derivative",
    ),
    ("der", "der(${1:state}) = ${0:rate}", "a state's derivative"),
    ("var", "var ${1:name}: ${2:Int} = ${0:0}", "discrete state"),
    ("let", "let ${1:name} = ${0:value}", "a derived signal"),
    (
        "out",
        "out ${1:name} = ${0:value}",
        "a named component result",
    ),
    ("return", "return ${0:value}", "the single component result"),
    (
        "alarm",
        "alarm ${1:name}: ${2|info,warning,critical|} when ${3:condition}${4: for 10 s}",
        "a rule with hysteresis",
    ),
    (
        "on",
        "on ${1:condition} {\n    $0\n}",
        "runs when the condition rises",
    ),
    ("every", "every ${1:1 s} {\n    $0\n}", "runs periodically"),
    ("step", "step ${0:100 ms}", "the twin's fixed step"),
    ("solver", "solver ${0|rk4,euler,dopri5|}", "the integrator"),
];

fn snippets(list: &[Snippet]) -> Vec<CompletionItem> {
    list.iter()
        .map(|(label, body, what)| CompletionItem {
            label: label.to_string(),
            kind: Some(K::SNIPPET),
            detail: Some(what.to_string()),
            insert_text: Some(body.to_string()),
            insert_text_format: Some(InsertTextFormat::SNIPPET),
            ..CompletionItem::default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::ModuleKey;

    /// Completion at the marker `at` (which starts with `|`); every `|`
    /// is removed from the text.
    fn labels(src: &str, at: &str) -> Vec<String> {
        let pos = src.find(at).unwrap_or(0);
        let offset = pos - src[..pos].matches('|').count();
        let text = src.replace('|', "");
        let a = Analysis::new("t.twin", &text, 1, ModuleKey::File("file:///t.twin".into()));
        complete(&a, offset, None)
            .into_iter()
            .map(|c| c.label)
            .collect()
    }

    const SRC: &str = "enum Mode { Off, Idle }\n\
        component Split(x: W) {\n    out main: W = x\n    out rest: W = x\n}\n\
        twin Bus {\n    sensor supply: W = 0 W\n    parts = Split(x: supply)\n    \
        let a = parts.|main\n    let b = 12 |W\n    var m: Mode = Mode::|Off\n    param p: |W = 1 W\n}\n";

    #[test]
    fn members_after_a_dot() {
        let l = labels(SRC, "|main");
        assert!(
            l.contains(&"main".to_string()) && l.contains(&"rest".to_string()),
            "{l:?}"
        );
        assert!(!l.contains(&"x".to_string()), "{l:?}");
    }

    #[test]
    fn units_after_a_number_and_in_type_position() {
        let l = labels(SRC, "|W\n");
        assert!(
            l.contains(&"kW".to_string()) && l.contains(&"degC".to_string()),
            "{l:?}"
        );
        assert!(!l.contains(&"supply".to_string()), "{l:?}");
        let l = labels(SRC, "|W = 1");
        assert!(
            l.contains(&"Real".to_string()) && l.contains(&"Mode".to_string()),
            "{l:?}"
        );
    }

    #[test]
    fn typing_a_space_or_colon_opens_the_list_only_where_it_helps() {
        let src = "twin T {\n    sensor s: A\n    let a = s \n    let b = 2 \n}\n";
        let a = Analysis::new("t.twin", src, 1, ModuleKey::File("file:///t.twin".into()));
        let after_name = src.find("s \n").unwrap_or(0) + 2;
        assert!(complete(&a, after_name, Some(' ')).is_empty());
        assert!(!complete(&a, after_name, None).is_empty());
        let after_number = src.find("2 \n").unwrap_or(0) + 2;
        assert!(
            complete(&a, after_number, Some(' '))
                .iter()
                .any(|c| c.label == "kW")
        );
    }

    #[test]
    fn variants_names_and_snippets() {
        let l = labels(SRC, "|Off");
        assert_eq!(l, vec!["Off".to_string(), "Idle".to_string()]);
        let src = "twin T {\n    sensor s: A\n    |\n}\n";
        let l = labels(src, "|");
        assert!(
            l.contains(&"sensor".to_string()) && l.contains(&"s".to_string()),
            "{l:?}"
        );
        let l = labels("|", "|");
        assert!(
            l.contains(&"twin".to_string()) && l.contains(&"component".to_string()),
            "{l:?}"
        );
    }
}
