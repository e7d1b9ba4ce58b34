//! The code generation workers: functions in Cranelift IR in, machine code
//! out.
//!
//! Takes functions one at a time, as the translator finishes them; gives
//! their machine code, in the order they were handed in, once the last is
//! in ([`Workers::finish`]). One worker per core besides the thread that
//! translates starts with the first function, so code generation overlaps
//! translation; that thread joins the workers once it has translated
//! everything. A worker takes the largest function waiting (the largest
//! take longest: started last, they would leave the other cores idle at
//! the end).
//!
//! Each function compiles alone, in a context of its own, so its code does
//! not depend on which worker made it or when.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use cranelift::codegen::control::ControlPlane;
use cranelift::codegen::ir::Function;
use cranelift::codegen::isa::{OwnedTargetIsa, TargetIsa};
use cranelift::codegen::{self};
use cranelift_module::{FuncId, ModuleReloc};

/// A function's machine code, ready to be defined in the module.
pub(super) struct Code {
    /// The alignment the code needs.
    pub(super) alignment: u64,
    /// The machine code.
    pub(super) bytes: Vec<u8>,
    /// Where it refers to other functions.
    pub(super) relocs: Vec<ModuleReloc>,
}

/// The workers and what they share.
pub(super) struct Workers {
    /// The queue and the results.
    shared: Arc<Shared>,
    /// The target, shared with the workers.
    isa: OwnedTargetIsa,
    /// The running workers; started with the first function.
    handles: Vec<JoinHandle<()>>,
    /// How many functions were handed in.
    count: usize,
}

/// What the workers share.
struct Shared {
    /// The functions waiting and the code made.
    state: Mutex<State>,
    /// Signalled when a function comes in or the last one did.
    ready: Condvar,
}

/// The functions waiting and the code made.
#[derive(Default)]
struct State {
    /// Functions not taken yet.
    waiting: Vec<Job>,
    /// Whether every function has been handed in.
    closed: bool,
    /// The code made, with the index of its function.
    done: Vec<(usize, Result<Code, String>)>,
}

/// A function to compile.
struct Job {
    /// Its place in the order functions were handed in.
    index: usize,
    /// Its declaration in the module.
    id: FuncId,
    /// Its body.
    func: Function,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A worker never panics while holding the lock; if one did, the
        // state is still consistent (every change is a single push or pop).
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Workers {
    /// Workers for `isa`, none running yet.
    pub(super) fn new(isa: OwnedTargetIsa) -> Workers {
        Workers {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                ready: Condvar::new(),
            }),
            isa,
            handles: Vec::new(),
            count: 0,
        }
    }

    /// Hands in the function `id`, to be compiled as soon as a worker is
    /// free; starts the workers with the first.
    pub(super) fn push(&mut self, id: FuncId, func: Function) {
        if self.count == 0 {
            self.start();
        }
        let index = self.count;
        self.count += 1;
        self.shared.lock().waiting.push(Job { index, id, func });
        self.shared.ready.notify_one();
    }

    /// Starts one worker per core but one (this thread works too, once it
    /// has handed in every function).
    fn start(&mut self) {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        for _ in 1..cores {
            let (shared, isa) = (Arc::clone(&self.shared), Arc::clone(&self.isa));
            // A worker the system will not start leaves its share to the
            // others.
            if let Ok(handle) = std::thread::Builder::new()
                .name("twin-codegen".into())
                .spawn(move || work(&shared, &*isa))
            {
                self.handles.push(handle);
            }
        }
    }

    /// The code of every function handed in, in the order they were (an
    /// error message for those Cranelift rejected); this thread helps with
    /// what is still waiting.
    pub(super) fn finish(mut self) -> Vec<Result<Code, String>> {
        self.close();
        work(&self.shared, &*self.isa);
        self.join();
        let done = std::mem::take(&mut self.shared.lock().done);
        let mut codes: Vec<Option<Result<Code, String>>> = (0..self.count).map(|_| None).collect();
        for (index, code) in done {
            if let Some(slot) = codes.get_mut(index) {
                *slot = Some(code);
            }
        }
        codes
            .into_iter()
            .map(|c| c.unwrap_or_else(|| Err("code generation did not finish".to_string())))
            .collect()
    }

    /// Tells the workers no more functions will come.
    fn close(&self) {
        self.shared.lock().closed = true;
        self.shared.ready.notify_all();
    }

    /// Waits for the workers to stop (a worker that panicked has simply
    /// stopped; its function has no code).
    fn join(&mut self) {
        for handle in self.handles.drain(..) {
            let _ = handle.join();
        }
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        // Reached with workers running only when translation failed half
        // way: they finish what is waiting (soon), and stop.
        self.close();
        self.join();
    }
}

/// A worker: compiles the largest waiting function until none is waiting
/// and none will come.
fn work(shared: &Shared, isa: &dyn TargetIsa) {
    let mut ctx = codegen::Context::new();
    loop {
        let job = {
            let mut state = shared.lock();
            loop {
                let largest =
                    (0..state.waiting.len()).max_by_key(|&k| state.waiting[k].func.dfg.num_insts());
                if let Some(k) = largest {
                    break Some(state.waiting.swap_remove(k));
                }
                if state.closed {
                    break None;
                }
                state = shared.ready.wait(state).unwrap_or_else(|e| e.into_inner());
            }
        };
        let Some(job) = job else { return };
        let code = compile(isa, &mut ctx, job.id, job.func);
        shared.lock().done.push((job.index, code));
    }
}

/// The machine code of the function `id`, compiled in `ctx`.
pub(super) fn compile(
    isa: &dyn TargetIsa,
    ctx: &mut codegen::Context,
    id: FuncId,
    func: Function,
) -> Result<Code, String> {
    ctx.clear();
    ctx.func = func;
    ctx.compile(isa, &mut ControlPlane::default())
        // The codegen error's Debug form carries the verifier's report.
        .map_err(|e| format!("{:?}", e.inner))?;
    let Some(compiled) = ctx.compiled_code() else {
        return Err("Cranelift gave no code".to_string());
    };
    Ok(Code {
        alignment: u64::from(compiled.buffer.alignment),
        bytes: compiled.code_buffer().to_vec(),
        relocs: compiled
            .buffer
            .relocs()
            .iter()
            .map(|r| ModuleReloc::from_mach_reloc(r, &ctx.func, id))
            .collect(),
    })
}
