//! Reading and checking a model file, shared by the subcommands.
//!
//! Takes a path; gives the checked program with its sources, or a
//! [`Failure`] that knows its exit status (1 for a model with errors, whose
//! diagnostics it prints; 2 for usage and I/O problems, as one line).

use std::io::IsTerminal;
use std::path::Path;

use twin_compiler::check::{Checked, check};
use twin_compiler::diagnostic::render;
use twin_compiler::source::Sources;

/// A checked model file.
pub struct Loaded {
    /// Its sources (the file and the stdlib modules it uses).
    pub sources: Sources,
    /// The check's result (no errors: warnings only).
    pub checked: Checked,
}

/// Why a subcommand stops, with the exit status it implies.
#[derive(Debug)]
pub enum Failure {
    /// Bad usage or unreadable input: exit 2, one line.
    Usage(String),
    /// The model is wrong: exit 1; the text is already rendered.
    Model(String),
}

impl Failure {
    /// A usage or I/O failure.
    pub fn usage(message: String) -> Failure {
        Failure::Usage(message)
    }

    /// A model failure with a one-line explanation.
    pub fn model(message: String) -> Failure {
        Failure::Model(format!("error: {message}\n"))
    }

    /// Prints the failure; gives the exit status.
    pub fn report(self) -> u8 {
        match self {
            Failure::Usage(m) => {
                eprintln!("error: {m}");
                2
            }
            Failure::Model(text) => {
                eprint!("{text}");
                1
            }
        }
    }
}

/// Reads and checks a file; warnings are printed, errors fail.
pub fn load_and_check(path: &Path) -> Result<Loaded, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::usage(format!("cannot read `{}`: {e}", path.display())))?;
    let mut sources = Sources::new();
    let root = sources.add(path.display().to_string(), text);
    let checked = check(&mut sources, root);
    let color = std::io::stderr().is_terminal();
    let rendered = render::render_all(&sources, &checked.diagnostics, color);
    if checked.has_errors() {
        return Err(Failure::Model(rendered));
    }
    eprint!("{rendered}");
    Ok(Loaded { sources, checked })
}

/// The index of the twin to run: the named one, or the only one.
pub fn pick_twin(loaded: &Loaded, name: Option<&str>) -> Result<usize, Failure> {
    let program = &loaded.checked.program;
    let root_twins: Vec<(usize, &str)> = program
        .twins
        .iter()
        .enumerate()
        .filter(|(_, t)| {
            loaded.sources.get(t.span.file).name
                == loaded.sources.get(twin_compiler::span::FileId(0)).name
        })
        .map(|(i, t)| (i, t.name.as_str()))
        .collect();
    match name {
        Some(n) => root_twins
            .iter()
            .find(|(_, t)| *t == n)
            .map(|(i, _)| *i)
            .ok_or_else(|| {
                let names: Vec<&str> = root_twins.iter().map(|(_, t)| *t).collect();
                Failure::usage(format!(
                    "no twin `{n}` in the file; it has: {}",
                    names.join(", ")
                ))
            }),
        None => match root_twins.as_slice() {
            [(i, _)] => Ok(*i),
            [] => Err(Failure::usage("the file has no twin to run".into())),
            many => {
                let names: Vec<&str> = many.iter().map(|(_, t)| *t).collect();
                Err(Failure::usage(format!(
                    "the file has several twins; pick one with --twin ({})",
                    names.join(", ")
                )))
            }
        },
    }
}
