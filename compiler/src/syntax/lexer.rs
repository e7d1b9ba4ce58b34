//! The lexer: source text to tokens.
//!
//! Takes one file's text; gives [`Lexed`]: tokens with spans, the doc
//! comments (attached later to the item that follows them), the comment
//! spans (for the formatter) and diagnostics for unterminated strings and
//! comments. It never fails: a character it cannot read becomes
//! [`Token::Error`], which the parser reports with what it expected there.
//!
//! Quantity literals are decided here, because the rule depends on spaces:
//! a number, optional spaces (not newlines), then a compact unit with no
//! spaces inside (`12 A`, `9.81 m/s^2`, `1.2 W/(m^2*K)`). A number followed
//! by a keyword (`2 h for 1 s`, `x > 3 at 5 s`) is a plain number.
//!
//! Invariant: every span lies on `char` boundaries inside the text.

use super::ast::{UnitExpr, UnitExprKind};
use super::token::{CONTEXTUAL, Kw, Punct, Token};
use crate::diagnostic::{Diagnostic, Kind};
use crate::span::{FileId, Span};

/// A `///` or `//!` comment block.
#[derive(Clone, Debug, PartialEq)]
pub struct DocComment {
    /// The text with the comment markers and one leading space removed,
    /// lines joined with `\n`.
    pub text: String,
    /// The whole block.
    pub span: Span,
}

/// What the lexer gives.
#[derive(Clone, Debug, Default)]
pub struct Lexed<'src> {
    /// The tokens, in order.
    pub tokens: Vec<(Token<'src>, Span)>,
    /// `///` blocks, each keyed by the byte offset of the token after it.
    pub docs: Vec<(u32, DocComment)>,
    /// The file's `//!` documentation.
    pub file_doc: Option<DocComment>,
    /// Every comment's span (doc comments included), in order.
    pub comments: Vec<Span>,
    /// Unterminated strings and comments.
    pub diagnostics: Vec<Diagnostic>,
}

/// Whether `c` may start an identifier. Units use `µ`, `Ω` and `°`, so
/// identifiers follow Unicode's alphabetic class rather than ASCII alone.
pub fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_' || c == '°'
}

/// Whether `c` may continue an identifier.
pub fn is_ident_continue(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Whether a word is reserved or contextual, and so never a unit.
pub fn is_keyword(word: &str) -> bool {
    Kw::from_text(word).is_some() || CONTEXTUAL.contains(&word)
}

struct Lexer<'src> {
    text: &'src str,
    pos: usize,
    file: FileId,
    out: Lexed<'src>,
    pending_doc: Option<DocComment>,
}

/// Lexes one file.
pub fn lex(text: &str, file: FileId) -> Lexed<'_> {
    let mut lexer = Lexer {
        text,
        pos: 0,
        file,
        out: Lexed::default(),
        pending_doc: None,
    };
    lexer.run();
    lexer.out
}

/// Lexes a piece of a file that starts at byte `base` (used for the
/// expressions inside `{...}` in strings): spans point into the whole file.
pub fn lex_at(text: &str, file: FileId, base: u32) -> Lexed<'_> {
    let mut lexed = lex(text, file);
    let shift = |s: &mut Span| {
        s.start += base;
        s.end += base;
    };
    lexed.tokens.iter_mut().for_each(|(_, s)| shift(s));
    lexed.comments.iter_mut().for_each(shift);
    for (at, doc) in &mut lexed.docs {
        *at += base;
        shift(&mut doc.span);
    }
    for d in &mut lexed.diagnostics {
        shift(&mut d.primary.span);
    }
    lexed
}

