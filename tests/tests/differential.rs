//! Differential tests: the Cranelift JIT (`codegen`) against the reference
//! interpreter (`interp`).
//!
//! Guards the JIT's contract: for every IR node kind, on ordinary and edge
//! values (NaN, ±inf, ±0, subnormals), on random programs with nested
//! `If`/`While`, and on every model the project ships or is held to, the
//! native code leaves memory bit for bit as the interpreter does (NaNs
//! compared by class), and a fleet run in struct-of-arrays layout equals
//! its instances run one by one.

use proptest::prelude::*;
use twin_compiler::codegen::CompiledModel;
use twin_compiler::interp::{self, Memory};
use twin_compiler::ir::{BinOp, Expr, Func, Model, Slot, Stmt, UnOp};
use twin_tests::differential::{Fleet, Program, assert_same, difference, same};

/// A model with `slots` slots, the first `persistent` persistent, and the
/// given programs.
fn bare_model(
    slots: u32,
    persistent: u32,
    init: Vec<Stmt>,
    tick: Vec<Stmt>,
    integrate: Vec<Stmt>,
) -> Model {
    Model {
        init,
        tick,
        integrate,
        ..Model::bare("hand_built", slots, persistent)
    }
}

fn load(s: Slot) -> Expr {
    Expr::Load(s)
}

fn c(x: f64) -> Expr {
    Expr::Const(x)
}

// ---------------------------------------------------------------------------
// Hand-built programs: every node kind on a grid of edge values

/// Values that stress IEEE semantics.
const EDGES: [f64; 22] = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    -0.5,
    2.0,
    3.0,
    0.1,
    100.0,
    std::f64::consts::PI,
    1e-10,
    1e308,
    -1e308,
    5e-324,
    -5e-324,
    2.2250738585072014e-308,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NAN,
    // A negative quiet NaN and a NaN with a payload.
    f64::from_bits(0xfff8_0000_0000_0000),
    f64::from_bits(0x7ff8_0000_dead_beef),
];

const BINOPS: [BinOp; 14] = [
    BinOp::Add,
    BinOp::Sub,
    BinOp::Mul,
    BinOp::Div,
    BinOp::Lt,
    BinOp::Le,
    BinOp::Gt,
    BinOp::Ge,
    BinOp::Eq,
    BinOp::Ne,
    BinOp::And,
    BinOp::Or,
    BinOp::Min,
    BinOp::Max,
];

const FUNCS: [Func; 11] = [
    Func::Sqrt,
    Func::Abs,
    Func::Floor,
    Func::Ceil,
    Func::Exp,
    Func::Log,
    Func::Sin,
    Func::Cos,
    Func::Tan,
    Func::Atan2,
    Func::Pow,
];

/// Runs `init`, `tick` and `integrate` once each in both engines, from
/// memory with `EDGES` in slots `0..EDGES.len()`; gives the number of slots
/// compared.
fn run_grid(init: Vec<Stmt>, tick: Vec<Stmt>, integrate: Vec<Stmt>, results: u32) -> usize {
    let inputs = EDGES.len() as u32;
    let slots = inputs + results;
    // Half the slots persistent, half scratch, so both addressings are hit.
    let model = bare_model(slots, slots / 2, init, tick, integrate);
    let compiled = CompiledModel::compile(&model).expect("the grid compiles");
    let mut want = Memory::new(&model);
    for (i, v) in EDGES.iter().enumerate() {
        want.set(i as Slot, *v);
    }
    let mut got = want.clone();
    interp::exec(&model.init, &mut want);
    compiled.init(&mut got);
    assert_same(&model, &want, &got, "init");
    interp::exec(&model.tick, &mut want);
    compiled.tick(&mut got);
    assert_same(&model, &want, &got, "tick");
    interp::exec(&model.integrate, &mut want);
    compiled.integrate(&mut got);
    assert_same(&model, &want, &got, "integrate");
    model.slots.len()
}

/// Every pair of operands three ways: both loaded, both constant (so
/// Cranelift folds them), one of each.
fn operand_pairs() -> impl Iterator<Item = (Expr, Expr)> {
    let n = EDGES.len();
    (0..n).flat_map(move |i| {
        (0..n).flat_map(move |j| {
            [
                (load(i as Slot), load(j as Slot)),
                (c(EDGES[i]), c(EDGES[j])),
                (load(i as Slot), c(EDGES[j])),
            ]
        })
    })
}

