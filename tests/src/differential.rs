//! Helpers of the differential tests (JIT against interpreter): bit-level
//! comparison of memories and struct-of-arrays fleets.

use twin_compiler::codegen::CompiledModel;
use twin_compiler::interp::Memory;
use twin_compiler::ir::{Model, Slot};

/// Equal bits, or both NaN.
pub fn same(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
}

/// The first slot where two memories differ, described.
pub fn difference(model: &Model, want: &Memory, got: &Memory) -> Option<String> {
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

/// Panics with the first difference between two memories.
pub fn assert_same(model: &Model, want: &Memory, got: &Memory, when: &str) {
    if let Some(d) = difference(model, want, got) {
        panic!("{}: {when}: {d}", model.name);
    }
}

/// One of a model's programs.
#[derive(Clone, Copy, Debug)]
pub enum Program {
    /// `init`.
    Init,
    /// `tick`.
    Tick,
    /// `integrate`.
    Integrate,
}

impl Program {
    /// Runs it natively on one instance.
    pub fn run(self, compiled: &CompiledModel, mem: &mut Memory) {
        match self {
            Program::Init => compiled.init(mem),
            Program::Tick => compiled.tick(mem),
            Program::Integrate => compiled.integrate(mem),
        }
    }

    /// Runs it natively on a fleet.
    pub fn run_fleet(self, compiled: &CompiledModel, fleet: &mut Fleet) {
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
pub struct Fleet {
    /// Slot s of instance i at `s * n + i`.
    pub block: Vec<f64>,
    /// Shared by all instances.
    pub scratch: Vec<f64>,
    /// How many instances.
    pub n: usize,
}

impl Fleet {
    /// Packs the instances' blocks; the scratch starts as the first one's.
    pub fn pack<'m>(model: &Model, mems: impl Iterator<Item = &'m Memory>, n: usize) -> Fleet {
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
    pub fn set(&mut self, slot: Slot, i: usize, value: f64) {
        self.block[slot as usize * self.n + i] = value;
    }

    /// Sets any slot: persistent ones for instance `i`, scratch ones for
    /// the whole fleet.
    pub fn set_any(&mut self, model: &Model, slot: Slot, i: usize, value: f64) {
        match (slot as usize).checked_sub(model.persistent as usize) {
            Some(s) => self.scratch[s] = value,
            None => self.set(slot, i, value),
        }
    }

    /// Slot `slot` of instance `i`.
    pub fn get(&self, slot: Slot, i: usize) -> f64 {
        self.block[slot as usize * self.n + i]
    }

    /// The first persistent slot where instance `i` differs from `single`.
    pub fn difference(&self, model: &Model, i: usize, single: &Memory) -> Option<String> {
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
