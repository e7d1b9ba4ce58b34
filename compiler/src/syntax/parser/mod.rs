//! The parser: tokens to a [`Module`].
//!
//! Takes one file's text; gives the syntax tree and its syntax
//! diagnostics. It never fails: a declaration or item that does not parse
//! becomes an `Error` node, the parser skips to the next declaration
//! keyword (or the next item keyword at the top level), and carries on, so
//! five independent mistakes give five diagnostics and the rest of the file
//! is still checked. Only `syntax/` knows chumsky.
//!
//! The grammar is split in two: `expr` (expressions, unit and type
//! expressions) and `decl` (declarations, items, scenario statements).

mod decl;
mod error;
mod expr;
#[cfg(test)]
mod tests;

pub use error::ParseError;

use chumsky::input::{Input, ValueInput};
use chumsky::prelude::*;
use std::collections::HashMap;

use super::ast::{Decl, DeclKind, Expr, ItemKind, Module, StrLit, StrPart};
use super::lexer::{self, DocComment};
use super::token::Token;
use crate::diagnostic::{Diagnostic, Kind};
use crate::span::{FileId, Span};

impl chumsky::span::Span for Span {
    type Context = FileId;
    type Offset = usize;

    fn new(context: FileId, range: std::ops::Range<usize>) -> Span {
        Span::new(context, range)
    }

    fn context(&self) -> FileId {
        self.file
    }

    fn start(&self) -> usize {
        self.start as usize
    }

    fn end(&self) -> usize {
        self.end as usize
    }
}

/// The parser's extra state: rich errors over our tokens and spans.
type Extra<'src> = extra::Err<ParseError<'src>>;

/// The input every parser here reads: our tokens with our spans.
trait TokenInput<'src>: ValueInput<'src, Token = Token<'src>, Span = Span> {}
impl<'src, T: ValueInput<'src, Token = Token<'src>, Span = Span>> TokenInput<'src> for T {}

/// What parsing one file gives.
#[derive(Clone, Debug, Default)]
pub struct Parsed {
    /// The tree, with `Error` nodes where the source did not parse.
    pub module: Module,
    /// Every comment's span, for the formatter.
    pub comments: Vec<Span>,
    /// Syntax diagnostics, in source order.
    pub diagnostics: Vec<Diagnostic>,
}

/// How deeply brackets may nest. Real models nest a handful of levels;
/// the limit keeps the recursive parser and checker far from the stack's
/// end on adversarial input.
pub const MAX_NESTING: usize = 256;

/// How many tokens may follow one another without a keyword (a rough
/// measure of one expression's length), for the same reason.
pub const MAX_RUN: usize = 20_000;

