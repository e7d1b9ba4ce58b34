//! Differential tests: the Cranelift JIT (`codegen`) against the reference
//! interpreter (`interp`).
//!
//! Guards the JIT's contract: for every IR node kind, on ordinary and edge
//! values (NaN, ±inf, ±0, subnormals), on random programs with nested
//! `If`/`While`, and on every model the project ships or is held to, the
//! native code leaves memory bit for bit as the interpreter does (NaNs
//! compared by class), and a fleet run in struct-of-arrays layout equals
//! its instances run one by one.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use twin_compiler::check::check;
use twin_compiler::codegen::CompiledModel;
use twin_compiler::hir::Solver;
use twin_compiler::interp::{self, Memory};
use twin_compiler::ir::{BinOp, Expr, Func, Model, Slot, SlotInfo, SlotKind, Stmt, UnOp, lower};
use twin_compiler::source::Sources;

// ---------------------------------------------------------------------------
// Shared helpers

/// Equal bits, or both NaN.
fn same(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
}

/// The first slot where two memories differ, described.
fn difference(model: &Model, want: &Memory, got: &Memory) -> Option<String> {
    (0..model.slots.len() as Slot).find_map(|s| {
        let (w, g) = (want.get(s), got.get(s));
        (!same(w, g)).then(|| {
            format!(
                "slot {s} `{}`: interp {w:?} ({:#x}), jit {g:?} ({:#x})",
                model.slots[s as usize].name,
                w.to_bits(),
                g.to_bits()
            )
        })
    })
}

fn assert_same(model: &Model, want: &Memory, got: &Memory, when: &str) {
    if let Some(d) = difference(model, want, got) {
        panic!("{}: {when}: {d}", model.name);
    }
}

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
        name: "hand_built".to_string(),
        slots: (0..slots)
            .map(|i| SlotInfo {
                name: format!("s{i}"),
                kind: if i < persistent {
                    SlotKind::Var
                } else {
                    SlotKind::Scratch
                },
            })
            .collect(),
        persistent,
        time: 0,
        dt: 0,
        tick_index: 0,
        step: 1.0,
        solver: Solver::Euler,
        states: Vec::new(),
        init_sensors: Vec::new(),
        init,
        tick,
        integrate,
        outputs: Vec::new(),
        sensors: Vec::new(),
        params: Vec::new(),
        alarms: Vec::new(),
        actuators: Vec::new(),
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
            let mut want = Memory::new(&model);
            for (s, v) in start.iter().enumerate() {
                want.set(s as Slot, *v);
            }
            starts_mem.push(want.clone());
            let mut got = want.clone();
            interp::exec(&model.init, &mut want);
            compiled.init(&mut got);
            prop_assert_eq!(difference(&model, &want, &got), None, "init");
            for step in 0..6 {
                interp::exec(&model.tick, &mut want);
                compiled.tick(&mut got);
                prop_assert_eq!(difference(&model, &want, &got), None, "tick {}", step);
                interp::exec(&model.integrate, &mut want);
                compiled.integrate(&mut got);
                prop_assert_eq!(difference(&model, &want, &got), None, "integrate {}", step);
            }
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
// Fleets

/// One of a model's programs.
#[derive(Clone, Copy, Debug)]
enum Program {
    Init,
    Tick,
    Integrate,
}

impl Program {
    /// Runs it natively on one instance.
    fn run(self, compiled: &CompiledModel, mem: &mut Memory) {
        match self {
            Program::Init => compiled.init(mem),
            Program::Tick => compiled.tick(mem),
            Program::Integrate => compiled.integrate(mem),
        }
    }

    /// Runs it natively on a fleet.
    fn run_fleet(self, compiled: &CompiledModel, fleet: &mut Fleet) {
        let (block, scratch, n) = (&mut fleet.block, &mut fleet.scratch, fleet.n);
        match self {
            Program::Init => compiled.init_batch(block, scratch, n),
            Program::Tick => compiled.tick_batch(block, scratch, n),
            Program::Integrate => compiled.integrate_batch(block, scratch, n),
        }
    }
}

/// Persistent slots of `n` instances in struct-of-arrays layout, and the
/// shared scratch.
struct Fleet {
    block: Vec<f64>,
    scratch: Vec<f64>,
    n: usize,
}

