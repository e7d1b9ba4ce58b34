//! Re-checking only what an edit touched: the fast path behind
//! `didChange`.
//!
//! Takes the last diagnosed text with its diagnostics ([`Base`]) and the
//! new text; gives the new text's diagnostics without checking the whole
//! file, when the edit stays inside one `twin`, `scenario` or `test`.
//!
//! How: the file is cut into top-level items ([`split`], from the tokens,
//! each item owning the comments before it). The edited item is *dirty*,
//! and so is every twin, scenario or test that names a dirty twin (it
//! reads the twin's members). A reduced copy of the file keeps the dirty
//! items, the items they name and every shared item (`use`, `const`,
//! `unit`, `enum`, `fn`, `component`, tables), and blanks everything else
//! with spaces, so every byte offset stays where it was. Checking that
//! copy gives the dirty items' diagnostics; the other items' diagnostics
//! are the previous ones, moved by the edit's length.
//!
//! What this can miss: diagnostics of shared items that depend on the
//! twins (an `unused-definition` warning that appears or disappears
//! because a twin stopped or started using a component). So the server
//! publishes this result at once and then runs the full check, which
//! replaces it if it differs ([`crate::server`]). Everything else (the
//! edit leaves the item, changes a shared item or an item's name, or
//! unbalances braces so items move) returns `None`: check the whole file.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use twin_compiler::diagnostic::{self, Diagnostic};
use twin_compiler::source::Sources;
use twin_compiler::span::{FileId, Span};
use twin_compiler::syntax::lexer::lex;
use twin_compiler::syntax::token::{Kw, Punct, Token};

use crate::analysis::check_text;

/// What kind of top-level item a segment holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SegKind {
    /// Anything other twins may use, and text before the first item.
    Shared,
    /// A `twin`.
    Twin,
    /// A `scenario` or `test`.
    Run,
}

/// One top-level item and the comments before it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
    /// What it is.
    pub kind: SegKind,
    /// The name it defines (a twin's or scenario's name), if any.
    pub name: Option<String>,
    /// Every identifier written in it (shared between versions while
    /// the item is unchanged).
    idents: Arc<HashSet<String>>,
}

/// A diagnosed text: what the next edit starts from.
#[derive(Clone, Debug, Default)]
pub struct Base {
    /// The text.
    pub text: String,
    /// Its diagnostics, with [normalised](normalize) file ids.
    pub diagnostics: Vec<Diagnostic>,
    /// Its top-level items.
    pub segments: Vec<Segment>,
}

impl Base {
    /// A base for `text` with these (normalised) diagnostics.
    pub fn new(text: &str, diagnostics: Vec<Diagnostic>) -> Base {
        Base {
            text: text.to_string(),
            diagnostics,
            segments: split(text),
        }
    }
}

/// Cuts `text` into top-level items.
pub fn split(text: &str) -> Vec<Segment> {
    let tokens = lex(text, FileId(0)).tokens;
    let mut starts = Vec::new();
    let mut depth = 0usize;
    for (i, (tok, _)) in tokens.iter().enumerate() {
        match tok {
            Token::Punct(Punct::LBrace) => depth += 1,
            Token::Punct(Punct::RBrace) => depth = depth.saturating_sub(1),
            t if depth == 0 && is_item_keyword(t) => starts.push(i),
            _ => {}
        }
    }
    let mut segments = Vec::new();
    let boundary = |k: usize| {
        if k == 0 {
            0
        } else {
            tokens[k - 1].1.end as usize
        }
    };
    if starts.first().is_none_or(|&k| boundary(k) > 0) {
        let first = starts.first().copied().unwrap_or(tokens.len());
        segments.push(Segment {
            start: 0,
            end: starts.first().map_or(text.len(), |&k| boundary(k)),
            kind: SegKind::Shared,
            name: None,
            idents: Arc::new(idents(&tokens[..first])),
        });
    }
    for (n, &k) in starts.iter().enumerate() {
        let next = starts.get(n + 1).copied();
        let (kind, name) = kind_and_name(&tokens[k..]);
        segments.push(Segment {
            start: boundary(k),
            end: next.map_or(text.len(), boundary),
            kind,
            name,
            idents: Arc::new(idents(&tokens[k..next.unwrap_or(tokens.len())])),
        });
    }
    segments
}

