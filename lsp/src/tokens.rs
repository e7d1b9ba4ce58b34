//! Semantic tokens: colouring by meaning.
//!
//! Takes an analysis; gives the LSP's relative-encoded token list over the
//! whole document. Keywords, numbers, strings and comments come from the
//! lexer (doc comments carry the `documentation` modifier; block comments
//! are cut at line ends). A name gets the kind of what it denotes, from
//! the [`crate::index`]: twins and components are classes, sensors and
//! other signals variables (sensors, params and constants `readonly`),
//! inputs and function parameters parameters, alarms events, units types;
//! the defining occurrence carries `declaration`, stdlib items and
//! built-ins `defaultLibrary`.

use tower_lsp_server::ls_types::{
    SemanticToken, SemanticTokenModifier as M, SemanticTokenType as T, SemanticTokensLegend,
};
use twin_compiler::syntax::lexer::lex;
use twin_compiler::syntax::token::{CONTEXTUAL, Token};

use crate::analysis::Analysis;
use crate::index::{DefKind, ModuleKey};

const TYPES: [T; 15] = [
    T::NAMESPACE,
    T::TYPE,
    T::CLASS,
    T::ENUM,
    T::ENUM_MEMBER,
    T::FUNCTION,
    T::PARAMETER,
    T::VARIABLE,
    T::PROPERTY,
    T::KEYWORD,
    T::COMMENT,
    T::STRING,
    T::NUMBER,
    T::TYPE_PARAMETER,
    T::EVENT,
];

const MODIFIERS: [M; 4] = [
    M::DECLARATION,
    M::READONLY,
    M::DEFAULT_LIBRARY,
    M::DOCUMENTATION,
];

const DECLARATION: u32 = 1;
const READONLY: u32 = 2;
const DEFAULT_LIBRARY: u32 = 4;
const DOCUMENTATION: u32 = 8;

fn ty(t: &T) -> u32 {
    TYPES.iter().position(|x| x == t).unwrap_or(0) as u32
}

/// The legend the server announces.
pub fn legend() -> SemanticTokensLegend {
    SemanticTokensLegend {
        token_types: TYPES.to_vec(),
        token_modifiers: MODIFIERS.to_vec(),
    }
}

fn def_type(kind: DefKind) -> (T, u32) {
    match kind {
        DefKind::Twin | DefKind::Component => (T::CLASS, 0),
        DefKind::Function | DefKind::Table => (T::FUNCTION, 0),
        DefKind::Const => (T::VARIABLE, READONLY),
        DefKind::Unit => (T::TYPE, 0),
        DefKind::Enum => (T::ENUM, 0),
        DefKind::Variant => (T::ENUM_MEMBER, 0),
        DefKind::Input | DefKind::FnParam => (T::PARAMETER, 0),
        DefKind::Generic => (T::TYPE_PARAMETER, 0),
        DefKind::Sensor | DefKind::Param => (T::VARIABLE, READONLY),
        DefKind::Alarm => (T::EVENT, 0),
        DefKind::Scenario | DefKind::Test => (T::NAMESPACE, 0),
        DefKind::Actuator
        | DefKind::State
        | DefKind::Var
        | DefKind::Let
        | DefKind::Instance
        | DefKind::Out => (T::VARIABLE, 0),
    }
}

