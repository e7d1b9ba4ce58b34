//! Code actions and formatting.
//!
//! Takes the diagnostics an editor sends with a code-action request (each
//! carries its fixes in `data`, put there by [`crate::diagnostics`]), or a
//! document's text; gives quick fixes as workspace edits, or the edits of
//! "format document" from [`twin_compiler::format::format`]. Both are
//! stateless: they need nothing but what the request carries.

use std::collections::HashMap;

use tower_lsp_server::ls_types::{self as lsp, Uri};

use crate::diagnostics::fixes_from_data;
use crate::position::LineIndex;

/// One quick fix per fix-it of each diagnostic.
pub fn quick_fixes(uri: &Uri, diagnostics: &[lsp::Diagnostic]) -> lsp::CodeActionResponse {
    let mut out = Vec::new();
    for d in diagnostics {
        for fix in fixes_from_data(d) {
            let edit = lsp::TextEdit::new(fix.range, fix.new_text);
            let changes = HashMap::from([(uri.clone(), vec![edit])]);
            out.push(lsp::CodeActionOrCommand::CodeAction(lsp::CodeAction {
                title: fix.title,
                kind: Some(lsp::CodeActionKind::QUICKFIX),
                diagnostics: Some(vec![d.clone()]),
                edit: Some(lsp::WorkspaceEdit::new(changes)),
                is_preferred: Some(true),
                ..lsp::CodeAction::default()
            }));
        }
    }
    out
}

/// The edits that format `text`: none when it is formatted already, one
/// replacing the whole text otherwise. Fails, saying why, on a file with
/// syntax errors, which is never reformatted.
pub fn format(text: &str) -> Result<Vec<lsp::TextEdit>, String> {
    let formatted = twin_compiler::format::format(text).map_err(|d| {
        let n = d.len();
        format!(
            "not formatted: the file has {n} syntax error{}",
            if n == 1 { "" } else { "s" }
        )
    })?;
    if formatted == text {
        return Ok(Vec::new());
    }
    let lines = LineIndex::new(text);
    let end = lines.position(text.len());
    Ok(vec![lsp::TextEdit::new(
        lsp::Range::new(
            lsp::Position::new(0, 0),
            lsp::Position::new(end.line, end.character),
        ),
        formatted,
    )])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_replaces_the_whole_text_or_nothing() {
        let edits = format("twin A {\nlet x=1\n}\n").unwrap_or_default();
        assert_eq!(edits.len(), 1);
        assert_eq!(edits[0].new_text, "twin A {\n    let x = 1\n}\n");
        assert_eq!(edits[0].range.end, lsp::Position::new(3, 0));
        assert_eq!(format("twin A {\n    let x = 1\n}\n"), Ok(Vec::new()));
        assert!(format("twin A {").is_err());
    }
}
