//! Diagnostics as human-readable text, through ariadne.
//!
//! Takes diagnostics and the sources they point into; gives the rendered
//! report, with or without colour. This is the only module that knows
//! ariadne. Spans are byte offsets ([`IndexType::Byte`]); the lexer keeps
//! them on `char` boundaries, which ariadne's byte mode needs.

use ariadne::{Color, Config, IndexType, Label as ALabel, Report, ReportKind};

use super::{Diagnostic, Severity};
use crate::source::Sources;

/// Renders one diagnostic to text.
pub fn render(sources: &Sources, diag: &Diagnostic, color: bool) -> String {
    let mut out = Vec::new();
    let file_name = |id| sources.get(id).name.clone();
    let span_of = |s: crate::span::Span| (file_name(s.file), s.range());
    let (kind, accent) = match diag.severity() {
        Severity::Error => (ReportKind::Error, Color::Red),
        Severity::Warning => (ReportKind::Warning, Color::Yellow),
    };
    let config = Config::new()
        .with_index_type(IndexType::Byte)
        .with_color(color);
    let mut report = Report::build(kind, span_of(diag.primary.span))
        .with_config(config)
        .with_code(format!("{}/{}", diag.kind.code(), diag.kind.name()))
        .with_message(&diag.message);
    // Ariadne starts a new section whenever a label lies above the one
    // before it, so labels go in in source order, primary among them.
    let mut labels: Vec<(&crate::diagnostic::Label, bool)> = std::iter::once((&diag.primary, true))
        .chain(diag.secondary.iter().map(|l| (l, false)))
        .collect();
    labels.sort_by_key(|(l, _)| (l.span.file, l.span.start, l.span.end));
    for (label, is_primary) in labels {
        let mut l = ALabel::new(span_of(label.span));
        if !label.message.is_empty() {
            l = l.with_message(&label.message);
        }
        if color {
            l = l.with_color(if is_primary { accent } else { Color::Blue });
        }
        report = report.with_label(l);
    }
    if let Some(help) = &diag.help {
        report = report.with_help(help);
    }
    for note in &diag.notes {
        report = report.with_note(note);
    }
    let cache = ariadne::sources(
        sources
            .iter()
            .map(|(_, f)| (f.name.clone(), f.text.clone())),
    );
    if report.finish().write(cache, &mut out).is_err() {
        return format!("{}: {}\n", diag.kind.name(), diag.message);
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Renders many diagnostics, one after the other.
pub fn render_all(sources: &Sources, diags: &[Diagnostic], color: bool) -> String {
    diags.iter().map(|d| render(sources, d, color)).collect()
}
