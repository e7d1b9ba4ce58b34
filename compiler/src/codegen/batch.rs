//! Compiling several models at once ([`CompiledModel::compile_all`]).
//!
//! Takes a number of models and a way to make each (lowering, typically);
//! gives each made thing with its compiled model. One thread per core
//! (this one included) repeats: generate the code of the largest function
//! waiting, if any; else make and translate the next model, handing its
//! functions in; else wait for a thread still translating, or stop. So
//! making, translating and code generation of different models overlap,
//! and no core idles at the end of one model while another is left. The
//! modules are linked on this thread once every function has its code.
//!
//! Each function compiles alone, in a context of its own, with its model's
//! target: its code does not depend on which thread made it or when.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use cranelift::codegen::ir::Function;
use cranelift::codegen::isa::OwnedTargetIsa;
use cranelift::codegen::{self};
use cranelift_module::FuncId;

use super::jit::Generation;
use super::translate::CHUNK;
use super::workers::{Code, compile};
use super::{CodegenError, CompiledModel, Options, Translated};
use crate::ir::Model;

/// A function waiting for code generation.
struct Job {
    /// Its model.
    model: usize,
    /// Its place among its model's functions.
    index: usize,
    /// Its declaration in its model's module.
    id: FuncId,
    /// Its body.
    func: Function,
    /// Its model's target.
    isa: OwnedTargetIsa,
}

/// What the threads share.
#[derive(Default)]
struct State {
    /// Functions waiting for code generation.
    waiting: Vec<Job>,
    /// The next model to make.
    next: usize,
    /// How many models are being made or translated.
    translating: usize,
    /// Per model, the code of its functions, by index, with the time it
    /// took to generate.
    codes: Vec<Vec<Option<Generated>>>,
}

/// What a thread does next.
enum Task {
    /// Generates the code of a function.
    Generate(Box<Job>),
    /// Makes and translates a model.
    Translate(usize),
    /// Nothing is left.
    Stop,
}

/// A function's code (or why Cranelift rejected it) and how long
/// generating it took.
type Generated = (Result<Code, String>, Duration);

/// A model made and translated (or why not).
type Made<T, E> = Result<(T, Result<Translated, CodegenError>), E>;

/// A model made (or why not) and compiled (or why not).
pub(super) type Compiled<T, E> = Result<(T, Result<CompiledModel, CodegenError>), E>;

/// See [`CompiledModel::compile_all`].
pub(super) fn compile_all<T: Send, E: Send>(
    count: usize,
    options: Options,
    make: impl Fn(usize) -> Result<T, E> + Sync,
    model_of: impl Fn(&T) -> &Model + Sync,
) -> Vec<Compiled<T, E>> {
    let shared = Mutex::new(State {
        codes: (0..count).map(|_| Vec::new()).collect(),
        ..State::default()
    });
    let ready = Condvar::new();
    let made: Mutex<Vec<Option<Made<T, E>>>> = Mutex::new((0..count).map(|_| None).collect());
    let work = || {
        let mut ctx = codegen::Context::new();
        loop {
            match next_task(&shared, &ready, count) {
                Task::Stop => return,
                Task::Generate(job) => {
                    let start = Instant::now();
                    let code = compile(&*job.isa, &mut ctx, job.id, job.func);
                    let code = (code, start.elapsed());
                    let mut state = lock(&shared);
                    if let Some(slot) = state
                        .codes
                        .get_mut(job.model)
                        .and_then(|c| c.get_mut(job.index))
                    {
                        *slot = Some(code);
                    }
                }
                Task::Translate(k) => {
                    // Counts the model as translated even if `make` panics,
                    // so the other threads stop rather than wait for it.
                    let _done = Translating {
                        shared: &shared,
                        ready: &ready,
                    };
                    let mut result = make(k).map(|t| {
                        let translated =
                            Translated::new(model_of(&t), CHUNK, options, Generation::Caller);
                        (t, translated)
                    });
                    let jobs = match &mut result {
                        Ok((_, Ok(translated))) => jobs(k, translated),
                        _ => Vec::new(),
                    };
                    if let Some(slot) = lock(&made).get_mut(k) {
                        *slot = Some(result);
                    }
                    let mut state = lock(&shared);
                    if let Some(codes) = state.codes.get_mut(k) {
                        *codes = (0..jobs.len()).map(|_| None).collect();
                    }
                    state.waiting.extend(jobs);
                }
            }
        }
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::thread::scope(|scope| {
        for _ in 1..cores.min(count.max(1)) {
            // A thread the system will not start leaves its share to the
            // others.
            let _ = std::thread::Builder::new()
                .name("twin-codegen".into())
                .spawn_scoped(scope, work);
        }
        work();
    });
    let codes = std::mem::take(&mut lock(&shared).codes);
    let made = made.into_inner().unwrap_or_else(|e| e.into_inner());
    // Every model was made: a thread that panicked making one has made
    // the scope panic above.
    made.into_iter()
        .zip(codes)
        .filter_map(|(made, codes)| Some(link(made?, codes, &model_of)))
        .collect()
}

/// The functions of model `k`, translated, as jobs.
fn jobs(k: usize, translated: &mut Translated) -> Vec<Job> {
    let isa = translated.jit.isa();
    let functions = translated.jit.take_functions();
    functions
        .into_iter()
        .enumerate()
        .map(|(index, (id, func))| Job {
            model: k,
            index,
            id,
            func,
            isa: OwnedTargetIsa::clone(&isa),
        })
        .collect()
}

/// Marks the end of a model's translation when dropped.
struct Translating<'a> {
    shared: &'a Mutex<State>,
    ready: &'a Condvar,
}

impl Drop for Translating<'_> {
    fn drop(&mut self) {
        lock(self.shared).translating -= 1;
        self.ready.notify_all();
    }
}

/// The compiled model of a model made and translated, given the code of
/// its functions and the time each took to generate.
fn link<T, E>(
    made: Made<T, E>,
    codes: Vec<Option<Generated>>,
    model_of: &impl Fn(&T) -> &Model,
) -> Compiled<T, E> {
    let (t, translated) = made?;
    let generation = codes.iter().flatten().map(|(_, d)| *d).sum();
    let codes: Vec<_> = codes
        .into_iter()
        .map(|c| match c {
            Some((code, _)) => code,
            None => Err("code generation did not finish".to_string()),
        })
        .collect();
    let compiled = translated.and_then(|translated| {
        translated.finish(model_of(&t), Some(generation), |jit| jit.link(codes))
    });
    Ok((t, compiled))
}

/// Takes the next task: the largest function waiting, else the next
/// model, else waits for the models being translated, else stops.
fn next_task(shared: &Mutex<State>, ready: &Condvar, count: usize) -> Task {
    let mut state = lock(shared);
    loop {
        let largest =
            (0..state.waiting.len()).max_by_key(|&k| state.waiting[k].func.dfg.num_insts());
        if let Some(k) = largest {
            return Task::Generate(Box::new(state.waiting.swap_remove(k)));
        }
        if state.next < count {
            state.next += 1;
            state.translating += 1;
            return Task::Translate(state.next - 1);
        }
        if state.translating == 0 {
            return Task::Stop;
        }
        state = ready.wait(state).unwrap_or_else(|e| e.into_inner());
    }
}

fn lock<S>(m: &Mutex<S>) -> MutexGuard<'_, S> {
    // A thread never panics while holding a lock here; if one did, the
    // state is still consistent (every change is a single assignment).
    m.lock().unwrap_or_else(|e| e.into_inner())
}
