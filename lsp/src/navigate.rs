//! Go to definition, find references and rename.
//!
//! Takes analyses (the one of the document asked about, and those of every
//! open document) and a byte offset; gives LSP locations and workspace
//! edits. Definitions in the standard library point at the files of the
//! stdlib cache ([`crate::stdlib`]). References and renames cover every open
//! document that refers to the definition; stdlib items and test names
//! (which are strings) cannot be renamed.

use std::collections::HashMap;
use std::sync::Arc;

use tower_lsp_server::ls_types::{self as lsp, Uri};
use twin_compiler::syntax::lexer::{is_ident_continue, is_ident_start, is_keyword};

use crate::analysis::Analysis;
use crate::diagnostics::range;
use crate::index::{Def, DefKey, DefKind, ModuleKey};
use crate::stdlib::{self, StdCache};

/// An open document and its latest analysis.
pub type OpenDoc = (Uri, Arc<Analysis>);

/// Where a definition's name is written.
pub fn def_location(a: &Analysis, uri: &Uri, def: &Def, cache: &StdCache) -> Option<lsp::Location> {
    if def.key.module == a.key {
        return Some(lsp::Location::new(
            uri.clone(),
            range(&a.lines, def.key.start, def.key.end),
        ));
    }
    match &def.key.module {
        ModuleKey::Std(path) => {
            let module = stdlib::module(path)?;
            Some(lsp::Location::new(
                cache.uri(path)?,
                range(&module.lines, def.key.start, def.key.end),
            ))
        }
        ModuleKey::File(_) => None,
    }
}

/// The definition of the name at `offset`.
pub fn definition(a: &Analysis, uri: &Uri, offset: u32, cache: &StdCache) -> Option<lsp::Location> {
    let occ = a.index.at(offset)?;
    def_location(a, uri, &a.index.defs[occ.def], cache)
}

/// The definition under the cursor, as a key valid across documents.
pub fn key_at(a: &Analysis, offset: u32) -> Option<DefKey> {
    let occ = a.index.at(offset)?;
    Some(a.index.defs[occ.def].key.clone())
}

/// Every written occurrence of `key` in the open documents.
pub fn references(key: &DefKey, docs: &[OpenDoc], include_decl: bool) -> Vec<lsp::Location> {
    let mut out = Vec::new();
    for (uri, a) in docs {
        let Some(def) = a.index.find(key) else {
            continue;
        };
        for o in a.index.uses(def) {
            if o.is_def && !include_decl {
                continue;
            }
            out.push(lsp::Location::new(
                uri.clone(),
                range(&a.lines, o.start, o.end),
            ));
        }
    }
    out
}

/// The range of the name to rename at `offset`, or why it cannot be.
pub fn prepare_rename(a: &Analysis, offset: u32) -> Result<lsp::Range, String> {
    let occ = a
        .index
        .at(offset)
        .ok_or_else(|| "there is no name to rename here".to_string())?;
    let def = &a.index.defs[occ.def];
    if let ModuleKey::Std(path) = def.key.module {
        return Err(format!(
            "`{}` is defined in the standard library (`{path}`) and cannot be renamed",
            def.name
        ));
    }
    if def.kind == DefKind::Test {
        return Err("a test's name is a string: edit it in place".into());
    }
    Ok(range(&a.lines, occ.start, occ.end))
}

/// Whether `name` can name something.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(is_ident_start) && chars.all(is_ident_continue) && !is_keyword(name)
}

/// Renames the definition at `offset` and all its uses in the open
/// documents.
pub fn rename(
    a: &Analysis,
    offset: u32,
    new_name: &str,
    docs: &[OpenDoc],
) -> Result<lsp::WorkspaceEdit, String> {
    prepare_rename(a, offset)?;
    if !valid_name(new_name) {
        return Err(format!("`{new_name}` is not a valid name"));
    }
    let key = key_at(a, offset).ok_or_else(|| "there is no name to rename here".to_string())?;
    let mut changes: HashMap<Uri, Vec<lsp::TextEdit>> = HashMap::new();
    for loc in references(&key, docs, true) {
        changes
            .entry(loc.uri)
            .or_default()
            .push(lsp::TextEdit::new(loc.range, new_name.to_string()));
    }
    Ok(lsp::WorkspaceEdit::new(changes))
}

