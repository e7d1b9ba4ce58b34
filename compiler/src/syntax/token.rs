//! Tokens.
//!
//! Takes nothing; gives [`Token`], what the lexer produces and the parser
//! consumes. Keywords that can never name a signal are their own tokens;
//! words that only mean something in one position (`range`, `step`,
//! `critical`, ...) stay identifiers and the parser matches them by text, so
//! a user may still call a signal `range` or `step`.

use std::fmt;

/// One token. Text-carrying variants borrow from the source.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Token<'src> {
    /// An identifier or contextual keyword.
    Ident(&'src str),
    /// A reserved keyword.
    Kw(Kw),
    /// A number literal (already converted; the text stays in the source).
    Number(f64),
    /// A compact unit glued to the number before it: the `kW` of `3.5 kW`.
    /// Always directly follows a [`Token::Number`].
    Unit(&'src str),
    /// A string literal's contents, without quotes (escapes not yet undone).
    Str(&'src str),
    /// Punctuation and operators.
    Punct(Punct),
    /// A character the lexer could not make sense of; the parser reports it.
    Error(char),
}

macro_rules! keywords {
    ($($variant:ident => $text:literal,)*) => {
        /// Reserved keywords.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Kw {
            $(
                #[doc = concat!("`", $text, "`")]
                $variant,
            )*
        }

        impl Kw {
            /// The keyword for this text, if it is one.
            pub fn from_text(text: &str) -> Option<Kw> {
                match text {
                    $($text => Some(Kw::$variant),)*
                    _ => None,
                }
            }

            /// The keyword's text.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Kw::$variant => $text,)*
                }
            }

            /// Every keyword.
            pub const ALL: &'static [Kw] = &[$(Kw::$variant,)*];
        }
    };
}

keywords! {
    Use => "use",
    Const => "const",
    Unit => "unit",
    Enum => "enum",
    Fn => "fn",
    Component => "component",
    Twin => "twin",
    Scenario => "scenario",
    Test => "test",
    Sensor => "sensor",
    Actuator => "actuator",
    Param => "param",
    State => "state",
    Var => "var",
    Let => "let",
    Out => "out",
    Return => "return",
    Der => "der",
    Alarm => "alarm",
    When => "when",
    For => "for",
    Clear => "clear",
    On => "on",
    Every => "every",
    If => "if",
    Then => "then",
    Else => "else",
    And => "and",
    Or => "or",
    Not => "not",
    True => "true",
    False => "false",
    Expect => "expect",
}

/// Words that are keywords only in one position. They may name things, but
/// a number followed by one of them is never read as a quantity with that
/// unit (`within 2 h`, `x > 3 at 5 s`).
pub const CONTEXTUAL: &[&str] = &[
    "range",
    "stale",
    "after",
    "slew",
    "step",
    "solver",
    "message",
    "info",
    "warning",
    "critical",
    "duration",
    "set",
    "report",
    "run",
    "always",
    "eventually",
    "within",
    "at",
    "table",
];

/// Punctuation and operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Punct {
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `{`
    LBrace,
    /// `}`
    RBrace,
    /// `<`
    Lt,
    /// `>`
    Gt,
    /// `<=`
    Le,
    /// `>=`
    Ge,
    /// `==`
    EqEq,
    /// `!=`
    Ne,
    /// `=`
    Eq,
    /// `+`
    Plus,
    /// `-`
    Minus,
    /// `*`
    Star,
    /// `/`
    Slash,
    /// `^`
    Caret,
    /// `%`
    Percent,
    /// `,`
    Comma,
    /// `:`
    Colon,
    /// `::`
    ColonColon,
    /// `.`
    Dot,
    /// `..`
    DotDot,
    /// `->`
    Arrow,
}

impl Punct {
    /// The punctuation's text.
    pub fn as_str(self) -> &'static str {
        match self {
            Punct::LParen => "(",
            Punct::RParen => ")",
            Punct::LBrace => "{",
            Punct::RBrace => "}",
            Punct::Lt => "<",
            Punct::Gt => ">",
            Punct::Le => "<=",
            Punct::Ge => ">=",
            Punct::EqEq => "==",
            Punct::Ne => "!=",
            Punct::Eq => "=",
            Punct::Plus => "+",
            Punct::Minus => "-",
            Punct::Star => "*",
            Punct::Slash => "/",
            Punct::Caret => "^",
            Punct::Percent => "%",
            Punct::Comma => ",",
            Punct::Colon => ":",
            Punct::ColonColon => "::",
            Punct::Dot => ".",
            Punct::DotDot => "..",
            Punct::Arrow => "->",
        }
    }
}

impl fmt::Display for Token<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Ident(s) => write!(f, "`{s}`"),
            Token::Kw(k) => write!(f, "`{}`", k.as_str()),
            Token::Number(_) => write!(f, "number"),
            Token::Unit(u) => write!(f, "unit `{u}`"),
            Token::Str(_) => write!(f, "string"),
            Token::Punct(p) => write!(f, "`{}`", p.as_str()),
            Token::Error(c) => write!(f, "`{}`", c.escape_debug()),
        }
    }
}