#[test]
fn binary_ops_on_edge_values() {
    let first = EDGES.len() as Slot;
    let mut stmts = Vec::new();
    for op in BINOPS {
        for (a, b) in operand_pairs() {
            stmts.push(Stmt::Store(
                first + stmts.len() as Slot,
                Expr::bin(op, a, b),
            ));
        }
    }
    let results = stmts.len() as u32;
    // Over 20,000 statements in one function: also a test of large
    // programs.
    let compared = run_grid(Vec::new(), stmts, Vec::new(), results);
    assert!(compared > 20_000);
}

#[test]
fn unary_ops_and_functions_on_edge_values() {
    let first = EDGES.len() as Slot;
    let mut stmts = Vec::new();
    let push = |e: Expr, stmts: &mut Vec<Stmt>| {
        stmts.push(Stmt::Store(first + stmts.len() as Slot, e));
    };
    for (a, b) in operand_pairs() {
        push(Expr::Unary(UnOp::Neg, Box::new(a.clone())), &mut stmts);
        push(Expr::Unary(UnOp::Not, Box::new(a.clone())), &mut stmts);
        for f in FUNCS {
            push(Expr::Call(f, vec![a.clone(), b.clone()]), &mut stmts);
        }
    }
    // Missing arguments are NaN; extra ones are ignored.
    push(Expr::Call(Func::Sin, vec![]), &mut stmts);
    push(Expr::Call(Func::Pow, vec![load(2)]), &mut stmts);
    push(
        Expr::Call(Func::Atan2, vec![load(2), load(3), load(4)]),
        &mut stmts,
    );
    let results = stmts.len() as u32;
    run_grid(Vec::new(), stmts, Vec::new(), results);
}

#[test]
fn select_if_and_while_on_edge_conditions() {
    let first = EDGES.len() as Slot;
    let n = EDGES.len() as Slot;
    let mut stmts = Vec::new();
    for k in 0..n {
        let out = first + 4 * k;
        stmts.push(Stmt::Store(out, Expr::select(load(k), load(2), load(19))));
        stmts.push(Stmt::If(
            load(k),
            vec![Stmt::Store(out + 1, c(1.0))],
            vec![Stmt::Store(out + 1, c(2.0))],
        ));
        stmts.push(Stmt::If(
            load(k),
            vec![],
            vec![Stmt::Store(out + 1, c(3.0))],
        ));
        // A loop that runs while the value is truthy and the counter below
        // 3: a truthy value runs it three times.
        stmts.push(Stmt::Store(out + 2, c(0.0)));
        stmts.push(Stmt::While(
            Expr::bin(
                BinOp::And,
                load(k),
                Expr::bin(BinOp::Lt, load(out + 2), c(3.0)),
            ),
            vec![
                Stmt::Store(out + 2, Expr::bin(BinOp::Add, load(out + 2), c(1.0))),
                Stmt::Store(out + 3, Expr::bin(BinOp::Mul, load(out + 3), c(2.0))),
                Stmt::If(
                    Expr::bin(BinOp::Eq, load(out + 2), c(2.0)),
                    vec![Stmt::Store(
                        out + 3,
                        Expr::bin(BinOp::Add, load(out + 3), load(k)),
                    )],
                    vec![],
                ),
            ],
        ));
    }
    run_grid(Vec::new(), stmts, Vec::new(), 4 * n);
}

#[test]
fn evaluation_reads_slots_as_they_are_at_each_statement() {
    // Stores take effect before the next statement's loads, also through
    // loops and branches: swap through a temporary, accumulate in a loop.
    let tick = vec![
        Stmt::Store(30, load(0)),
        Stmt::Store(0, load(1)),
        Stmt::Store(1, load(30)),
        Stmt::Store(31, c(0.0)),
        Stmt::While(
            Expr::bin(BinOp::Lt, load(31), c(10.0)),
            vec![
                Stmt::Store(
                    32,
                    Expr::bin(
                        BinOp::Add,
                        Expr::bin(BinOp::Mul, load(32), load(8)),
                        load(31),
                    ),
                ),
                Stmt::Store(31, Expr::bin(BinOp::Add, load(31), c(1.0))),
            ],
        ),
    ];
    run_grid(Vec::new(), tick, Vec::new(), 12);
}

// ---------------------------------------------------------------------------
// Random programs

/// General slots a random program reads and writes.
const GENERAL: Slot = 8;
/// Persistent slots among them (and the counters).
const PERSISTENT: Slot = 5;
/// Loop counters start here, one per nesting depth.
const COUNTERS: Slot = GENERAL;
const MAX_DEPTH: Slot = 4;

