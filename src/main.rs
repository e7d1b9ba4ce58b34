//! `twinc`: the command-line entry point of the twin toolchain.
//!
//! Takes command-line arguments; gives exit status 0 (clean, or warnings
//! only), 1 (the model has errors) or 2 (bad usage or unreadable input).
//! Subcommands live in their own modules; this file only dispatches.

/// `println!` that never panics: a closed stdout (`twinc test | head`)
/// is not an error worth a crash, so the output is dropped.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// `print!` that never panics (see `outln!`).
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut stdout = std::io::stdout().lock();
        let _ = write!(stdout, $($arg)*);
        let _ = stdout.flush();
    }};
}

/// The compiler builds and drops many small trees, and the runtime many
/// small messages: mimalloc does both faster than the system allocator
/// (BENCHMARKS.md, "Source → JIT-ready").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod check;
mod fmt;
mod history;
mod load;
mod lsp;
mod plot;
mod progress;
mod run;
mod sim;
mod simulate;
mod test;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Check, simulate and run declarative digital twins.
#[derive(Parser)]
#[command(name = "twinc", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check `.twin` files (or every `.twin` file in folders) and report
    /// diagnostics.
    Check(check::CheckArgs),
    /// Run a twin over time and write its signals as CSV.
    Sim(sim::SimArgs),
    /// Run twins in production from a deployment manifest.
    Run(run::RunArgs),
    /// Export a deployment's history (signals, samples, alarms, commands,
    /// rejected samples) as CSV.
    History(history::HistoryArgs),
    /// Run a `scenario` (a what-if study) and report what happened.
    Simulate(simulate::SimulateArgs),
    /// Run the `test` blocks of files or folders.
    Test(test::TestArgs),
    /// Format `.twin` files in the canonical layout.
    Fmt(fmt::FmtArgs),
    /// Run the language server (LSP over stdin/stdout) for editors.
    Lsp(lsp::LspArgs),
}

/// The compiler recurses over the syntax tree; its input is bounded
/// (see `syntax::parser::MAX_NESTING`), and this stack is sized so that the
/// bound holds with room to spare on every platform.
const STACK_SIZE: usize = 256 * 1024 * 1024;

fn main() -> ExitCode {
    let worker = std::thread::Builder::new()
        .name("twinc".into())
        .stack_size(STACK_SIZE)
        .spawn(run);
    match worker.map(|w| w.join()) {
        Ok(Ok(code)) => code,
        _ => {
            eprintln!(
                "error: twinc stopped unexpectedly; please report this with the input that caused it"
            );
            ExitCode::from(2)
        }
    }
}

fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let code = match cli.command {
        Command::Check(args) => check::run(&args),
        Command::Sim(args) => sim::run(&args),
        Command::Run(args) => run::run(&args),
        Command::History(args) => history::run(&args),
        Command::Simulate(args) => simulate::run(&args),
        Command::Test(args) => test::run(&args),
        Command::Fmt(args) => fmt::run(&args),
        Command::Lsp(args) => lsp::run(&args),
    };
    ExitCode::from(code)
}