/// The occurrences of the name under the cursor in this document, for
/// highlighting: definitions as writes, uses as reads.
pub fn highlights(a: &Analysis, offset: u32) -> Vec<lsp::DocumentHighlight> {
    let Some(occ) = a.index.at(offset) else {
        return Vec::new();
    };
    a.index
        .uses(occ.def)
        .map(|o| lsp::DocumentHighlight {
            range: range(&a.lines, o.start, o.end),
            kind: Some(if o.is_def {
                lsp::DocumentHighlightKind::WRITE
            } else {
                lsp::DocumentHighlightKind::READ
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analysis(src: &str) -> Arc<Analysis> {
        Arc::new(Analysis::new(
            "t.twin",
            src,
            1,
            ModuleKey::File("file:///t.twin".into()),
        ))
    }

    fn uri() -> Uri {
        "file:///t.twin".parse().unwrap_or_else(|_| unreachable!())
    }

    const SRC: &str = "use std::filters::Lag\n\
        component Split(x: W, share: 1 = 50 %) {\n    out main: W = share * x\n}\n\
        twin Bus {\n    sensor supply: W = 0 W\n    parts = Split(x: supply, share: 70 %)\n    \
        let heater: W = parts.main + Lag(x: supply, tau: 1 s)\n}\n\
        scenario s for Bus {\n    set supply = 2 W\n}\n";

    #[test]
    fn rename_covers_declaration_uses_paths_and_scenarios() {
        let a = analysis(SRC);
        let at = SRC.find("supply:").unwrap_or(0) as u32;
        let docs = vec![(uri(), a.clone())];
        let edit = rename(&a, at, "feed", &docs);
        let n = edit
            .ok()
            .and_then(|e| e.changes)
            .map_or(0, |c| c.values().map(Vec::len).sum::<usize>());
        // The declaration, two arguments and the scenario's `set`.
        assert_eq!(n, 4);
        let at = SRC.find("main:").unwrap_or(0) as u32;
        let refs = references(
            &key_at(&a, at).unwrap_or_else(|| unreachable!()),
            &docs,
            true,
        );
        assert_eq!(refs.len(), 2, "{refs:?}");
        let at = SRC.find("x: W").unwrap_or(0) as u32;
        let refs = references(
            &key_at(&a, at).unwrap_or_else(|| unreachable!()),
            &docs,
            false,
        );
        assert_eq!(refs.len(), 2, "uses of `x`: {refs:?}");
    }

    #[test]
    fn stdlib_names_cannot_be_renamed_and_bad_names_are_refused() {
        let a = analysis(SRC);
        let lag = SRC.rfind("Lag").unwrap_or(0) as u32;
        assert!(prepare_rename(&a, lag).is_err());
        let docs = vec![(uri(), a.clone())];
        let at = SRC.find("heater").unwrap_or(0) as u32;
        assert!(rename(&a, at, "let", &docs).is_err());
        assert!(rename(&a, at, "2x", &docs).is_err());
        assert!(rename(&a, at, "温度", &docs).is_ok());
    }

    #[test]
    fn definition_of_a_stdlib_component_is_in_the_cache() {
        let a = analysis(SRC);
        let cache = StdCache::new(Some(std::env::temp_dir()));
        let lag = SRC.rfind("Lag").unwrap_or(0) as u32 + 1;
        let loc = definition(&a, &uri(), lag, &cache);
        let Some(loc) = loc else {
            panic!("no definition for Lag");
        };
        assert!(
            loc.uri.as_str().ends_with("std/filters.twin"),
            "{:?}",
            loc.uri
        );
        let text = stdlib::module("std::filters").map_or("", |m| m.text);
        let line = text
            .lines()
            .nth(loc.range.start.line as usize)
            .unwrap_or("");
        assert!(line.starts_with("component Lag"), "{line}");
    }
}
