//! Native code for lowered models, with Cranelift.
//!
//! Takes a lowered [`Model`]; gives a [`CompiledModel`]: its programs
//! [`Model::init`], [`Model::tick`] and [`Model::integrate`] compiled to
//! machine code, each twice: once for one instance (memory laid out as
//! [`Memory`]: slot addresses are constant offsets) and once for a fleet of
//! `n` instances in struct-of-arrays layout (persistent slot `s` of instance
//! `i` at `block[s * n + i]`; the loop over instances runs inside the
//! generated code, one instance after the other, sharing the scratch slots).
//!
//! Invariants:
//! - The native code computes exactly what [`crate::interp`] computes, bit
//!   for bit (NaN payloads aside): the same IEEE operations in the same
//!   order, no fused multiply-adds, `Min`/`Max` as IEEE 754-2019
//!   `minimum`/`maximum` (Cranelift's `fmin`/`fmax`), and every library
//!   function called through [`Func::apply`](crate::ir::Func::apply), the
//!   interpreter's own definition.
//! - Every slot a program names is checked against the model before any code
//!   is generated, and the safe entry points check the lengths of the memory
//!   they are given, so the generated code never reads or writes outside it.
//! - Only this module knows Cranelift (see `ARCHITECTURE.md`).
//!
//! The split follows the cranelift-jit-demo: `jit` owns the Cranelift
//! module and contexts, `translate` walks the IR (cutting large statement
//! lists into separately compiled chunks, so compile time stays linear),
//! `host` holds the library functions the code calls, `workers` and
//! `batch` generate the machine code on every core (one model, or several
//! together), and this file holds the safe API.

// Calling generated machine code needs `unsafe`; the workspace denies it
// everywhere else. Each block below says why it is sound.
#![allow(unsafe_code)]

mod batch;
mod forward;
mod host;
mod jit;
mod translate;
mod workers;

#[cfg(test)]
mod tests;

use std::fmt;
use std::time::{Duration, Instant};

use cranelift_jit::JITModule;

use crate::interp::Memory;
use crate::ir::{Model, Slot, Stmt};

use cranelift_module::FuncId;
use jit::{Generation, Jit, Layout};
use translate::Shape;

/// Why a model could not be compiled to native code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CodegenError {
    /// Cranelift does not support this machine, or rejected a setting.
    Host(String),
    /// A program reads or writes a slot the model does not have.
    SlotOutOfRange {
        /// The program (`init`, `tick` or `integrate`).
        program: &'static str,
        /// The offending slot.
        slot: Slot,
        /// How many slots the model has.
        slots: usize,
    },
    /// The model's layout cannot be addressed: more persistent slots than
    /// slots, or too many slots for 32-bit offsets.
    Layout(String),
    /// Cranelift failed to compile or link a function.
    Cranelift(String),
}

impl fmt::Display for CodegenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodegenError::Host(m) => write!(f, "cannot generate code for this machine: {m}"),
            CodegenError::SlotOutOfRange {
                program,
                slot,
                slots,
            } => write!(
                f,
                "program `{program}` uses slot {slot}, but the model has {slots} slots"
            ),
            CodegenError::Layout(m) => write!(f, "cannot lay out the model's memory: {m}"),
            CodegenError::Cranelift(m) => write!(f, "Cranelift failed: {m}"),
        }
    }
}

impl std::error::Error for CodegenError {}

/// A single-instance entry point: `(block, scratch)`.
type SingleFn = unsafe extern "C" fn(*mut f64, *mut f64);
/// A fleet entry point: `(block, scratch, n)`.
type BatchFn = unsafe extern "C" fn(*mut f64, *mut f64, i64);

/// The two entry points of one program; `None` when not compiled (the
/// program then runs on the interpreter, see [`Options::entries`]).
#[derive(Clone, Copy)]
struct Entry {
    /// One instance, constant offsets.
    single: Option<SingleFn>,
    /// `n` instances in struct-of-arrays layout.
    batch: Option<BatchFn>,
}

/// Which native entry points to generate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Entries {
    /// Single-instance and fleet variants of every program.
    #[default]
    Both,
    /// Single-instance variants only (`twinc sim`, tests, scenarios).
    Single,
    /// What a fleet needs: the fleet variants, plus the single-instance
    /// `init` that starts an instance joining a running fleet.
    Fleet,
}

/// How hard Cranelift optimizes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Opt {
    /// `opt_level=speed`.
    #[default]
    Speed,
    /// `opt_level=none` and Cranelift's single-pass register allocator:
    /// compiles in about 60 % of the time, runs about 1.4× slower (the
    /// Pump; figures in BENCHMARKS.md).
    None,
}