fn is_item_keyword(t: &Token<'_>) -> bool {
    matches!(
        t,
        Token::Kw(
            Kw::Use
                | Kw::Const
                | Kw::Unit
                | Kw::Enum
                | Kw::Fn
                | Kw::Component
                | Kw::Twin
                | Kw::Scenario
                | Kw::Test
        )
    )
}

/// The kind and name of the item whose keyword starts `tokens`.
fn kind_and_name(tokens: &[(Token<'_>, Span)]) -> (SegKind, Option<String>) {
    let name = match tokens.get(1) {
        Some((Token::Ident(name), _)) => Some(name.to_string()),
        _ => None,
    };
    match tokens.first() {
        Some((Token::Kw(Kw::Twin), _)) => (SegKind::Twin, name),
        Some((Token::Kw(Kw::Scenario), _)) => (SegKind::Run, name),
        Some((Token::Kw(Kw::Test), _)) => (SegKind::Run, None),
        _ => (SegKind::Shared, None),
    }
}

fn idents(tokens: &[(Token<'_>, Span)]) -> HashSet<String> {
    tokens
        .iter()
        .filter_map(|(t, _)| match t {
            Token::Ident(n) => Some(n.to_string()),
            _ => None,
        })
        .collect()
}

/// The edited item re-cut from the new text, if the edit left it one
/// whole item of the same kind and name: its braces balanced, no other
/// item inside, no unterminated string or comment, and the edit before its
/// last token (so the comments after it, which belong to the next item,
/// are untouched).
fn recut(old: &Segment, text: &str, start: usize, end: usize, edit_end: usize) -> Option<Segment> {
    let lexed = lex(text.get(start..end)?, FileId(0));
    if !lexed.diagnostics.is_empty() {
        return None;
    }
    let tokens = &lexed.tokens;
    let first = tokens.iter().position(|(t, _)| is_item_keyword(t))?;
    if first != 0 || start + tokens.last()?.1.end as usize <= edit_end.saturating_sub(1) {
        return None;
    }
    let mut depth = 0usize;
    let mut opened = false;
    for (i, (t, _)) in tokens.iter().enumerate() {
        match t {
            Token::Punct(Punct::LBrace) => {
                depth += 1;
                opened = true;
            }
            Token::Punct(Punct::RBrace) => {
                depth = depth.checked_sub(1)?;
                if depth == 0 && i + 1 != tokens.len() {
                    return None;
                }
            }
            t if i > 0 && is_item_keyword(t) && depth == 0 => return None,
            _ => {}
        }
    }
    if depth != 0 || !opened {
        return None;
    }
    let (kind, name) = kind_and_name(tokens);
    (kind == old.kind && name == old.name).then(|| Segment {
        start,
        end,
        kind,
        name,
        idents: Arc::new(idents(tokens)),
    })
}

/// Gives diagnostics file ids that mean the same in every check: the
/// document is `FileId(0)`, stdlib module `i` of
/// [`twin_compiler::stdlib::MODULES`] is `FileId(1 + i)`, anything else
/// `FileId(u32::MAX)`.
pub fn normalize(diagnostics: &mut [Diagnostic], sources: &Sources, root: FileId) {
    let map = |span: &mut Span| {
        span.file = if span.file == root {
            FileId(0)
        } else {
            sources
                .try_get(span.file)
                .and_then(|f| {
                    twin_compiler::stdlib::MODULES
                        .iter()
                        .position(|(p, _)| *p == f.name)
                })
                .map_or(FileId(u32::MAX), |i| FileId(1 + i as u32))
        };
    };
    for d in diagnostics {
        map(&mut d.primary.span);
        for l in &mut d.secondary {
            map(&mut l.span);
        }
    }
}

/// Checks a whole text; gives normalised diagnostics.
pub fn full_check(name: &str, text: &str) -> Vec<Diagnostic> {
    let (sources, root, checked) = check_text(name, text);
    let mut diagnostics = checked.diagnostics;
    normalize(&mut diagnostics, &sources, root);
    diagnostics
}

/// The diagnostics of `text` computed from `base` (see the module docs),
/// as the base for the next edit; `None` when the edit is not one the fast
/// path handles.
pub fn recheck(base: &Base, name: &str, text: &str) -> Option<Base> {
    let old = base.text.as_str();
    let prefix = common_prefix(old, text);
    let suffix = common_suffix(&old[prefix..], &text[prefix..]);
    let (old_end, new_end) = (old.len() - suffix, text.len() - suffix);
    let delta = text.len() as i64 - old.len() as i64;
    let moved = |pos: usize| (pos as i64 + delta) as usize;
    let d = base
        .segments
        .iter()
        .position(|s| s.start <= prefix && old_end <= s.end)?;
    let edited = &base.segments[d];
    if edited.kind == SegKind::Shared {
        return None;
    }
    let recut = recut(edited, text, edited.start, moved(edited.end), new_end)?;
    let mut segments = base.segments.clone();
    segments[d] = recut;
    for s in &mut segments[d + 1..] {
        s.start = moved(s.start);
        s.end = moved(s.end);
    }
    let mentions = |s: &Segment, name: &str| s.idents.contains(name);
    let twins: HashMap<&str, Vec<usize>> =
        segments
            .iter()
            .enumerate()
            .fold(HashMap::new(), |mut map, (i, s)| {
                if let (SegKind::Twin, Some(n)) = (s.kind, &s.name) {
                    map.entry(n.as_str()).or_default().push(i);
                }
                map
            });
    // Dirty: the edited item, what names a dirty twin, same-named items.
    let mut dirty: HashSet<usize> = HashSet::from([d]);
    let mut queue = vec![d];
    while let Some(i) = queue.pop() {
        let Some(name) = segments[i].name.as_deref() else {
            continue;
        };
        for (j, s) in segments.iter().enumerate() {
            if dirty.contains(&j) {
                continue;
            }
            let named = s.name.as_deref() == Some(name);
            if named || (segments[i].kind == SegKind::Twin && mentions(s, name)) {
                if s.kind == SegKind::Shared {
                    return None;
                }
                dirty.insert(j);
                queue.push(j);
            }
        }
    }
    // Kept: dirty items, shared items, and the twins kept items name.
    let mut keep: HashSet<usize> = dirty.clone();
    keep.extend(
        segments
            .iter()
            .enumerate()
            .filter(|(_, s)| s.kind == SegKind::Shared)
            .map(|(i, _)| i),
    );
    let mut queue: Vec<usize> = dirty.iter().copied().collect();
    while let Some(i) = queue.pop() {
        for n in segments[i].idents.iter() {
            for &j in twins.get(n.as_str()).into_iter().flatten() {
                if keep.insert(j) {
                    queue.push(j);
                }
            }
        }
    }
    let mut bytes = text.as_bytes().to_vec();
    for (i, s) in segments.iter().enumerate() {
        if !keep.contains(&i) {
            for b in &mut bytes[s.start..s.end] {
                if *b != b'\n' {
                    *b = b' ';
                }
            }
        }
    }
    let reduced = String::from_utf8(bytes).ok()?;
    let in_dirty = |pos: u32, segs: &[Segment]| {
        dirty
            .iter()
            .any(|&i| segs[i].start <= pos as usize && (pos as usize) < segs[i].end.max(1))
    };
    let mut out: Vec<Diagnostic> = full_check(name, &reduced)
        .into_iter()
        .filter(|x| x.primary.span.file != FileId(0) || in_dirty(x.primary.span.start, &segments))
        .collect();
    for x in &base.diagnostics {
        if x.primary.span.file != FileId(0) || in_dirty(x.primary.span.start, &base.segments) {
            continue;
        }
        let mut x = x.clone();
        let shift = |span: &mut Span| -> bool {
            if span.file != FileId(0) {
                return true;
            }
            let (s, e) = (span.start as usize, span.end as usize);
            if e <= prefix {
                true
            } else if s >= old_end {
                span.start = moved(s) as u32;
                span.end = moved(e) as u32;
                true
            } else {
                false
            }
        };
        if !shift(&mut x.primary.span) {
            return None;
        }
        x.secondary.retain_mut(|l| shift(&mut l.span));
        out.push(x);
    }
    diagnostic::sort_and_dedup(&mut out);
    Some(Base {
        text: text.to_string(),
        diagnostics: out,
        segments,
    })
}

fn common_prefix(a: &str, b: &str) -> usize {
    let mut n = a
        .as_bytes()
        .iter()
        .zip(b.as_bytes())
        .take_while(|(x, y)| x == y)
        .count();
    while !a.is_char_boundary(n) || !b.is_char_boundary(n) {
        n -= 1;
    }
    n
}

fn common_suffix(a: &str, b: &str) -> usize {
    let mut n = a
        .as_bytes()
        .iter()
        .rev()
        .zip(b.as_bytes().iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    while !a.is_char_boundary(a.len() - n) || !b.is_char_boundary(b.len() - n) {
        n -= 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODEL: &str = "use std::filters::Lag\n\
        component Heat(x: A) -> K {\n    state r: K = 0 K\n    der(r) = x * 1 K/(A*s) - r / 10 s\n    return r\n}\n\
        /// First.\ntwin One {\n    sensor current: A\n    let smooth = Lag(x: current, tau: 3 s)\n    let rise = Heat(x: current)\n}\n\
        twin Two { sensor v: V\n    let w: V = 2 * v\n}\n\
        twin Sys {\n    one = One()\n    let c: A = one.current\n}\n\
        scenario s for One {\n    set current = 1 A\n}\n";

    /// Applies each edit in turn; the fast result must equal a full check.
    fn replay(edits: &[(&str, &str)]) {
        let mut text = MODEL.to_string();
        let mut base = Base::new(&text, full_check("m.twin", &text));
        for (from, to) in edits {
            let Some(at) = text.find(from) else {
                panic!("`{from}` not in the text");
            };
            text.replace_range(at..at + from.len(), to);
            let full = full_check("m.twin", &text);
            let fast = recheck(&base, "m.twin", &text);
            let Some(fast) = fast else {
                panic!("no fast path after `{from}` -> `{to}`");
            };
            assert_eq!(fast.diagnostics, full, "after `{from}` -> `{to}`");
            base = Base::new(&text, full);
        }
    }

    #[test]
    fn fast_path_matches_a_full_check() {
        replay(&[
            ("2 * v", "2 * v + 1 A"),
            ("2 * v + 1 A", "2 * v + 1 V"),
            ("sensor current: A", "sensor curent: A"),
            ("sensor curent: A", "sensor current: A"),
            ("let smooth", "let 🚀 = 1\n    let smooth"),
            ("let 🚀 = 1\n    ", ""),
            ("set current = 1 A", "set current = 1 s"),
            ("let c: A = one.current", "let c: A = one.curren"),
            ("+ 1 V\n", "+ 1 V\n    let 温度 = w\n"),
        ]);
    }

    #[test]
    fn edits_outside_one_item_take_the_slow_path() {
        let base = Base::new(MODEL, full_check("m.twin", MODEL));
        let shared = MODEL.replace("- r / 10 s", "- r / 11 s");
        assert!(recheck(&base, "m.twin", &shared).is_none());
        let renamed = MODEL.replace("twin Two", "twin Three");
        assert!(recheck(&base, "m.twin", &renamed).is_none());
        let inside = MODEL.replace("2 * v", "3 * v");
        assert!(recheck(&base, "m.twin", &inside).is_some());
    }

    #[test]
    fn risky_edits_are_exact_or_refused() {
        let base = Base::new(MODEL, full_check("m.twin", MODEL));
        let edits = [
            ("let w: V", "twin Z { }\n    let w: V"),
            ("let w: V", "}\n    let w: V"),
            ("let w: V", "{\n    let w: V"),
            ("let w: V", "/* open\n    let w: V"),
            ("let w: V", "let w: \"V"),
            ("twin Sys {", "/// doc\ntwin Sys {"),
            ("}\ntwin Sys", "} let q = 1\ntwin Sys"),
            ("sensor v: V", "sensor v: V\n    sensor v: A"),
            ("twin Two", "twin One"),
        ];
        let mut fast = 0;
        for (from, to) in edits {
            let text = MODEL.replacen(from, to, 1);
            assert_ne!(text, MODEL, "`{from}` not found");
            if let Some(got) = recheck(&base, "m.twin", &text) {
                assert_eq!(
                    got.diagnostics,
                    full_check("m.twin", &text),
                    "`{from}` -> `{to}`"
                );
                fast += 1;
            }
        }
        assert!(fast >= 2, "only {fast} edits took the fast path");
    }

    #[test]
    fn items_own_the_comments_before_them() {
        let segs = split(MODEL);
        let one = segs
            .iter()
            .find(|s| s.name.as_deref() == Some("One"))
            .map(|s| &MODEL[s.start..s.end]);
        assert!(one.is_some_and(|t| t.trim_start().starts_with("/// First.")));
    }
}
