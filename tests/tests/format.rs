//! The formatter on every `.twin` file of the project and on generated
//! models: it changes only whitespace (the tokens and comments are the
//! same before and after), and formatting its output changes nothing.

use std::path::{Path, PathBuf};

use twin_compiler::format::format;
use twin_compiler::span::FileId;
use twin_compiler::syntax::lexer::lex;

/// Every `.twin` file under `dir`.
fn twin_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            twin_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "twin") {
            out.push(p);
        }
    }
}

/// The tokens and comments of a text, without positions.
fn words(text: &str) -> Vec<String> {
    let lexed = lex(text, FileId(0));
    let mut pieces: Vec<(u32, String)> = lexed
        .tokens
        .iter()
        .map(|(t, s)| (s.start, format!("{t:?}")))
        .chain(lexed.comments.iter().map(|s| {
            let body = &text[s.start as usize..s.end as usize];
            // Block comments keep their inner lines; only trailing spaces go.
            let lines: Vec<&str> = body.lines().map(str::trim_end).collect();
            (s.start, lines.join("\n"))
        }))
        .collect();
    pieces.sort();
    pieces.into_iter().map(|(_, w)| w).collect()
}

/// Checks one text; gives whether it was formattable (no syntax errors).
fn check(name: &str, text: &str) -> bool {
    let Ok(once) = format(text) else {
        return false;
    };
    assert_eq!(
        words(text),
        words(&once),
        "{name}: formatting changed a token"
    );
    let twice = format(&once).unwrap_or_else(|d| panic!("{name}: output does not parse: {d:?}"));
    assert_eq!(once, twice, "{name}: formatting is not idempotent");
    true
}

#[test]
fn every_project_file_keeps_its_tokens_and_formats_idempotently() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for dir in ["tests/data", "stdlib", "examples"] {
        twin_files(&root.join(dir), &mut files);
    }
    let shared = root.join("../shared/conformance");
    if shared.exists() {
        twin_files(&shared, &mut files);
    }
    let mut formatted = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        if check(&file.display().to_string(), &text) {
            formatted += 1;
        }
    }
    assert!(formatted > 100, "only {formatted} of {} files", files.len());
}

#[test]
fn generated_models_keep_their_tokens_and_format_idempotently() {
    for lines in [50, 400, 3000] {
        let text = twin_tests::generated_model(lines);
        assert!(check(&format!("generated {lines}"), &text));
    }
}

#[test]
fn the_project_is_formatted() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    twin_files(&root.join("stdlib"), &mut files);
    twin_files(&root.join("examples"), &mut files);
    twin_files(&root.join("tests/data/bench"), &mut files);
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let formatted = format(&text).unwrap_or_default();
        assert!(
            formatted == text,
            "{} is not formatted: run `twinc fmt` on it",
            file.display()
        );
    }
}
