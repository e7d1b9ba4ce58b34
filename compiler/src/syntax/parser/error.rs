//! The parser's error type.
//!
//! Takes what chumsky reports while parsing (expected tokens and labels,
//! the token found, custom messages); gives [`ParseError`] and its
//! conversion to a [`Diagnostic`]. Chumsky builds an error for every
//! alternative that fails, including on the way to a successful parse, so
//! this type is built to be cheap: the expected set is a bitset over token
//! kinds and labels, merging is a bitwise or, and nothing is allocated
//! unless a custom message is given.

use chumsky::DefaultExpected;
use chumsky::error::{Error, LabelError};
use chumsky::input::Input;
use chumsky::util::MaybeRef;

use crate::diagnostic::{Diagnostic, Kind};
use crate::span::Span;
use crate::syntax::token::{CONTEXTUAL, Kw, Punct, Token};

/// The labels the grammar uses; each has a bit in [`ParseError`].
const LABELS: &[&str] = &[
    "expression",
    "declaration",
    "name",
    "item",
    "unit",
    "type or unit",
    "range",
    "arguments",
    "parameters",
    "statement",
    "assignment",
    "exponent",
    "string",
    "test name",
    "`info`, `warning` or `critical`",
    "table point",
];

const PUNCTS: &[Punct] = &[
    Punct::LParen,
    Punct::RParen,
    Punct::LBrace,
    Punct::RBrace,
    Punct::Lt,
    Punct::Gt,
    Punct::Le,
    Punct::Ge,
    Punct::EqEq,
    Punct::Ne,
    Punct::Eq,
    Punct::Plus,
    Punct::Minus,
    Punct::Star,
    Punct::Slash,
    Punct::Caret,
    Punct::Percent,
    Punct::Comma,
    Punct::Colon,
    Punct::ColonColon,
    Punct::Dot,
    Punct::DotDot,
    Punct::Arrow,
];

// Bit layout of the token set: keywords, punctuation, contextual words,
// then the token classes below.
const KW_BASE: usize = 0;
const PUNCT_BASE: usize = KW_BASE + Kw::ALL.len();
const WORD_BASE: usize = PUNCT_BASE + PUNCTS.len();
const ANY_NAME: usize = WORD_BASE + CONTEXTUAL.len();
const NUMBER: usize = ANY_NAME + 1;
const UNIT: usize = NUMBER + 1;
const STRING: usize = UNIT + 1;
const ANYTHING: usize = STRING + 1;
const END: usize = ANYTHING + 1;
const TOKEN_BITS: usize = END + 1;
const _: () = assert!(TOKEN_BITS <= 128);
const _: () = assert!(LABELS.len() <= 64);

fn token_bit(t: &Token<'_>) -> Option<usize> {
    Some(match t {
        Token::Kw(k) => KW_BASE + Kw::ALL.iter().position(|x| x == k)?,
        Token::Punct(p) => PUNCT_BASE + PUNCTS.iter().position(|x| x == p)?,
        Token::Ident(w) => CONTEXTUAL
            .iter()
            .position(|x| x == w)
            .map_or(ANY_NAME, |i| WORD_BASE + i),
        Token::Number(_) => NUMBER,
        Token::Unit(_) => UNIT,
        Token::Str(_) => STRING,
        Token::Error(_) => return None,
    })
}

fn bit_text(bit: usize) -> String {
    if bit < PUNCT_BASE {
        format!("`{}`", Kw::ALL[bit - KW_BASE].as_str())
    } else if bit < WORD_BASE {
        format!("`{}`", PUNCTS[bit - PUNCT_BASE].as_str())
    } else if bit < ANY_NAME {
        format!("`{}`", CONTEXTUAL[bit - WORD_BASE])
    } else {
        match bit {
            ANY_NAME => "name",
            NUMBER => "number",
            UNIT => "unit",
            STRING => "string",
            ANYTHING => "something",
            _ => "end of file",
        }
        .to_string()
    }
}

/// A syntax error as the parser builds it.
#[derive(Clone, Debug, PartialEq)]
pub struct ParseError<'src> {
    span: Span,
    found: Option<Token<'src>>,
    tokens: u128,
    labels: u64,
    custom: Option<String>,
}

impl<'src> ParseError<'src> {
    /// An error with its own message.
    pub fn custom(span: Span, message: impl Into<String>) -> Self {
        ParseError {
            span,
            found: None,
            tokens: 0,
            labels: 0,
            custom: Some(message.into()),
        }
    }

