//! Compiler diagnostics as LSP diagnostics: the third adapter over
//! [`twin_compiler::diagnostic::Diagnostic`], beside the ariadne and JSON
//! renderers.
//!
//! Takes the compiler's diagnostics with their byte spans; gives LSP
//! diagnostics: the range in UTF-16 positions, severity, the stable code
//! (`E0004`) with source `twinc`, the message followed by the help and
//! notes, secondary labels as related information (into the stdlib cache
//! files when a label points there), `unused-definition` tagged as
//! unnecessary, and the fix-its in `data` for code actions.
//!
//! Fix-its are what the diagnostics' help offers as a replacement: a
//! "did you mean `X`?" replaces the name at the primary span by `X` (for
//! an enum variant, by the part after `::`); the `2 m*x` help replaces the
//! whole quantity literal by its spaced form; "remove the `use`" deletes
//! the import's line. They are read from the help text, which is the
//! compiler's representation of them.

use serde_json::{Value, json};
use tower_lsp_server::ls_types as lsp;
use tower_lsp_server::ls_types::Uri;
use twin_compiler::diagnostic::{Diagnostic, Kind, Severity};
use twin_compiler::span::{FileId, Span};

use crate::position::LineIndex;
use crate::stdlib::{self, StdCache};

/// What converting a file's diagnostics needs. The diagnostics' file ids
/// are [normalised](crate::incremental::normalize): `FileId(0)` is the
/// document, `FileId(1 + i)` stdlib module `i`.
pub struct Context<'a> {
    /// The document.
    pub uri: &'a Uri,
    /// Its text and positions.
    pub lines: &'a LineIndex,
    /// Where stdlib modules are on disk.
    pub cache: &'a StdCache,
}

const ROOT: FileId = FileId(0);

/// The stdlib module a normalised file id names.
fn std_module(file: FileId) -> Option<&'static stdlib::StdModule> {
    let (path, _) = twin_compiler::stdlib::MODULES.get((file.0 as usize).checked_sub(1)?)?;
    stdlib::module(path)
}

/// An edit that fixes a diagnostic.
#[derive(Clone, Debug, PartialEq)]
pub struct Fix {
    /// What the code action says.
    pub title: String,
    /// What to replace.
    pub range: lsp::Range,
    /// With what.
    pub new_text: String,
}

/// An LSP range from a byte span of `lines`' text.
pub fn range(lines: &LineIndex, start: u32, end: u32) -> lsp::Range {
    let a = lines.position(start as usize);
    let b = lines.position(end as usize);
    lsp::Range {
        start: lsp::Position::new(a.line, a.character),
        end: lsp::Position::new(b.line, b.character),
    }
}

/// The location of a span: in the document, or in a stdlib module.
pub fn location(span: Span, cx: &Context) -> Option<lsp::Location> {
    if span.file == ROOT {
        return Some(lsp::Location::new(
            cx.uri.clone(),
            range(cx.lines, span.start, span.end),
        ));
    }
    let module = std_module(span.file)?;
    Some(lsp::Location::new(
        cx.cache.uri(module.path)?,
        range(&module.lines, span.start, span.end),
    ))
}

