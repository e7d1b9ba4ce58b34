//! `twinc test [PATH...]`: run every `test` block and report.
//!
//! Takes files and folders (default: the current folder); gives a line per
//! test (`ok` or `FAIL`, with the failed expectation, its time and the
//! values involved) and the closing line `N passed, N failed`. The tests'
//! twins are lowered and compiled first, together on every core
//! (`CompiledModel::compile_all`); then the tests run on every core, and
//! their lines print in file order as results come in.
//! Exit status 0 when every test passes, 1 when one fails or a file has
//! errors, 2 on bad usage.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

use clap::Args;
use twin_compiler::codegen::{CodegenError, CompiledModel};
use twin_compiler::hir::Run;
use twin_runtime::runs::{Outcome, Prepared, prepare, run_test};
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
    let mut broken = 0usize;
    let mut loaded_files = Vec::new();
    for file in &files {
        match load::load_and_check(file) {
            Ok(l) => loaded_files.push((file, l)),
            Err(Failure::Model(text)) => {
                eprint!("{text}");
                broken += 1;
            }
            Err(f) => return f.report(),
        }
    }
    // One job per selected test, in file order.
    let mut jobs: Vec<Job<'_>> = Vec::new();
    for (file, loaded) in &loaded_files {
        let program = &loaded.checked.program;
        for run in &program.tests {
            let ours = loaded.sources.get(run.span.file).name == file.display().to_string();
            let selected = args
                .filter
                .as_ref()
                .is_none_or(|f| run.name.contains(f.as_str()));
            if ours && selected {
                jobs.push(Job { file, loaded, run });
            }
        }
    }
    // Every test's twin is lowered and compiled first, all of them
    // together on every core (one model's lowering overlapping another's
    // code generation); then the tests run.
    let compiled =
        CompiledModel::compile_all(jobs.len(), SINGLE, |i| jobs[i].prepare(), |p| &p.0.model);
    let ready: Vec<Mutex<Option<Compiled>>> =
        compiled.into_iter().map(|c| Mutex::new(Some(c))).collect();
    let (mut passed, mut failed) = (0usize, 0usize);
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(jobs.len().max(1));
    let next = AtomicUsize::new(0);
    let (send, receive) = mpsc::channel::<(usize, Result)>();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let send = send.clone();
            let (ready, next) = (&ready, &next);
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(compiled) = ready.get(i) else { break };
                    let compiled = compiled.lock().ok().and_then(|mut c| c.take());
                    if send.send((i, execute(compiled))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(send);
        // Print in file order as soon as each next result is in.
        let mut waiting: BTreeMap<usize, Result> = BTreeMap::new();
        let mut shown = 0;
        for (i, result) in receive {
            waiting.insert(i, result);
            while let Some(result) = waiting.remove(&shown) {
                if jobs[shown].report(&result) {
                    passed += 1;
                } else {
                    failed += 1;
                }
                shown += 1;
            }
        }
    });
    if broken > 0 {
        outln!(
            "{broken} file{} with errors: their tests did not run",
            if broken == 1 { "" } else { "s" }
        );
    }
    outln!("{passed} passed, {failed} failed");
    if failed > 0 || broken > 0 { 1 } else { 0 }
}

/// What running one test gives: its expectations' outcomes (or why it
/// could not run) and how long it took in ms.
type Result = (std::result::Result<Vec<Outcome>, String>, f64);

/// One test of one loaded file.
struct Job<'a> {
    file: &'a PathBuf,
    loaded: &'a load::Loaded,
    run: &'a Run,
}

/// A test prepared (with the time that took) and compiled, or why it
/// could not be prepared.
type Compiled = std::result::Result<
    (
        (Prepared, Duration),
        std::result::Result<CompiledModel, CodegenError>,
    ),
    String,
>;

impl Job<'_> {
    /// Prepares the test; gives it with the time that took.
    fn prepare(&self) -> std::result::Result<(Prepared, Duration), String> {
        let started = Instant::now();
        let base = self.file.parent().map(PathBuf::from).unwrap_or_default();
        let program = &self.loaded.checked.program;
        prepare(program, self.run, &base).map(|p| (p, started.elapsed()))
    }

    /// Prints the test's line (and its failures); gives whether it passed.
    fn report(&self, (outcome, ms): &Result) -> bool {
        let twin = &self.loaded.checked.program.twins[self.run.twin].name;
        let name = &self.run.name;
        match outcome {
            Ok(outcomes) if outcomes.iter().all(|o| o.passed) => {
                outln!("ok    {name}  ({twin}, {ms:.1} ms)");
                true
            }
            Ok(outcomes) => {
                outln!("FAIL  {name}  ({twin})");
                for (o, x) in outcomes.iter().zip(&self.run.expects) {
                    if !o.passed {
                        let sources = &self.loaded.sources;
                        let (line, _) = sources.get(x.span.file).line_col(x.span.start);
                        let text = sources.slice(x.span);
                        outln!("      {}:{line}: {text}", self.file.display());
                        outln!("      {}", o.detail);
                    }
                }
                false
            }
            Err(e) => {
                outln!("FAIL  {name}  ({twin})\n      {e}");
                false
            }
        }
    }
}

/// One instance at a time: the fleet entry points are not compiled.
pub const SINGLE: twin_compiler::codegen::Options = twin_compiler::codegen::Options {
    entries: twin_compiler::codegen::Entries::Single,
    opt: twin_compiler::codegen::Opt::Speed,
};

/// Runs a prepared test on its native code, or the interpreter if native
/// compilation failed; its time is that of preparing, compiling and
/// running it.
fn execute(compiled: Option<Compiled>) -> Result {
    let Some(compiled) = compiled else {
        return (Err("the test was not prepared".to_string()), 0.0);
    };
    let ((p, prepare), code) = match compiled {
        Ok(c) => c,
        Err(e) => return (Err(e), 0.0),
    };
    let started = Instant::now();
    let (outcome, compile) = match code {
        Ok(jit) => {
            let compile = jit.compile_time();
            (run_test(&p, jit), compile)
        }
        Err(_) => (run_test(&p, Interpreter), Duration::ZERO),
    };
    let ms = (prepare + compile + started.elapsed()).as_secs_f64() * 1e3;
    (outcome, ms)
}
