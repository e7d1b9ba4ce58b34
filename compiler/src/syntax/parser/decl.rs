//! Declarations, items, and scenario/test statements; error recovery.
//!
//! Recovery: a declaration that does not parse is skipped up to the next
//! declaration keyword or the body's closing `}` (balanced `{...}` groups are
//! skipped whole); an item that does not parse is skipped up to the next
//! item keyword. Each skipped region becomes an `Error` node and exactly one
//! diagnostic, the one at the point where parsing failed.

use chumsky::prelude::*;

use super::expr::{
    call_args, expr_parser, ident, kw, path, punct, type_parser, unit_expr_parser, word,
};
use super::{Extra, ParseError, TokenInput, string_literal};
use crate::span::Span;
use crate::syntax::ast::{
    AlarmSeverity, Assign, ComponentDecl, ConstDecl, Decl, DeclKind, EnumDecl, ExpectMode,
    Expectation, Expr, FnDecl, Ident, Item, ItemKind, Param, RangeExpr, ScenarioDecl, Stmt,
    StmtKind, TableDecl, TablePoint, TestDecl, TwinDecl, TypeExpr, UnitDecl, UsePath,
};
use crate::syntax::lexer::scan_compact_unit;
use crate::syntax::token::{Kw, Punct, Token};

/// Tokens that start a top-level item.
pub(super) const ITEM_KEYWORDS: [Token<'static>; 9] = [
    Token::Kw(Kw::Use),
    Token::Kw(Kw::Const),
    Token::Kw(Kw::Unit),
    Token::Kw(Kw::Enum),
    Token::Kw(Kw::Fn),
    Token::Kw(Kw::Component),
    Token::Kw(Kw::Twin),
    Token::Kw(Kw::Scenario),
    Token::Kw(Kw::Test),
];

/// Tokens where skipping after a bad declaration stops.
const DECL_SYNC: [Token<'static>; 23] = [
    Token::Punct(Punct::RBrace),
    Token::Kw(Kw::Sensor),
    Token::Kw(Kw::Actuator),
    Token::Kw(Kw::Param),
    Token::Kw(Kw::State),
    Token::Kw(Kw::Var),
    Token::Kw(Kw::Let),
    Token::Kw(Kw::Out),
    Token::Kw(Kw::Return),
    Token::Kw(Kw::Der),
    Token::Kw(Kw::Alarm),
    Token::Kw(Kw::On),
    Token::Kw(Kw::Every),
    Token::Kw(Kw::Expect),
    Token::Kw(Kw::Use),
    Token::Kw(Kw::Const),
    Token::Kw(Kw::Unit),
    Token::Kw(Kw::Enum),
    Token::Kw(Kw::Fn),
    Token::Kw(Kw::Component),
    Token::Kw(Kw::Twin),
    Token::Kw(Kw::Scenario),
    Token::Kw(Kw::Test),
];

/// A balanced `{ ... }` group, skipped whole during recovery.
fn braces<'src, I: TokenInput<'src>>() -> impl Parser<'src, I, (), Extra<'src>> + Clone {
    recursive(|group| {
        punct(Punct::LBrace)
            .ignore_then(
                choice((
                    group,
                    none_of([Token::Punct(Punct::LBrace), Token::Punct(Punct::RBrace)]).ignored(),
                ))
                .repeated(),
            )
            .then_ignore(punct(Punct::RBrace))
            .ignored()
    })
}

/// What recovery skips after a bad declaration: its first token (never the
/// body's `}`), then everything up to the next sync token.
fn decl_recovery<'src, I: TokenInput<'src>>() -> impl Parser<'src, I, Decl, Extra<'src>> + Clone {
    none_of([Token::Punct(Punct::RBrace)])
        .ignored()
        .then(choice((braces(), none_of(DECL_SYNC).ignored())).repeated())
        .map_with(|_, e| Decl {
            doc: None,
            kind: DeclKind::Error,
            span: e.span(),
        })
}

