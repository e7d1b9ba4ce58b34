//! Expressions, unit expressions and types.
//!
//! Precedence, loosest first: `if then else`, `or`, `and`, `not`,
//! comparisons, `+ -`, `* /`, unary `-`, `^` (right-associative), then
//! atoms: numbers and quantities, `true`/`false`, strings, paths, calls,
//! `der(x)` and parentheses.

use chumsky::pratt::{infix, left, prefix, right};
use chumsky::prelude::*;

use super::{Extra, ParseError, TokenInput, string_literal};
use crate::span::Span;
use crate::syntax::ast::{
    Arg, BinOp, Expr, ExprKind, Ident, Path, TypeExpr, UnOp, UnitExpr, UnitExprKind,
};
use crate::syntax::lexer::scan_compact_unit;
use crate::syntax::token::{Kw, Punct, Token};

/// A reserved keyword.
pub(super) fn kw<'src, I: TokenInput<'src>>(
    k: Kw,
) -> impl Parser<'src, I, Token<'src>, Extra<'src>> + Clone {
    just(Token::Kw(k))
}

/// A punctuation token.
pub(super) fn punct<'src, I: TokenInput<'src>>(
    p: Punct,
) -> impl Parser<'src, I, Token<'src>, Extra<'src>> + Clone {
    just(Token::Punct(p))
}

/// A contextual keyword (an identifier with this text).
pub(super) fn word<'src, I: TokenInput<'src>>(
    w: &'static str,
) -> impl Parser<'src, I, Token<'src>, Extra<'src>> + Clone {
    just(Token::Ident(w))
}

/// An identifier.
pub(super) fn ident<'src, I: TokenInput<'src>>() -> impl Parser<'src, I, Ident, Extra<'src>> + Clone
{
    select! { Token::Ident(name) = e => Ident { name: name.to_string(), span: e.span() } }
        .labelled("name")
}

/// `a::b::c` or `a.b.c`.
pub(super) fn path<'src, I: TokenInput<'src>>() -> impl Parser<'src, I, Path, Extra<'src>> + Clone {
    let sep = choice((
        punct(Punct::ColonColon).to(false),
        punct(Punct::Dot).to(true),
    ));
    ident()
        .then(sep.then(ident()).repeated().collect::<Vec<_>>())
        .map_with(|(first, rest), e| {
            let members = rest.iter().any(|(dot, _)| *dot);
            let mut segments = vec![first];
            segments.extend(rest.into_iter().map(|(_, s)| s));
            Path {
                segments,
                members,
                span: e.span(),
            }
        })
        .labelled("name")
}

/// Call arguments in parentheses: `(a: 1 m, b)`.
pub(super) fn call_args<'src, I: TokenInput<'src>>(
    expr: impl Parser<'src, I, Expr, Extra<'src>> + Clone,
) -> impl Parser<'src, I, Vec<Arg>, Extra<'src>> + Clone {
    ident()
        .then_ignore(punct(Punct::Colon))
        .or_not()
        .then(expr)
        .map(|(name, value)| Arg { name, value })
        .separated_by(punct(Punct::Comma))
        .allow_trailing()
        .collect::<Vec<_>>()
        .delimited_by(punct(Punct::LParen), punct(Punct::RParen))
        .labelled("arguments")
}

fn binary(op: BinOp, l: Expr, r: Expr) -> Expr {
    let span = l.span.to(r.span);
    Expr {
        kind: ExprKind::Binary(op, Box::new(l), Box::new(r)),
        span,
    }
}

// One parser per precedence level keeps failed attempts (and the errors
// chumsky records for them) to one per level.

fn comparison_op<'src, I: TokenInput<'src>>() -> impl Parser<'src, I, BinOp, Extra<'src>> + Clone {
    select! {
        Token::Punct(Punct::Lt) => BinOp::Lt,
        Token::Punct(Punct::Gt) => BinOp::Gt,
        Token::Punct(Punct::Le) => BinOp::Le,
        Token::Punct(Punct::Ge) => BinOp::Ge,
        Token::Punct(Punct::EqEq) => BinOp::Eq,
        Token::Punct(Punct::Ne) => BinOp::Ne,
    }
}

fn additive_op<'src, I: TokenInput<'src>>() -> impl Parser<'src, I, BinOp, Extra<'src>> + Clone {
    select! {
        Token::Punct(Punct::Plus) => BinOp::Add,
        Token::Punct(Punct::Minus) => BinOp::Sub,
    }
}

fn multiplicative_op<'src, I: TokenInput<'src>>() -> impl Parser<'src, I, BinOp, Extra<'src>> + Clone
{
    select! {
        Token::Punct(Punct::Star) => BinOp::Mul,
        Token::Punct(Punct::Slash) => BinOp::Div,
    }
}