/// What [`CompiledModel::compile_with`] generates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// Which entry points are native; calling another runs the
    /// interpreter on the same memory (same results, slower).
    pub entries: Entries,
    /// Cranelift's optimization level.
    pub opt: Opt,
}

/// A model's programs as native code.
///
/// Owns the Cranelift module holding the code: the function pointers live
/// exactly as long as this value.
pub struct CompiledModel {
    /// `init`.
    init: Entry,
    /// `tick`.
    tick: Entry,
    /// `integrate`.
    integrate: Entry,
    /// The number of persistent slots (`Model::persistent`).
    persistent: usize,
    /// The number of scratch slots (`Model::scratch_len`).
    scratch_len: usize,
    /// How long [`CompiledModel::compile`] took.
    compile_time: Duration,
    /// The module owning the code; `None` only while being dropped.
    module: Option<JITModule>,
    /// The programs, kept when some entry point was not compiled.
    programs: Option<Box<[Vec<Stmt>; 3]>>,
}

// SAFETY: a shared `CompiledModel` only hands out calls of its function
// pointers (plain machine code with no shared state: every call works on the
// memory its caller passes) and reads of plain integers. The `JITModule`,
// whose symbol cache uses a `RefCell`, is never touched through `&self`: only
// `Drop` uses it, with exclusive access.
unsafe impl Sync for CompiledModel {}

impl fmt::Debug for CompiledModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompiledModel")
            .field("persistent", &self.persistent)
            .field("scratch_len", &self.scratch_len)
            .field("compile_time", &self.compile_time)
            .finish_non_exhaustive()
    }
}

impl CompiledModel {
    /// Compiles `model`'s `init`, `tick` and `integrate` programs, every
    /// entry point, optimized for speed.
    pub fn compile(model: &Model) -> Result<CompiledModel, CodegenError> {
        Self::compile_with(model, Options::default())
    }

    /// Compiles the entry points `options` asks for.
    pub fn compile_with(model: &Model, options: Options) -> Result<CompiledModel, CodegenError> {
        Self::compile_chunked(model, translate::CHUNK, options)
    }

    /// [`CompiledModel::compile_with`], cutting statement lists larger than
    /// `chunk` into functions of their own (tests use tiny chunks).
    fn compile_chunked(
        model: &Model,
        chunk: usize,
        options: Options,
    ) -> Result<CompiledModel, CodegenError> {
        let translated = Translated::new(model, chunk, options, Generation::Workers)?;
        translated.finish(model, None, |jit| jit.finish())
    }

    /// Compiles `count` models together, model `i` being the one in
    /// `make(i)` (`model_of` finds it there), each with the entry points
    /// `options` asks for; gives, in order, what `make` gave (or its
    /// error) with the model's code (or why it could not be compiled).
    ///
    /// This is [`CompiledModel::compile_with`] for several models, on every
    /// core at once: `make` runs on the workers too, and while one makes or
    /// translates a model, the others generate the code of the models
    /// before it, so no core waits for the end of one model to start on the
    /// next. Each model still gets a module of its own, and each function
    /// the same code as alone. [`CompiledModel::compile_time`] is the time
    /// spent on the model alone (its translation, the generation of its
    /// code and its linking, added up), without the time `make` took.
    pub fn compile_all<T: Send, E: Send>(
        count: usize,
        options: Options,
        make: impl Fn(usize) -> Result<T, E> + Sync,
        model_of: impl Fn(&T) -> &Model + Sync,
    ) -> Vec<batch::Compiled<T, E>> {
        batch::compile_all(count, options, make, model_of)
    }

    /// Runs `init` on one instance; memory is [`Memory`] (block: slots
    /// `0..persistent`, scratch: the rest). Does nothing if `mem` was not
    /// made for this model (its lengths differ).
    pub fn init(&self, mem: &mut Memory) {
        self.run_single(self.init.single, 0, mem);
    }

    /// Runs `tick` on one instance (see [`CompiledModel::init`]).
    pub fn tick(&self, mem: &mut Memory) {
        self.run_single(self.tick.single, 1, mem);
    }

    /// Runs `integrate` on one instance (see [`CompiledModel::init`]).
    pub fn integrate(&self, mem: &mut Memory) {
        self.run_single(self.integrate.single, 2, mem);
    }

    /// Runs `init` on a fleet of `n` instances in struct-of-arrays layout:
    /// persistent slot `s` of instance `i` is `block[s * n + i]`; `scratch`
    /// (`model.scratch_len()` long) is shared, the instances running one
    /// after the other. Does nothing unless `block.len() == persistent * n`
    /// and `scratch.len() == model.scratch_len()`.
    pub fn init_batch(&self, block: &mut [f64], scratch: &mut [f64], n: usize) {
        self.run_batch(self.init.batch, 0, block, scratch, n);
    }