    /// Turns the error into a `syntax-error` diagnostic.
    pub fn to_diagnostic(&self) -> Diagnostic {
        if let Some(msg) = &self.custom {
            return Diagnostic::new(Kind::SyntaxError, self.span, msg.clone()).label(msg.clone());
        }
        let found = self
            .found
            .as_ref()
            .map_or("end of file".to_string(), |t| t.to_string());
        // Labels ("expression", "declaration") say more than the raw
        // tokens that could also start one, so they win when present.
        let rbrace = token_bit(&Token::Punct(Punct::RBrace)).map_or(0, |b| 1u128 << b);
        let mut wanted: Vec<String> = if self.found.is_none() && self.tokens & rbrace != 0 {
            // At the end of the file, the unclosed body is the news.
            vec!["`}`".to_string()]
        } else if self.labels != 0 {
            // "declaration" and "item" cover everything else that could
            // have followed at the start of one.
            let broad = ["declaration", "item", "statement"]
                .iter()
                .filter_map(|l| LABELS.iter().position(|x| x == l))
                .find(|&i| self.labels & (1 << i) != 0);
            let labels = match broad {
                Some(i) => 1 << i,
                None => self.labels,
            };
            (0..LABELS.len())
                .filter(|i| labels & (1 << i) != 0)
                .map(|i| LABELS[i].to_string())
                .collect()
        } else {
            let operators = [
                Punct::Plus,
                Punct::Minus,
                Punct::Star,
                Punct::Slash,
                Punct::Caret,
                Punct::Lt,
                Punct::Gt,
                Punct::Le,
                Punct::Ge,
                Punct::EqEq,
                Punct::Ne,
            ];
            let operator_bits: u128 = operators
                .iter()
                .filter_map(|p| token_bit(&Token::Punct(*p)))
                .chain(
                    [
                        token_bit(&Token::Kw(Kw::And)),
                        token_bit(&Token::Kw(Kw::Or)),
                    ]
                    .into_iter()
                    .flatten(),
                )
                .fold(0, |acc, b| acc | (1 << b));
            let mut set = self.tokens & !(1 << ANYTHING);
            let mut names = Vec::new();
            let closers = [Punct::RParen, Punct::RBrace]
                .iter()
                .filter_map(|p| token_bit(&Token::Punct(*p)))
                .fold(0u128, |acc, b| acc | (1 << b));
            if set & closers != 0 {
                // After a complete operand, an operator could always
                // follow; the missing closing bracket is what to report.
                set &= !operator_bits;
            } else if (set & operator_bits).count_ones() > 3 {
                // A long list of operators reads better as one word.
                set &= !operator_bits;
                names.push("an operator".to_string());
            }
            names.extend(
                (0..TOKEN_BITS)
                    .filter(|b| set & (1 << b) != 0)
                    .map(bit_text),
            );
            names
        };
        wanted.sort();
        wanted.dedup();
        let expected = match wanted.len() {
            0 => String::new(),
            1 => wanted[0].clone(),
            n => format!("{} or {}", wanted[..n - 1].join(", "), wanted[n - 1]),
        };
        let message = if expected.is_empty() {
            format!("unexpected {found}")
        } else {
            format!("expected {expected}, found {found}")
        };
        let mut d = Diagnostic::new(Kind::SyntaxError, self.span, message)
            .label(format!("unexpected {found}"));
        if self.found.is_none() {
            d = d.with_help("the file ends inside an item: check that every `{` and `(` is closed");
        }
        if let Some(Token::Error(c)) = self.found {
            d = d.with_note(format!(
                "`{}` is not part of the .twin language",
                c.escape_debug()
            ));
        }
        d
    }
}

impl<'src, I> Error<'src, I> for ParseError<'src>
where
    I: Input<'src, Token = Token<'src>, Span = Span>,
{
    fn merge(mut self, other: Self) -> Self {
        if self.custom.is_none() && other.custom.is_some() {
            return other;
        }
        self.tokens |= other.tokens;
        self.labels |= other.labels;
        self.found = self.found.or(other.found);
        self
    }
}

impl<'src, I> LabelError<'src, I, DefaultExpected<'src, Token<'src>>> for ParseError<'src>
where
    I: Input<'src, Token = Token<'src>, Span = Span>,
{
    fn expected_found<E: IntoIterator<Item = DefaultExpected<'src, Token<'src>>>>(
        expected: E,
        found: Option<MaybeRef<'src, Token<'src>>>,
        span: Span,
    ) -> Self {
        let mut tokens = 0u128;
        for e in expected {
            let bit = match e {
                DefaultExpected::Token(t) => token_bit(&t),
                DefaultExpected::Any | DefaultExpected::SomethingElse => Some(ANYTHING),
                DefaultExpected::EndOfInput => Some(END),
                _ => None,
            };
            if let Some(b) = bit {
                tokens |= 1 << b;
            }
        }
        ParseError {
            span,
            found: found.as_deref().copied(),
            tokens,
            labels: 0,
            custom: None,
        }
    }
}

impl<'src, I> LabelError<'src, I, &'static str> for ParseError<'src>
where
    I: Input<'src, Token = Token<'src>, Span = Span>,
{
    fn expected_found<E: IntoIterator<Item = &'static str>>(
        expected: E,
        found: Option<MaybeRef<'src, Token<'src>>>,
        span: Span,
    ) -> Self {
        let mut e = ParseError {
            span,
            found: found.as_deref().copied(),
            tokens: 0,
            labels: 0,
            custom: None,
        };
        for l in expected {
            <ParseError<'src> as LabelError<'src, I, &'static str>>::label_with(&mut e, l);
        }
        e
    }

    fn label_with(&mut self, label: &'static str) {
        if self.custom.is_some() {
            return;
        }
        if let Some(i) = LABELS.iter().position(|l| *l == label) {
            self.tokens = 0;
            self.labels = 1 << i;
        }
    }
}
