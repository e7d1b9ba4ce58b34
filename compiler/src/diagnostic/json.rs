//! Diagnostics as JSON, the `twinc check --format json` contract.
//!
//! Takes diagnostics and the sources they point into; gives a JSON array of
//! objects with `name`, `code`, `severity`, `message`, `file`, `line`,
//! `column`, `end_line`, `end_column` (1-based, columns in `char`s), plus
//! `labels`, `help` and `notes`.

use serde::Serialize;

use super::{Diagnostic, Label};
use crate::source::Sources;

#[derive(Serialize)]
struct JsonLabel<'a> {
    message: &'a str,
    file: &'a str,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
}

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    name: &'static str,
    code: &'static str,
    severity: &'static str,
    message: &'a str,
    file: &'a str,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    label: &'a str,
    labels: Vec<JsonLabel<'a>>,
    help: Option<&'a str>,
    notes: &'a [String],
}

fn position<'a>(sources: &'a Sources, label: &'a Label) -> JsonLabel<'a> {
    let file = sources.get(label.span.file);
    let (line, column) = file.line_col(label.span.start);
    let (end_line, end_column) = file.line_col(label.span.end);
    JsonLabel {
        message: &label.message,
        file: &file.name,
        line,
        column,
        end_line,
        end_column,
    }
}

/// Renders diagnostics as a pretty-printed JSON array.
pub fn to_json(sources: &Sources, diags: &[Diagnostic]) -> String {
    let items: Vec<JsonDiagnostic> = diags
        .iter()
        .map(|d| {
            let at = position(sources, &d.primary);
            JsonDiagnostic {
                name: d.kind.name(),
                code: d.kind.code(),
                severity: d.severity().as_str(),
                message: &d.message,
                file: at.file,
                line: at.line,
                column: at.column,
                end_line: at.end_line,
                end_column: at.end_column,
                label: &d.primary.message,
                labels: d.secondary.iter().map(|l| position(sources, l)).collect(),
                help: d.help.as_deref(),
                notes: &d.notes,
            }
        })
        .collect();
    serde_json::to_string_pretty(&items).unwrap_or_else(|_| "[]".to_string())
}