/// A generated statement; `Loop` becomes a bounded `While`.
#[derive(Clone, Debug)]
enum Gen {
    Store(Slot, Expr),
    If(Expr, Vec<Gen>, Vec<Gen>),
    Loop(u8, Expr, Vec<Gen>),
}

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => prop::sample::select(EDGES.to_vec()),
        3 => (-4i32..=4).prop_map(f64::from),
        2 => -100.0..100.0f64,
    ]
}

fn expr() -> impl Strategy<Value = Expr> {
    let leaf = prop_oneof![
        value().prop_map(Expr::Const),
        (0..GENERAL + MAX_DEPTH).prop_map(Expr::Load),
    ];
    leaf.prop_recursive(5, 48, 3, |inner| {
        prop_oneof![
            (
                prop::sample::select(vec![UnOp::Neg, UnOp::Not]),
                inner.clone()
            )
                .prop_map(|(op, x)| Expr::Unary(op, Box::new(x))),
            (
                prop::sample::select(BINOPS.to_vec()),
                inner.clone(),
                inner.clone()
            )
                .prop_map(|(op, a, b)| Expr::bin(op, a, b)),
            (
                prop::sample::select(FUNCS.to_vec()),
                prop::collection::vec(inner.clone(), 0..=3)
            )
                .prop_map(|(f, args)| Expr::Call(f, args)),
            (inner.clone(), inner.clone(), inner).prop_map(|(c, a, b)| Expr::select(c, a, b)),
        ]
    })
}

fn gen_stmts() -> impl Strategy<Value = Vec<Gen>> {
    let store = (0..GENERAL, expr()).prop_map(|(s, e)| Gen::Store(s, e));
    let stmt = store.prop_recursive(3, 24, 4, |inner| {
        let block = prop::collection::vec(inner, 0..4);
        prop_oneof![
            2 => (0..GENERAL, expr()).prop_map(|(s, e)| Gen::Store(s, e)),
            1 => (expr(), block.clone(), block.clone()).prop_map(|(c, t, o)| Gen::If(c, t, o)),
            1 => (0u8..4, expr(), block).prop_map(|(n, c, b)| Gen::Loop(n, c, b)),
        ]
    });
    prop::collection::vec(stmt, 0..8)
}

/// The IR of generated statements at loop depth `depth`: a loop runs while
/// its condition is truthy and its counter is below its bound.
fn build(generated: &[Gen], depth: Slot) -> Vec<Stmt> {
    let mut out = Vec::new();
    for g in generated {
        match g {
            Gen::Store(s, e) => out.push(Stmt::Store(*s, e.clone())),
            Gen::If(cond, then, otherwise) => out.push(Stmt::If(
                cond.clone(),
                build(then, depth),
                build(otherwise, depth),
            )),
            Gen::Loop(trips, cond, body) => {
                let counter = COUNTERS + depth.min(MAX_DEPTH - 1);
                out.push(Stmt::Store(counter, c(0.0)));
                let mut stmts = build(body, depth + 1);
                stmts.push(Stmt::Store(
                    counter,
                    Expr::bin(BinOp::Add, load(counter), c(1.0)),
                ));
                let bounded = Expr::bin(BinOp::Lt, load(counter), c(f64::from(*trips)));
                out.push(Stmt::While(
                    Expr::bin(BinOp::And, bounded, cond.clone()),
                    stmts,
                ));
            }
        }
    }
    out
}

fn random_model(init: &[Gen], tick: &[Gen], integrate: &[Gen]) -> Model {
    let mut m = bare_model(
        GENERAL + MAX_DEPTH,
        PERSISTENT,
        build(init, 0),
        build(tick, 0),
        build(integrate, 0),
    );
    m.name = "random".to_string();
    m
}

/// A memory whose first slots hold `start`.
fn memory_at(model: &Model, start: &[f64]) -> Memory {
    let mut mem = Memory::new(model);
    for (s, v) in start.iter().enumerate() {
        mem.set(s as Slot, *v);
    }
    mem
}

