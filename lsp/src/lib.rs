//! The twin language server.
//!
//! Takes LSP over stdio (`twinc lsp`); gives the compiler's diagnostics
//! and knowledge in the editor. This crate is the only one that knows the
//! LSP protocol and tokio; the compiler crate stays free of both.
//!
//! - [`server`]: the `LanguageServer` implementation, which only routes;
//! - [`documents`]: open documents, versions, publishing diagnostics;
//! - [`analysis`]: one checked snapshot of a document;
//!   [`incremental`]: the fast path that re-checks only the edited item;
//! - [`index`]: names and their definitions, read by [`navigate`]
//!   (definition, references, rename), [`hover`], [`completion`],
//!   [`outline`] (symbols, inlay hints) and [`tokens`] (semantic tokens);
//! - [`diagnostics`]: compiler diagnostics as LSP diagnostics with their
//!   fix-its, turned into quick fixes by [`actions`] (which also formats);
//! - [`stdlib`]: the standard library as read-only files to navigate into;
//! - [`position`]: byte offsets ↔ UTF-16 positions, the only place that
//!   converts; [`describe`]: types and units in words.

pub mod actions;
pub mod analysis;
pub mod completion;
pub mod describe;
pub mod diagnostics;
pub mod documents;
pub mod hover;
pub mod incremental;
pub mod index;
pub mod navigate;
pub mod outline;
pub mod position;
pub mod server;
pub mod stdlib;
pub mod tokens;

use tower_lsp_server::{ClientSocket, LspService, Server};

use crate::server::Backend;
use crate::stdlib::StdCache;

/// The compiler recurses over syntax trees whose depth the parser bounds;
/// threads that check get the same generous stack as the CLI's.
pub const STACK_SIZE: usize = 256 * 1024 * 1024;

/// The service and the socket its client messages go out on, for running
/// the server over any transport (the tests and benchmarks use pipes).
/// `cache` overrides where stdlib files are written (see [`stdlib`]).
pub fn service(cache: Option<std::path::PathBuf>) -> (LspService<Backend>, ClientSocket) {
    let cache = StdCache::new(cache);
    LspService::new(move |client| Backend::new(client, cache))
}

/// The tokio runtime the server runs on: two workers, big stacks.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_stack_size(STACK_SIZE)
        .enable_all()
        .build()
}

/// Runs the server on stdin/stdout until the client says `exit` (or
/// closes stdin).
pub fn run_stdio() -> std::io::Result<()> {
    runtime()?.block_on(async {
        let (service, socket) = service(None);
        Server::new(tokio::io::stdin(), tokio::io::stdout(), socket)
            .serve(service)
            .await;
    });
    Ok(())
}
