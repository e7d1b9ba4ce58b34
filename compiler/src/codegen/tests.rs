//! Unit tests of the JIT: each node kind against the interpreter on edge
//! values, the layout checks, and the guards of the safe entry points.

use super::{CodegenError, CompiledModel, Entries, Opt, Options};
use crate::interp::{self, Memory};
use crate::ir::{BinOp, Expr, Func, Model, Stmt, UnOp};

/// A model with `slots` slots, the first `persistent` of them persistent,
/// whose `tick` is `tick`.
fn model(slots: u32, persistent: u32, tick: Vec<Stmt>) -> Model {
    Model {
        tick,
        ..Model::bare("t", slots, persistent)
    }
}

const EDGES: [f64; 12] = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    -2.5,
    1e308,
    5e-324,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NAN,
    3.0,
];

fn same(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
}

/// Runs `tick` in both engines from `values` in slots 0.. and checks every
/// slot agrees.
fn agree(m: &Model, compiled: &CompiledModel, values: &[f64]) {
    let mut want = Memory::new(m);
    for (i, v) in values.iter().enumerate() {
        want.set(i as u32, *v);
    }
    let mut got = want.clone();
    interp::exec(&m.tick, &mut want);
    compiled.tick(&mut got);
    for s in 0..m.slots.len() as u32 {
        let (w, g) = (want.get(s), got.get(s));
        assert!(
            same(w, g),
            "slot {s}: interp {w:?} jit {g:?} from {values:?}"
        );
    }
}

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

#[test]
fn binary_ops_match_the_interpreter_on_edge_values() {
    // Slots 0 and 1 are the operands (one persistent, one scratch); the
    // results go to persistent and scratch slots alike.
    let n = BINOPS.len() as u32;
    let tick = BINOPS
        .iter()
        .enumerate()
        .map(|(k, op)| {
            Stmt::Store(
                2 + k as u32,
                Expr::bin(*op, Expr::Load(0), Expr::Load(n + 2)),
            )
        })
        .collect();
    let m = model(n + 3, n / 2, tick);
    let compiled = CompiledModel::compile(&m).expect("compiles");
    for a in EDGES {
        for b in EDGES {
            let mut values = vec![0.0; n as usize + 3];
            values[0] = a;
            values[n as usize + 2] = b;
            agree(&m, &compiled, &values);
        }
    }
}