/// Reports input whose shape would make the parser or checker recurse too
/// deeply; such a file is not parsed further.
fn too_deep(tokens: &[(Token<'_>, Span)]) -> Option<Diagnostic> {
    use super::token::Punct;
    let (mut depth, mut run) = (0usize, 0usize);
    for (t, span) in tokens {
        match t {
            Token::Punct(Punct::LParen | Punct::LBrace) => depth += 1,
            Token::Punct(Punct::RParen | Punct::RBrace) => depth = depth.saturating_sub(1),
            _ => {}
        }
        run = if matches!(t, Token::Kw(_)) {
            0
        } else {
            run + 1
        };
        if depth > MAX_NESTING {
            return Some(
                Diagnostic::new(
                    Kind::SyntaxError,
                    *span,
                    format!("brackets nest more than {MAX_NESTING} levels deep"),
                )
                .label("too deep")
                .with_help("split the expression with `let`s"),
            );
        }
        if run > MAX_RUN {
            return Some(
                Diagnostic::new(
                    Kind::SyntaxError,
                    *span,
                    format!("more than {MAX_RUN} tokens without a declaration"),
                )
                .label("expression too long")
                .with_help("split the expression with `let`s"),
            );
        }
    }
    None
}

/// Parses one file.
pub fn parse(text: &str, file: FileId) -> Parsed {
    let lexed = lexer::lex(text, file);
    if let Some(d) = too_deep(&lexed.tokens) {
        let mut diagnostics = lexed.diagnostics;
        diagnostics.push(d);
        return Parsed {
            module: Module::default(),
            comments: lexed.comments,
            diagnostics,
        };
    }
    let chunks = if lexed.tokens.len() < PARALLEL_TOKENS {
        1
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    };
    let (items, errors) = match parse_in_parallel(&lexed.tokens, file, text.len(), chunks) {
        Some(items) => (Some(items), Vec::new()),
        None => {
            let eoi = Span::new(file, text.len()..text.len());
            let input = lexed.tokens.as_slice().map(eoi, |(t, s)| (t, s));
            decl::module_parser().parse(input).into_output_errors()
        }
    };
    let mut diagnostics = lexed.diagnostics;
    diagnostics.extend(errors.iter().map(|e| {
        let d = e.to_diagnostic();
        match two_quantities(&lexed.tokens, &d) {
            Some(help) if d.help.is_none() => d.with_help(help),
            _ => d,
        }
    }));
    let mut module = Module {
        doc: lexed.file_doc.map(|d| d.text),
        items: items.unwrap_or_default(),
    };
    attach_docs(&mut module, lexed.docs);
    crate::diagnostic::sort_and_dedup(&mut diagnostics);
    Parsed {
        module,
        comments: lexed.comments,
        diagnostics,
    }
}

/// From how many tokens a file is worth parsing on several threads.
const PARALLEL_TOKENS: usize = 16_384;

/// The items of a file whose `tokens` end at byte `end`, parsed as up to
/// `chunks` runs of whole items on a thread each; `None` when there is
/// only one run or any run has a syntax error, and the caller parses the
/// whole file instead.
///
/// A run starts at an item keyword outside every bracket, where the
/// parser of the whole file starts an item too: no item reaches past such
/// a keyword (an item keyword is never part of an item outside brackets,
/// and skipping after an error stops there). So runs that parse without
/// error give exactly the items, spans included, that parsing the whole
/// file gives. A file with an error is parsed whole, so its diagnostics
/// are those of one pass over the file.
fn parse_in_parallel(
    tokens: &[(Token<'_>, Span)],
    file: FileId,
    end: usize,
    chunks: usize,
) -> Option<Vec<super::ast::Item>> {
    let bounds = item_runs(tokens, chunks);
    if bounds.len() < 3 {
        return None;
    }
    let parse_run = |w: &[usize]| {
        let (from, to) = (w[0], w[1]);
        let stop = tokens.get(to).map_or(end, |(_, s)| s.start as usize);
        let eoi = Span::new(file, stop..stop);
        let input = tokens[from..to].map(eoi, |(t, s)| (t, s));
        let (items, errors) = decl::module_parser().parse(input).into_output_errors();
        items.filter(|_| errors.is_empty())
    };
    let runs: Vec<_> = bounds.windows(2).collect();
    let (last, others) = runs.split_last()?;
    let runs: Vec<Option<Vec<super::ast::Item>>> = std::thread::scope(|scope| {
        let workers: Vec<_> = others
            .iter()
            .map(|w| {
                std::thread::Builder::new()
                    .name("twin-parse".into())
                    .spawn_scoped(scope, || parse_run(w))
            })
            .collect();
        let last = parse_run(last);
        // A thread the system would not start, or one that panicked (a
        // parser bug), gives no items: the whole file is parsed again on
        // this thread, which reports the same bug the way a file parsed on
        // one thread does.
        let mut runs: Vec<_> = workers
            .into_iter()
            .map(|w| w.ok().and_then(|w| w.join().ok()).flatten())
            .collect();
        runs.push(last);
        runs
    });
    let mut items = Vec::new();
    for run in runs {
        items.extend(run?);
    }
    Some(items)
}

/// Where `tokens` may be cut into about `chunks` runs of whole items of
/// roughly equal length: the first token, item keywords outside every
/// bracket, and the end.
fn item_runs(tokens: &[(Token<'_>, Span)], chunks: usize) -> Vec<usize> {
    use super::token::Punct;
    let mut bounds = vec![0];
    if chunks < 2 {
        return bounds;
    }
    let mut depth = 0usize;
    let mut next = tokens.len() / chunks;
    for (i, (t, _)) in tokens.iter().enumerate() {
        match t {
            Token::Punct(Punct::LParen | Punct::LBrace) => depth += 1,
            Token::Punct(Punct::RParen | Punct::RBrace) => depth = depth.saturating_sub(1),
            _ if i >= next && depth == 0 && decl::ITEM_KEYWORDS.contains(t) => {
                bounds.push(i);
                if bounds.len() == chunks {
                    break;
                }
                next = i + tokens.len() / chunks;
            }
            _ => {}
        }
    }
    bounds.push(tokens.len());
    bounds
}

/// A help for a syntax error at a quantity right after another, as in
/// `run 2 h 30 min`: a quantity is one number and one unit, so it says
/// what the two add up to (`150 min`, or `2.5 h` when that is exact).
fn two_quantities(tokens: &[(Token<'_>, Span)], d: &Diagnostic) -> Option<String> {
    let at = d.primary.span.start;
    let k = tokens.iter().position(|(_, s)| s.start == at)?;
    let (Token::Number(b), Token::Unit(second)) = (&tokens[k].0, &tokens.get(k + 1)?.0) else {
        return None;
    };
    let (Token::Number(a), Token::Unit(first)) = (&tokens[k.checked_sub(2)?].0, &tokens[k - 1].0)
    else {
        return None;
    };
    let table = crate::units::UnitTable::builtin();
    let (u1, u2) = (table.lookup(first)?, table.lookup(second)?);
    if u1.dim != u2.dim || u1.offset != 0.0 || u2.offset != 0.0 {
        return None;
    }
    let in_second = a * u1.scale / u2.scale + b;
    let in_first = a + b * u2.scale / u1.scale;
    let exact = |x: f64| x.is_finite() && (x * 1000.0).fract() == 0.0;
    let (small, large) = if u1.scale <= u2.scale {
        ((in_first, *first), (in_second, *second))
    } else {
        ((in_second, *second), (in_first, *first))
    };
    let mut help = format!(
        "a quantity is one number with one unit: write `{} {}`",
        small.0, small.1
    );
    if exact(large.0) {
        help.push_str(&format!(" or `{} {}`", large.0, large.1));
    }
    exact(small.0).then_some(help)
}

/// Parses a standalone expression (used for `--set p=VALUE` and the
/// expressions inside strings).
pub fn parse_expr(text: &str, file: FileId, base: u32) -> (Option<Expr>, Vec<Diagnostic>) {
    let lexed = lexer::lex_at(text, file, base);
    if let Some(d) = too_deep(&lexed.tokens) {
        return (None, vec![d]);
    }
    let stop = base as usize + text.len();
    let eoi = Span::new(file, stop..stop);
    let input = lexed.tokens.as_slice().map(eoi, |(t, s)| (t, s));
    let (expr, errors) = expr::expr_parser()
        .then_ignore(end())
        .parse(input)
        .into_output_errors();
    let mut diagnostics = lexed.diagnostics;
    diagnostics.extend(errors.iter().map(ParseError::to_diagnostic));
    (expr, diagnostics)
}

fn attach_docs(module: &mut Module, docs: Vec<(u32, DocComment)>) {
    if docs.is_empty() {
        return;
    }
    let mut by_offset: HashMap<u32, String> =
        docs.into_iter().map(|(at, d)| (at, d.text)).collect();
    let mut take = |span: Span| by_offset.remove(&span.start);
    for item in &mut module.items {
        item.doc = take(item.span);
        let body: &mut Vec<Decl> = match &mut item.kind {
            ItemKind::Twin(t) => &mut t.body,
            ItemKind::Component(c) => &mut c.body,
            _ => continue,
        };
        for decl in body {
            if !matches!(decl.kind, DeclKind::Error) {
                decl.doc = take(decl.span);
            }
        }
    }
}

/// Splits a string literal's raw contents into text and `{expr}` parts.
/// `raw_start` is the byte offset of the first char after the quote.
fn string_parts(raw: &str, file: FileId, raw_start: u32) -> (Vec<StrPart>, Vec<Diagnostic>) {
    let mut parts = Vec::new();
    let mut diags = Vec::new();
    let mut text = String::new();
    let mut chars = raw.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, 'n')) => text.push('\n'),
                Some((_, 't')) => text.push('\t'),
                Some((_, other)) => text.push(other),
                None => text.push('\\'),
            },
            '{' => {
                let inner_start = i + 1;
                let mut depth = 1;
                let mut inner_end = None;
                for (j, d) in chars.by_ref() {
                    match d {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                inner_end = Some(j);
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                let Some(inner_end) = inner_end else {
                    let at = raw_start + i as u32;
                    diags.push(
                        Diagnostic::new(
                            Kind::SyntaxError,
                            Span::new(file, at as usize..at as usize + 1),
                            "unclosed `{` in string",
                        )
                        .label("this interpolation is never closed")
                        .with_help("close it with `}`, or write `\\{` for a literal brace"),
                    );
                    break;
                };
                if !text.is_empty() {
                    parts.push(StrPart::Text(std::mem::take(&mut text)));
                }
                let inner = &raw[inner_start..inner_end];
                let (expr, errs) = parse_expr(inner, file, raw_start + inner_start as u32);
                diags.extend(errs);
                if let Some(expr) = expr {
                    parts.push(StrPart::Interp(expr));
                }
            }
            _ => text.push(c),
        }
    }
    if !text.is_empty() {
        parts.push(StrPart::Text(text));
    }
    (parts, diags)
}

/// Builds a [`StrLit`] from a string token, reporting bad interpolations.
fn string_literal(raw: &str, span: Span) -> (StrLit, Vec<Diagnostic>) {
    let (parts, diags) = string_parts(raw, span.file, span.start + 1);
    (StrLit { parts, span }, diags)
}
