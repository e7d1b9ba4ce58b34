//! The language server: LSP requests in, features out.
//!
//! Takes LSP messages (through tower-lsp-server); gives diagnostics,
//! hover, navigation, completion, symbols, semantic tokens, inlay hints,
//! code actions and formatting, computed by the other modules of this
//! crate. State lives in [`Documents`]; this file only routes.
//!
//! Concurrency: tower-lsp-server runs handlers concurrently, so document
//! state sits behind a lock that is never held across an `await`, and
//! every change carries its version: a change whose version is not newer
//! than the document's is stale and ignored. Diagnostics are published
//! twice per edit at most: at once from the fast path
//! ([`crate::incremental`]), then from the full check when it differs; see
//! [`crate::documents`] for when checks run and how superseded ones are
//! skipped.

use std::sync::Arc;

use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::{self as lsp, Uri};
use tower_lsp_server::{Client, LanguageServer};

use crate::analysis::Analysis;
use crate::documents::Documents;
use crate::position::Position;
use crate::stdlib::StdCache;
use crate::{actions, completion, hover, navigate, outline, tokens};

/// The server's state.
pub struct Backend {
    client: Client,
    docs: Arc<Documents>,
}

impl Backend {
    /// A server talking to `client`, writing stdlib files under `cache`.
    pub fn new(client: Client, cache: StdCache) -> Backend {
        Backend {
            docs: Arc::new(Documents::new(client.clone(), cache)),
            client,
        }
    }

    /// The current analysis of a document, or an error response.
    async fn analysis(&self, uri: &Uri) -> Result<Arc<Analysis>> {
        self.docs
            .analysis(uri)
            .await
            .ok_or_else(|| invalid(format!("`{}` is not open", uri.as_str())))
    }

    /// The byte offset of an LSP position in an analysis's text.
    fn offset(a: &Analysis, p: lsp::Position) -> u32 {
        a.lines.offset(Position {
            line: p.line,
            character: p.character,
        }) as u32
    }
}

fn invalid(message: String) -> Error {
    Error::invalid_params(message)
}

fn capabilities() -> lsp::ServerCapabilities {
    lsp::ServerCapabilities {
        position_encoding: Some(lsp::PositionEncodingKind::UTF16),
        text_document_sync: Some(lsp::TextDocumentSyncCapability::Kind(
            lsp::TextDocumentSyncKind::FULL,
        )),
        hover_provider: Some(lsp::HoverProviderCapability::Simple(true)),
        completion_provider: Some(lsp::CompletionOptions {
            trigger_characters: Some(vec![".".into(), ":".into(), " ".into()]),
            ..lsp::CompletionOptions::default()
        }),
        definition_provider: Some(lsp::OneOf::Left(true)),
        references_provider: Some(lsp::OneOf::Left(true)),
        document_highlight_provider: Some(lsp::OneOf::Left(true)),
        document_symbol_provider: Some(lsp::OneOf::Left(true)),
        code_action_provider: Some(lsp::CodeActionProviderCapability::Options(
            lsp::CodeActionOptions {
                code_action_kinds: Some(vec![lsp::CodeActionKind::QUICKFIX]),
                ..lsp::CodeActionOptions::default()
            },
        )),
        document_formatting_provider: Some(lsp::OneOf::Left(true)),
        rename_provider: Some(lsp::OneOf::Right(lsp::RenameOptions {
            prepare_provider: Some(true),
            work_done_progress_options: lsp::WorkDoneProgressOptions::default(),
        })),
        semantic_tokens_provider: Some(
            lsp::SemanticTokensServerCapabilities::SemanticTokensOptions(
                lsp::SemanticTokensOptions {
                    legend: tokens::legend(),
                    full: Some(lsp::SemanticTokensFullOptions::Bool(true)),
                    range: None,
                    work_done_progress_options: lsp::WorkDoneProgressOptions::default(),
                },
            ),
        ),
        inlay_hint_provider: Some(lsp::OneOf::Left(true)),
        ..lsp::ServerCapabilities::default()
    }
}

impl LanguageServer for Backend {
    async fn initialize(&self, _: lsp::InitializeParams) -> Result<lsp::InitializeResult> {
        Ok(lsp::InitializeResult {
            capabilities: capabilities(),
            server_info: Some(lsp::ServerInfo {
                name: "twinc lsp".into(),
                version: Some(env!("CARGO_PKG_VERSION").into()),
            }),
            offset_encoding: None,
        })
    }

    async fn initialized(&self, _: lsp::InitializedParams) {
        let docs = self.docs.clone();
        let written = tokio::task::spawn_blocking(move || docs.cache().write()).await;
        let message = match written {
            Ok(Ok(())) => format!(
                "twinc lsp: standard library at {}",
                self.docs.cache().dir().display()
            ),
            Ok(Err(e)) => format!("twinc lsp: cannot write the standard library files: {e}"),
            Err(e) => format!("twinc lsp: cannot write the standard library files: {e}"),
        };
        self.client
            .log_message(lsp::MessageType::INFO, message)
            .await;
    }

    async fn shutdown(&self) -> Result<()> {
        Ok(())
    }

    async fn did_open(&self, params: lsp::DidOpenTextDocumentParams) {
        let doc = params.text_document;
        self.docs.open(doc.uri, doc.version, doc.text).await;
    }

    async fn did_change(&self, params: lsp::DidChangeTextDocumentParams) {
        let doc = params.text_document;
        self.docs
            .change(doc.uri, doc.version, params.content_changes)
            .await;
    }