impl<'src> Lexer<'src> {
    fn span(&self, start: usize, end: usize) -> Span {
        Span::new(self.file, start..end)
    }

    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn rest(&self) -> &'src str {
        &self.text[self.pos..]
    }

    fn push(&mut self, token: Token<'src>, start: usize) {
        let span = self.span(start, self.pos);
        if let Some(doc) = self.pending_doc.take() {
            self.out.docs.push((span.start, doc));
        }
        self.out.tokens.push((token, span));
    }

    fn run(&mut self) {
        while let Some(c) = self.peek() {
            let start = self.pos;
            if c.is_whitespace() {
                self.pos += c.len_utf8();
            } else if self.rest().starts_with("//") {
                self.line_comment();
            } else if self.rest().starts_with("/*") {
                self.block_comment();
            } else if c.is_ascii_digit() {
                self.number();
            } else if is_ident_start(c) {
                let word = self.ident();
                let token = match Kw::from_text(word) {
                    Some(kw) => Token::Kw(kw),
                    None => Token::Ident(word),
                };
                self.push(token, start);
            } else if c == '"' {
                self.string();
            } else if let Some((punct, len)) = punct_at(self.rest()) {
                self.pos += len;
                self.push(Token::Punct(punct), start);
            } else {
                self.pos += c.len_utf8();
                self.push(Token::Error(c), start);
            }
        }
    }

    fn ident(&mut self) -> &'src str {
        let start = self.pos;
        let mut chars = self.rest().char_indices();
        let mut end = self.text.len() - start;
        chars.next();
        for (i, c) in chars {
            if !is_ident_continue(c) {
                end = i;
                break;
            }
        }
        self.pos = start + end;
        &self.text[start..self.pos]
    }

    fn line_comment(&mut self) {
        let start = self.pos;
        let end = self
            .rest()
            .find('\n')
            .map_or(self.text.len(), |i| start + i);
        self.pos = end;
        let body = &self.text[start..end];
        let span = self.span(start, end);
        self.out.comments.push(span);
        let doc_text = |prefix: &str| {
            let t = &body[prefix.len()..];
            t.strip_prefix(' ').unwrap_or(t).trim_end().to_string()
        };
        if body.starts_with("///") && !body.starts_with("////") {
            let text = doc_text("///");
            match &mut self.pending_doc {
                Some(doc) => {
                    doc.text.push('\n');
                    doc.text.push_str(&text);
                    doc.span = doc.span.to(span);
                }
                None => self.pending_doc = Some(DocComment { text, span }),
            }
        } else if body.starts_with("//!") {
            let text = doc_text("//!");
            match &mut self.out.file_doc {
                Some(doc) => {
                    doc.text.push('\n');
                    doc.text.push_str(&text);
                    doc.span = doc.span.to(span);
                }
                None => self.out.file_doc = Some(DocComment { text, span }),
            }
        }
    }

    fn block_comment(&mut self) {
        let start = self.pos;
        let mut depth = 0usize;
        let bytes = self.text.as_bytes();
        let mut i = self.pos;
        while i < bytes.len() {
            if bytes[i..].starts_with(b"/*") {
                depth += 1;
                i += 2;
            } else if bytes[i..].starts_with(b"*/") {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    break;
                }
            } else {
                i += 1;
            }
        }
        // `i` only stops on ASCII bytes or at the end, so it is a boundary.
        self.pos = i.min(bytes.len());
        let span = self.span(start, self.pos);
        self.out.comments.push(span);
        if depth > 0 {
            let opener = self.span(start, start + 2);
            self.out.diagnostics.push(
                Diagnostic::new(Kind::SyntaxError, opener, "unterminated block comment")
                    .label("this comment is never closed")
                    .with_help("close it with `*/`"),
            );
        }
    }

    fn string(&mut self) {
        let start = self.pos;
        self.pos += 1;
        let mut closed = false;
        while let Some(c) = self.peek() {
            match c {
                '"' => {
                    self.pos += 1;
                    closed = true;
                    break;
                }
                '\\' => {
                    self.pos += 1;
                    if let Some(next) = self.peek() {
                        self.pos += next.len_utf8();
                    }
                }
                '\n' => break,
                _ => self.pos += c.len_utf8(),
            }
        }
        let inner_end = if closed { self.pos - 1 } else { self.pos };
        let inner = &self.text[start + 1..inner_end];
        if !closed {
            self.out.diagnostics.push(
                Diagnostic::new(
                    Kind::SyntaxError,
                    self.span(start, self.pos),
                    "unterminated string",
                )
                .label("this string is never closed")
                .with_help("end the string with `\"` on the same line"),
            );
        }
        self.push(Token::Str(inner), start);
    }

    fn number(&mut self) {
        let start = self.pos;
        let bytes = self.text.as_bytes();
        let digits = |mut i: usize| {
            while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'_') {
                i += 1;
            }
            i
        };
        let mut i = digits(self.pos);
        if i + 1 < bytes.len() && bytes[i] == b'.' && bytes[i + 1].is_ascii_digit() {
            i = digits(i + 1);
        }
        if i < bytes.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
            let mut j = i + 1;
            if j < bytes.len() && (bytes[j] == b'+' || bytes[j] == b'-') {
                j += 1;
            }
            if j < bytes.len() && bytes[j].is_ascii_digit() {
                i = digits(j);
            }
        }
        self.pos = i;
        let cleaned: String = self.text[start..i].chars().filter(|&c| c != '_').collect();
        let value = cleaned.parse::<f64>().unwrap_or(f64::NAN);
        self.push(Token::Number(value), start);

        // A compact unit may follow after spaces, never across a newline.
        let after_number = self.pos;
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.pos += 1;
        }
        let unit_start = self.pos;
        match scan_compact_unit(self.rest(), self.file, unit_start) {
            Some((_, len)) => {
                self.pos += len;
                let text = &self.text[unit_start..self.pos];
                self.push(Token::Unit(text), unit_start);
            }
            None => self.pos = after_number,
        }
    }
}

