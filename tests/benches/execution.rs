//! Execution speed, measured in one run so the ratios are comparable:
//! the JIT, a hand-written Rust version of the same model (same solver, same
//! step) and the reference interpreter, on the spec's Pump and on a
//! generated 100-state model; source → JIT-ready time for a 10,000-line
//! model, by phase; and fleets of Pumps through the batch entry point.

/// The allocator `twinc` uses, so the figures are what the binary does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_main};
use std::hint::black_box;
use std::time::{Duration, Instant};
use twin_compiler::codegen::{CompiledModel, Entries, Opt, Options};
use twin_compiler::interp::{self, Memory};
use twin_compiler::ir::Model;

const PUMP: &str = include_str!("../data/bench/pump.twin");
const TICKS: u64 = 1000;

/// The generated 100-state model: a chain of thermal masses, each
/// exchanging heat with its neighbours through a `let`.
fn chain_source(n: usize) -> String {
    let mut s = String::from(
        "twin Chain {\n    step 10 ms\n    param k: 1/s = 0.5 1/s\n    sensor heat: K/s = 1 K/s\n",
    );
    for i in 0..n {
        s.push_str(&format!("    state x{i}: K = {} K\n", 300 + i));
    }
    for i in 1..n {
        s.push_str(&format!("    let f{i} = k * (x{} - x{i})\n", i - 1));
    }
    s.push_str("    der(x0) = heat - f1\n");
    for i in 1..n - 1 {
        s.push_str(&format!("    der(x{i}) = f{i} - f{}\n", i + 1));
    }
    s.push_str(&format!("    der(x{}) = f{}\n}}\n", n - 1, n - 1));
    s
}

fn lower(src: &str) -> Model {
    match twin_tests::lower_source(src, None) {
        Ok(m) => m,
        Err(e) => panic!("{e}"),
    }
}

fn ready(model: &Model, sensors: &[(&str, f64)]) -> Memory {
    twin_tests::ready_memory(model, sensors)
}

const PUMP_INPUTS: &[(&str, f64)] = &[
    ("current", 40.0),
    ("speed", 2900.0 / 60.0),
    ("ambient", 295.15),
];

/// The Pump written by hand: same equations, rk4, same step.
#[derive(Clone, Default)]
struct NativePump {
    current: f64,
    speed: f64,
    ambient: f64,
    power: f64,
    smooth: f64,
    lag_y: f64,
    bearing: f64,
    alarm: bool,
    streak: f64,
    was_on: bool,
    target: f64,
    cmd: f64,
    k: f64,
    dt: f64,
}

impl NativePump {
    const VOLTAGE: f64 = 400.0;
    const EFFICIENCY: f64 = 0.9;
    const CAPACITY: f64 = 5000.0;
    const COOLING: f64 = 3.0;
    const TAU: f64 = 30.0;

    fn new(dt: f64) -> NativePump {
        NativePump {
            current: 40.0,
            speed: 2900.0 / 60.0,
            ambient: 295.15,
            bearing: 298.15,
            lag_y: 40.0,
            streak: -1.0,
            dt,
            ..Default::default()
        }
    }

    fn ders(&self, bearing: f64, y: f64) -> (f64, f64) {
        let power = Self::VOLTAGE * self.current * Self::EFFICIENCY;
        (
            (0.02 * power - Self::COOLING * (bearing - self.ambient)) / Self::CAPACITY,
            (self.current - y) / Self::TAU,
        )
    }

    fn tick(&mut self) {
        self.power = Self::VOLTAGE * self.current * Self::EFFICIENCY;
        self.smooth = self.lag_y;
        if !self.alarm {
            if self.bearing > 353.15 {
                if self.streak < 0.0 {
                    self.streak = self.k;
                }
                if self.k - self.streak >= 30.0 / self.dt - 1e-9 {
                    self.alarm = true;
                }
            } else {
                self.streak = -1.0;
            }
        } else if self.bearing < 348.15 {
            self.alarm = false;
            self.streak = -1.0;
        }
        if self.alarm && !self.was_on {
            self.target = 0.8 * self.speed;
        }
        self.was_on = self.alarm;
        let step = 100.0 / 60.0 * self.dt;
        self.cmd += (self.target - self.cmd).clamp(-step, step);
        self.cmd = self.cmd.clamp(0.0, 50.0);
    }