/// `init` then `steps` × (`tick`, `integrate`) from `start` in both
/// engines, comparing every slot after each program.
fn engines_agree(
    model: &Model,
    compiled: &CompiledModel,
    start: Memory,
    steps: usize,
) -> Result<(), TestCaseError> {
    let mut want = start;
    let mut got = want.clone();
    interp::exec(&model.init, &mut want);
    compiled.init(&mut got);
    prop_assert_eq!(difference(model, &want, &got), None, "init");
    for step in 0..steps {
        interp::exec(&model.tick, &mut want);
        compiled.tick(&mut got);
        prop_assert_eq!(difference(model, &want, &got), None, "tick {}", step);
        interp::exec(&model.integrate, &mut want);
        compiled.integrate(&mut got);
        prop_assert_eq!(difference(model, &want, &got), None, "integrate {}", step);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    /// Random programs leave memory as the interpreter does after each of
    /// `init` and 6 × (`tick`, `integrate`), and a fleet of 3 in
    /// struct-of-arrays layout equals its instances run singly.
    #[test]
    fn random_programs_agree(
        init in gen_stmts(),
        tick in gen_stmts(),
        integrate in gen_stmts(),
        starts in prop::collection::vec(prop::collection::vec(value(), GENERAL as usize), 3),
    ) {
        let model = random_model(&init, &tick, &integrate);
        let compiled = CompiledModel::compile(&model).expect("random programs compile");
        let mut starts_mem = Vec::new();
        for start in &starts {
            let mem = memory_at(&model, start);
            starts_mem.push(mem.clone());
            engines_agree(&model, &compiled, mem, 6)?;
        }
        // The fleet: the same starts, run together. Random programs read
        // scratch before writing it, so the single runs share one scratch
        // too, in instance order, as the fleet does.
        let n = starts_mem.len();
        let mut fleet = Fleet::pack(&model, starts_mem.iter(), n);
        let mut singles = starts_mem;
        let mut shared = fleet.scratch.clone();
        let order = std::iter::once(Program::Init)
            .chain([Program::Tick, Program::Integrate].into_iter().cycle().take(12));
        for (call, program) in order.enumerate() {
            for mem in &mut singles {
                mem.scratch.clone_from(&shared);
                program.run(&compiled, mem);
                shared.clone_from(&mem.scratch);
            }
            program.run_fleet(&compiled, &mut fleet);
            for (i, mem) in singles.iter().enumerate() {
                let d = fleet.difference(&model, i, mem);
                prop_assert_eq!(d, None, "call {}, instance {}", call, i);
            }
            prop_assert!(fleet.scratch.iter().zip(&shared).all(|(a, b)| same(*a, *b)));
        }
    }
}

// ---------------------------------------------------------------------------
// Wide random programs

/// Slots of the wide random programs: more than the translator forwards
/// (its window holds the 32 most recent), so values leave the window and
/// are read back from memory; and long runs of stores, in which the
/// translator leaves out stores that the same run overwrites before
/// anything reads them (`compiler/src/codegen/forward.rs`).
const WIDE: Slot = 48;

fn wide_expr() -> impl Strategy<Value = Expr> {
    let leaf = prop_oneof![
        value().prop_map(Expr::Const),
        (0..WIDE).prop_map(Expr::Load)
    ];
    leaf.prop_recursive(3, 12, 2, |inner| {
        prop_oneof![
            (
                prop::sample::select(BINOPS.to_vec()),
                inner.clone(),
                inner.clone()
            )
                .prop_map(|(op, a, b)| Expr::bin(op, a, b)),
            (inner.clone(), inner.clone(), inner).prop_map(|(c, a, b)| Expr::select(c, a, b)),
        ]
    })
}

/// Mostly stores, now and then a branch (which ends a run of stores).
fn wide_stmts() -> impl Strategy<Value = Vec<Gen>> {
    let store = || (0..WIDE, wide_expr()).prop_map(|(s, e)| Gen::Store(s, e));
    let stmt = prop_oneof![
        12 => store(),
        1 => (
            wide_expr(),
            prop::collection::vec(store(), 0..6),
            prop::collection::vec(store(), 0..3)
        )
            .prop_map(|(c, t, o)| Gen::If(c, t, o)),
    ];
    prop::collection::vec(stmt, 0..160)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Long random programs over more slots than the forwarding window
    /// leave memory as the interpreter does after `init` and each of
    /// 4 × (`tick`, `integrate`).
    #[test]
    fn wide_random_programs_agree(
        init in wide_stmts(),
        tick in wide_stmts(),
        integrate in wide_stmts(),
        start in prop::collection::vec(value(), WIDE as usize),
    ) {
        let mut model = bare_model(WIDE, WIDE / 2, build(&init, 0), build(&tick, 0), build(&integrate, 0));
        model.name = "wide".to_string();
        let compiled = CompiledModel::compile(&model).expect("random programs compile");
        engines_agree(&model, &compiled, memory_at(&model, &start), 4)?;
    }
}