    /// Runs `tick` on a fleet (see [`CompiledModel::init_batch`]).
    pub fn tick_batch(&self, block: &mut [f64], scratch: &mut [f64], n: usize) {
        self.run_batch(self.tick.batch, 1, block, scratch, n);
    }

    /// Runs `integrate` on a fleet (see [`CompiledModel::init_batch`]).
    pub fn integrate_batch(&self, block: &mut [f64], scratch: &mut [f64], n: usize) {
        self.run_batch(self.integrate.batch, 2, block, scratch, n);
    }

    /// How long compiling took (validation, translation, Cranelift and
    /// linking).
    pub fn compile_time(&self) -> Duration {
        self.compile_time
    }

    fn run_single(&self, f: Option<SingleFn>, program: usize, mem: &mut Memory) {
        if mem.block.len() != self.persistent || mem.scratch.len() != self.scratch_len {
            return;
        }
        let Some(f) = f else {
            if let Some(programs) = &self.programs {
                crate::interp::exec(&programs[program], mem);
            }
            return;
        };
        // SAFETY: `f` is live while `self` is. Every slot the code touches was
        // checked in `validate` to be below `persistent + scratch_len`; the
        // code addresses slot `s < persistent` at `block + 8s` and the others
        // at `scratch + 8(s - persistent)`, inside the two vectors whose
        // lengths were just checked. The vectors are borrowed mutably, so
        // nothing else reads or writes them meanwhile. Host functions it
        // calls cannot unwind.
        unsafe { f(mem.block.as_mut_ptr(), mem.scratch.as_mut_ptr()) }
    }

    fn run_batch(
        &self,
        f: Option<BatchFn>,
        program: usize,
        block: &mut [f64],
        scratch: &mut [f64],
        n: usize,
    ) {
        let Ok(count) = i64::try_from(n) else {
            return;
        };
        if self.persistent.checked_mul(n) != Some(block.len()) || scratch.len() != self.scratch_len
        {
            return;
        }
        let Some(f) = f else {
            self.interpret_batch(program, block, scratch, n);
            return;
        };
        // SAFETY: as in `run_single`; the code visits instances `0..n` and
        // addresses persistent slot `s` of instance `i` at `block + 8(s*n + i)`
        // with `s*n + i < persistent * n == block.len()` (no overflow: that
        // product was just computed without overflow).
        unsafe { f(block.as_mut_ptr(), scratch.as_mut_ptr(), count) }
    }
}

impl CompiledModel {
    /// A fleet program without native code: each instance in turn on the
    /// interpreter, through a [`Memory`] (lengths checked by the caller).
    fn interpret_batch(&self, program: usize, block: &mut [f64], scratch: &mut [f64], n: usize) {
        let Some(programs) = &self.programs else {
            return;
        };
        let mut mem = Memory {
            block: vec![0.0; self.persistent],
            scratch: scratch.to_vec(),
            persistent: self.persistent,
        };
        for i in 0..n {
            for s in 0..self.persistent {
                mem.block[s] = block[s * n + i];
            }
            crate::interp::exec(&programs[program], &mut mem);
            for s in 0..self.persistent {
                block[s * n + i] = mem.block[s];
            }
        }
        scratch.copy_from_slice(&mem.scratch);
    }
}

/// A model's programs, translated and on their way to machine code.
struct Translated {
    /// The JIT holding them.
    jit: Jit,
    /// Per program, the single-instance and fleet functions, if asked for.
    ids: Vec<(Option<FuncId>, Option<FuncId>)>,
    /// The model's memory layout.
    layout: Layout,
    /// The entry points asked for.
    entries: Entries,
    /// When translation started.
    start: Instant,
    /// How long translation took.
    translation: Duration,
}

impl Translated {
    /// Translates the entry points `options` asks for, the machine code
    /// being generated as `generation` says.
    fn new(
        model: &Model,
        chunk: usize,
        options: Options,
        generation: Generation,
    ) -> Result<Translated, CodegenError> {
        let start = Instant::now();
        let layout = validate(model)?;
        let mut jit = Jit::new(chunk, options.opt, generation)?;
        let programs = [
            ("init", &model.init),
            ("tick", &model.tick),
            ("integrate", &model.integrate),
        ];
        let mut ids = Vec::with_capacity(programs.len());
        for (index, (name, stmts)) in programs.into_iter().enumerate() {
            let (single, batch) = match options.entries {
                Entries::Both => (true, true),
                Entries::Single => (true, false),
                Entries::Fleet => (index == 0, true),
            };
            let single = match single {
                true => Some(jit.compile(name, stmts, layout, Shape::Single)?),
                false => None,
            };
            let batch = match batch {
                true => Some(jit.compile(&format!("{name}_batch"), stmts, layout, Shape::Fleet)?),
                false => None,
            };
            ids.push((single, batch));
        }
        Ok(Translated {
            jit,
            ids,
            layout,
            entries: options.entries,
            start,
            translation: start.elapsed(),
        })
    }

