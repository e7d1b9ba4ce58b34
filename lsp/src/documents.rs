//! The open documents: their text, versions, analyses and diagnostics.
//!
//! Takes `didOpen`/`didChange`/`didClose` and requests for analyses;
//! gives each document's current [`Analysis`] and publishes its
//! diagnostics. Keyed by URI; every document remembers its version, and a
//! change that is not newer than it is dropped as stale (with full-text
//! sync, the newest text wins whatever order changes arrive in; ranged
//! changes, should a client send them, are applied in the order given).
//!
//! Per change: the fast path ([`crate::incremental::recheck`]) runs at
//! once from the last diagnosed text and publishes; then, once the typing
//! pauses for [`CONFIRM_AFTER`], a full check runs in the background and
//! publishes again only if its diagnostics differ (without a fast result
//! the full check starts at once). Requests that need an analysis check
//! the current version at once. Full checks of a document are serialised by a lock, and each
//! one checks the newest text when it gets the lock, so a burst of edits
//! costs one running check and one waiting, not one per edit.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tower_lsp_server::Client;
use tower_lsp_server::ls_types::{self as lsp, Uri};
use twin_compiler::diagnostic::Diagnostic;

use crate::analysis::Analysis;
use crate::diagnostics::{self, Context};
use crate::incremental::{self, Base};
use crate::index::ModuleKey;
use crate::navigate::OpenDoc;
use crate::position::{LineIndex, Position};
use crate::stdlib::StdCache;

/// How long after a fast result the full check starts, if no newer edit
/// came in the meantime.
pub const CONFIRM_AFTER: std::time::Duration = std::time::Duration::from_millis(300);

struct Doc {
    version: i32,
    text: Arc<str>,
    /// The name the compiler knows the file by.
    name: String,
    key: ModuleKey,
    /// The last diagnosed text, the starting point of the fast path.
    base: Option<(i32, Arc<Base>)>,
    /// The newest full analysis (possibly of an older version).
    analysis: Option<Arc<Analysis>>,
    /// What was last published, and for which version.
    published: Option<(i32, Vec<lsp::Diagnostic>)>,
    /// Held while a full check of this document runs.
    check_lock: Arc<tokio::sync::Mutex<()>>,
}

/// Every open document.
pub struct Documents {
    client: Client,
    cache: StdCache,
    docs: Mutex<HashMap<Uri, Doc>>,
    publish_lock: tokio::sync::Mutex<()>,
}