/// Converts one diagnostic. One whose primary span lies in a stdlib module
/// is shown at the top of the document, naming the module.
pub fn to_lsp(d: &Diagnostic, cx: &Context) -> lsp::Diagnostic {
    let mut message = d.message.clone();
    let in_root = d.primary.span.file == ROOT;
    if !in_root && let Some(m) = std_module(d.primary.span.file) {
        message = format!("in `{}`: {message}", m.path);
    }
    if let Some(help) = &d.help {
        message.push_str(&format!("\nhelp: {help}"));
    }
    for note in &d.notes {
        message.push_str(&format!("\nnote: {note}"));
    }
    let range = if in_root {
        range(cx.lines, d.primary.span.start, d.primary.span.end)
    } else {
        lsp::Range::default()
    };
    let related: Vec<lsp::DiagnosticRelatedInformation> = d
        .secondary
        .iter()
        .filter_map(|l| {
            Some(lsp::DiagnosticRelatedInformation {
                location: location(l.span, cx)?,
                message: if l.message.is_empty() {
                    "related".into()
                } else {
                    l.message.clone()
                },
            })
        })
        .collect();
    let fixes = if in_root { fixes(d, cx) } else { Vec::new() };
    let mut data = json!({ "name": d.kind.name() });
    if !fixes.is_empty() {
        data["fixes"] = Value::Array(
            fixes
                .iter()
                .map(|f| json!({ "title": f.title, "range": f.range, "newText": f.new_text }))
                .collect(),
        );
    }
    lsp::Diagnostic {
        range,
        severity: Some(match d.severity() {
            Severity::Error => lsp::DiagnosticSeverity::ERROR,
            Severity::Warning => lsp::DiagnosticSeverity::WARNING,
        }),
        code: Some(lsp::NumberOrString::String(d.kind.code().into())),
        code_description: None,
        source: Some("twinc".into()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        tags: (d.kind == Kind::UnusedDefinition).then(|| vec![lsp::DiagnosticTag::UNNECESSARY]),
        data: Some(data),
    }
}

/// The fixes a diagnostic's help offers (see the module docs).
pub fn fixes(d: &Diagnostic, cx: &Context) -> Vec<Fix> {
    let Some(help) = &d.help else {
        return Vec::new();
    };
    let text = cx.lines.text();
    let span = d.primary.span;
    let Some(written) = text.get(span.range()) else {
        return Vec::new();
    };
    if let Some(best) = did_you_mean(help) {
        let best = match best.rsplit_once("::") {
            Some((_, last)) if !written.contains("::") => last,
            _ => best,
        };
        if best == written || best.is_empty() {
            return Vec::new();
        }
        return vec![Fix {
            title: format!("Replace `{written}` with `{best}`"),
            range: range(cx.lines, span.start, span.end),
            new_text: best.to_string(),
        }];
    }
    if help.starts_with("to use `")
        && let Some(fixed) = last_backticked(help)
        && let Some((start, end)) = glued_literal(text, span, fixed)
    {
        return vec![Fix {
            title: format!("Write `{fixed}`"),
            range: range(cx.lines, start, end),
            new_text: fixed.to_string(),
        }];
    }
    if help == "remove the `use`" {
        let start = text[..span.start as usize].rfind('\n').map_or(0, |i| i + 1);
        let end = text[span.end as usize..]
            .find('\n')
            .map_or(text.len(), |i| span.end as usize + i + 1);
        return vec![Fix {
            title: "Remove the unused import".into(),
            range: range(cx.lines, start as u32, end as u32),
            new_text: String::new(),
        }];
    }
    Vec::new()
}

/// `X` from "did you mean `X`?".
fn did_you_mean(help: &str) -> Option<&str> {
    help.strip_prefix("did you mean `")?.strip_suffix("`?")
}

/// The text of the last `...` in a help line.
fn last_backticked(help: &str) -> Option<&str> {
    let end = help.rfind('`')?;
    let start = help[..end].rfind('`')?;
    Some(&help[start + 1..end])
}

/// The byte range of the quantity literal that `fixed` respaces: the
/// compiler writes `left op right` as `left  op  right` (one space each
/// side), where the unknown unit at `span` starts `right`.
fn glued_literal(text: &str, span: Span, fixed: &str) -> Option<(u32, u32)> {
    let at = span.start as usize;
    let op = text.get(at.checked_sub(1)?..at)?;
    let sep = format!(" {op} ");
    for (i, _) in fixed.match_indices(&sep) {
        let (left, right) = (&fixed[..i], &fixed[i + sep.len()..]);
        let start = at.checked_sub(1 + left.len())?;
        let end = at + right.len();
        if text.get(start..at - 1) == Some(left) && text.get(at..end) == Some(right) {
            return Some((start as u32, end as u32));
        }
    }
    None
}

/// The fixes stored in an LSP diagnostic's `data` by [`to_lsp`].
pub fn fixes_from_data(d: &lsp::Diagnostic) -> Vec<Fix> {
    let Some(list) = d
        .data
        .as_ref()
        .and_then(|v| v.get("fixes"))
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|f| {
            Some(Fix {
                title: f.get("title")?.as_str()?.to_string(),
                range: serde_json::from_value(f.get("range")?.clone()).ok()?,
                new_text: f.get("newText")?.as_str()?.to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::check_text;

    fn fixes_of(src: &str) -> Vec<(String, String)> {
        let (sources, root, checked) = check_text("t.twin", src);
        let mut diagnostics = checked.diagnostics;
        crate::incremental::normalize(&mut diagnostics, &sources, root);
        let lines = LineIndex::new(src);
        let cache = StdCache::new(Some(std::env::temp_dir()));
        let uri: Uri = "file:///t.twin".parse().unwrap_or_else(|_| unreachable!());
        let cx = Context {
            uri: &uri,
            lines: &lines,
            cache: &cache,
        };
        diagnostics
            .iter()
            .flat_map(|d| fixes(d, &cx))
            .map(|f| {
                let s = lines.offset(crate::position::Position {
                    line: f.range.start.line,
                    character: f.range.start.character,
                });
                let e = lines.offset(crate::position::Position {
                    line: f.range.end.line,
                    character: f.range.end.character,
                });
                (src[s..e].to_string(), f.new_text)
            })
            .collect()
    }

    #[test]
    fn did_you_mean_replaces_the_name() {
        let src = "twin A {\n    sensor current: A\n    let p = curent * 2\n}\n";
        assert_eq!(
            fixes_of(src),
            vec![("curent".to_string(), "current".to_string())]
        );
    }

    #[test]
    fn enum_variant_fix_replaces_the_variant_only() {
        let src = "enum Mode { Off, Idle }\ntwin A {\n    var m: Mode = Mode::Idel\n}\n";
        assert_eq!(
            fixes_of(src),
            vec![("Idel".to_string(), "Idle".to_string())]
        );
    }

    #[test]
    fn glued_unit_is_respaced() {
        let src = "twin G {\n    param x = 3\n    let bad = 2 m*x\n}\n";
        assert_eq!(
            fixes_of(src),
            vec![("2 m*x".to_string(), "2 m * x".to_string())]
        );
    }

    #[test]
    fn unknown_unit_suggests_a_unit() {
        let src = "twin G {\n    let p = 3 kw\n}\n";
        assert_eq!(fixes_of(src), vec![("kw".to_string(), "kW".to_string())]);
    }
}