    /// The compiled model of `model`, once `link` has made the module.
    /// Its compile time is the time since translation started or, given
    /// `generation` (the time its code generation took, on whichever
    /// threads), the time spent on it alone: translation, code generation
    /// and linking, added up.
    fn finish(
        self,
        model: &Model,
        generation: Option<Duration>,
        link: impl FnOnce(Jit) -> Result<JITModule, CodegenError>,
    ) -> Result<CompiledModel, CodegenError> {
        let Translated {
            jit,
            ids,
            layout,
            entries,
            start,
            translation,
        } = self;
        let linking = Instant::now();
        let module = link(jit)?;
        let compile_time = match generation {
            None => start.elapsed(),
            Some(g) => translation + g + linking.elapsed(),
        };
        let entry = |k: usize| {
            let (single, batch) = ids.get(k).copied().unwrap_or((None, None));
            // SAFETY: `single` was generated by `Jit::compile` with shape
            // `Single`, whose signature is `(ptr, ptr)` in the host's default
            // calling convention (the C one), and `batch` with shape `Fleet`,
            // `(ptr, ptr, i64)`; both are finalized (executable) and live as
            // long as `module`, which the `CompiledModel` owns.
            unsafe {
                Entry {
                    single: single.map(|id| {
                        std::mem::transmute::<*const u8, SingleFn>(
                            module.get_finalized_function(id),
                        )
                    }),
                    batch: batch.map(|id| {
                        std::mem::transmute::<*const u8, BatchFn>(module.get_finalized_function(id))
                    }),
                }
            }
        };
        let complete = entries == Entries::Both;
        Ok(CompiledModel {
            init: entry(0),
            tick: entry(1),
            integrate: entry(2),
            persistent: layout.persistent as usize,
            scratch_len: layout.slots as usize - layout.persistent as usize,
            compile_time,
            module: Some(module),
            programs: (!complete).then(|| {
                Box::new([
                    model.init.clone(),
                    model.tick.clone(),
                    model.integrate.clone(),
                ])
            }),
        })
    }
}

impl Drop for CompiledModel {
    fn drop(&mut self) {
        if let Some(module) = self.module.take() {
            // SAFETY: the code's only callers are this value's methods, which
            // borrow it; with `&mut self` none is running, and the pointers
            // are dropped with `self` right after.
            unsafe { module.free_memory() }
        }
    }
}

/// Checks that every slot the programs name exists and that the layout is
/// addressable with 32-bit offsets; gives the layout.
fn validate(model: &Model) -> Result<Layout, CodegenError> {
    let slots = model.slots.len();
    // 8-byte slots at offsets that must fit an i32, with room to spare.
    const MAX_SLOTS: usize = 1 << 27;
    if slots > MAX_SLOTS {
        return Err(CodegenError::Layout(format!(
            "{slots} slots (at most {MAX_SLOTS})"
        )));
    }
    if model.persistent as usize > slots {
        return Err(CodegenError::Layout(format!(
            "{} persistent slots but only {slots} slots",
            model.persistent
        )));
    }
    let programs = [
        ("init", &model.init),
        ("tick", &model.tick),
        ("integrate", &model.integrate),
    ];
    for (program, stmts) in programs {
        let mut bad = None;
        visit_slots(stmts, &mut |s| {
            if s as usize >= slots && bad.is_none() {
                bad = Some(s);
            }
        });
        if let Some(slot) = bad {
            return Err(CodegenError::SlotOutOfRange {
                program,
                slot,
                slots,
            });
        }
    }
    Ok(Layout {
        persistent: model.persistent,
        slots: slots as u32,
    })
}

/// Calls `f` on every slot the statements load or store, without recursion
/// on expressions (models can have very deep ones).
fn visit_slots(stmts: &[Stmt], f: &mut impl FnMut(Slot)) {
    for s in stmts {
        match s {
            Stmt::Store(slot, e) => {
                f(*slot);
                e.for_each_load(f);
            }
            Stmt::If(c, then, otherwise) => {
                c.for_each_load(f);
                visit_slots(then, f);
                visit_slots(otherwise, f);
            }
            Stmt::While(c, body) => {
                c.for_each_load(f);
                visit_slots(body, f);
            }
        }
    }
}