/// `lo .. hi`.
fn range<'src, I: TokenInput<'src>>(
    expr: impl Parser<'src, I, Expr, Extra<'src>> + Clone + 'src,
) -> impl Parser<'src, I, RangeExpr, Extra<'src>> + Clone {
    expr.clone()
        .then_ignore(punct(Punct::DotDot))
        .then(expr)
        .map_with(|(lo, hi), e| RangeExpr {
            lo,
            hi,
            span: e.span(),
        })
        .labelled("range")
}

/// `: T`, optional.
fn annotation<'src, I: TokenInput<'src>>()
-> impl Parser<'src, I, Option<TypeExpr>, Extra<'src>> + Clone {
    punct(Punct::Colon).ignore_then(type_parser()).or_not()
}

enum SignalOpt {
    Range(RangeExpr),
    Stale(Expr),
    Slew(Expr),
}

/// Sorts a signal's options into (range, stale-or-slew), reporting an
/// option that belongs to the other kind of signal or comes twice.
fn signal_options<'src>(
    opts: Vec<(SignalOpt, Span)>,
    actuator: bool,
    emitter: &mut chumsky::input::Emitter<ParseError<'src>>,
) -> (Option<RangeExpr>, Option<Expr>) {
    let (mut range, mut other): (Option<RangeExpr>, Option<Expr>) = (None, None);
    for (o, span) in opts {
        match o {
            SignalOpt::Range(r) => {
                if range.is_some() {
                    emitter.emit(ParseError::custom(span, "`range` is given twice"));
                }
                range = Some(r);
            }
            SignalOpt::Stale(s) if actuator => {
                let _ = s;
                emitter.emit(ParseError::custom(
                    span,
                    "`stale after` belongs to sensors; an actuator takes `range` and `slew`",
                ));
            }
            SignalOpt::Slew(s) if !actuator => {
                let _ = s;
                emitter.emit(ParseError::custom(
                    span,
                    "`slew` belongs to actuators; a sensor takes `range` and `stale after`",
                ));
            }
            SignalOpt::Stale(s) | SignalOpt::Slew(s) => {
                if other.is_some() {
                    let what = if actuator { "`slew`" } else { "`stale after`" };
                    emitter.emit(ParseError::custom(span, format!("{what} is given twice")));
                }
                other = Some(s);
            }
        }
    }
    (range, other)
}