fn punct_at(rest: &str) -> Option<(Punct, usize)> {
    let two = rest.get(..2).unwrap_or("");
    let p2 = match two {
        "<=" => Some(Punct::Le),
        ">=" => Some(Punct::Ge),
        "==" => Some(Punct::EqEq),
        "!=" => Some(Punct::Ne),
        "::" => Some(Punct::ColonColon),
        ".." => Some(Punct::DotDot),
        "->" => Some(Punct::Arrow),
        _ => None,
    };
    if let Some(p) = p2 {
        return Some((p, 2));
    }
    let p1 = match rest.as_bytes().first()? {
        b'(' => Punct::LParen,
        b')' => Punct::RParen,
        b'{' => Punct::LBrace,
        b'}' => Punct::RBrace,
        b'<' => Punct::Lt,
        b'>' => Punct::Gt,
        b'=' => Punct::Eq,
        b'+' => Punct::Plus,
        b'-' => Punct::Minus,
        b'*' => Punct::Star,
        b'/' => Punct::Slash,
        b'^' => Punct::Caret,
        b'%' => Punct::Percent,
        b',' => Punct::Comma,
        b':' => Punct::Colon,
        b'.' => Punct::Dot,
        _ => return None,
    };
    Some((p1, 1))
}

/// Reads a compact unit (no spaces) at the start of `text`, which begins at
/// byte `base` of file `file`. Gives the unit's tree and its length in
/// bytes, or `None` when `text` does not start with a unit (for example it
/// starts with a keyword, a digit or an operator).
pub fn scan_compact_unit(text: &str, file: FileId, base: usize) -> Option<(UnitExpr, usize)> {
    let mut scanner = UnitScanner {
        text,
        pos: 0,
        file,
        base,
    };
    // `1/s`: a reciprocal unit, glued like any other (`0.5 1/s`).
    let first = if text.starts_with("1/") {
        scanner.pos = 2;
        match scanner.factor(false) {
            Some(denominator) => {
                let one = UnitExpr {
                    kind: UnitExprKind::One,
                    span: Span::new(file, base..base + 1),
                };
                UnitExpr {
                    span: Span::new(file, base..denominator.span.end as usize),
                    kind: UnitExprKind::Div(Box::new(one), Box::new(denominator)),
                }
            }
            None => return None,
        }
    } else {
        scanner.factor(true)?
    };
    let unit = scanner.rest_of_product(first);
    Some((unit, scanner.pos))
}

struct UnitScanner<'a> {
    text: &'a str,
    pos: usize,
    file: FileId,
    base: usize,
}