#[test]
fn unary_ops_and_functions_match_the_interpreter_on_edge_values() {
    let funcs = [
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
    let mut tick = vec![
        Stmt::Store(2, Expr::Unary(UnOp::Neg, Box::new(Expr::Load(0)))),
        Stmt::Store(3, Expr::Unary(UnOp::Not, Box::new(Expr::Load(0)))),
    ];
    for (k, f) in funcs.iter().enumerate() {
        tick.push(Stmt::Store(
            4 + k as u32,
            Expr::Call(*f, vec![Expr::Load(0), Expr::Load(1)]),
        ));
    }
    let m = model(4 + funcs.len() as u32, 3, tick);
    let compiled = CompiledModel::compile(&m).expect("compiles");
    for a in EDGES {
        for b in EDGES {
            let mut values = vec![0.0; m.slots.len()];
            values[0] = a;
            values[1] = b;
            agree(&m, &compiled, &values);
        }
    }
}

#[test]
fn missing_and_extra_call_arguments_match_the_interpreter() {
    let tick = vec![
        Stmt::Store(1, Expr::Call(Func::Sqrt, vec![])),
        Stmt::Store(2, Expr::Call(Func::Pow, vec![Expr::Load(0)])),
        Stmt::Store(3, Expr::Call(Func::Atan2, vec![])),
        Stmt::Store(
            4,
            Expr::Call(
                Func::Exp,
                vec![Expr::Load(0), Expr::Load(0), Expr::Const(7.0)],
            ),
        ),
        // An extra argument is not evaluated: even a slot that does not
        // exist is fine, as in the interpreter.
        Stmt::Store(
            5,
            Expr::Call(Func::Abs, vec![Expr::Load(0), Expr::Load(999)]),
        ),
    ];
    let m = model(6, 6, tick);
    let compiled = CompiledModel::compile(&m).expect("compiles");
    for a in EDGES {
        agree(&m, &compiled, &[a]);
    }
}

#[test]
fn select_if_and_while_match_the_interpreter() {
    // s1 = select(s0, 10, 20); if s0 { s2 = 1 } else { s2 = 2 };
    // s3 = 0; while s3 < 5 { s3 = s3 + 1; if s3 == 3 { s4 = s4 + 100 } }
    let tick = vec![
        Stmt::Store(
            1,
            Expr::select(Expr::Load(0), Expr::Const(10.0), Expr::Const(20.0)),
        ),
        Stmt::If(
            Expr::Load(0),
            vec![Stmt::Store(2, Expr::Const(1.0))],
            vec![Stmt::Store(2, Expr::Const(2.0))],
        ),
        Stmt::Store(3, Expr::Const(0.0)),
        Stmt::While(
            Expr::bin(BinOp::Lt, Expr::Load(3), Expr::Const(5.0)),
            vec![
                Stmt::Store(3, Expr::bin(BinOp::Add, Expr::Load(3), Expr::Const(1.0))),
                Stmt::If(
                    Expr::bin(BinOp::Eq, Expr::Load(3), Expr::Const(3.0)),
                    vec![Stmt::Store(
                        4,
                        Expr::bin(BinOp::Add, Expr::Load(4), Expr::Const(100.0)),
                    )],
                    vec![],
                ),
            ],
        ),
    ];
    let m = model(5, 2, tick);
    let compiled = CompiledModel::compile(&m).expect("compiles");
    for a in EDGES {
        agree(&m, &compiled, &[a]);
    }
}

#[test]
fn deep_expressions_compile_without_recursion() {
    let mut e = Expr::Load(0);
    for k in 0..30_000 {
        e = Expr::bin(BinOp::Add, e, Expr::Const(f64::from(k % 7)));
    }
    let m = model(2, 2, vec![Stmt::Store(1, e)]);
    let compiled = CompiledModel::compile(&m).expect("compiles");
    let mut mem = Memory::new(&m);
    compiled.tick(&mut mem);
    let expected: f64 = (0..30_000).map(|k| f64::from(k % 7)).sum();
    assert_eq!(mem.get(1), expected);
    // Dropping a deep tree recurses; leak it rather than overflow the test
    // thread's stack.
    std::mem::forget(m);
}

#[test]
fn slots_outside_the_model_are_rejected() {
    let m = model(2, 1, vec![Stmt::Store(0, Expr::Load(2))]);
    assert_eq!(
        CompiledModel::compile(&m).err(),
        Some(CodegenError::SlotOutOfRange {
            program: "tick",
            slot: 2,
            slots: 2
        })
    );
    let m = model(2, 1, vec![Stmt::Store(5, Expr::Const(1.0))]);
    assert!(matches!(
        CompiledModel::compile(&m),
        Err(CodegenError::SlotOutOfRange { slot: 5, .. })
    ));
    let mut m = model(2, 1, vec![]);
    m.persistent = 3;
    let err = CompiledModel::compile(&m).err().map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some("cannot lay out the model's memory: 3 persistent slots but only 2 slots")
    );
}

#[test]
fn memory_of_the_wrong_shape_is_left_alone() {
    let m = model(3, 2, vec![Stmt::Store(0, Expr::Const(1.0))]);
    let compiled = CompiledModel::compile(&m).expect("compiles");
    let other = model(4, 2, vec![]);
    let mut mem = Memory::new(&other);
    compiled.tick(&mut mem);
    assert_eq!(mem.block, vec![0.0, 0.0]);
    let mut block = vec![0.0; 5];
    let mut scratch = vec![0.0; 1];
    compiled.tick_batch(&mut block, &mut scratch, 3);
    assert!(block.iter().all(|&x| x == 0.0));
    compiled.tick_batch(&mut block, &mut [], 2);
    assert!(block.iter().all(|&x| x == 0.0));
    compiled.tick_batch(&mut [], &mut scratch, usize::MAX);
    compiled.tick_batch(&mut block[..4], &mut scratch, 2);
    assert_eq!(block, vec![1.0, 1.0, 0.0, 0.0, 0.0]);
}

#[test]
fn batch_runs_each_instance_in_struct_of_arrays_layout() {
    // s0 += s1 * 2 through scratch slot 2.
    let tick = vec![
        Stmt::Store(2, Expr::bin(BinOp::Mul, Expr::Load(1), Expr::Const(2.0))),
        Stmt::Store(0, Expr::bin(BinOp::Add, Expr::Load(0), Expr::Load(2))),
    ];
    let m = model(3, 2, tick);
    let compiled = CompiledModel::compile(&m).expect("compiles");
    let n = 4;
    // Slot 0 of instances 0..4, then slot 1 of instances 0..4.
    let mut block = vec![0.0, 1.0, 2.0, 3.0, 10.0, 20.0, 30.0, 40.0];
    let mut scratch = vec![0.0];
    compiled.tick_batch(&mut block, &mut scratch, n);
    assert_eq!(block, vec![20.0, 41.0, 62.0, 83.0, 10.0, 20.0, 30.0, 40.0]);
    assert_eq!(scratch, vec![80.0]);
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) % n.max(1)
    }

    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
}

