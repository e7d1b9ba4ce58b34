//! The standard library as the editor sees it.
//!
//! Takes the stdlib sources embedded in the compiler
//! ([`twin_compiler::stdlib::MODULES`]); gives, for each module, a file in a
//! cache folder that "go to definition" can point at, the module's parsed
//! tree (for resolving names into it) and its [`LineIndex`].
//!
//! Why files and not a custom URI scheme: every editor opens a `file://`
//! URI, while a scheme such as `twin-stdlib:` needs editor-side code to
//! fetch the text (a VS Code content provider; nothing at all in Helix).
//! The files live in `$XDG_CACHE_HOME/twinc/stdlib-<hash>/std/NAME.twin`
//! (`~/.cache` when `XDG_CACHE_HOME` is unset, the system temporary folder
//! when neither exists); `<hash>` is taken over the embedded texts, so a
//! newer `twinc` never points at an older copy. They are written read-only,
//! and a document opened from there is treated as that stdlib module (its
//! definitions are the ones user files refer to), never as a user file.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use tower_lsp_server::ls_types::Uri;
use twin_compiler::span::FileId;
use twin_compiler::syntax::{self, ast};

use crate::position::LineIndex;

/// One stdlib module, parsed once per process.
pub struct StdModule {
    /// Its path, `std::filters`.
    pub path: &'static str,
    /// Its text.
    pub text: &'static str,
    /// Its syntax tree (spans carry `FileId(0)`; only their ranges count).
    pub ast: ast::Module,
    /// Position conversion for its text.
    pub lines: LineIndex,
}

/// Every stdlib module, parsed on first use.
pub fn modules() -> &'static [StdModule] {
    static MODULES: OnceLock<Vec<StdModule>> = OnceLock::new();
    MODULES.get_or_init(|| {
        twin_compiler::stdlib::MODULES
            .iter()
            .map(|&(path, text)| StdModule {
                path,
                text,
                ast: syntax::parse(text, FileId(0)).module,
                lines: LineIndex::new(text),
            })
            .collect()
    })
}

/// The stdlib module with this path (`std::filters`).
pub fn module(path: &str) -> Option<&'static StdModule> {
    modules().iter().find(|m| m.path == path)
}

/// Where the stdlib files are written, and the URIs that name them.
#[derive(Clone, Debug)]
pub struct StdCache {
    dir: PathBuf,
}

impl StdCache {
    /// The cache folder for this build's stdlib, under `base` (see the
    /// module docs for the default). Nothing is written yet.
    pub fn new(base: Option<PathBuf>) -> StdCache {
        let base = base.unwrap_or_else(default_base);
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for (path, text) in twin_compiler::stdlib::MODULES {
            for b in path.bytes().chain(text.bytes()) {
                hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            }
        }
        StdCache {
            dir: base.join("twinc").join(format!("stdlib-{hash:016x}")),
        }
    }

    /// The folder holding `std/*.twin`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes every module that is not there yet, read-only. Failing to
    /// write is not fatal: definitions into the stdlib then point at files
    /// that do not exist, and the error is returned for the log.
    pub fn write(&self) -> std::io::Result<()> {
        for m in twin_compiler::stdlib::MODULES {
            let path = self.file_path(m.0);
            if std::fs::read_to_string(&path).is_ok_and(|t| t == m.1) {
                continue;
            }
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&path, m.1)?;
            let mut perms = std::fs::metadata(&path)?.permissions();
            perms.set_readonly(true);
            std::fs::set_permissions(&path, perms)?;
        }
        Ok(())
    }

    /// The file of module `std::filters`: `<dir>/std/filters.twin`.
    pub fn file_path(&self, module: &str) -> PathBuf {
        let mut path = self.dir.clone();
        for segment in module.split("::") {
            path.push(segment);
        }
        path.set_extension("twin");
        path
    }

    /// The URI of module `std::filters`.
    pub fn uri(&self, module: &str) -> Option<Uri> {
        Uri::from_file_path(self.file_path(module))
    }

    /// The stdlib module a URI names, when it points into the cache.
    pub fn module_of(&self, uri: &Uri) -> Option<&'static str> {
        let path = uri.to_file_path()?;
        let rel = path.strip_prefix(&self.dir).ok()?;
        let rel = rel.with_extension("");
        let parts: Vec<&str> = rel.iter().filter_map(|s| s.to_str()).collect();
        let name = parts.join("::");
        module(&name).map(|m| m.path)
    }
}

fn default_base() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(home) = std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(home).join(".cache");
    }
    std::env::temp_dir()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_parses_and_round_trips_its_uri() {
        let dir = std::env::temp_dir().join(format!("twin-lsp-std-{}", std::process::id()));
        let cache = StdCache::new(Some(dir.clone()));
        assert!(cache.write().is_ok());
        for m in modules() {
            assert!(!m.ast.items.is_empty(), "{}", m.path);
            let uri = cache.uri(m.path);
            assert!(uri.is_some(), "{}", m.path);
            if let Some(uri) = uri {
                assert_eq!(cache.module_of(&uri), Some(m.path));
            }
            let on_disk = std::fs::read_to_string(cache.file_path(m.path)).unwrap_or_default();
            assert_eq!(on_disk, m.text);
        }
        // Writing again over read-only files is fine: they are unchanged.
        assert!(cache.write().is_ok());
        let _ = std::fs::remove_dir_all(dir);
    }
}
