//! `twinc test [PATH...]`: run every `test` block and report.
//!
//! Takes files and folders (default: the current folder); gives a line per
//! test (`ok` or `FAIL`, with the failed expectation, its time and the
//! values involved) and the closing line `N passed, N failed`. Exit status
//! 0 when every test passes, 1 when one fails or a file has errors, 2 on
//! bad usage.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use twin_compiler::codegen::CompiledModel;
use twin_runtime::runs::{Prepared, prepare, run_test};
use twin_runtime::sim::Interpreter;

use crate::load::{self, Failure};

/// Arguments of `twinc test`.
#[derive(Args, Debug)]
pub struct TestArgs {
    /// Files or folders to search for tests (default: the current folder).
    paths: Vec<PathBuf>,
    /// Run only the tests whose name contains this text.
    #[arg(long)]
    filter: Option<String>,
}

/// Runs `twinc test`; gives the exit status.
pub fn run(args: &TestArgs) -> u8 {
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    let mut files = Vec::new();
    for p in &paths {
        match crate::check::twin_files(p) {
            Ok(found) => files.extend(found),
            Err(e) => {
                eprintln!("error: {e}");
                return 2;
            }
        }
    }
    let (mut passed, mut failed, mut broken) = (0usize, 0usize, 0usize);
    for file in &files {
        let loaded = match load::load_and_check(file) {
            Ok(l) => l,
            Err(Failure::Model(text)) => {
                eprint!("{text}");
                broken += 1;
                continue;
            }
            Err(f) => return f.report(),
        };
        let base = file.parent().map(PathBuf::from).unwrap_or_default();
        let program = &loaded.checked.program;
        for run in &program.tests {
            if loaded.sources.get(run.span.file).name != file.display().to_string() {
                continue;
            }
            if args
                .filter
                .as_ref()
                .is_some_and(|f| !run.name.contains(f.as_str()))
            {
                continue;
            }
            let twin = &program.twins[run.twin].name;
            let started = Instant::now();
            let outcome = prepare(program, run, &base).and_then(|p| execute(&p).map(|o| (p, o)));
            let elapsed = started.elapsed().as_secs_f64() * 1e3;
            match outcome {
                Ok((_, outcomes)) if outcomes.iter().all(|o| o.passed) => {
                    passed += 1;
                    println!("ok    {}  ({twin}, {elapsed:.1} ms)", run.name);
                }
                Ok((_, outcomes)) => {
                    failed += 1;
                    println!("FAIL  {}  ({twin})", run.name);
                    for (o, x) in outcomes.iter().zip(&run.expects) {
                        if !o.passed {
                            let (line, _) = loaded.sources.get(x.span.file).line_col(x.span.start);
                            let text = loaded.sources.slice(x.span);
                            println!("      {}:{line}: {text}", file.display());
                            println!("      {}", o.detail);
                        }
                    }
                }
                Err(e) => {
                    failed += 1;
                    println!("FAIL  {}  ({twin})\n      {e}", run.name);
                }
            }
        }
    }
    if broken > 0 {
        println!(
            "{broken} file{} with errors: their tests did not run",
            if broken == 1 { "" } else { "s" }
        );
    }
    println!("{passed} passed, {failed} failed");
    if failed > 0 || broken > 0 { 1 } else { 0 }
}

/// Runs a prepared test on native code, or the interpreter if native
/// compilation fails.
fn execute(p: &Prepared) -> Result<Vec<twin_runtime::runs::Outcome>, String> {
    match CompiledModel::compile(&p.model) {
        Ok(jit) => run_test(p, jit),
        Err(_) => run_test(p, Interpreter),
    }
}