/// Slots `0..6` are general (`0..4` persistent), `6..9` loop counters.
const GENERAL: u64 = 6;
const COUNTERS: u32 = 6;

fn random_expr(rng: &mut Rng, depth: u32) -> Expr {
    let leaf = depth == 0 || rng.below(3) == 0;
    if leaf {
        return if rng.below(2) == 0 {
            Expr::Const(rng.pick(&EDGES))
        } else {
            Expr::Load(rng.below(9) as u32)
        };
    }
    let sub = |rng: &mut Rng| Box::new(random_expr(rng, depth - 1));
    match rng.below(4) {
        0 => Expr::Unary(rng.pick(&[UnOp::Neg, UnOp::Not]), sub(rng)),
        1 => Expr::Binary(rng.pick(&BINOPS), sub(rng), sub(rng)),
        2 => {
            let f = rng.pick(&[
                Func::Sqrt,
                Func::Abs,
                Func::Floor,
                Func::Exp,
                Func::Atan2,
                Func::Pow,
            ]);
            let args = (0..rng.below(4)).map(|_| *sub(rng)).collect();
            Expr::Call(f, args)
        }
        _ => Expr::Select(sub(rng), sub(rng), sub(rng)),
    }
}

fn random_stmts(rng: &mut Rng, depth: u32) -> Vec<Stmt> {
    (0..rng.below(7))
        .flat_map(|_| match rng.below(if depth < 3 { 5 } else { 1 }) {
            0..=2 => vec![Stmt::Store(rng.below(GENERAL) as u32, random_expr(rng, 3))],
            3 => vec![Stmt::If(
                random_expr(rng, 2),
                random_stmts(rng, depth + 1),
                random_stmts(rng, depth + 1),
            )],
            _ => {
                // A loop bounded by its own counter.
                let counter = COUNTERS + depth;
                let trips = Expr::Const(rng.below(4) as f64);
                let go_on = Expr::bin(BinOp::Lt, Expr::Load(counter), trips);
                let cond = Expr::bin(BinOp::And, go_on, random_expr(rng, 2));
                let mut body = random_stmts(rng, depth + 1);
                body.push(Stmt::Store(
                    counter,
                    Expr::bin(BinOp::Add, Expr::Load(counter), Expr::Const(1.0)),
                ));
                vec![
                    Stmt::Store(counter, Expr::Const(0.0)),
                    Stmt::While(cond, body),
                ]
            }
        })
        .collect()
}

/// Runs `program` on each instance in turn, all sharing one scratch, as a
/// fleet does: the shared scratch is the last instance's.
fn run_fleet_by_interp(program: &[Stmt], mems: &mut [Memory]) {
    let Some(last) = mems.last() else {
        return;
    };
    let mut shared = last.scratch.clone();
    for mem in mems.iter_mut() {
        mem.scratch.clone_from(&shared);
        interp::exec(program, mem);
        shared.clone_from(&mem.scratch);
    }
}

/// The program index (init, tick, integrate) of each step of the tests'
/// sequence.
const INDEX: [usize; 5] = [0, 1, 2, 1, 2];