/// A declaration in a twin or component body.
fn decl_parser<'src, I: TokenInput<'src> + 'src>() -> impl Parser<'src, I, Decl, Extra<'src>> + Clone
{
    let expr = expr_parser().boxed();
    let init = punct(Punct::Eq).ignore_then(expr.clone());
    let named = |k: Kw| kw(k).ignore_then(ident()).then(annotation());

    let opt = choice((
        word("range")
            .ignore_then(range(expr.clone()))
            .map(SignalOpt::Range),
        word("stale")
            .ignore_then(word("after"))
            .ignore_then(expr.clone())
            .map(SignalOpt::Stale),
        word("slew").ignore_then(expr.clone()).map(SignalOpt::Slew),
    ))
    .map_with(|o, e| (o, e.span()));
    let sensor = named(Kw::Sensor)
        .then(opt.clone().repeated().collect::<Vec<_>>())
        .then(init.clone().or_not())
        .validate(|(((name, ty), opts), default), _, emitter| {
            let (range, stale) = signal_options(opts, false, emitter);
            DeclKind::Sensor {
                name,
                ty,
                range,
                stale,
                default,
            }
        });
    let actuator = named(Kw::Actuator)
        .then(opt.repeated().collect::<Vec<_>>())
        .then(init.clone().or_not())
        .validate(|(((name, ty), opts), value), _, emitter| {
            let (range, slew) = signal_options(opts, true, emitter);
            DeclKind::Actuator {
                name,
                ty,
                range,
                slew,
                value,
            }
        });
    let param = named(Kw::Param)
        .then(init.clone())
        .map(|((name, ty), value)| DeclKind::Param { name, ty, value });
    let state = named(Kw::State)
        .then(init.clone())
        .map(|((name, ty), init)| DeclKind::State { name, ty, init });
    let var = named(Kw::Var)
        .then(init.clone())
        .map(|((name, ty), init)| DeclKind::Var { name, ty, init });
    let let_ = named(Kw::Let)
        .then(init.clone())
        .map(|((name, ty), value)| DeclKind::Let { name, ty, value });
    let out = named(Kw::Out)
        .then(init.clone())
        .map(|((name, ty), value)| DeclKind::Out { name, ty, value });
    let ret = kw(Kw::Return)
        .ignore_then(expr.clone())
        .map(DeclKind::Return);
    let der = kw(Kw::Der)
        .ignore_then(ident().delimited_by(punct(Punct::LParen), punct(Punct::RParen)))
        .then(init.clone())
        .map(|(target, value)| DeclKind::Der { target, value });

    let severity = select! {
        Token::Ident("info") = e => (AlarmSeverity::Info, e.span()),
        Token::Ident("warning") = e => (AlarmSeverity::Warning, e.span()),
        Token::Ident("critical") = e => (AlarmSeverity::Critical, e.span()),
    }
    .labelled("`info`, `warning` or `critical`");
    let message = word("message")
        .ignore_then(select! { Token::Str(raw) = e => (raw, e.span()) }.labelled("string"))
        .validate(|(raw, span), _, emitter| {
            let (lit, diags) = string_literal(raw, span);
            for d in diags {
                emitter.emit(ParseError::custom(d.primary.span, d.message));
            }
            lit
        });
    let alarm = kw(Kw::Alarm)
        .ignore_then(ident())
        .then_ignore(punct(Punct::Colon))
        .then(severity)
        .then_ignore(kw(Kw::When))
        .then(expr.clone())
        .then(kw(Kw::For).ignore_then(expr.clone()).or_not())
        .then(
            kw(Kw::Clear)
                .ignore_then(kw(Kw::When))
                .ignore_then(expr.clone())
                .or_not(),
        )
        .then(message.or_not())
        .map(
            |(((((name, severity), when), hold), clear), message)| DeclKind::Alarm {
                name,
                severity,
                when,
                hold,
                clear,
                message,
            },
        );

    let assign = path()
        .then_ignore(punct(Punct::Eq))
        .then(expr.clone())
        .map_with(|(target, value), e| Assign {
            target,
            value,
            span: e.span(),
        })
        .labelled("assignment");
    let block = assign
        .repeated()
        .collect::<Vec<_>>()
        .delimited_by(punct(Punct::LBrace), punct(Punct::RBrace));
    let on = kw(Kw::On)
        .ignore_then(expr.clone())
        .then(block.clone())
        .map(|(cond, body)| DeclKind::On { cond, body });
    let every = kw(Kw::Every)
        .ignore_then(expr.clone())
        .then(block)
        .map(|(period, body)| DeclKind::Every { period, body });
    let step = word("step").ignore_then(expr.clone()).map(DeclKind::Step);
    let solver = word("solver")
        .ignore_then(ident())
        .then(call_args(expr.clone()).or_not())
        .map(|(name, args)| DeclKind::Solver {
            name,
            args: args.unwrap_or_default(),
        });
    let instance = ident()
        .then_ignore(punct(Punct::Eq))
        .then(expr)
        .map(|(name, call)| DeclKind::Instance { name, call });

    choice((
        sensor.boxed(),
        actuator.boxed(),
        param.boxed(),
        state.boxed(),
        var.boxed(),
        let_.boxed(),
        out.boxed(),
        ret.boxed(),
        der.boxed(),
        alarm.boxed(),
        on.boxed(),
        every.boxed(),
        step.boxed(),
        solver.boxed(),
        instance.boxed(),
    ))
    .map_with(|kind, e| Decl {
        doc: None,
        kind,
        span: e.span(),
    })
    .labelled("declaration")
    .recover_with(via_parser(decl_recovery()))
    .boxed()
}

