//! `twinc fmt [--check] PATH...`: the canonical layout of `.twin` files.
//!
//! Takes files and folders (folders searched for `.twin` files), or `-`
//! for standard input; gives the files rewritten in place in the layout of
//! [`twin_compiler::format`] (or, for `-`, the result on stdout). With
//! `--check` nothing is written: each file that is not formatted is named
//! with its first differing line, and the exit status is 1. A file with
//! syntax errors is reported and left alone (exit 1); unreadable paths
//! are exit 2.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;

use clap::Args;
use twin_compiler::diagnostic::render::render_all;
use twin_compiler::format::format;
use twin_compiler::source::Sources;

/// Arguments of `twinc fmt`.
#[derive(Args, Debug)]
pub struct FmtArgs {
    /// Files or folders to format; `-` reads stdin and writes stdout.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Change nothing; fail if a file is not formatted.
    #[arg(long)]
    check: bool,
}

/// Runs `twinc fmt`; gives the exit status.
pub fn run(args: &FmtArgs) -> u8 {
    if args.paths.len() == 1 && args.paths[0].as_os_str() == "-" {
        return stdin(args.check);
    }
    let mut files = Vec::new();
    for p in &args.paths {
        match crate::check::twin_files(p) {
            Ok(found) => files.extend(found),
            Err(e) => {
                eprintln!("error: {e}");
                return 2;
            }
        }
    }
    let mut status = 0;
    let (mut changed, mut broken) = (0usize, 0usize);
    for file in &files {
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: cannot read `{}`: {e}", file.display());
                return 2;
            }
        };
        let formatted = match format(&text) {
            Ok(f) => f,
            Err(diagnostics) => {
                report(&file.display().to_string(), &text, &diagnostics);
                broken += 1;
                status = 1;
                continue;
            }
        };
        if formatted == text {
            continue;
        }
        changed += 1;
        if args.check {
            let line = first_difference(&text, &formatted);
            outln!("{}:{line}: not formatted", file.display());
            status = 1;
        } else if let Err(e) = std::fs::write(file, &formatted) {
            eprintln!("error: cannot write `{}`: {e}", file.display());
            return 2;
        } else {
            outln!("formatted {}", file.display());
        }
    }
    if broken > 0 {
        eprintln!(
            "{broken} file{} with syntax errors left alone",
            if broken == 1 { "" } else { "s" }
        );
    }
    if args.check && changed > 0 {
        eprintln!(
            "{changed} of {} file{} not formatted; run `twinc fmt` on {}",
            files.len(),
            if files.len() == 1 { "" } else { "s" },
            if changed == 1 { "it" } else { "them" }
        );
    }
    status
}

fn stdin(check: bool) -> u8 {
    let mut text = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut text) {
        eprintln!("error: cannot read stdin: {e}");
        return 2;
    }
    match format(&text) {
        Ok(formatted) if check => u8::from(formatted != text),
        Ok(formatted) => {
            out!("{formatted}");
            0
        }
        Err(diagnostics) => {
            report("<stdin>", &text, &diagnostics);
            1
        }
    }
}

fn report(name: &str, text: &str, diagnostics: &[twin_compiler::diagnostic::Diagnostic]) {
    let mut sources = Sources::new();
    sources.add(name.to_string(), text.to_string());
    let color = std::io::stderr().is_terminal();
    eprint!("{}", render_all(&sources, diagnostics, color));
}

/// The 1-based line where two texts first differ.
fn first_difference(a: &str, b: &str) -> usize {
    a.lines()
        .zip(b.lines())
        .position(|(x, y)| x != y)
        .unwrap_or_else(|| a.lines().count().min(b.lines().count()))
        + 1
}