    fn integrate(&mut self) {
        let (h, b0, y0) = (self.dt, self.bearing, self.lag_y);
        let (k1b, k1y) = self.ders(b0, y0);
        let (k2b, k2y) = self.ders(b0 + h * 0.5 * k1b, y0 + h * 0.5 * k1y);
        let (k3b, k3y) = self.ders(b0 + h * 0.5 * k2b, y0 + h * 0.5 * k2y);
        let (k4b, k4y) = self.ders(b0 + h * k3b, y0 + h * k3y);
        self.bearing = b0 + h * (k1b / 6.0 + k2b / 3.0 + k3b / 3.0 + k4b / 6.0);
        self.lag_y = y0 + h * (k1y / 6.0 + k2y / 3.0 + k3y / 3.0 + k4y / 6.0);
        self.k += 1.0;
    }
}

/// The 100-state chain written by hand: same equations, rk4, same step.
struct NativeChain {
    x: Vec<f64>,
    y0: Vec<f64>,
    ks: [Vec<f64>; 4],
    stage: Vec<f64>,
    dt: f64,
}

impl NativeChain {
    fn new(n: usize) -> NativeChain {
        NativeChain {
            x: (0..n).map(|i| 300.0 + i as f64).collect(),
            y0: vec![0.0; n],
            ks: [vec![0.0; n], vec![0.0; n], vec![0.0; n], vec![0.0; n]],
            stage: vec![0.0; n],
            dt: 0.01,
        }
    }

    // A plain index loop: the baseline should be the code a careful
    // engineer writes, and the optimiser handles it best.
    #[allow(clippy::needless_range_loop)]
    fn ders(x: &[f64], out: &mut [f64]) {
        let n = x.len();
        let flow = |i: usize| 0.5 * (x[i - 1] - x[i]);
        out[0] = 1.0 - flow(1);
        for i in 1..n - 1 {
            out[i] = flow(i) - flow(i + 1);
        }
        out[n - 1] = flow(n - 1);
    }

    // Index loops mirror the textbook rk4 the JIT is compared with.
    #[allow(clippy::needless_range_loop)]
    fn step(&mut self) {
        let h = self.dt;
        self.y0.copy_from_slice(&self.x);
        let [k1, k2, k3, k4] = &mut self.ks;
        Self::ders(&self.y0, k1);
        for i in 0..self.x.len() {
            self.stage[i] = self.y0[i] + h * 0.5 * k1[i];
        }
        Self::ders(&self.stage, k2);
        for i in 0..self.x.len() {
            self.stage[i] = self.y0[i] + h * 0.5 * k2[i];
        }
        Self::ders(&self.stage, k3);
        for i in 0..self.x.len() {
            self.stage[i] = self.y0[i] + h * k3[i];
        }
        Self::ders(&self.stage, k4);
        for i in 0..self.x.len() {
            self.x[i] = self.y0[i] + h * (k1[i] / 6.0 + k2[i] / 3.0 + k3[i] / 3.0 + k4[i] / 6.0);
        }
    }
}

fn engines(
    c: &mut Criterion,
    name: &str,
    model: &Model,
    inputs: &[(&str, f64)],
    native: &mut dyn FnMut(),
) {
    let jit = match CompiledModel::compile(model) {
        Ok(j) => j,
        Err(e) => panic!("{e}"),
    };
    let mut group = c.benchmark_group(format!("{name}_{TICKS}_ticks"));
    group.throughput(Throughput::Elements(TICKS));
    group.bench_function("native", |b| {
        b.iter(|| {
            for _ in 0..TICKS {
                native();
            }
        })
    });
    let mut mem = ready(model, inputs);
    group.bench_function("jit", |b| {
        b.iter(|| {
            for _ in 0..TICKS {
                jit.tick(&mut mem);
                jit.integrate(&mut mem);
            }
            black_box(mem.block[0])
        })
    });
    let mut mem = ready(model, inputs);
    group.sample_size(10);
    group.bench_function("interp", |b| {
        b.iter(|| {
            for _ in 0..TICKS {
                interp::exec(&model.tick, &mut mem);
                interp::exec(&model.integrate, &mut mem);
            }
            black_box(mem.block[0])
        })
    });
    group.finish();
}