impl Documents {
    /// No documents yet; diagnostics go to `client`.
    pub fn new(client: Client, cache: StdCache) -> Documents {
        Documents {
            client,
            cache,
            docs: Mutex::new(HashMap::new()),
            publish_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// Where the stdlib files are.
    pub fn cache(&self) -> &StdCache {
        &self.cache
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uri, Doc>> {
        // A handler that panicked while holding the lock left consistent
        // data behind (every update is a single assignment): carry on.
        self.docs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Opens (or reopens) a document and publishes its diagnostics.
    pub async fn open(self: &Arc<Self>, uri: Uri, version: i32, text: String) {
        let (name, key) = match self.cache.module_of(&uri) {
            Some(path) => (path.to_string(), ModuleKey::Std(path)),
            None => (
                uri.to_file_path()
                    .map_or_else(|| uri.as_str().to_string(), |p| p.display().to_string()),
                ModuleKey::File(uri.as_str().to_string()),
            ),
        };
        self.lock().insert(
            uri.clone(),
            Doc {
                version,
                text: Arc::from(text),
                name,
                key,
                base: None,
                analysis: None,
                published: None,
                check_lock: Arc::new(tokio::sync::Mutex::new(())),
            },
        );
        self.analysis(&uri).await;
    }

    /// Applies a change; stale versions are ignored.
    pub async fn change(
        self: &Arc<Self>,
        uri: Uri,
        version: i32,
        changes: Vec<lsp::TextDocumentContentChangeEvent>,
    ) {
        let (text, base, name) = {
            let mut docs = self.lock();
            let Some(doc) = docs.get_mut(&uri) else {
                return;
            };
            if version <= doc.version {
                return;
            }
            let text = apply_changes(&doc.text, changes);
            doc.version = version;
            doc.text = Arc::from(text);
            (doc.text.clone(), doc.base.clone(), doc.name.clone())
        };
        let mut published = false;
        if let Some((_, base)) = base {
            let t = text.clone();
            let fast =
                tokio::task::spawn_blocking(move || incremental::recheck(&base, &name, &t)).await;
            if let Ok(Some(next)) = fast {
                self.publish(&uri, version, next).await;
                published = true;
            }
        }
        let me = self.clone();
        tokio::spawn(async move {
            // After a fast result, the confirming full check waits for a
            // pause in the typing, so it does not compete for the CPU with
            // the next edits' fast path.
            if published {
                tokio::time::sleep(CONFIRM_AFTER).await;
                if me.version(&uri) != Some(version) {
                    return;
                }
            }
            me.analysis(&uri).await;
        });
    }

    fn version(&self, uri: &Uri) -> Option<i32> {
        self.lock().get(uri).map(|d| d.version)
    }

    /// Forgets a document and clears its diagnostics.
    pub async fn close(&self, uri: &Uri) {
        self.lock().remove(uri);
        let _guard = self.publish_lock.lock().await;
        self.client
            .publish_diagnostics(uri.clone(), Vec::new(), None)
            .await;
    }

    /// The current text of a document.
    pub fn text(&self, uri: &Uri) -> Option<Arc<str>> {
        self.lock().get(uri).map(|d| d.text.clone())
    }

    /// The analysis of the current version of a document, checking it if
    /// needed (and publishing the diagnostics of that check).
    pub async fn analysis(self: &Arc<Self>, uri: &Uri) -> Option<Arc<Analysis>> {
        let lock = self.lock().get(uri)?.check_lock.clone();
        let _running = lock.lock().await;
        let (version, text, name, key) = {
            let docs = self.lock();
            let doc = docs.get(uri)?;
            if let Some(a) = &doc.analysis
                && a.version == doc.version
            {
                return Some(a.clone());
            }
            (
                doc.version,
                doc.text.clone(),
                doc.name.clone(),
                doc.key.clone(),
            )
        };
        let t = text.clone();
        let a = tokio::task::spawn_blocking(move || Analysis::new(&name, &t, version, key))
            .await
            .ok()?;
        let a = Arc::new(a);
        {
            let mut docs = self.lock();
            let doc = docs.get_mut(uri)?;
            if doc
                .analysis
                .as_ref()
                .is_none_or(|old| old.version < version)
            {
                doc.analysis = Some(a.clone());
            }
        }
        let mut diags = a.checked.diagnostics.clone();
        incremental::normalize(&mut diags, &a.sources, a.root);
        let next = tokio::task::spawn_blocking(move || Base::new(&text, diags))
            .await
            .ok()?;
        self.publish(uri, version, next).await;
        Some(a)
    }

    /// The current analyses of every open document.
    pub async fn all_analyses(self: &Arc<Self>) -> Vec<OpenDoc> {
        let uris: Vec<Uri> = self.lock().keys().cloned().collect();
        let mut out = Vec::new();
        for uri in uris {
            if let Some(a) = self.analysis(&uri).await {
                out.push((uri, a));
            }
        }
        out
    }

    /// Publishes the diagnostics of `next` (the text of `version`) unless
    /// a newer version exists or the same ones were already published;
    /// makes `next` the base of the following edits.
    async fn publish(&self, uri: &Uri, version: i32, next: Base) {
        let _guard = self.publish_lock.lock().await;
        let converted = convert(uri, &next.text, &next.diagnostics, &self.cache);
        {
            let mut docs = self.lock();
            let Some(doc) = docs.get_mut(uri) else {
                return;
            };
            if doc.base.as_ref().is_none_or(|(v, _)| *v <= version) {
                doc.base = Some((version, Arc::new(next)));
            }
            if version != doc.version {
                return;
            }
            if doc
                .published
                .as_ref()
                .is_some_and(|(v, d)| *v == version && *d == converted)
            {
                return;
            }
            doc.published = Some((version, converted.clone()));
        }
        self.client
            .publish_diagnostics(uri.clone(), converted, Some(version))
            .await;
    }
}

/// The LSP form of a text's (normalised) diagnostics.
fn convert(uri: &Uri, text: &str, diags: &[Diagnostic], cache: &StdCache) -> Vec<lsp::Diagnostic> {
    let lines = LineIndex::new(text);
    let cx = Context {
        uri,
        lines: &lines,
        cache,
    };
    diags.iter().map(|d| diagnostics::to_lsp(d, &cx)).collect()
}

/// `text` with the changes applied in order: a change without a range
/// replaces everything, one with a range replaces that range (positions
/// clamped to the text).
pub fn apply_changes(text: &str, changes: Vec<lsp::TextDocumentContentChangeEvent>) -> String {
    let mut text = text.to_string();
    for change in changes {
        match change.range {
            None => text = change.text,
            Some(r) => {
                let lines = LineIndex::new(&text);
                let at = |p: lsp::Position| {
                    lines.offset(Position {
                        line: p.line,
                        character: p.character,
                    })
                };
                let (start, end) = (at(r.start), at(r.end));
                let (start, end) = (start.min(end), start.max(end));
                text.replace_range(start..end, &change.text);
            }
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranged(
        l0: u32,
        c0: u32,
        l1: u32,
        c1: u32,
        text: &str,
    ) -> lsp::TextDocumentContentChangeEvent {
        lsp::TextDocumentContentChangeEvent {
            range: Some(lsp::Range::new(
                lsp::Position::new(l0, c0),
                lsp::Position::new(l1, c1),
            )),
            range_length: None,
            text: text.into(),
        }
    }

    #[test]
    fn ranged_changes_count_utf16_columns() {
        // `🚀` is two UTF-16 units: column 5 is just after it.
        let text = "// 🚀x\nlet a";
        let out = apply_changes(
            text,
            vec![ranged(0, 5, 0, 6, "y"), ranged(1, 4, 1, 5, "温度")],
        );
        assert_eq!(out, "// 🚀y\nlet 温度");
        // Reversed or out-of-range positions are clamped, never a panic.
        let out = apply_changes("ab", vec![ranged(0, 9, 0, 1, "X"), ranged(7, 0, 9, 9, "!")]);
        assert_eq!(out, "aX!");
    }
}
