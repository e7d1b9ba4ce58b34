//! The Cranelift JIT: owns the module and the contexts.
//!
//! Takes programs (statement lists) one at a time; gives a function id per
//! program, then, once every program is in, the finalized [`JITModule`]
//! holding their machine code. The walk over the IR is in
//! [`super::translate`].

use cranelift::codegen::{self, ir::UserFuncName, settings};
use cranelift::prelude::{AbiParam, Configurable, FunctionBuilder, FunctionBuilderContext, types};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{FuncId, Linkage, Module, default_libcall_names};

use super::CodegenError;
use super::host::HOST_FUNCS;
use super::translate::Translator;
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
}

fn cranelift_error(e: impl std::fmt::Display) -> CodegenError {
    CodegenError::Cranelift(e.to_string())
}

impl Jit {
    /// A JIT for the host machine, optimizing for speed, with the host
    /// functions registered under their symbols.
    ///
    /// This builds the ISA itself rather than calling
    /// `JITBuilder::with_flags`, which panics on an unsupported host; the
    /// flags are the same (`is_pic` and `use_colocated_libcalls` off, as
    /// `cranelift-jit` requires).
    pub(super) fn new() -> Result<Jit, CodegenError> {
        let mut flags = settings::builder();
        // The verifier checks every function the translator builds: a bug
        // there becomes an error rather than wrong code. It costs about a
        // tenth of the compile time, so release builds skip it.
        let verify = if cfg!(debug_assertions) { "true" } else { "false" };
        for (name, value) in [
            ("opt_level", "speed"),
            ("use_colocated_libcalls", "false"),
            ("is_pic", "false"),
            ("enable_verifier", verify),
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
        let mut builder = JITBuilder::with_isa(isa, default_libcall_names());
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
        })
    }

    /// Compiles `stmts` as the function `name`: `fn(block, scratch)` with
    /// constant slot offsets, or, when `batch`, `fn(block, scratch, n)`
    /// running them for instances `0..n` in struct-of-arrays layout.
    pub(super) fn compile(
        &mut self,
        name: &str,
        stmts: &[Stmt],
        layout: Layout,
        batch: bool,
    ) -> Result<FuncId, CodegenError> {
        let module = self.module.as_mut().ok_or_else(finished)?;
        let ptr = module.target_config().pointer_type();
        let mut sig = module.make_signature();
        sig.params.push(AbiParam::new(ptr));
        sig.params.push(AbiParam::new(ptr));
        if batch {
            sig.params.push(AbiParam::new(types::I64));
        }
        let id = module
            .declare_function(name, Linkage::Local, &sig)
            .map_err(cranelift_error)?;

        module.clear_context(&mut self.ctx);
        self.ctx.func.signature = sig;
        self.ctx.func.name = UserFuncName::user(0, id.as_u32());
        let host = self
            .host_funcs
            .iter()
            .map(|&f| module.declare_func_in_func(f, &mut self.ctx.func))
            .collect();
        let builder = FunctionBuilder::new(&mut self.ctx.func, &mut self.builder_context);
        let translator = Translator::new(builder, host, layout);
        if batch {
            translator.translate_batch(stmts, module.target_config());
        } else {
            translator.translate_single(stmts, module.target_config());
        }

        module
            .define_function(id, &mut self.ctx)
            .map_err(|e| match e {
                cranelift_module::ModuleError::Compilation(c) => {
                    CodegenError::Cranelift(format!("{name}: {c:?}"))
                }
                e => CodegenError::Cranelift(format!("{name}: {e}")),
            })?;
        module.clear_context(&mut self.ctx);
        Ok(id)
    }

    /// Links every function and makes the code executable.
    pub(super) fn finish(mut self) -> Result<JITModule, CodegenError> {
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

fn finished() -> CodegenError {
    CodegenError::Cranelift("the JIT module was already finalized".to_string())
}