fn pump(c: &mut Criterion) {
    let model = lower(PUMP);
    let mut native = NativePump::new(model.step);
    engines(c, "pump", &model, PUMP_INPUTS, &mut || {
        native.tick();
        native.integrate();
        black_box(native.cmd);
    });
}

fn chain(c: &mut Criterion) {
    let model = lower(&chain_source(100));
    let mut native = NativeChain::new(100);
    engines(c, "chain100", &model, &[], &mut || {
        native.step();
        black_box(native.x[0]);
    });
}

/// Source → JIT-ready for a generated 10,000-line model, by phase.
fn compile_time(c: &mut Criterion) {
    let text = twin_tests::generated_model(10_000);
    let mut group = c.benchmark_group("source_to_jit_10k_lines");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    // Every entry point at opt_level=speed (what a fleet and a single run
    // both need), then what `twinc sim` compiles: single-instance entry
    // points, at speed and at none. Each twin is lowered and compiled by
    // `CompiledModel::compile_all`, which overlaps the twins' lowering,
    // translation and code generation on every core; `single_speed_one_by_one`
    // lowers and compiles one twin after the other with `compile_with`, as
    // `twinc sim` does for the one twin it runs.
    let single_speed = Options {
        entries: Entries::Single,
        opt: Opt::Speed,
    };
    let variants = [
        ("total", Options::default()),
        ("single_speed", single_speed),
        (
            "single_none",
            Options {
                entries: Entries::Single,
                opt: Opt::None,
            },
        ),
    ];
    // What the iteration made is dropped after the clock stops: freeing the
    // trees and the code is not part of getting the code ready.
    for (name, options) in variants {
        group.bench_function(name, |b| {
            b.iter_with_large_drop(|| {
                let mut sources = twin_compiler::source::Sources::new();
                let root = sources.add("gen.twin", text.clone());
                let checked = twin_compiler::check::check(&mut sources, root);
                let program = &checked.program;
                let lower = |i| twin_compiler::ir::lower::lower(program, i);
                let compiled =
                    CompiledModel::compile_all(program.twins.len(), options, lower, |m| m);
                assert!(compiled.iter().all(|r| matches!(r, Ok((_, Ok(_))))));
                (sources, checked, compiled)
            })
        });
    }
    group.bench_function("single_speed_one_by_one", |b| {
        b.iter_with_large_drop(|| {
            let mut sources = twin_compiler::source::Sources::new();
            let root = sources.add("gen.twin", text.clone());
            let checked = twin_compiler::check::check(&mut sources, root);
            let mut compiled = Vec::new();
            for i in 0..checked.program.twins.len() {
                if let Ok(m) = twin_compiler::ir::lower::lower(&checked.program, i)
                    && let Ok(c) = CompiledModel::compile_with(&m, single_speed)
                {
                    compiled.push((m, c));
                }
            }
            assert_eq!(compiled.len(), checked.program.twins.len());
            (sources, checked, compiled)
        })
    });
    group.finish();
    // One timed pass per phase, printed for BENCHMARKS.md.
    let t0 = Instant::now();
    let mut sources = twin_compiler::source::Sources::new();
    let root = sources.add("gen.twin", text.clone());
    let parsed = twin_compiler::syntax::parse(&text, root);
    let t_parse = t0.elapsed();
    drop(parsed);
    let t1 = Instant::now();
    let checked = twin_compiler::check::check(&mut sources, root);
    let t_check = t1.elapsed();
    let t2 = Instant::now();
    let mut models = Vec::new();
    for i in 0..checked.program.twins.len() {
        if let Ok(m) = twin_compiler::ir::lower::lower(&checked.program, i) {
            models.push(m);
        }
    }
    let t_lower = t2.elapsed();
    let t3 = Instant::now();
    let compiled: Vec<_> = models
        .iter()
        .filter_map(|m| CompiledModel::compile(m).ok())
        .collect();
    let t_codegen = t3.elapsed();
    let t4 = Instant::now();
    let program = &checked.program;
    let lower = |i| twin_compiler::ir::lower::lower(program, i);
    let together =
        CompiledModel::compile_all(program.twins.len(), Options::default(), lower, |m| m);
    let t_together = t4.elapsed();
    drop(together);
    let mut codegen_variants = Vec::new();
    for (name, options) in variants {
        let t = Instant::now();
        let n = models
            .iter()
            .filter(|m| CompiledModel::compile_with(m, options).is_ok())
            .count();
        codegen_variants.push(format!(
            "{name} {:.1} ms ({n})",
            t.elapsed().as_secs_f64() * 1e3
        ));
    }
    eprintln!(
        "codegen one by one, by variant: {}",
        codegen_variants.join(", ")
    );
    let statements: usize = models
        .iter()
        .map(|m| m.tick.len() + m.integrate.len())
        .sum();
    eprintln!(
        "phases for {} lines, {} twins, {} top-level statements: parse {:.1} ms (parse+check {:.1} ms), lower {:.1} ms, codegen {:.1} ms ({} compiled) one twin after the other; lower and codegen together (compile_all) {:.1} ms",
        text.lines().count(),
        models.len(),
        statements,
        t_parse.as_secs_f64() * 1e3,
        (t_check + t_parse).as_secs_f64() * 1e3,
        t_lower.as_secs_f64() * 1e3,
        t_codegen.as_secs_f64() * 1e3,
        compiled.len(),
        t_together.as_secs_f64() * 1e3,
    );
}