/// `{ decl* }`, giving the declarations and the span of the braces.
fn body<'src, I: TokenInput<'src> + 'src>()
-> impl Parser<'src, I, (Vec<Decl>, crate::span::Span), Extra<'src>> + Clone {
    decl_parser()
        .repeated()
        .collect::<Vec<_>>()
        .delimited_by(punct(Punct::LBrace), punct(Punct::RBrace))
        .map_with(|decls, e| (decls, e.span()))
}

/// A scenario or test statement.
fn stmt_parser<'src, I: TokenInput<'src> + 'src>() -> impl Parser<'src, I, Stmt, Extra<'src>> + Clone
{
    let expr = expr_parser().boxed();
    let duration = word("duration")
        .ignore_then(expr.clone())
        .map(StmtKind::Duration);
    let run = word("run").ignore_then(expr.clone()).map(StmtKind::Run);
    let set = word("set")
        .ignore_then(path())
        .then_ignore(punct(Punct::Eq))
        .then(expr.clone())
        .map(|(p, e)| StmtKind::Set(p, e));
    let sensor = kw(Kw::Sensor)
        .ignore_then(path())
        .then_ignore(punct(Punct::Eq))
        .then(expr.clone())
        .map(|(p, e)| StmtKind::Sensor(p, e));
    let report = word("report")
        .ignore_then(
            path()
                .separated_by(punct(Punct::Comma))
                .at_least(1)
                .collect(),
        )
        .map(StmtKind::Report);
    let mode = choice((word("always").to(0u8), word("eventually").to(1u8))).or_not();
    let expect = kw(Kw::Expect)
        .ignore_then(mode)
        .then(expr.clone())
        .then(word("within").ignore_then(expr.clone()).or_not())
        .then(word("at").ignore_then(expr).or_not())
        .try_map(|(((mode, cond), within), at), span| {
            let mode = match (mode, within, at) {
                (None, None, None) => ExpectMode::AtEnd,
                (None, None, Some(t)) => ExpectMode::At(t),
                (Some(0), None, None) => ExpectMode::Always,
                (Some(1), within, None) => ExpectMode::Eventually(within),
                _ => {
                    return Err(ParseError::custom(
                        span,
                        "`within` goes with `expect eventually`, and `at` with a plain `expect`",
                    ));
                }
            };
            Ok(StmtKind::Expect(Expectation { mode, cond }))
        });
    let recovery = none_of([Token::Punct(Punct::RBrace)])
        .ignored()
        .then(
            none_of([
                Token::Punct(Punct::RBrace),
                Token::Kw(Kw::Sensor),
                Token::Kw(Kw::Expect),
                Token::Ident("run"),
                Token::Ident("set"),
                Token::Ident("duration"),
                Token::Ident("report"),
            ])
            .repeated(),
        )
        .to(StmtKind::Error);
    choice((duration, run, set, sensor, report, expect))
        .labelled("statement")
        .recover_with(via_parser(recovery))
        .map_with(|kind, e| Stmt {
            kind,
            span: e.span(),
        })
        .boxed()
}

fn stmt_body<'src, I: TokenInput<'src> + 'src>()
-> impl Parser<'src, I, Vec<Stmt>, Extra<'src>> + Clone {
    stmt_parser()
        .repeated()
        .collect::<Vec<_>>()
        .delimited_by(punct(Punct::LBrace), punct(Punct::RBrace))
}

