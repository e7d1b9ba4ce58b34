//! One checked snapshot of a document.
//!
//! Takes a document's text and version; gives an [`Analysis`]: the syntax
//! tree, the compiler's [`Checked`] result (typed program and
//! diagnostics), the [`Index`] of names, and position conversion, all for
//! exactly that version. Analyses are immutable and shared (`Arc`) between
//! the requests that read them; a newer version gets a new analysis.

use twin_compiler::check::{Checked, check};
use twin_compiler::hir::{Body, Member};
use twin_compiler::source::Sources;
use twin_compiler::span::FileId;
use twin_compiler::syntax::{self, Parsed};

use crate::index::{self, Def, DefKind, Index, ModuleKey};
use crate::position::LineIndex;

/// A checked document.
pub struct Analysis {
    /// The document version this is the analysis of.
    pub version: i32,
    /// The module the document is (a user file, or a stdlib module
    /// opened from the cache folder).
    pub key: ModuleKey,
    /// The text, and conversion between offsets and positions.
    pub lines: LineIndex,
    /// The syntax tree and comment spans.
    pub parsed: Parsed,
    /// The document and the stdlib modules it loaded.
    pub sources: Sources,
    /// The document's id in `sources`.
    pub root: FileId,
    /// The compiler's result.
    pub checked: Checked,
    /// Names and their definitions.
    pub index: Index,
}

/// Checks `text` as a file named `name`, as `twinc check` does.
pub fn check_text(name: &str, text: &str) -> (Sources, FileId, Checked) {
    let mut sources = Sources::new();
    let root = sources.add(name, text);
    let checked = check(&mut sources, root);
    (sources, root, checked)
}

impl Analysis {
    /// Parses, checks and indexes `text`.
    pub fn new(name: &str, text: &str, version: i32, key: ModuleKey) -> Analysis {
        let (sources, root, checked) = check_text(name, text);
        let parsed = syntax::parse(text, root);
        let index = index::build(&parsed.module, key.clone());
        Analysis {
            version,
            key,
            lines: LineIndex::new(text),
            parsed,
            sources,
            root,
            checked,
            index,
        }
    }

    /// The document's text.
    pub fn text(&self) -> &str {
        self.lines.text()
    }

    /// The file id of a module in this analysis, if it was loaded.
    pub fn file_of(&self, module: &ModuleKey) -> Option<FileId> {
        if *module == self.key {
            return Some(self.root);
        }
        match module {
            ModuleKey::Std(path) => self.sources.find(path),
            ModuleKey::File(_) => None,
        }
    }

    /// The checked twin or component a definition names.
    pub fn hir_body(&self, def: &Def) -> Option<&Body> {
        if !matches!(def.kind, DefKind::Twin | DefKind::Component) {
            return None;
        }
        let file = self.file_of(&def.key.module)?;
        let program = &self.checked.program;
        program
            .twins
            .iter()
            .chain(&program.components)
            .find(|b| b.span.file == file && b.span.start == def.key.start)
    }

    /// The checked member a definition names, with its body.
    pub fn hir_member(&self, def: &Def) -> Option<(&Body, &Member)> {
        if !def.kind.is_member() {
            return None;
        }
        let file = self.file_of(&def.key.module)?;
        let program = &self.checked.program;
        program
            .twins
            .iter()
            .chain(&program.components)
            .filter(|b| b.span.file == file && b.span.start <= def.key.start)
            .find_map(|b| {
                b.members
                    .iter()
                    .find(|m| m.named && m.span.file == file && m.span.start == def.key.start)
                    .map(|m| (b, m))
            })
    }
}
