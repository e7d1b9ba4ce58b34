//! The Cranelift JIT: owns the module and the contexts.
//!
//! Takes programs (statement lists) one at a time; gives a function id per
//! program (compiling the chunks large programs are cut into as functions
//! of their own), then, once every program is in, the finalized
//! [`JITModule`] holding their machine code. The walk over the IR is in
//! [`super::translate`].
//!
//! Translation into Cranelift IR is sequential (it declares functions in
//! the module); code generation, most of the time, is not: each function
//! goes to the [`Workers`] as soon as it is translated, and [`Jit::finish`]
//! defines the machine code they give back in the module. Each function
//! compiles alone, so the code is the same whichever worker made it.

use std::sync::Arc;

use cranelift::codegen::ir::{Function, Signature, UserFuncName};
use cranelift::codegen::isa::OwnedTargetIsa;
use cranelift::codegen::{self, settings};
use cranelift::prelude::{AbiParam, Configurable, FunctionBuilder, FunctionBuilderContext, types};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{FuncId, Linkage, Module, default_libcall_names};

use super::CodegenError;
use super::host::HOST_FUNCS;
use super::translate::{Chunk, Env, Shape, translate};
use super::workers::{Code, Workers};
use crate::ir::Stmt;

/// Where a model's slots live.
#[derive(Clone, Copy, Debug)]
pub(super) struct Layout {
    /// Slots `0..persistent` are in the instance block.
    pub(super) persistent: u32,
    /// The number of slots; `persistent..slots` are in scratch.
    pub(super) slots: u32,
}

/// The JIT: a Cranelift module and the reusable contexts to fill it.
pub(super) struct Jit {
    /// The function builder context, reused for every function.
    builder_context: FunctionBuilderContext,
    /// The main Cranelift context, holding the function being compiled.
    ctx: codegen::Context,
    /// The module the functions are defined in; it owns their code. `None`
    /// once [`Jit::finish`] has handed it over.
    module: Option<JITModule>,
    /// The imported host functions, in the order of [`HOST_FUNCS`].
    host_funcs: Vec<FuncId>,
    /// The size above which statement lists are cut into chunks.
    chunk: usize,
    /// The target, shared with whoever generates the code.
    isa: OwnedTargetIsa,
    /// The code generation workers, fed each function once translated;
    /// `None` when the caller generates the code ([`Jit::take_functions`]),
    /// or once [`Jit::finish`] has waited for them.
    workers: Option<Workers>,
    /// The functions translated but not handed to workers (when there are
    /// none), waiting for [`Jit::take_functions`].
    functions: Vec<(FuncId, Function)>,
    /// Every function translated, in order, with the name of the program
    /// it belongs to (for errors).
    translated: Vec<(FuncId, String)>,
}

/// Who generates the machine code of a [`Jit`]'s functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Generation {
    /// Workers of its own, started with the first function.
    Workers,
    /// The caller, who takes the functions with [`Jit::take_functions`]
    /// and gives back their code to [`Jit::link`].
    Caller,
}

fn cranelift_error(e: impl std::fmt::Display) -> CodegenError {
    CodegenError::Cranelift(e.to_string())
}

impl Jit {
    /// A JIT for the host machine, optimizing for speed, with the host
    /// functions registered under their symbols, cutting statement lists
    /// larger than `chunk` into functions of their own; `generation` says
    /// who generates the machine code.
    ///
    /// This builds the ISA itself rather than calling
    /// `JITBuilder::with_flags`, which panics on an unsupported host; the
    /// flags are the same (`is_pic` and `use_colocated_libcalls` off, as
    /// `cranelift-jit` requires).
    pub(super) fn new(
        chunk: usize,
        opt: super::Opt,
        generation: Generation,
    ) -> Result<Jit, CodegenError> {
        let mut flags = settings::builder();
        // The verifier checks every function the translator builds: a bug
        // there becomes an error rather than wrong code. It costs about a
        // tenth of the compile time, so release builds skip it.
        let verify = if cfg!(debug_assertions) {
            "true"
        } else {
            "false"
        };
        for (name, value) in [
            (
                "opt_level",
                match opt {
                    super::Opt::Speed => "speed",
                    super::Opt::None => "none",
                },
            ),
            ("use_colocated_libcalls", "false"),
            ("is_pic", "false"),
            ("enable_verifier", verify),
            (
                "regalloc_algorithm",
                match opt {
                    super::Opt::Speed => "backtracking",
                    super::Opt::None => "single_pass",
                },
            ),
        ] {
            flags
                .set(name, value)
                .map_err(|e| CodegenError::Host(format!("{name}={value}: {e}")))?;
        }
        let isa = cranelift_native::builder()
            .map_err(|m| CodegenError::Host(m.to_string()))?
            .finish(settings::Flags::new(flags))
            .map_err(|e| CodegenError::Host(e.to_string()))?;
        if isa.pointer_type() != types::I64 {
            return Err(CodegenError::Host(
                "only 64-bit targets are supported".to_string(),
            ));
        }
        let workers = (generation == Generation::Workers).then(|| Workers::new(Arc::clone(&isa)));
        let mut builder = JITBuilder::with_isa(Arc::clone(&isa), default_libcall_names());
        for (_, symbol, f) in HOST_FUNCS {
            builder.symbol(symbol, f.address());
        }
        let mut module = JITModule::new(builder);
        let mut host_funcs = Vec::with_capacity(HOST_FUNCS.len());
        for (_, symbol, f) in HOST_FUNCS {
            let mut sig = module.make_signature();
            for _ in 0..f.arity() {
                sig.params.push(AbiParam::new(types::F64));
            }
            sig.returns.push(AbiParam::new(types::F64));
            let id = module
                .declare_function(symbol, Linkage::Import, &sig)
                .map_err(cranelift_error)?;
            host_funcs.push(id);
        }
        Ok(Jit {
            builder_context: FunctionBuilderContext::new(),
            ctx: module.make_context(),
            module: Some(module),
            host_funcs,
            chunk,
            isa,
            workers,
            functions: Vec::new(),
            translated: Vec::new(),
        })
    }