/// Fleets of Pumps through the batch entry point.
fn fleet(c: &mut Criterion) {
    // Every instance with the default params, as `twinc run` lays out a
    // fleet whose instances override none: the params are shared.
    let mut model = lower(PUMP);
    let shared = twin_compiler::ir::share::share_params(&mut model, &[]);
    let jit = match CompiledModel::compile(&model) {
        Ok(j) => j,
        Err(e) => panic!("{e}"),
    };
    let one = ready(&model, PUMP_INPUTS);
    let persistent = model.persistent as usize;
    eprintln!(
        "pump: {} persistent slots = {} bytes per instance; hand-written state {} bytes; ratio {:.2}; shared region {} bytes ({shared} params)",
        persistent,
        persistent * 8,
        std::mem::size_of::<NativePump>(),
        (persistent * 8) as f64 / std::mem::size_of::<NativePump>() as f64,
        model.scratch_len() * 8
    );
    let mut group = c.benchmark_group("pump_fleet_tick");
    group.sample_size(10);
    for n in [1usize, 10_000, 1_000_000] {
        // Struct-of-arrays: slot s of instance i at s * n + i.
        let mut block = vec![0.0; persistent * n];
        for s in 0..persistent {
            block[s * n..(s + 1) * n].fill(one.block[s]);
        }
        // The clock and the shared params, as the single instance has them.
        let mut scratch = one.scratch.clone();
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, &n| {
            b.iter(|| {
                jit.tick_batch(&mut block, &mut scratch, n);
                jit.integrate_batch(&mut block, &mut scratch, n);
            })
        });
    }
    group.finish();
    // The same fleet of 10,000 on the interpreter (no batch entry points
    // compiled, so the batch calls interpret each instance in turn), and
    // again on the JIT in the same group, for the ratio: a fleet's
    // instances are independent, so the JIT's code overlaps their
    // dependency chains where one instance's ticks cannot.
    let interp = match CompiledModel::compile_with(
        &model,
        Options {
            entries: Entries::Single,
            opt: Opt::Speed,
        },
    ) {
        Ok(j) => j,
        Err(e) => panic!("{e}"),
    };
    let mut group = c.benchmark_group("pump_fleet_10k_engines");
    group.sample_size(10);
    let n = 10_000;
    for (name, code) in [("jit", &jit), ("interp", &interp)] {
        let mut block = vec![0.0; persistent * n];
        for s in 0..persistent {
            block[s * n..(s + 1) * n].fill(one.block[s]);
        }
        let mut scratch = one.scratch.clone();
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                code.tick_batch(&mut block, &mut scratch, n);
                code.integrate_batch(&mut block, &mut scratch, n);
            })
        });
    }
    group.finish();
}

// The macro generates an undocumented function.
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(
        benches,
        super::pump,
        super::chain,
        super::compile_time,
        super::fleet
    );
}
use group::benches;
criterion_main!(benches);
