//! The formatter behind `twinc fmt` and the editor's "format document".
//!
//! Takes one file's text; gives it in the canonical layout, or the
//! diagnostics that stop it (a file with syntax errors is never
//! reformatted). The layout works like `gofmt`: where lines break is the
//! author's choice, everything else is fixed —
//! - indentation: four spaces per open `{`, one more level for a line that
//!   continues a statement (inside parentheses, after a trailing operator
//!   or comma, or starting with an operator or a clause such as `clear` or
//!   `message`);
//! - spacing: one space around binary operators (but `x^2`), `=`, `->`,
//!   `..` and before `{`; none inside parentheses, before `,` `:` `)` or
//!   after a unary minus; calls and generics written tight
//!   (`Lag<U>(x: U)`);
//! - units: compact units stay as written (`9.81 m/s^2`), and unit
//!   expressions in type position are written without spaces (`W/(m^2*K)`);
//! - comments and doc comments are kept where they are; trailing comments
//!   get one space before them;
//! - at most one blank line in a row, none after `{` or before `}`, no
//!   trailing spaces, one newline at the end.
//!
//! Formatting is idempotent: formatting the output again gives it back.

use crate::diagnostic::Diagnostic;
use crate::span::FileId;
use crate::syntax::lexer::lex;
use crate::syntax::token::{Kw, Punct, Token};

/// One thing on a line: a token or a comment, with its text.
#[derive(Clone, Copy, Debug)]
struct Piece<'a> {
    token: Option<Token<'a>>,
    text: &'a str,
    start: usize,
    end: usize,
}

impl Piece<'_> {
    fn punct(&self) -> Option<Punct> {
        match self.token {
            Some(Token::Punct(p)) => Some(p),
            _ => None,
        }
    }

    fn is_comment(&self) -> bool {
        self.token.is_none()
    }

    fn word(&self) -> Option<&str> {
        match self.token {
            Some(Token::Ident(w)) => Some(w),
            _ => None,
        }
    }
}

/// Formats `text`. Fails with the parser's diagnostics when the file has
/// syntax errors.
pub fn format(text: &str) -> Result<String, Vec<Diagnostic>> {
    let parsed = crate::syntax::parse(text, FileId(0));
    let errors: Vec<Diagnostic> = parsed
        .diagnostics
        .into_iter()
        .filter(|d| d.kind == crate::diagnostic::Kind::SyntaxError)
        .collect();
    if !errors.is_empty() {
        return Err(errors);
    }
    let lexed = lex(text, FileId(0));
    let mut pieces: Vec<Piece<'_>> = lexed
        .tokens
        .iter()
        .map(|(t, s)| Piece {
            token: Some(*t),
            text: &text[s.start as usize..s.end as usize],
            start: s.start as usize,
            end: s.end as usize,
        })
        .chain(lexed.comments.iter().map(|s| Piece {
            token: None,
            text: text[s.start as usize..s.end as usize].trim_end(),
            start: s.start as usize,
            end: s.end as usize,
        }))
        .collect();
    pieces.sort_by_key(|p| p.start);
    Ok(Printer::new(text).print(&pieces))
}

/// Walks the pieces line by line, keeping the state the rules need.
struct Printer<'a> {
    /// Byte offsets of the text's newlines.
    newlines: Vec<usize>,
    out: String,
    /// Open `{`.
    braces: usize,
    /// Open `(`, each with what it belongs to.
    parens: Vec<Paren>,
    /// Inside a unit expression in type position.
    in_type: bool,
    /// Inside `<...>` of generics.
    in_generics: bool,
    /// The last token closed generics (`Lag<U>` then `(`).
    closed_generics: bool,
    /// The last two tokens, for the header and unary rules.
    prev: Option<Token<'a>>,
    prev2: Option<Token<'a>>,
    /// The keyword that started the current statement.
    statement: Option<Kw>,
    /// Whether the `:` of the current declaration was seen.
    declared: bool,
}

/// What an open `(` belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Paren {
    /// The parameter list of a `fn` or `component` header.
    Header,
    /// `table(X -> Y)`.
    Table,
    /// Grouping inside a unit expression in type position.
    Type,
    /// Anything else: calls, grouping in values.
    Other,
}

/// Keywords that open a declaration whose name is followed by `: TYPE`.
fn declares(kw: Kw) -> bool {
    matches!(
        kw,
        Kw::Sensor | Kw::Actuator | Kw::Param | Kw::State | Kw::Var | Kw::Let | Kw::Out | Kw::Const
    )
}