impl Fleet {
    /// Packs the instances' blocks; the scratch starts as the first one's.
    fn pack<'m>(model: &Model, mems: impl Iterator<Item = &'m Memory>, n: usize) -> Fleet {
        let p = model.persistent as usize;
        let mut fleet = Fleet {
            block: vec![0.0; p * n],
            scratch: vec![0.0; model.scratch_len()],
            n,
        };
        for (i, mem) in mems.enumerate() {
            for s in 0..p {
                fleet.block[s * n + i] = mem.block[s];
            }
            if i == 0 {
                fleet.scratch.clone_from(&mem.scratch);
            }
        }
        fleet
    }

    /// Sets persistent slot `slot` of instance `i`.
    fn set(&mut self, slot: Slot, i: usize, value: f64) {
        self.block[slot as usize * self.n + i] = value;
    }

    /// Sets any slot: persistent ones for instance `i`, scratch ones for
    /// the whole fleet.
    fn set_any(&mut self, model: &Model, slot: Slot, i: usize, value: f64) {
        match (slot as usize).checked_sub(model.persistent as usize) {
            Some(s) => self.scratch[s] = value,
            None => self.set(slot, i, value),
        }
    }

    fn get(&self, slot: Slot, i: usize) -> f64 {
        self.block[slot as usize * self.n + i]
    }

    /// The first persistent slot where instance `i` differs from `single`.
    fn difference(&self, model: &Model, i: usize, single: &Memory) -> Option<String> {
        (0..model.persistent).find_map(|s| {
            let (f, g) = (self.get(s, i), single.get(s));
            (!same(f, g)).then(|| {
                format!(
                    "slot {s} `{}`: fleet {f:?}, single {g:?}",
                    model.slots[s as usize].name
                )
            })
        })
    }
}

// ---------------------------------------------------------------------------
// Every shipped model

fn twin_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            twin_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "twin") {
            out.push(p);
        }
    }
}

/// The solvers every twin is also lowered with (`twinc sim --solver`).
const SOLVERS: [Solver; 3] = [
    Solver::Euler,
    Solver::Rk4,
    Solver::Dopri5 {
        rtol: 1e-6,
        atol: 1e-9,
    },
];

/// Every twin of a model file that checks clean, lowered with its own
/// solver and with each of [`SOLVERS`]; `None` for files with errors.
fn lowered_twins(text: &str, name: &str) -> Option<Vec<Model>> {
    let mut sources = Sources::new();
    let root = sources.add(name, text);
    let checked = check(&mut sources, root);
    if checked.has_errors() {
        return None;
    }
    let mut models = Vec::new();
    for t in 0..checked.program.twins.len() {
        let own = checked.program.twins[t].solver;
        let solvers = std::iter::once(None).chain(SOLVERS.iter().filter(|s| **s != own).map(Some));
        for solver in solvers {
            match lower::lower_with(&checked.program, t, solver.copied()) {
                Ok(m) => models.push(m),
                Err(e) => eprintln!("{name}: twin {t} does not lower: {e}"),
            }
        }
    }
    Some(models)
}

/// The models under test: conformance cases, examples and clean check data.
fn shipped_models() -> Vec<(String, Model)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    if let Some(cases) = twin_tests::conformance_cases() {
        twin_files(&cases, &mut files);
    }
    twin_files(&root.join("examples"), &mut files);
    twin_files(&root.join("tests/data/check/clean"), &mut files);
    let mut models = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        let name = f.display().to_string();
        for m in lowered_twins(&text, &name).unwrap_or_default() {
            models.push((format!("{name}: {} ({:?})", m.name, m.solver), m));
        }
    }
    models
}

/// A sensor's synthetic sample at tick `k` for instance `i`, or `None`
/// when the sample is missing (every 7th tick after the first, so
/// staleness logic runs; every sensor has a sample at t = 0).
fn sample(model: &Model, sensor: usize, k: usize, i: usize) -> Option<f64> {
    if k > 0 && (k + sensor) % 7 == 3 {
        return None;
    }
    let wave = 0.5 + 0.5 * ((k as f64) * 0.05 + sensor as f64 + i as f64 * 0.7).sin();
    Some(match model.sensors[sensor].range {
        Some((lo, hi)) if lo.is_finite() && hi.is_finite() => lo + (hi - lo) * wave,
        _ => 20.0 + 40.0 * wave + i as f64,
    })
}

