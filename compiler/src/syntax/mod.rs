//! Syntax: text to tree.
//!
//! Takes a file's text; gives its [`ast::Module`] and syntax diagnostics.
//! [`lexer`] makes tokens (deciding quantity literals), [`parser`] builds the
//! tree with error recovery. This is the only module that knows chumsky.

pub mod ast;
pub mod lexer;
pub mod parser;
pub mod token;

pub use parser::{Parsed, parse, parse_expr};