impl UnitScanner<'_> {
    fn span(&self, start: usize) -> Span {
        Span::new(self.file, self.base + start..self.base + self.pos)
    }

    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn rest_of_product(&mut self, mut acc: UnitExpr) -> UnitExpr {
        let start = self.pos - (acc.span.end - acc.span.start) as usize;
        loop {
            let save = self.pos;
            let op = match self.peek() {
                Some('*') => '*',
                Some('/') => '/',
                _ => break,
            };
            self.pos += 1;
            let Some(rhs) = self.factor(false) else {
                self.pos = save;
                break;
            };
            let kind = if op == '*' {
                UnitExprKind::Mul(Box::new(acc), Box::new(rhs))
            } else {
                UnitExprKind::Div(Box::new(acc), Box::new(rhs))
            };
            acc = UnitExpr {
                kind,
                span: self.span(start),
            };
        }
        acc
    }

    fn factor(&mut self, first: bool) -> Option<UnitExpr> {
        let start = self.pos;
        let c = self.peek()?;
        let atom = if c == '%' {
            self.pos += 1;
            UnitExpr {
                kind: UnitExprKind::Name("%".into()),
                span: self.span(start),
            }
        } else if c == '(' && !first {
            self.pos += 1;
            let inner_first = self.factor(false)?;
            let inner = self.rest_of_product(inner_first);
            if self.peek() != Some(')') {
                self.pos = start;
                return None;
            }
            self.pos += 1;
            UnitExpr {
                kind: UnitExprKind::Paren(Box::new(inner)),
                span: self.span(start),
            }
        } else if is_ident_start(c) {
            let mut end = self.text.len();
            for (i, ch) in self.text[start..].char_indices().skip(1) {
                if !is_ident_continue(ch) {
                    end = start + i;
                    break;
                }
            }
            let word = &self.text[start..end];
            if is_keyword(word) {
                return None;
            }
            self.pos = end;
            UnitExpr {
                kind: UnitExprKind::Name(word.to_string()),
                span: self.span(start),
            }
        } else {
            return None;
        };
        Some(self.exponent(atom, start))
    }

    /// `^2`, `^-1`, `^(1/2)`; left alone when what follows `^` is not one.
    fn exponent(&mut self, atom: UnitExpr, start: usize) -> UnitExpr {
        if self.peek() != Some('^') {
            return atom;
        }
        let save = self.pos;
        self.pos += 1;
        let parsed = if self.peek() == Some('(') {
            self.pos += 1;
            let n = self.int();
            let d = if self.peek() == Some('/') {
                self.pos += 1;
                self.int()
            } else {
                Some(1)
            };
            match (n, d, self.peek()) {
                (Some(n), Some(d), Some(')')) => {
                    self.pos += 1;
                    Some((n, d))
                }
                _ => None,
            }
        } else {
            self.int().map(|n| (n, 1))
        };
        match parsed {
            Some((n, d)) => UnitExpr {
                kind: UnitExprKind::Pow(Box::new(atom), n, d),
                span: self.span(start),
            },
            None => {
                self.pos = save;
                atom
            }
        }
    }

    fn int(&mut self) -> Option<i32> {
        let start = self.pos;
        if self.peek() == Some('-') {
            self.pos += 1;
        }
        let digits_start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        if self.pos == digits_start {
            self.pos = start;
            return None;
        }
        match self.text[start..self.pos].parse() {
            Ok(n) => Some(n),
            Err(_) => {
                self.pos = start;
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(src: &str) -> String {
        let lexed = lex(src, FileId(0));
        let mut out: Vec<String> = lexed
            .tokens
            .iter()
            .map(|(t, s)| match t {
                Token::Ident(x) => format!("id:{x}"),
                Token::Kw(k) => format!("kw:{}", k.as_str()),
                Token::Number(n) => format!("num:{n}"),
                Token::Unit(u) => format!("unit:{u}@{}..{}", s.start, s.end),
                Token::Str(x) => format!("str:{x}"),
                Token::Punct(p) => p.as_str().to_string(),
                Token::Error(c) => format!("err:{c}"),
            })
            .collect();
        out.extend(lexed.diagnostics.iter().map(|d| format!("!{}", d.message)));
        out.join(" ")
    }

    #[test]
    fn quantities() {
        assert_eq!(show("12 A"), "num:12 unit:A@3..4");
        assert_eq!(show("9.81 m/s^2"), "num:9.81 unit:m/s^2@5..10");
        assert_eq!(show("1.2 W/(m^2*K)"), "num:1.2 unit:W/(m^2*K)@4..13");
        assert_eq!(show("10ms"), "num:10 unit:ms@2..4");
        assert_eq!(show("50 %"), "num:50 unit:%@3..4");
        assert_eq!(show("1_000 m^-1"), "num:1000 unit:m^-1@6..10");
        assert_eq!(show("0.5 1/s"), "num:0.5 unit:1/s@4..7");
        assert_eq!(show("2 1/min^2*x"), "num:2 unit:1/min^2*x@2..11");
        assert_eq!(show("max(1, 2)"), "id:max ( num:1 , num:2 )");
    }

    #[test]
    fn spaces_end_a_unit() {
        assert_eq!(show("2 m * x"), "num:2 unit:m@2..3 * id:x");
        assert_eq!(show("2 m*x"), "num:2 unit:m*x@2..5");
        assert_eq!(show("3 m/2"), "num:3 unit:m@2..3 / num:2");
    }

    #[test]
    fn keywords_are_not_units() {
        assert_eq!(
            show("2 m for 1 s"),
            "num:2 unit:m@2..3 kw:for num:1 unit:s@10..11"
        );
        assert_eq!(
            show("x > 3 at 5 s"),
            "id:x > num:3 id:at num:5 unit:s@11..12"
        );
        assert_eq!(show("then 1 else 2"), "kw:then num:1 kw:else num:2");
    }

    #[test]
    fn newline_ends_a_number() {
        assert_eq!(show("2\nm"), "num:2 id:m");
    }

    #[test]
    fn ranges_and_numbers() {
        assert_eq!(show("0..5"), "num:0 .. num:5");
        assert_eq!(show("1e-3 2.5E+2"), "num:0.001 num:250");
    }

    #[test]
    fn comments_and_docs() {
        let lexed = lex("//! file\n/// a\n/// b\ntwin X {} // c", FileId(0));
        assert_eq!(lexed.file_doc.map(|d| d.text), Some("file".into()));
        assert_eq!(lexed.docs.len(), 1);
        assert_eq!(lexed.docs[0].1.text, "a\nb");
        assert_eq!(lexed.docs[0].0, 21);
        assert_eq!(lexed.comments.len(), 4);
    }

    #[test]
    fn multibyte() {
        assert_eq!(show("5 µA"), "num:5 unit:µA@2..5");
        assert_eq!(show("温度 ?"), "id:温度 err:?");
        assert_eq!(show("\"abc"), "str:abc !unterminated string");
        assert_eq!(show("/* a /* b */"), "!unterminated block comment");
    }
}
