//! `twinc lsp`: the language server over stdin/stdout.
//!
//! Takes nothing but the LSP messages an editor sends on stdin; gives the
//! replies on stdout (see `twin_lsp`). Exit status 0 after the client's
//! `exit`, 2 when the server cannot start.

use clap::Args;

/// Arguments of `twinc lsp` (none: editors start it as it is).
#[derive(Args, Debug)]
pub struct LspArgs {
    /// Accepted and ignored: some editors pass it to every server.
    #[arg(long, hide = true)]
    stdio: bool,
}

/// Runs the server until the client exits.
pub fn run(_args: &LspArgs) -> u8 {
    match twin_lsp::run_stdio() {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: cannot start the language server: {e}");
            2
        }
    }
}