/// Writes the samples of tick `k` (at time `t`) for instance `i` through
/// `set`.
fn apply_samples(model: &Model, k: usize, i: usize, t: f64, set: &mut impl FnMut(Slot, f64)) {
    for (j, sensor) in model.sensors.iter().enumerate() {
        if let Some(v) = sample(model, j, k, i) {
            set(sensor.slot, v);
            set(sensor.last_sample, t);
        }
    }
}

/// Memory at t = 0 before `init`, as the driver sets it up: `dt`, params at
/// their defaults, sensor defaults, then (when `samples`) the samples at
/// t = 0 for instance `i`.
fn setup(model: &Model, samples: bool, i: usize) -> Memory {
    let mut mem = Memory::new(model);
    mem.set(model.dt, model.step);
    for p in &model.params {
        let v = interp::eval(&p.default, &mem);
        mem.set(p.slot, v);
    }
    interp::exec(&model.init_sensors, &mut mem);
    if samples {
        apply_samples(model, 0, i, 0.0, &mut |s, v| mem.set(s, v));
    }
    mem
}

/// The driver's clock step after `integrate` (`Model::set_tick`): tick
/// index `k` and `t = k·dt`, written through `set`.
fn set_tick(model: &Model, k: usize, set: &mut impl FnMut(Slot, f64)) {
    model.set_tick(set, k as u64, model.step);
}

const STEPS: usize = 200;

/// `init` then `steps` × (`tick`, `integrate`) in both engines, comparing
/// every slot after each call; gives the number of comparisons.
fn run_model(model: &Model, compiled: &CompiledModel, samples: bool, steps: usize) -> usize {
    let mut want = setup(model, samples, 0);
    let mut got = want.clone();
    interp::exec(&model.init, &mut want);
    compiled.init(&mut got);
    assert_same(model, &want, &got, "init");
    for k in 0..steps {
        if samples && k > 0 {
            let t = k as f64 * model.step;
            apply_samples(model, k, 0, t, &mut |s, v| {
                want.set(s, v);
                got.set(s, v);
            });
        }
        interp::exec(&model.tick, &mut want);
        compiled.tick(&mut got);
        assert_same(model, &want, &got, &format!("tick {k}"));
        interp::exec(&model.integrate, &mut want);
        compiled.integrate(&mut got);
        assert_same(model, &want, &got, &format!("integrate {k}"));
        set_tick(model, k + 1, &mut |s, v| {
            want.set(s, v);
            got.set(s, v);
        });
    }
    1 + 2 * steps
}

/// Four instances with different samples, as a fleet and one by one.
fn run_fleet(model: &Model, compiled: &CompiledModel) {
    const N: usize = 4;
    let mut singles: Vec<Memory> = (0..N).map(|i| setup(model, true, i)).collect();
    let mut fleet = Fleet::pack(model, singles.iter(), N);
    for single in &mut singles {
        compiled.init(single);
    }
    compiled.init_batch(&mut fleet.block, &mut fleet.scratch, N);
    for k in 0..STEPS {
        if k > 0 {
            let t = k as f64 * model.step;
            for (i, single) in singles.iter_mut().enumerate() {
                apply_samples(model, k, i, t, &mut |s, v| {
                    single.set(s, v);
                    fleet.set_any(model, s, i, v);
                });
            }
        }
        for single in &mut singles {
            compiled.tick(single);
        }
        compiled.tick_batch(&mut fleet.block, &mut fleet.scratch, N);
        for (i, single) in singles.iter().enumerate() {
            if let Some(d) = fleet.difference(model, i, single) {
                panic!("{}: tick {k}, instance {i}: {d}", model.name);
            }
        }
        for single in &mut singles {
            compiled.integrate(single);
        }
        compiled.integrate_batch(&mut fleet.block, &mut fleet.scratch, N);
        for (i, single) in singles.iter().enumerate() {
            if let Some(d) = fleet.difference(model, i, single) {
                panic!("{}: integrate {k}, instance {i}: {d}", model.name);
            }
        }
        for single in &mut singles {
            set_tick(model, k + 1, &mut |s, v| single.set(s, v));
        }
        set_tick(model, k + 1, &mut |s, v| fleet.set_any(model, s, 0, v));
    }
}