/// `<U, V>`, optional.
fn generics<'src, I: TokenInput<'src>>() -> impl Parser<'src, I, Vec<Ident>, Extra<'src>> + Clone {
    ident()
        .separated_by(punct(Punct::Comma))
        .allow_trailing()
        .collect::<Vec<_>>()
        .delimited_by(punct(Punct::Lt), punct(Punct::Gt))
        .or_not()
        .map(Option::unwrap_or_default)
}

/// `(a: U, b: V = default)`.
fn params<'src, I: TokenInput<'src> + 'src>()
-> impl Parser<'src, I, Vec<Param>, Extra<'src>> + Clone {
    ident()
        .then_ignore(punct(Punct::Colon))
        .then(type_parser())
        .then(punct(Punct::Eq).ignore_then(expr_parser()).or_not())
        .map(|((name, ty), default)| Param { name, ty, default })
        .separated_by(punct(Punct::Comma))
        .allow_trailing()
        .collect::<Vec<_>>()
        .delimited_by(punct(Punct::LParen), punct(Punct::RParen))
        .labelled("parameters")
}

/// What follows `const name [: T] =`: a lookup table
/// `table(X -> Y) { x: y, ... }`, or any expression that does not start
/// with `table(`. Once `table(` is seen the value is a table: a mistake in
/// it is a syntax error in the table, not a call of an unknown `table`.
fn const_value<'src, I: TokenInput<'src> + 'src>()
-> impl Parser<'src, I, ConstValue, Extra<'src>> + Clone {
    let expr = expr_parser().boxed();
    let point = expr
        .clone()
        .then_ignore(punct(Punct::Colon))
        .then(expr.clone())
        .map_with(|(x, y), e| TablePoint {
            x,
            y,
            span: e.span(),
        })
        .labelled("table point");
    let header = type_parser()
        .then_ignore(punct(Punct::Arrow))
        .then(type_parser())
        .delimited_by(punct(Punct::LParen), punct(Punct::RParen));
    let points = point
        .separated_by(punct(Punct::Comma))
        .allow_trailing()
        .collect::<Vec<_>>()
        .delimited_by(punct(Punct::LBrace), punct(Punct::RBrace))
        .map_with(|points, e| (points, e.span()));
    let table = word("table").ignore_then(header).then(points).map(
        |((x_unit, y_unit), (points, body_span))| ConstValue::Table {
            x_unit,
            y_unit,
            points,
            body_span,
        },
    );
    let starts_table = word("table").then(punct(Punct::LParen));
    choice((
        table,
        starts_table.not().ignore_then(expr).map(ConstValue::Expr),
    ))
    .boxed()
}

/// The two forms of constant.
#[derive(Clone)]
enum ConstValue {
    Expr(Expr),
    Table {
        x_unit: TypeExpr,
        y_unit: TypeExpr,
        points: Vec<TablePoint>,
        body_span: Span,
    },
}