/// The semantic tokens of the whole document.
pub fn tokens(a: &Analysis) -> Vec<SemanticToken> {
    let text = a.text();
    let index = &a.index;
    // (start, end, type, modifiers), in bytes.
    let mut raw: Vec<(u32, u32, u32, u32)> = Vec::new();
    let name_token = |start: u32, end: u32| -> Option<(u32, u32)> {
        let i = index.occurrences.partition_point(|o| o.start < start);
        if let Some(o) = index
            .occurrences
            .get(i)
            .filter(|o| o.start == start && o.end == end)
        {
            let def = &index.defs[o.def];
            let (t, mut m) = def_type(def.kind);
            if o.is_def {
                m |= DECLARATION;
            }
            if matches!(def.key.module, ModuleKey::Std(_)) && def.key.module != a.key {
                m |= DEFAULT_LIBRARY;
            }
            return Some((ty(&t), m));
        }
        if index.unit_names.binary_search(&(start, end)).is_ok() {
            return Some((ty(&T::TYPE), 0));
        }
        None
    };
    for (tok, span) in lex(text, a.root).tokens {
        let (s, e) = (span.start, span.end);
        match tok {
            Token::Kw(_) => raw.push((s, e, ty(&T::KEYWORD), 0)),
            Token::Number(_) => raw.push((s, e, ty(&T::NUMBER), 0)),
            Token::Str(_) => raw.push((s, e, ty(&T::STRING), 0)),
            Token::Ident(w) => {
                if let Some((t, m)) = name_token(s, e) {
                    raw.push((s, e, t, m));
                } else if matches!(w, "t" | "dt" | "pi") {
                    raw.push((s, e, ty(&T::VARIABLE), READONLY | DEFAULT_LIBRARY));
                } else if twin_compiler::hir::Builtin::NAMES.contains(&w) {
                    raw.push((s, e, ty(&T::FUNCTION), DEFAULT_LIBRARY));
                } else if CONTEXTUAL.contains(&w) {
                    raw.push((s, e, ty(&T::KEYWORD), 0));
                }
            }
            Token::Unit(_) => {
                // Each unit name inside a compact unit (`kW`, `m` and `s`
                // of `m/s^2`).
                let i = index.unit_names.partition_point(|u| u.0 < s);
                let mut found = false;
                for &(us, ue) in index.unit_names[i..].iter().take_while(|u| u.1 <= e) {
                    raw.push((us, ue, ty(&T::TYPE), 0));
                    found = true;
                }
                let j = index.occurrences.partition_point(|o| o.start < s);
                for o in index.occurrences[j..].iter().take_while(|o| o.end <= e) {
                    raw.push((o.start, o.end, ty(&T::TYPE), 0));
                    found = true;
                }
                if !found {
                    raw.push((s, e, ty(&T::TYPE), 0));
                }
            }
            Token::Punct(_) | Token::Error(_) => {}
        }
    }
    for c in &a.parsed.comments {
        let body = text.get(c.range()).unwrap_or("");
        let doc = body.starts_with("///") && !body.starts_with("////") || body.starts_with("//!");
        let mods = if doc { DOCUMENTATION } else { 0 };
        // One token per line of the comment.
        let mut at = c.start as usize;
        for line in body.split('\n') {
            let end = at + line.len();
            if !line.trim().is_empty() {
                raw.push((at as u32, end as u32, ty(&T::COMMENT), mods));
            }
            at = end + 1;
        }
    }
    raw.sort_by_key(|r| (r.0, r.1));
    raw.dedup_by_key(|r| r.0);
    encode(a, &raw)
}

fn encode(a: &Analysis, raw: &[(u32, u32, u32, u32)]) -> Vec<SemanticToken> {
    let mut out = Vec::with_capacity(raw.len());
    let (mut line, mut col) = (0u32, 0u32);
    let mut last_end = 0u32;
    for &(s, e, t, m) in raw {
        if s < last_end {
            continue;
        }
        let p = a.lines.position(s as usize);
        let q = a.lines.position(e as usize);
        if q.line != p.line || q.character <= p.character {
            continue;
        }
        let delta_line = p.line - line;
        let delta_start = if delta_line == 0 {
            p.character - col
        } else {
            p.character
        };
        out.push(SemanticToken {
            delta_line,
            delta_start,
            length: q.character - p.character,
            token_type: t,
            token_modifiers_bitset: m,
        });
        line = p.line;
        col = p.character;
        last_end = e;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keywords_units_and_comments_are_classified() {
        let src = "/// Doc 🚀.\ntwin 温度 {\n    sensor x: kW\n    let y = 2 * x /* a\n b */\n}\n";
        let a = Analysis::new("t.twin", src, 1, ModuleKey::File("file:///t.twin".into()));
        let toks = tokens(&a);
        // Decode back to absolute (line, column, length, type).
        let mut line = 0;
        let mut col = 0;
        let mut abs = Vec::new();
        for t in &toks {
            if t.delta_line > 0 {
                line += t.delta_line;
                col = t.delta_start;
            } else {
                col += t.delta_start;
            }
            abs.push((
                line,
                col,
                t.length,
                TYPES[t.token_type as usize].as_str().to_string(),
                t.token_modifiers_bitset,
            ));
        }
        let want = [
            (0, 0, 11, "comment", DOCUMENTATION),
            (1, 0, 4, "keyword", 0),
            (1, 5, 2, "class", DECLARATION),
            (2, 4, 6, "keyword", 0),
            (2, 11, 1, "variable", READONLY | DECLARATION),
            (2, 14, 2, "type", 0),
            (3, 4, 3, "keyword", 0),
            (3, 8, 1, "variable", DECLARATION),
            (3, 12, 1, "number", 0),
            (3, 16, 1, "variable", READONLY),
            (3, 18, 4, "comment", 0),
            (4, 0, 5, "comment", 0),
        ];
        let got: Vec<(u32, u32, u32, &str, u32)> = abs
            .iter()
            .map(|(l, c, n, t, m)| (*l, *c, *n, t.as_str(), *m))
            .collect();
        assert_eq!(got, want);
    }
}
