//! The twin language server.
//!
//! Takes editor requests (LSP over stdio, to come with the editor issue);
//! gives the compiler's diagnostics and knowledge in the editor. This crate
//! is the only one that knows the LSP protocol; the compiler crate stays
//! free of it. For now it holds [`position`], the conversion between the
//! compiler's byte offsets and LSP positions, which every feature needs.

pub mod position;