/// A top-level item.
fn item_parser<'src, I: TokenInput<'src> + 'src>() -> impl Parser<'src, I, Item, Extra<'src>> + Clone
{
    let expr = expr_parser().boxed();
    let use_ = kw(Kw::Use)
        .ignore_then(
            ident()
                .separated_by(punct(Punct::ColonColon))
                .at_least(1)
                .collect::<Vec<_>>(),
        )
        .map(|segments| ItemKind::Use(UsePath { segments }));
    let const_ = kw(Kw::Const)
        .ignore_then(ident())
        .then(annotation())
        .then_ignore(punct(Punct::Eq))
        .then(const_value())
        .validate(|((name, ty), value), _, emitter| match value {
            ConstValue::Expr(value) => ItemKind::Const(ConstDecl { name, ty, value }),
            ConstValue::Table {
                x_unit,
                y_unit,
                points,
                body_span,
            } => {
                if let Some(ty) = ty {
                    emitter.emit(ParseError::custom(
                        ty.span,
                        "a table takes its units from its header `table(X -> Y)`: remove this annotation",
                    ));
                }
                ItemKind::Table(TableDecl {
                    name,
                    x_unit,
                    y_unit,
                    points,
                    body_span,
                })
            }
        });
    let compact = select! { Token::Number(n) => n }
        .then(select! { Token::Unit(text) = e => (text, e.span()) })
        .try_map(
            |(n, (text, span)): (f64, (&'src str, crate::span::Span)), at| {
                scan_compact_unit(text, span.file, span.start as usize)
                    .map(|(u, _)| (Some(n), u))
                    .ok_or_else(|| ParseError::custom(at, "expected a unit"))
            },
        );
    let unit_ = kw(Kw::Unit)
        .ignore_then(ident())
        .then_ignore(punct(Punct::Eq))
        .then(choice((compact, unit_expr_parser().map(|u| (None, u)))))
        .map(|(name, (factor, unit))| ItemKind::Unit(UnitDecl { name, factor, unit }));
    let enum_ = kw(Kw::Enum)
        .ignore_then(ident())
        .then(
            ident()
                .separated_by(punct(Punct::Comma))
                .allow_trailing()
                .collect::<Vec<_>>()
                .delimited_by(punct(Punct::LBrace), punct(Punct::RBrace)),
        )
        .map(|(name, variants)| ItemKind::Enum(EnumDecl { name, variants }));
    let fn_ = kw(Kw::Fn)
        .ignore_then(ident())
        .then(generics())
        .then(params())
        .then(punct(Punct::Arrow).ignore_then(type_parser()).or_not())
        .then_ignore(punct(Punct::Eq))
        .then(expr)
        .map(|((((name, generics), params), ret), body)| {
            ItemKind::Fn(FnDecl {
                name,
                generics,
                params,
                ret,
                body,
            })
        });
    let component = kw(Kw::Component)
        .ignore_then(ident())
        .then(generics())
        .then(params())
        .then(punct(Punct::Arrow).ignore_then(type_parser()).or_not())
        .then(body())
        .map(|((((name, generics), params), ret), (body, body_span))| {
            ItemKind::Component(ComponentDecl {
                name,
                generics,
                params,
                ret,
                body,
                body_span,
            })
        });
    let twin = kw(Kw::Twin)
        .ignore_then(ident())
        .then(body())
        .map(|(name, (body, body_span))| {
            ItemKind::Twin(TwinDecl {
                name,
                body,
                body_span,
            })
        });
    let scenario = kw(Kw::Scenario)
        .ignore_then(ident())
        .then_ignore(kw(Kw::For))
        .then(ident())
        .then(stmt_body())
        .map(|((name, twin), body)| ItemKind::Scenario(ScenarioDecl { name, twin, body }));
    let test = kw(Kw::Test)
        .ignore_then(select! { Token::Str(raw) = e => (raw, e.span()) }.labelled("test name"))
        .then_ignore(kw(Kw::For))
        .then(ident())
        .then(stmt_body())
        .map(|(((raw, name_span), twin), body)| {
            ItemKind::Test(TestDecl {
                name: raw.to_string(),
                name_span,
                twin,
                body,
            })
        });
    let recovery = any()
        .ignored()
        .then(choice((braces(), none_of(ITEM_KEYWORDS).ignored())).repeated())
        .to(ItemKind::Error);
    choice((
        use_.boxed(),
        const_.boxed(),
        unit_.boxed(),
        enum_.boxed(),
        fn_.boxed(),
        component.boxed(),
        twin.boxed(),
        scenario.boxed(),
        test.boxed(),
    ))
    .labelled("item")
    .recover_with(via_parser(recovery))
    .map_with(|kind, e| Item {
        doc: None,
        kind,
        span: e.span(),
    })
    .boxed()
}

/// A whole file: items up to the end.
pub(super) fn module_parser<'src, I: TokenInput<'src> + 'src>()
-> impl Parser<'src, I, Vec<Item>, Extra<'src>> {
    item_parser()
        .repeated()
        .collect::<Vec<_>>()
        .then_ignore(end())
}