/// Words after which a `-` is a sign.
const UNARY_AFTER: &[&str] = &["range", "within", "at", "after", "slew", "duration", "run"];

/// Words that continue the statement of the line before.
const CLAUSES: &[&str] = &["range", "stale", "slew", "message", "within", "at", "after"];

impl<'a> Printer<'a> {
    fn new(text: &'a str) -> Printer<'a> {
        Printer {
            newlines: text.match_indices('\n').map(|(i, _)| i).collect(),
            out: String::with_capacity(text.len() + text.len() / 8),
            braces: 0,
            parens: Vec::new(),
            in_type: false,
            in_generics: false,
            closed_generics: false,
            prev: None,
            prev2: None,
            statement: None,
            declared: false,
        }
    }

    fn line_of(&self, offset: usize) -> usize {
        self.newlines.partition_point(|&n| n < offset)
    }

    fn print(mut self, pieces: &[Piece<'a>]) -> String {
        let mut lines: Vec<Vec<Piece<'a>>> = Vec::new();
        let mut last_line = None;
        let mut blank_before: Vec<bool> = Vec::new();
        for p in pieces {
            let line = self.line_of(p.start);
            match last_line {
                Some(l) if l == line => {
                    if let Some(cur) = lines.last_mut() {
                        cur.push(*p);
                    }
                }
                _ => {
                    blank_before.push(last_line.is_some_and(|l| line > l + 1));
                    lines.push(vec![*p]);
                }
            }
            // A block comment may end on a later line.
            last_line = Some(self.line_of(p.end.max(p.start)));
        }
        let mut prev_last: Option<Piece<'a>> = None;
        for (i, line) in lines.iter().enumerate() {
            let first = line[0];
            let closes = first.punct() == Some(Punct::RBrace);
            let after_open = prev_last.is_some_and(|p| p.punct() == Some(Punct::LBrace));
            if blank_before[i] && !closes && !after_open && !self.out.is_empty() {
                self.out.push('\n');
            }
            let continues = self.continues(prev_last, first);
            let depth = self.braces.saturating_sub(usize::from(closes)) + usize::from(continues);
            self.out.push_str(&"    ".repeat(depth));
            let mut before: Option<Piece<'a>> = None;
            for p in line {
                if let Some(b) = before
                    && self.space(&b, p)
                {
                    self.out.push(' ');
                }
                self.out.push_str(p.text);
                if let Some(token) = p.token {
                    self.advance(token);
                }
                before = Some(*p);
            }
            self.out.push('\n');
            prev_last = line
                .iter()
                .rev()
                .find(|p| !p.is_comment())
                .copied()
                .or(prev_last);
            // A line ends a type written without a value (`sensor x: A`).
            self.in_type = false;
        }
        self.out
    }

    /// Whether a line starting with `first` continues the statement of
    /// the line that ended with `last` (both comments skipped).
    fn continues(&self, last: Option<Piece<'a>>, first: Piece<'a>) -> bool {
        if !self.parens.is_empty() {
            return first.punct() != Some(Punct::RParen);
        }
        let Some(last) = last else {
            return false;
        };
        // After `{` or `,` (outside parentheses) a new statement or list
        // element starts; `}` closes one.
        if matches!(last.punct(), Some(Punct::LBrace | Punct::Comma))
            || first.punct() == Some(Punct::RBrace)
        {
            return false;
        }
        let trailing = matches!(
            last.punct(),
            Some(
                Punct::Plus
                    | Punct::Minus
                    | Punct::Star
                    | Punct::Slash
                    | Punct::Caret
                    | Punct::Eq
                    | Punct::EqEq
                    | Punct::Ne
                    | Punct::Lt
                    | Punct::Gt
                    | Punct::Le
                    | Punct::Ge
                    | Punct::Arrow
                    | Punct::DotDot
                    | Punct::Colon
            )
        ) || matches!(
            last.token,
            Some(Token::Kw(
                Kw::And | Kw::Or | Kw::Not | Kw::Then | Kw::Else | Kw::When | Kw::If
            ))
        );
        if trailing {
            return true;
        }
        if first.is_comment() {
            return false;
        }
        let leading = matches!(
            first.punct(),
            Some(
                Punct::Plus
                    | Punct::Minus
                    | Punct::Star
                    | Punct::Slash
                    | Punct::Caret
                    | Punct::EqEq
                    | Punct::Ne
                    | Punct::Lt
                    | Punct::Gt
                    | Punct::Le
                    | Punct::Ge
                    | Punct::Dot
                    | Punct::DotDot
                    | Punct::Arrow
            )
        ) || matches!(
            first.token,
            Some(Token::Kw(
                Kw::And | Kw::Or | Kw::Then | Kw::Else | Kw::Clear | Kw::For
            ))
        ) || first.word().is_some_and(|w| CLAUSES.contains(&w));
        // `clear when` and `message` continue an alarm; `for` at the start
        // of a line is always a clause (`for D` of an alarm).
        leading
    }

    /// Updates the context after emitting `token`.
    fn advance(&mut self, token: Token<'a>) {
        let header = self.parens.last() == Some(&Paren::Header);
        self.closed_generics = false;
        match token {
            Token::Kw(kw) if self.parens.is_empty() && !self.in_type => {
                if declares(kw) || matches!(kw, Kw::Fn | Kw::Component | Kw::Unit) {
                    self.statement = Some(kw);
                    self.declared = false;
                } else if !matches!(
                    kw,
                    Kw::And
                        | Kw::Or
                        | Kw::Not
                        | Kw::If
                        | Kw::Then
                        | Kw::Else
                        | Kw::True
                        | Kw::False
                        | Kw::Der
                ) {
                    self.statement = Some(kw);
                }
            }
            Token::Punct(p) => match p {
                Punct::LParen => {
                    let kind = if matches!(self.statement, Some(Kw::Fn | Kw::Component))
                        && self.parens.is_empty()
                        && !self.declared
                        && matches!(
                            self.prev,
                            Some(Token::Ident(_)) | Some(Token::Punct(Punct::Gt))
                        ) {
                        self.declared = true;
                        Paren::Header
                    } else if matches!(self.prev, Some(Token::Ident("table"))) {
                        self.in_type = true;
                        Paren::Table
                    } else if self.in_type {
                        Paren::Type
                    } else {
                        Paren::Other
                    };
                    self.parens.push(kind);
                }
                Punct::RParen => {
                    if matches!(self.parens.pop(), Some(Paren::Header | Paren::Table)) {
                        self.in_type = false;
                    }
                }
                Punct::Lt
                    if matches!(self.statement, Some(Kw::Fn | Kw::Component))
                        && self.parens.is_empty()
                        && matches!(self.prev, Some(Token::Ident(_)))
                        && matches!(self.prev2, Some(Token::Kw(Kw::Fn | Kw::Component))) =>
                {
                    self.in_generics = true;
                }
                Punct::Gt if self.in_generics => {
                    self.in_generics = false;
                    self.closed_generics = true;
                }
                Punct::Colon => {
                    let declaration = self.parens.is_empty()
                        && self.statement.is_some_and(declares)
                        && !self.declared;
                    if header || declaration {
                        self.in_type = true;
                        self.declared = true;
                    }
                }
                Punct::Arrow => {
                    let signature = matches!(self.statement, Some(Kw::Fn | Kw::Component))
                        && self.parens.is_empty();
                    if signature || self.parens.last() == Some(&Paren::Table) {
                        self.in_type = true;
                    }
                }
                Punct::Eq => {
                    self.in_type =
                        matches!(self.statement, Some(Kw::Unit)) && self.parens.is_empty();
                }
                Punct::Comma if header => self.in_type = false,
                Punct::LBrace => {
                    self.braces += 1;
                    self.in_type = false;
                    self.statement = None;
                }
                Punct::RBrace => {
                    self.braces = self.braces.saturating_sub(1);
                    self.in_type = false;
                    self.statement = None;
                }
                _ => {}
            },
            Token::Ident("range" | "stale" | "slew") if self.in_type && !header => {
                self.in_type = false;
            }
            _ => {}
        }
        self.prev2 = self.prev;
        self.prev = Some(token);
    }

    /// Whether a space goes between `a` and `b` on one line. `self` holds
    /// the context after `a`.
    fn space(&self, a: &Piece<'a>, b: &Piece<'a>) -> bool {
        if b.is_comment() || a.is_comment() {
            return true;
        }
        let (Some(ta), Some(_)) = (a.token, b.token) else {
            return true;
        };
        use Punct::*;
        let pa = a.punct();
        let pb = b.punct();
        // Never before these, never after these.
        if matches!(pb, Some(RParen | Comma | Colon | Dot | ColonColon)) {
            return false;
        }
        if matches!(pa, Some(LParen | Dot | ColonColon)) {
            return false;
        }
        // Generics: `Lag<U>(`, `<U, V>`.
        if self.in_generics || matches!(pb, Some(Lt)) && self.generic_opens(ta) {
            return matches!(pa, Some(Comma));
        }
        if self.closed_generics && matches!(pb, Some(LParen)) {
            return false;
        }
        // Unit expressions in type position are tight.
        if self.in_type
            && (matches!(pb, Some(Star | Slash | Caret | RParen))
                || matches!(pa, Some(Star | Slash | Caret | LParen))
                || matches!(pa, Some(Minus)) && matches!(self.prev2, Some(Token::Punct(Caret))))
        {
            return false;
        }
        // Powers are tight everywhere: `x^2`, `m/s^2`.
        if matches!(pa, Some(Caret)) || matches!(pb, Some(Caret)) {
            return false;
        }
        // Calls: `f(`, `der(`, `prev(`.
        if matches!(pb, Some(LParen)) {
            return !matches!(ta, Token::Ident(_) | Token::Kw(Kw::Der));
        }
        // Unary minus: no space after it.
        if matches!(pa, Some(Minus)) && self.unary_before(a) {
            return false;
        }
        true
    }

    /// Whether the `<` after `token` opens generics (`component Name<`).
    fn generic_opens(&self, token: Token<'a>) -> bool {
        matches!(token, Token::Ident(_))
            && matches!(self.statement, Some(Kw::Fn | Kw::Component))
            && self.parens.is_empty()
            && matches!(self.prev2, Some(Token::Kw(Kw::Fn | Kw::Component)))
    }

    /// Whether the `-` piece `minus` was unary: decided by the token before
    /// it (kept as `prev2` once `minus` itself is `prev`).
    fn unary_before(&self, minus: &Piece<'a>) -> bool {
        let _ = minus;
        match self.prev2 {
            None => true,
            Some(Token::Punct(p)) => !matches!(p, Punct::RParen | Punct::RBrace),
            Some(Token::Kw(kw)) => !matches!(kw, Kw::True | Kw::False),
            // Clause words take a value: `range -1 bar .. 10 bar`.
            Some(Token::Ident(w)) => UNARY_AFTER.contains(&w),
            Some(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(text: &str) -> String {
        match format(text) {
            Ok(s) => s,
            Err(d) => panic!("{d:?}"),
        }
    }

    #[test]
    fn spacing_indentation_and_units() {
        let messy = "use std::filters::Lag\n\n\n/// A pump.\ntwin   Pump{\n  step 100 ms\nsensor current:A range 0 A..60 A // amps\n  param k : W/( m^2 * K ) = 2 W/(m^2*K)\n    let p:W=400 V * current*( 1-k/k )\n  let s = Lag( x : current , tau : 30 s )\n  state x = -1\n  der(x) = - x / 1 s\n\n  alarm hot: critical when x > 3 for 30 s\n  clear when x < 2\n  on hot { x = 0 }\n\n}\n";
        let want = "use std::filters::Lag\n\n/// A pump.\ntwin Pump {\n    step 100 ms\n    sensor current: A range 0 A .. 60 A // amps\n    param k: W/(m^2*K) = 2 W/(m^2*K)\n    let p: W = 400 V * current * (1 - k / k)\n    let s = Lag(x: current, tau: 30 s)\n    state x = -1\n    der(x) = -x / 1 s\n\n    alarm hot: critical when x > 3 for 30 s\n        clear when x < 2\n    on hot { x = 0 }\n}\n";
        assert_eq!(fmt(messy), want);
        assert_eq!(fmt(want), want);
    }

    #[test]
    fn headers_and_generics() {
        let text = "component Lag < U > ( x : U , tau : s ) -> U {\n    state y: U = x\n    der(y) = (x - y) / tau\n    return y\n}\nfn f(a: m/s^2, b: 1) -> m = a * 1 s^2 + b * 1 m\n";
        let want = "component Lag<U>(x: U, tau: s) -> U {\n    state y: U = x\n    der(y) = (x - y) / tau\n    return y\n}\nfn f(a: m/s^2, b: 1) -> m = a * 1 s^2 + b * 1 m\n";
        assert_eq!(fmt(text), want);
    }

    #[test]
    fn tables_and_enums() {
        let text = "const c = table(L / s -> m){ 0: 42,5: 40 }\nconst w = table(degC->W/K) {\n-10: 1.5e3,\n  0: -2,\n  }\nenum Mode { Off,\nIdle }\n";
        let want = "const c = table(L/s -> m) { 0: 42, 5: 40 }\nconst w = table(degC -> W/K) {\n    -10: 1.5e3,\n    0: -2,\n}\nenum Mode { Off,\n    Idle }\n";
        assert_eq!(fmt(text), want);
        assert_eq!(fmt(want), want);
    }

    #[test]
    fn syntax_errors_stop_formatting() {
        assert!(format("twin T {\n    let = \n}\n").is_err());
    }
}