#[test]
fn shipped_models_agree_with_the_interpreter() {
    let models = shipped_models();
    assert!(models.len() >= 40, "only {} models found", models.len());
    let mut comparisons = 0;
    for (name, model) in &models {
        let compiled = CompiledModel::compile(model)
            .unwrap_or_else(|e| panic!("{name}: does not compile: {e}"));
        // Without samples the sensors are NaN, and a NaN error estimate
        // makes dopri5 reject 100,000 sub-steps per tick (and keep a NaN
        // step size): a few ticks show the engines agree on that too.
        let steps = match model.solver {
            Solver::Dopri5 { .. } => 3,
            _ => STEPS,
        };
        comparisons += run_model(model, &compiled, false, steps);
        comparisons += run_model(model, &compiled, true, STEPS);
    }
    eprintln!(
        "{} models, {comparisons} whole-memory comparisons",
        models.len()
    );
}

#[test]
fn shipped_models_run_as_fleets() {
    for (name, model) in &shipped_models() {
        let compiled = CompiledModel::compile(model)
            .unwrap_or_else(|e| panic!("{name}: does not compile: {e}"));
        run_fleet(model, &compiled);
    }
}

// ---------------------------------------------------------------------------
// Large models

/// One twin with `blocks` copies of a block of sensors, params, lets,
/// component instances, states, alarms, actuators and handlers (the
/// benchmark model's block, all in one twin).
fn big_twin(blocks: usize) -> String {
    let mut out = String::from(
        "use std::filters::Lag\n\n\
         component Heat<U>(x: U, gain: W/U, capacity: J/K) -> K {\n    \
         state rise: K = 0 K\n    der(rise) = (gain * x - 2 W/K * rise) / capacity\n    \
         return rise\n}\n\ntwin Big {\n    step 100 ms\n",
    );
    for k in 0..blocks {
        out.push_str(&format!(
            "    sensor current{k}: A range 0 A .. 60 A stale after 5 s\n\
             \x20   sensor ambient{k}: degC = 20 degC\n\
             \x20   param capacity{k}: kJ/K = 5 kJ/K\n\
             \x20   let power{k}: kW = 400 V * current{k} * 0.9\n\
             \x20   let smooth{k} = Lag(x: current{k}, tau: 30 s)\n\
             \x20   let rise{k} = Heat(x: current{k}, gain: 2 W/A, capacity: capacity{k})\n\
             \x20   state temp{k}: degC = 25 degC\n\
             \x20   der(temp{k}) = (0.02 * power{k} - 3 W/K * (temp{k} - ambient{k})) / capacity{k}\n\
             \x20   alarm hot{k}: warning when temp{k} > 80 degC for 30 s clear when temp{k} < 75 degC\n\
             \x20   actuator limit{k}: A range 0 A .. 60 A slew 1 A/s\n\
             \x20   on hot{k} {{\n        limit{k} = 0.8 * smooth{k}\n    }}\n"
        ));
    }
    out.push_str("}\n");
    out
}

fn statements(stmts: &[Stmt]) -> usize {
    stmts
        .iter()
        .map(|s| match s {
            Stmt::Store(..) => 1,
            Stmt::If(_, a, b) => 1 + statements(a) + statements(b),
            Stmt::While(_, b) => 1 + statements(b),
        })
        .sum()
}

/// Compiles the big twin with `blocks` blocks under every solver and runs
/// `steps` ticks in both engines.
fn big_model_agrees(blocks: usize, steps: usize) {
    let text = big_twin(blocks);
    let models = lowered_twins(&text, "big.twin").expect("the big twin checks clean");
    assert_eq!(models.len(), 3);
    for model in &models {
        let compiled = CompiledModel::compile(model).expect("the big twin compiles");
        let size = statements(&model.init) + statements(&model.tick) + statements(&model.integrate);
        eprintln!(
            "{} lines, {:?}: {} slots, {size} statements, compiled in {:?}",
            text.lines().count(),
            model.solver,
            model.slots.len(),
            compiled.compile_time()
        );
        run_model(model, &compiled, true, steps);
    }
}

#[test]
fn a_large_model_agrees() {
    big_model_agrees(40, 20);
}

/// The largest model tried: about 12,000 lines in one twin. Slow in debug
/// builds; run with `cargo test --release -- --ignored`.
#[test]
#[ignore]
fn a_very_large_model_agrees() {
    big_model_agrees(1_000, 10);
}
