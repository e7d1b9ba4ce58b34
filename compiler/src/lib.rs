//! The `.twin` compiler.
//!
//! Pipeline:
//! 1. lex and parse: [`syntax::parse`] gives a tree and syntax diagnostics;
//! 2. resolve, type and unit check: [`check::check`] loads `use`d stdlib
//!    modules, resolves names, infers and checks types and units, and
//!    gives a [`check::Checked`] program plus diagnostics;
//! 3. report: [`diagnostic::render`] (ariadne text) and
//!    [`diagnostic::json`] (the `--format json` contract).
//!
//! Every phase returns its result *and* its diagnostics, so one run reports
//! every problem and the editor works on broken files.

pub mod check;
pub mod codegen;
pub mod diagnostic;
pub mod format;
pub mod hir;
pub mod interp;
pub mod ir;
pub mod source;
pub mod span;
pub mod stdlib;
pub mod syntax;
pub mod units;