    async fn did_close(&self, params: lsp::DidCloseTextDocumentParams) {
        self.docs.close(&params.text_document.uri).await;
    }

    async fn hover(&self, params: lsp::HoverParams) -> Result<Option<lsp::Hover>> {
        let at = params.text_document_position_params;
        let a = self.analysis(&at.text_document.uri).await?;
        let offset = Self::offset(&a, at.position);
        Ok(hover::hover(&a, offset).map(|(text, (s, e))| lsp::Hover {
            contents: lsp::HoverContents::Markup(lsp::MarkupContent {
                kind: lsp::MarkupKind::Markdown,
                value: text,
            }),
            range: Some(crate::diagnostics::range(&a.lines, s, e)),
        }))
    }

    async fn goto_definition(
        &self,
        params: lsp::GotoDefinitionParams,
    ) -> Result<Option<lsp::GotoDefinitionResponse>> {
        let at = params.text_document_position_params;
        let uri = at.text_document.uri;
        let a = self.analysis(&uri).await?;
        let offset = Self::offset(&a, at.position);
        Ok(navigate::definition(&a, &uri, offset, self.docs.cache())
            .map(lsp::GotoDefinitionResponse::Scalar))
    }

    async fn references(&self, params: lsp::ReferenceParams) -> Result<Option<Vec<lsp::Location>>> {
        let at = params.text_document_position;
        let a = self.analysis(&at.text_document.uri).await?;
        let offset = Self::offset(&a, at.position);
        let Some(key) = navigate::key_at(&a, offset) else {
            return Ok(None);
        };
        let open = self.docs.all_analyses().await;
        Ok(Some(navigate::references(
            &key,
            &open,
            params.context.include_declaration,
        )))
    }

    async fn document_highlight(
        &self,
        params: lsp::DocumentHighlightParams,
    ) -> Result<Option<Vec<lsp::DocumentHighlight>>> {
        let at = params.text_document_position_params;
        let a = self.analysis(&at.text_document.uri).await?;
        let offset = Self::offset(&a, at.position);
        Ok(Some(navigate::highlights(&a, offset)))
    }

    async fn prepare_rename(
        &self,
        params: lsp::TextDocumentPositionParams,
    ) -> Result<Option<lsp::PrepareRenameResponse>> {
        let a = self.analysis(&params.text_document.uri).await?;
        let offset = Self::offset(&a, params.position);
        navigate::prepare_rename(&a, offset)
            .map(|r| Some(lsp::PrepareRenameResponse::Range(r)))
            .map_err(invalid)
    }

    async fn rename(&self, params: lsp::RenameParams) -> Result<Option<lsp::WorkspaceEdit>> {
        let at = params.text_document_position;
        let a = self.analysis(&at.text_document.uri).await?;
        let offset = Self::offset(&a, at.position);
        let open = self.docs.all_analyses().await;
        navigate::rename(&a, offset, &params.new_name, &open)
            .map(Some)
            .map_err(invalid)
    }

    async fn completion(
        &self,
        params: lsp::CompletionParams,
    ) -> Result<Option<lsp::CompletionResponse>> {
        let at = params.text_document_position;
        let a = self.analysis(&at.text_document.uri).await?;
        let offset = Self::offset(&a, at.position);
        let trigger = params
            .context
            .filter(|c| c.trigger_kind == lsp::CompletionTriggerKind::TRIGGER_CHARACTER)
            .and_then(|c| c.trigger_character)
            .and_then(|c| c.chars().next());
        Ok(Some(lsp::CompletionResponse::Array(completion::complete(
            &a,
            offset as usize,
            trigger,
        ))))
    }

    async fn document_symbol(
        &self,
        params: lsp::DocumentSymbolParams,
    ) -> Result<Option<lsp::DocumentSymbolResponse>> {
        let a = self.analysis(&params.text_document.uri).await?;
        Ok(Some(lsp::DocumentSymbolResponse::Nested(outline::symbols(
            &a,
        ))))
    }

    async fn semantic_tokens_full(
        &self,
        params: lsp::SemanticTokensParams,
    ) -> Result<Option<lsp::SemanticTokensResult>> {
        let a = self.analysis(&params.text_document.uri).await?;
        Ok(Some(lsp::SemanticTokensResult::Tokens(
            lsp::SemanticTokens {
                result_id: None,
                data: tokens::tokens(&a),
            },
        )))
    }

    async fn inlay_hint(
        &self,
        params: lsp::InlayHintParams,
    ) -> Result<Option<Vec<lsp::InlayHint>>> {
        let a = self.analysis(&params.text_document.uri).await?;
        let start = Self::offset(&a, params.range.start);
        let end = Self::offset(&a, params.range.end);
        Ok(Some(outline::inlay_hints(&a, start, end)))
    }

    async fn code_action(
        &self,
        params: lsp::CodeActionParams,
    ) -> Result<Option<lsp::CodeActionResponse>> {
        Ok(Some(actions::quick_fixes(
            &params.text_document.uri,
            &params.context.diagnostics,
        )))
    }

    async fn formatting(
        &self,
        params: lsp::DocumentFormattingParams,
    ) -> Result<Option<Vec<lsp::TextEdit>>> {
        let uri = params.text_document.uri;
        let Some(text) = self.docs.text(&uri) else {
            return Err(invalid(format!("`{}` is not open", uri.as_str())));
        };
        match actions::format(&text) {
            Ok(edits) => Ok(Some(edits)),
            Err(why) => {
                self.client
                    .log_message(lsp::MessageType::INFO, format!("twinc lsp: {why}"))
                    .await;
                Ok(None)
            }
        }
    }
}
