//! `twinc check PATH...`: parse and check models, print diagnostics.
//!
//! Takes files and folders (folders are searched recursively for `.twin`
//! files); gives diagnostics on stderr as text, or on stdout as one JSON
//! array with `--format json`, and the exit status of the contract: 0 when
//! clean or only warnings, 1 on errors, 2 when a path cannot be read.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use twin_compiler::check::check;
use twin_compiler::diagnostic::{Diagnostic, json, render};
use twin_compiler::source::Sources;

/// Output formats of `twinc check`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Human-readable reports with source excerpts.
    Text,
    /// One JSON array of diagnostics on stdout.
    Json,
}

/// When to colour text output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Color {
    /// When stderr is a terminal.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Arguments of `twinc check`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Files or folders to check.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Colour in text output.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    color: Color,
}

/// Every `.twin` file under `path` (or `path` itself), sorted.
pub fn twin_files(path: &Path) -> Result<Vec<PathBuf>, String> {
    let meta =
        std::fs::metadata(path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    if meta.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut dirs = vec![path.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries = std::fs::read_dir(&dir)
            .map_err(|e| format!("cannot read folder `{}`: {e}", dir.display()))?;
        for entry in entries.flatten() {
            let p = entry.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "twin") {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Runs `twinc check`; gives the exit status.
pub fn run(args: &CheckArgs) -> u8 {
    let mut files = Vec::new();
    for p in &args.paths {
        match twin_files(p) {
            Ok(found) => files.extend(found),
            Err(e) => {
                eprintln!("error: {e}");
                return 2;
            }
        }
    }
    let color = match args.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::io::stderr().is_terminal(),
    };
    let mut all_json = Vec::new();
    let (mut errors, mut warnings, mut unreadable) = (0, 0, 0);
    for file in &files {
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) => {
                // The other files are still checked and reported; the exit
                // status says that one could not be read.
                eprintln!("error: cannot read `{}`: {e}", file.display());
                unreadable += 1;
                continue;
            }
        };
        let mut sources = Sources::new();
        let root = sources.add(file.display().to_string(), text);
        let checked = check(&mut sources, root);
        let diags: &[Diagnostic] = &checked.diagnostics;
        errors += diags.iter().filter(|d| d.is_error()).count();
        warnings += diags.iter().filter(|d| !d.is_error()).count();
        match args.format {
            Format::Json => {
                let value: serde_json::Value =
                    serde_json::from_str(&json::to_json(&sources, diags)).unwrap_or_default();
                if let serde_json::Value::Array(items) = value {
                    all_json.extend(items);
                }
            }
            Format::Text => eprint!("{}", render::render_all(&sources, diags, color)),
        }
    }
    match args.format {
        Format::Json => outln!(
            "{}",
            serde_json::to_string_pretty(&all_json).unwrap_or_else(|_| "[]".into())
        ),
        Format::Text => {
            let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
            if errors + warnings > 0 {
                eprintln!(
                    "{}: {}, {}",
                    plural(files.len(), "file"),
                    plural(errors, "error"),
                    plural(warnings, "warning")
                );
            }
        }
    }
    if unreadable > 0 {
        2
    } else if errors > 0 {
        1
    } else {
        0
    }
}