#[test]
fn random_programs_agree_at_every_chunk_size() {
    for seed in 1..=40u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let mut m = model(9, 4, Vec::new());
        m.init = random_stmts(&mut rng, 0);
        m.tick = random_stmts(&mut rng, 0);
        m.integrate = random_stmts(&mut rng, 0);
        let starts: Vec<Memory> = (0..3)
            .map(|_| {
                let mut mem = Memory::new(&m);
                for s in 0..GENERAL as u32 {
                    mem.set(s, rng.pick(&EDGES));
                }
                mem
            })
            .collect();
        let programs = [&m.init, &m.tick, &m.integrate, &m.tick, &m.integrate];
        let both = Options::default();
        let variants = [
            (3, both),
            (12, both),
            (super::translate::CHUNK, both),
            // Entry points left out run on the interpreter: same results.
            (
                12,
                Options {
                    entries: Entries::Single,
                    opt: Opt::None,
                },
            ),
            (
                super::translate::CHUNK,
                Options {
                    entries: Entries::Fleet,
                    opt: Opt::Speed,
                },
            ),
        ];
        for (chunk, options) in variants {
            let compiled = CompiledModel::compile_chunked(&m, chunk, options).expect("compiles");
            let entries = [
                compiled.init,
                compiled.tick,
                compiled.integrate,
                compiled.tick,
                compiled.integrate,
            ];
            // One instance at a time.
            for start in &starts {
                let (mut want, mut got) = (start.clone(), start.clone());
                for ((program, entry), index) in programs.iter().zip(entries).zip(INDEX) {
                    interp::exec(program, &mut want);
                    compiled.run_single(entry.single, index, &mut got);
                    for s in 0..9 {
                        let (w, g) = (want.get(s), got.get(s));
                        assert!(
                            same(w, g),
                            "seed {seed} chunk {chunk} slot {s}: {w:?} vs {g:?}"
                        );
                    }
                }
            }
            // The fleet.
            let n = starts.len();
            let mut want = starts.clone();
            for mem in &mut want {
                mem.scratch.clone_from(&starts[0].scratch);
            }
            let mut block = vec![0.0; 4 * n];
            for (i, mem) in starts.iter().enumerate() {
                for s in 0..4 {
                    block[s * n + i] = mem.block[s];
                }
            }
            let mut scratch = starts[0].scratch.clone();
            for ((program, entry), index) in programs.iter().zip(entries).zip(INDEX) {
                run_fleet_by_interp(program, &mut want);
                compiled.run_batch(entry.batch, index, &mut block, &mut scratch, n);
                for (i, mem) in want.iter().enumerate() {
                    for s in 0..4 {
                        let (w, g) = (mem.block[s], block[s * n + i]);
                        assert!(
                            same(w, g),
                            "seed {seed} chunk {chunk} fleet {i} slot {s}: {w:?} vs {g:?}"
                        );
                    }
                }
                let last = &want[n - 1].scratch;
                assert!(
                    last.iter().zip(&scratch).all(|(a, b)| same(*a, *b)),
                    "seed {seed} chunk {chunk} scratch"
                );
            }
        }
    }
}

#[test]
fn compiled_models_can_be_shared_between_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<CompiledModel>();
}

#[test]
fn stores_read_after_leaving_the_forwarding_window_are_kept() {
    // s0 = 1; s1..=s40 = 0 (pushing s0 out of the window); s41 = s0 + 1
    // (a read from memory); s0 = 2. Dropping the first store of s0 would
    // make s41 read the initial 0.
    let mut tick = vec![Stmt::Store(0, Expr::Const(1.0))];
    tick.extend((1..=40).map(|s| Stmt::Store(s, Expr::Const(0.0))));
    tick.push(Stmt::Store(
        41,
        Expr::bin(BinOp::Add, Expr::Load(0), Expr::Const(1.0)),
    ));
    tick.push(Stmt::Store(0, Expr::Const(2.0)));
    let m = model(42, 21, tick);
    let compiled = CompiledModel::compile(&m).expect("compiles");
    let mut mem = Memory::new(&m);
    compiled.tick(&mut mem);
    assert_eq!(mem.get(41), 2.0);
    assert_eq!(mem.get(0), 2.0);
}

#[test]
fn models_compiled_together_agree_with_the_interpreter() {
    // Random models, every fourth failing to be made: each of the others
    // compiles, in order, to code that computes what the interpreter does.
    let models: Vec<Model> = (1..=12u64)
        .map(|seed| {
            let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let mut m = model(9, 4, Vec::new());
            m.init = random_stmts(&mut rng, 0);
            m.tick = random_stmts(&mut rng, 0);
            m.integrate = random_stmts(&mut rng, 0);
            m
        })
        .collect();
    let options = Options {
        entries: Entries::Single,
        opt: Opt::Speed,
    };
    let made = |i: usize| match i % 4 {
        3 => Err(i),
        _ => Ok(&models[i]),
    };
    let all = CompiledModel::compile_all(models.len(), options, made, |m| *m);
    assert_eq!(all.len(), models.len());
    for (i, result) in all.into_iter().enumerate() {
        let (m, compiled) = match result {
            Err(k) => {
                assert_eq!((k, i % 4), (i, 3));
                continue;
            }
            Ok((m, compiled)) => (m, compiled.expect("compiles")),
        };
        assert!(std::ptr::eq(m, &models[i]), "model {i} out of order");
        let mut rng = Rng(i as u64 + 7);
        let mut want = Memory::new(m);
        for s in 0..GENERAL as u32 {
            want.set(s, rng.pick(&EDGES));
        }
        let mut got = want.clone();
        for (program, run) in [
            (
                &m.init,
                CompiledModel::init as fn(&CompiledModel, &mut Memory),
            ),
            (&m.tick, CompiledModel::tick),
            (&m.integrate, CompiledModel::integrate),
        ] {
            interp::exec(program, &mut want);
            run(&compiled, &mut got);
            for s in 0..9 {
                let (w, g) = (want.get(s), got.get(s));
                assert!(same(w, g), "model {i} slot {s}: {w:?} vs {g:?}");
            }
        }
    }
}