    /// Compiles `stmts` as the function `name` of shape `shape` (with the
    /// chunks it is cut into); gives its id.
    pub(super) fn compile(
        &mut self,
        name: &str,
        stmts: &[Stmt],
        layout: Layout,
        shape: Shape,
    ) -> Result<FuncId, CodegenError> {
        let module = self.module.as_mut().ok_or_else(finished)?;
        let sig = signature(module, shape);
        let id = module
            .declare_function(name, Linkage::Local, &sig)
            .map_err(cranelift_error)?;
        let mut pending = vec![Chunk { id, shape, stmts }];
        while let Some(chunk) = pending.pop() {
            self.define(name, chunk, layout, &mut pending)
                .map_err(|e| match e {
                    CodegenError::Cranelift(m) => CodegenError::Cranelift(format!("{name}: {m}")),
                    e => e,
                })?;
        }
        Ok(id)
    }

    /// Translates one function of the program `program` and queues it for
    /// code generation; the chunks it calls go on `pending`.
    fn define<'s>(
        &mut self,
        program: &str,
        chunk: Chunk<'s>,
        layout: Layout,
        pending: &mut Vec<Chunk<'s>>,
    ) -> Result<(), CodegenError> {
        let module = self.module.as_mut().ok_or_else(finished)?;
        module.clear_context(&mut self.ctx);
        self.ctx.func.signature = signature(module, chunk.shape);
        self.ctx.func.name = UserFuncName::user(0, chunk.id.as_u32());
        let host = self
            .host_funcs
            .iter()
            .map(|&f| module.declare_func_in_func(f, &mut self.ctx.func))
            .collect();
        let builder = FunctionBuilder::new(&mut self.ctx.func, &mut self.builder_context);
        let env = Env {
            host,
            layout,
            chunk: self.chunk,
            module: &mut *module,
            pending,
        };
        translate(builder, env, chunk.shape, chunk.stmts)?;
        let func = std::mem::replace(&mut self.ctx.func, Function::new());
        match &mut self.workers {
            Some(workers) => workers.push(chunk.id, func),
            None => self.functions.push((chunk.id, func)),
        }
        self.translated.push((chunk.id, program.to_string()));
        module.clear_context(&mut self.ctx);
        Ok(())
    }

    /// The target, to generate the code of [`Jit::take_functions`] for.
    pub(super) fn isa(&self) -> OwnedTargetIsa {
        Arc::clone(&self.isa)
    }

    /// The functions translated so far (with [`Generation::Caller`]), in
    /// order: their code goes to [`Jit::link`], in the same order.
    pub(super) fn take_functions(&mut self) -> Vec<(FuncId, Function)> {
        std::mem::take(&mut self.functions)
    }

    /// Waits for the machine code of every translated function (helping
    /// to make it), links them and makes the code executable.
    pub(super) fn finish(mut self) -> Result<JITModule, CodegenError> {
        let codes = self.workers.take().ok_or_else(finished)?.finish();
        self.link(codes)
    }

    /// Defines `codes`, the machine code of every translated function in
    /// order, links them and makes the code executable.
    pub(super) fn link(
        mut self,
        codes: Vec<Result<Code, String>>,
    ) -> Result<JITModule, CodegenError> {
        let translated = std::mem::take(&mut self.translated);
        if codes.len() != translated.len() {
            return Err(CodegenError::Cranelift(
                "code generation did not finish".to_string(),
            ));
        }
        let module = self.module.as_mut().ok_or_else(finished)?;
        for ((id, program), code) in translated.iter().zip(codes) {
            let code = code.map_err(|m| CodegenError::Cranelift(format!("{program}: {m}")))?;
            module
                .define_function_bytes(*id, code.alignment, &code.bytes, &code.relocs)
                .map_err(|e| CodegenError::Cranelift(format!("{program}: {e}")))?;
        }
        let mut module = self.module.take().ok_or_else(finished)?;
        match module.finalize_definitions() {
            Ok(()) => Ok(module),
            Err(e) => {
                // SAFETY: no pointer into the module's code has been taken
                // yet, so nothing can call it after it is freed.
                unsafe { module.free_memory() };
                Err(cranelift_error(e))
            }
        }
    }
}

impl Drop for Jit {
    fn drop(&mut self) {
        // Reached with a module only when compiling failed half-way: free the
        // code of the functions defined so far.
        if let Some(module) = self.module.take() {
            // SAFETY: pointers into the code are only taken from the module
            // `finish` returns; this one never got there, so none exists.
            unsafe { module.free_memory() };
        }
    }
}

/// The signature of a function of shape `shape`: two pointers, and for
/// fleets an `i64` (`n`, or the stride in bytes for chunks).
pub(super) fn signature(module: &JITModule, shape: Shape) -> Signature {
    let ptr = module.target_config().pointer_type();
    let mut sig = module.make_signature();
    sig.params.push(AbiParam::new(ptr));
    sig.params.push(AbiParam::new(ptr));
    if shape != Shape::Single {
        sig.params.push(AbiParam::new(types::I64));
    }
    sig
}

fn finished() -> CodegenError {
    CodegenError::Cranelift("the JIT module was already finalized".to_string())
}