/// The expression parser.
pub(super) fn expr_parser<'src, I: TokenInput<'src>>()
-> impl Parser<'src, I, Expr, Extra<'src>> + Clone {
    recursive(|expr| {
        let number = select! { Token::Number(n) => n };
        let unit = select! { Token::Unit(text) = e => (text, e.span()) }
            .map(|(text, span): (&'src str, Span)| (text, span));
        let quantity = number.then(unit.or_not()).map(|(n, unit)| match unit {
            Some((text, span)) => match scan_compact_unit(text, span.file, span.start as usize) {
                Some((u, _)) => ExprKind::Quantity(n, u),
                None => ExprKind::Number(n),
            },
            None => ExprKind::Number(n),
        });
        let boolean = choice((kw(Kw::True).to(true), kw(Kw::False).to(false))).map(ExprKind::Bool);
        let string = select! { Token::Str(raw) = e => (raw, e.span()) }.validate(
            |(raw, span), _, emitter| {
                let (lit, diags) = string_literal(raw, span);
                for d in diags {
                    emitter.emit(ParseError::custom(d.primary.span, d.message));
                }
                ExprKind::Str(lit)
            },
        );
        let der = kw(Kw::Der)
            .ignore_then(ident().delimited_by(punct(Punct::LParen), punct(Punct::RParen)))
            .map(ExprKind::Der);
        let if_ = kw(Kw::If)
            .ignore_then(expr.clone())
            .then_ignore(kw(Kw::Then))
            .then(expr.clone())
            .then_ignore(kw(Kw::Else))
            .then(expr.clone())
            .map(|((c, a), b)| ExprKind::If(Box::new(c), Box::new(a), Box::new(b)));
        let paren = expr
            .clone()
            .delimited_by(punct(Punct::LParen), punct(Punct::RParen))
            .map(|e| ExprKind::Paren(Box::new(e)));
        let path_or_call =
            path()
                .then(call_args(expr.clone()).or_not())
                .map(|(p, args)| match args {
                    Some(args) => ExprKind::Call(p, args),
                    None => ExprKind::Path(p),
                });
        // Most atoms are names and numbers: try those first.
        let atom = choice((path_or_call, quantity, paren, boolean, if_, der, string))
            .map_with(|kind, e| Expr {
                kind,
                span: e.span(),
            })
            .labelled("expression")
            .boxed();

        let (cmp, additive, multiplicative) = (comparison_op(), additive_op(), multiplicative_op());
        let unary =
            |op: UnOp,
             operand: Expr,
             e: &mut chumsky::input::MapExtra<'src, '_, I, Extra<'src>>| {
                Expr {
                    kind: ExprKind::Unary(op, Box::new(operand)),
                    span: e.span(),
                }
            };
        atom.pratt((
            infix(left(1), kw(Kw::Or), |l, _, r, _| binary(BinOp::Or, l, r)),
            infix(left(2), kw(Kw::And), |l, _, r, _| binary(BinOp::And, l, r)),
            prefix(3, kw(Kw::Not), move |_, x, e| unary(UnOp::Not, x, e)),
            infix(left(4), cmp, |l, op, r, _| binary(op, l, r)),
            infix(left(5), additive, |l, op, r, _| binary(op, l, r)),
            infix(left(6), multiplicative, |l, op, r, _| binary(op, l, r)),
            prefix(7, punct(Punct::Minus), move |_, x, e| {
                unary(UnOp::Neg, x, e)
            }),
            infix(right(8), punct(Punct::Caret), |l, _, r, _| {
                binary(BinOp::Pow, l, r)
            }),
        ))
        .labelled("expression")
        .boxed()
    })
}

/// An integer exponent: `2`, `-1`.
fn int_exponent<'src, I: TokenInput<'src>>() -> impl Parser<'src, I, i32, Extra<'src>> + Clone {
    punct(Punct::Minus)
        .or_not()
        .then(select! { Token::Number(n) => n })
        .try_map(|(neg, n), span| {
            if n.fract() == 0.0 && n.abs() <= 64.0 {
                let n = n as i32;
                Ok(if neg.is_some() { -n } else { n })
            } else {
                Err(ParseError::custom(
                    span,
                    "a unit exponent must be a whole number from -64 to 64",
                ))
            }
        })
        .labelled("exponent")
}

/// A unit expression in type position, where spaces are allowed:
/// `W / (m^2 * K)`, `1/min`, `%`, `U`.
pub(super) fn unit_expr_parser<'src, I: TokenInput<'src>>()
-> impl Parser<'src, I, UnitExpr, Extra<'src>> + Clone {
    recursive(|unit| {
        let name = select! {
            Token::Ident(n) => n.to_string(),
            Token::Punct(Punct::Percent) => "%".to_string(),
        }
        .map(UnitExprKind::Name);
        let one = select! { Token::Number(n) if n == 1.0 => UnitExprKind::One };
        let paren = unit
            .delimited_by(punct(Punct::LParen), punct(Punct::RParen))
            .map(|u| UnitExprKind::Paren(Box::new(u)));
        let atom = choice((name, one, paren)).map_with(|kind, e| UnitExpr {
            kind,
            span: e.span(),
        });
        let exponent = choice((
            int_exponent().map(|n| (n, 1)),
            int_exponent()
                .then(punct(Punct::Slash).ignore_then(int_exponent()).or_not())
                .delimited_by(punct(Punct::LParen), punct(Punct::RParen))
                .map(|(n, d)| (n, d.unwrap_or(1))),
        ));
        let factor = atom
            .then(punct(Punct::Caret).ignore_then(exponent).or_not())
            .map_with(|(base, exp), e| match exp {
                Some((n, d)) => UnitExpr {
                    kind: UnitExprKind::Pow(Box::new(base), n, d),
                    span: e.span(),
                },
                None => base,
            });
        let op = choice((punct(Punct::Star).to(true), punct(Punct::Slash).to(false)));
        factor
            .clone()
            .foldl_with(op.then(factor).repeated(), |l, (mul, r), e| {
                let (l, r) = (Box::new(l), Box::new(r));
                UnitExpr {
                    kind: if mul {
                        UnitExprKind::Mul(l, r)
                    } else {
                        UnitExprKind::Div(l, r)
                    },
                    span: e.span(),
                }
            })
            .labelled("unit")
            .boxed()
    })
}

/// A type annotation: a unit expression (which also covers `Real`, `Bool`,
/// `Int`, enum names and unit parameters).
pub(super) fn type_parser<'src, I: TokenInput<'src>>()
-> impl Parser<'src, I, TypeExpr, Extra<'src>> + Clone {
    unit_expr_parser()
        .map_with(|unit, e| TypeExpr {
            unit,
            span: e.span(),
        })
        .labelled("type or unit")
}
