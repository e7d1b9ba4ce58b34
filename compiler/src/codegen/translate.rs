//! The translator: IR statements to Cranelift IR.
//!
//! Takes a program ([`Stmt`]s), a [`FunctionBuilder`] for a function of
//! some [`Shape`], and the model's [`Layout`]; gives the function's body.
//! Each IR node becomes the Cranelift instruction computing the same IEEE
//! operation as the interpreter (`interp::eval`): operands are evaluated
//! left to right, both sides of `Select`, `And` and `Or` are evaluated,
//! booleans are 0.0/1.0, and a value is true when it is `!= 0.0` (so NaN is
//! true). A boolean that only decides something (an `if`, a `while`, a
//! `Select`, another boolean operator) stays a Cranelift flag and is never
//! made 0.0/1.0; a constant is defined once per block; the last `if` of a
//! branch jumps straight to the enclosing merge. Cranelift would clean up
//! most of this itself, but it costs compile time to give it the work.
//!
//! Translation is linear in the size of the program: every expression node
//! is visited once, by an explicit work stack rather than recursion (models
//! can have very deep expressions), and every `If`/`While` adds a fixed
//! number of blocks. A `Load` reads memory unless its slot is among the
//! most recently stored or loaded ones in straight-line code, whose value
//! is reused; a `Store` writes memory unless the same run of stores stores
//! its slot again before anything reads it from there (both in
//! [`super::forward`]). The lowering orders solver stages so that most
//! values are used while still reused (`ir::lower::schedule`).
//!
//! Cranelift's register allocator is not linear in the size of a function,
//! so a statement list larger than [`CHUNK`] is cut into runs of
//! consecutive statements, each compiled as a function of its own
//! ([`Chunk`]) that the list calls in order. Memory is the only state
//! between statements, so this changes nothing but compile time.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use cranelift::codegen::ir::{Block, BlockArg, FuncRef, MemFlagsData, StackSlot};
use cranelift::prelude::{
    FloatCC, FunctionBuilder, InstBuilder, IntCC, StackSlotData, StackSlotKind, Value, types,
};
use cranelift_jit::JITModule;
use cranelift_module::{FuncId, Module};

use super::CodegenError;
use super::forward::{Window, dead_stores};
use super::host::host_index;
use super::jit::{Layout, signature};
use crate::ir::{BinOp, Expr, Func, Slot, SlotHasher, Stmt, UnOp};

/// The size (statements plus expression nodes) above which a statement
/// list is cut into separately compiled chunks. Chunks of this size
/// compile in a few milliseconds; a call between them costs nanoseconds.
pub(super) const CHUNK: usize = 4096;

/// What a generated function takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Shape {
    /// `fn(block, scratch)`: one instance, constant offsets.
    Single,
    /// `fn(block, scratch, n)`: instances `0..n` in struct-of-arrays
    /// layout, one after the other.
    Fleet,
    /// `fn(base, scratch, stride)`: one instance of a fleet, persistent
    /// slot `s` at `base + s * stride` (a chunk of a [`Shape::Fleet`]).
    FleetChunk,
}

impl Shape {
    /// The shape of the chunks a function of this shape calls.
    fn chunk(self) -> Shape {
        match self {
            Shape::Single => Shape::Single,
            Shape::Fleet | Shape::FleetChunk => Shape::FleetChunk,
        }
    }
}

/// A run of statements to compile as a function of its own, after the
/// function that calls it.
pub(super) struct Chunk<'s> {
    /// Its declaration.
    pub(super) id: FuncId,
    /// Its shape.
    pub(super) shape: Shape,
    /// Its statements.
    pub(super) stmts: &'s [Stmt],
}

/// What a translation needs besides the function being built.
pub(super) struct Env<'m, 's> {
    /// The imported host functions, in the order of `host::HOST_FUNCS`.
    pub(super) host: Vec<FuncRef>,
    /// Which slots are persistent.
    pub(super) layout: Layout,
    /// The chunk size ([`CHUNK`], smaller in tests).
    pub(super) chunk: usize,
    /// The module, to declare chunks in.
    pub(super) module: &'m mut JITModule,
    /// Chunks declared and still to compile.
    pub(super) pending: &'m mut Vec<Chunk<'s>>,
}

/// How a slot's address is formed.
#[derive(Clone, Copy)]
enum Addressing {
    /// One instance: persistent slot `s` at `block + 8s`.
    Single {
        /// The instance block.
        block: Value,
        /// The scratch slots.
        scratch: Value,
    },
    /// One instance of a fleet: persistent slot `s` at `base + s * stride`
    /// (`base = block + 8i` and `stride = 8n` for instance `i` of `n`).
    ///
    /// The stride is kept in a stack slot and reloaded for each access
    /// rather than kept in a register. Were it an SSA value, every
    /// `s * stride` would be loop-invariant: Cranelift would hoist them
    /// all out of the instance loop and keep one register per slot live
    /// through the whole body, and register allocation would turn
    /// quadratic (10× slower than the single-instance function on a
    /// 3,000-line model). A reload is a load from L1 after each store;
    /// between stores Cranelift merges them.
    Fleet {
        /// `block + 8i`.
        base: Value,
        /// The stack slot holding `8n`.
        stride: StackSlot,
        /// The scratch slots.
        scratch: Value,
    },
}

/// A pending step of an expression's evaluation.
enum Work<'e> {
    /// Evaluate this node: push its operands' work, or its value for leaves.
    Eval(&'e Expr),
    /// Its operands are on the value stack: combine them.
    Apply(&'e Expr),
}

/// The value of an expression node as the translator holds it.
///
/// A comparison, `and`, `or` or `not` gives a flag, which becomes 0.0 or
/// 1.0 only where a number is needed: a condition (an `if`, a `while`, a
/// `Select`'s first operand, an operand of `and`/`or`/`not`) uses the flag
/// itself. The truth of 0.0/1.0 is the flag, so this changes nothing but
/// the instructions it takes.
#[derive(Clone, Copy)]
enum Val {
    /// An `f64`.
    Num(Value),
    /// An `i8` that is 0 or 1: the number 0.0 or 1.0.
    Flag(Value),
}

/// The constants defined in the block being filled, by their bits: a
/// constant used again in the same block reuses its value.
type ConstMap = HashMap<u64, Value, BuildHasherDefault<SlotHasher>>;

/// Emits the body of a function of shape `shape` running `stmts`, and
/// finalizes it. Chunks it calls are declared in `env.module` and pushed
/// on `env.pending`.
pub(super) fn translate<'s>(
    mut builder: FunctionBuilder<'_>,
    env: Env<'_, 's>,
    shape: Shape,
    stmts: &'s [Stmt],
) -> Result<(), CodegenError> {
    let entry = builder.create_block();
    builder.append_block_params_for_function_params(entry);
    builder.switch_to_block(entry);
    let params = builder.block_params(entry).to_vec();
    let (Some(&first), Some(&scratch)) = (params.first(), params.get(1)) else {
        return Err(CodegenError::Cranelift(
            "a function lacks its parameters".into(),
        ));
    };
    let mut t = Translator {
        builder,
        env,
        chunk_shape: shape.chunk(),
        addr: Addressing::Single {
            block: first,
            scratch,
        },
        constants: (entry, ConstMap::default()),
        error: None,
        window: Window::new(),
    };
    match (shape, params.get(2)) {
        (Shape::Single, _) => t.block(stmts),
        (Shape::FleetChunk, Some(&stride)) => {
            let stride = t.stride_slot(stride);
            t.addr = Addressing::Fleet {
                base: first,
                stride,
                scratch,
            };
            t.block(stmts);
        }
        (Shape::Fleet, Some(&n)) => t.fleet(first, scratch, n, stmts),
        _ => return Err(CodegenError::Cranelift("a fleet function lacks `n`".into())),
    }
    t.builder.ins().return_(&[]);
    t.builder.seal_all_blocks();
    let config = t.env.module.target_config();
    t.builder.finalize(config);
    t.error.map_or(Ok(()), Err)
}

/// Walks one program and emits its function.
struct Translator<'a, 'm, 's> {
    /// The function being built.
    builder: FunctionBuilder<'a>,
    /// Host functions, layout, and where chunks go.
    env: Env<'m, 's>,
    /// The shape of the chunks this function calls.
    chunk_shape: Shape,
    /// How slot addresses are formed.
    addr: Addressing,
    /// The block whose constants are known, and those constants.
    constants: (Block, ConstMap),
    /// The first error declaring a chunk, if any.
    error: Option<CodegenError>,
    /// Store-to-load forwarding: the values of the most recently stored
    /// or loaded slots.
    window: Window<Value>,
}

impl<'s> Translator<'_, '_, 's> {
    /// A stack slot holding `stride`.
    fn stride_slot(&mut self, stride: Value) -> StackSlot {
        let data = StackSlotData::new(StackSlotKind::ExplicitSlot, 8, 3);
        let slot = self.builder.create_sized_stack_slot(data);
        let at = self.builder.ins().stack_addr(types::I64, slot, 0);
        self.builder
            .ins()
            .store(MemFlagsData::trusted(), stride, at, 0);
        slot
    }

    /// Reloads the stride (see [`Addressing::Fleet`]).
    fn stride(&mut self, slot: StackSlot) -> Value {
        let at = self.builder.ins().stack_addr(types::I64, slot, 0);
        self.builder
            .ins()
            .load(types::I64, MemFlagsData::trusted(), at, 0)
    }

    /// The loop over instances `0..n`, each running `stmts` with its base
    /// at `block + 8i`.
    fn fleet(&mut self, block: Value, scratch: Value, n: Value, stmts: &'s [Stmt]) {
        let b = &mut self.builder;
        let header = b.create_block();
        let body = b.create_block();
        let exit = b.create_block();
        let stride_value = b.ins().ishl_imm_u(n, 3);
        let first = b.ins().iconst(types::I64, 0);
        b.ins().jump(header, &[BlockArg::Value(first)]);

        b.switch_to_block(header);
        let i = b.append_block_param(header, types::I64);
        let more = b.ins().icmp(IntCC::SignedLessThan, i, n);
        b.ins().brif(more, body, &[], exit, &[]);

        b.switch_to_block(body);
        self.forget();
        let offset = self.builder.ins().ishl_imm_u(i, 3);
        let base = self.builder.ins().iadd(block, offset);
        let stride = self.stride_slot(stride_value);
        self.addr = Addressing::Fleet {
            base,
            stride,
            scratch,
        };
        self.block(stmts);
        let next = self.builder.ins().iadd_imm_u(i, 1);
        self.builder.ins().jump(header, &[BlockArg::Value(next)]);
        self.builder.switch_to_block(exit);
        self.forget();
    }

    /// Emits statements in order, leaving the builder in the block where
    /// control continues after them. A list larger than [`CHUNK`] becomes
    /// calls of chunks, except for statements that are larger on their own
    /// (a big loop), which are emitted here and chunk their bodies.
    fn block(&mut self, stmts: &'s [Stmt]) {
        let chunk = self.env.chunk;
        let sizes: Vec<usize> = stmts.iter().map(stmt_size).collect();
        if sizes.iter().sum::<usize>() <= chunk {
            self.inline(stmts);
            return;
        }
        let (mut start, mut run) = (0, 0);
        for (k, &size) in sizes.iter().enumerate() {
            if size > chunk {
                self.run(&stmts[start..k], run);
                self.stmt(&stmts[k]);
                (start, run) = (k + 1, 0);
                continue;
            }
            if run + size > chunk {
                self.run(&stmts[start..k], run);
                (start, run) = (k, 0);
            }
            run += size;
        }
        self.run(&stmts[start..], run);
    }

    /// Emits a run of statements of total size `size`: inline when small,
    /// else as a call of a chunk.
    fn run(&mut self, stmts: &'s [Stmt], size: usize) {
        if size < self.env.chunk / 4 {
            self.inline(stmts);
        } else {
            self.call_chunk(stmts);
        }
    }

    /// Declares a chunk running `stmts` and calls it.
    fn call_chunk(&mut self, stmts: &'s [Stmt]) {
        let shape = self.chunk_shape;
        let sig = signature(self.env.module, shape);
        let id = match self.env.module.declare_anonymous_function(&sig) {
            Ok(id) => id,
            Err(e) => {
                self.error
                    .get_or_insert(CodegenError::Cranelift(e.to_string()));
                return;
            }
        };
        let callee = self.env.module.declare_func_in_func(id, self.builder.func);
        self.env.pending.push(Chunk { id, shape, stmts });
        // The chunk reads and writes memory: what we know is stale after.
        self.forget();
        match self.addr {
            Addressing::Single { block, scratch } => {
                self.builder.ins().call(callee, &[block, scratch]);
            }
            Addressing::Fleet {
                base,
                stride,
                scratch,
            } => {
                let stride = self.stride(stride);
                self.builder.ins().call(callee, &[base, scratch, stride]);
            }
        }
    }

    /// Emits statements in this function, leaving out the stores
    /// [`dead_stores`] finds dead in each run of consecutive stores.
    fn inline(&mut self, stmts: &'s [Stmt]) {
        let is_store = |s: &Stmt| matches!(s, Stmt::Store(..));
        let mut k = 0;
        while k < stmts.len() {
            if !is_store(&stmts[k]) {
                self.stmt(&stmts[k]);
                k += 1;
                continue;
            }
            let end = stmts[k..]
                .iter()
                .position(|s| !is_store(s))
                .map_or(stmts.len(), |n| k + n);
            let dead = dead_stores(&self.window, &stmts[k..end]);
            for (s, dead) in stmts[k..end].iter().zip(dead) {
                if let Stmt::Store(slot, e) = s {
                    let v = self.expr(e);
                    match dead {
                        true => self.remember(*slot, v),
                        false => self.store(*slot, v),
                    }
                }
            }
            k = end;
        }
    }

    fn stmt(&mut self, s: &'s Stmt) {
        match s {
            Stmt::Store(slot, e) => {
                let v = self.expr(e);
                self.store(*slot, v);
            }
            Stmt::If(c, then, otherwise) => self.if_(c, then, otherwise),
            Stmt::While(c, body) => self.while_(c, body),
        }
    }

    fn if_(&mut self, c: &Expr, then: &'s [Stmt], otherwise: &'s [Stmt]) {
        let merge = self.builder.create_block();
        self.branches(c, then, otherwise, merge);
        self.builder.switch_to_block(merge);
        // Control merges here: nothing is assumed.
        self.forget();
    }

    /// The test and the branches of an `if`, each branch ending with a
    /// jump to `merge`.
    fn branches(&mut self, c: &Expr, then: &'s [Stmt], otherwise: &'s [Stmt], merge: Block) {
        let cond = self.condition(c);
        let then_block = self.builder.create_block();
        // Both branches start from what was known before them (those
        // values dominate both).
        let before = self.window.clone();
        if otherwise.is_empty() {
            self.builder.ins().brif(cond, then_block, &[], merge, &[]);
        } else {
            let else_block = self.builder.create_block();
            self.builder
                .ins()
                .brif(cond, then_block, &[], else_block, &[]);
            self.builder.switch_to_block(else_block);
            self.block_to(otherwise, merge);
            self.window = before.clone();
        }
        self.builder.switch_to_block(then_block);
        self.block_to(then, merge);
    }

    /// Emits `stmts`, then a jump to `target`. When they end with an `if`
    /// and are emitted inline, that `if`'s branches jump to `target`
    /// themselves, without a merge block of their own that would only
    /// jump on (fewer blocks are less for Cranelift to do).
    fn block_to(&mut self, stmts: &'s [Stmt], target: Block) {
        if let Some((Stmt::If(c, then, otherwise), rest)) = stmts.split_last()
            && stmts.iter().map(stmt_size).sum::<usize>() <= self.env.chunk
        {
            self.inline(rest);
            self.branches(c, then, otherwise, target);
            return;
        }
        self.block(stmts);
        self.builder.ins().jump(target, &[]);
    }

    fn while_(&mut self, c: &Expr, body: &'s [Stmt]) {
        let header = self.builder.create_block();
        let body_block = self.builder.create_block();
        let exit = self.builder.create_block();
        self.builder.ins().jump(header, &[]);
        self.builder.switch_to_block(header);
        // The header is reached again from the body's end.
        self.forget();
        let cond = self.condition(c);
        self.builder.ins().brif(cond, body_block, &[], exit, &[]);
        self.builder.switch_to_block(body_block);
        self.block_to(body, header);
        self.builder.switch_to_block(exit);
        self.forget();
    }

    /// Emits an expression; gives its value as a number.
    fn expr(&mut self, root: &Expr) -> Value {
        let v = self.eval(root);
        self.num(v)
    }

    /// Emits an expression; gives its truth as an `i8` flag.
    fn condition(&mut self, root: &Expr) -> Value {
        let v = self.eval(root);
        self.flag(v)
    }

    /// Emits an expression; gives its value as the translator holds it.
    fn eval(&mut self, root: &Expr) -> Val {
        let mut work = vec![Work::Eval(root)];
        let mut values: Vec<Val> = Vec::new();
        while let Some(w) = work.pop() {
            match w {
                Work::Eval(e) => match e {
                    Expr::Const(c) => values.push(Val::Num(self.constant(*c))),
                    Expr::Load(s) => values.push(Val::Num(self.load(*s))),
                    Expr::Unary(_, x) => work.extend([Work::Apply(e), Work::Eval(x)]),
                    Expr::Binary(_, a, b) => {
                        work.extend([Work::Apply(e), Work::Eval(b), Work::Eval(a)]);
                    }
                    Expr::Call(f, args) => {
                        work.push(Work::Apply(e));
                        let used = args.iter().take(f.arity());
                        work.extend(used.rev().map(Work::Eval));
                    }
                    Expr::Select(c, a, b) => {
                        work.extend([Work::Apply(e), Work::Eval(b), Work::Eval(a), Work::Eval(c)]);
                    }
                },
                Work::Apply(e) => {
                    let v = self.apply(e, &mut values);
                    values.push(v);
                }
            }
        }
        match values.pop() {
            Some(v) => v,
            None => Val::Num(self.constant(f64::NAN)),
        }
    }

    /// Combines the operands of `e`, on top of `values`, into its value.
    fn apply(&mut self, e: &Expr, values: &mut Vec<Val>) -> Val {
        // The work stack guarantees the operands are there; the fallback
        // (NaN) only keeps this free of panics.
        let mut pop = |t: &mut Self| match values.pop() {
            Some(v) => v,
            None => Val::Num(t.constant(f64::NAN)),
        };
        match e {
            Expr::Const(c) => Val::Num(self.constant(*c)),
            Expr::Load(s) => Val::Num(self.load(*s)),
            Expr::Unary(op, _) => {
                let x = pop(self);
                self.unary(*op, x)
            }
            Expr::Binary(op, _, _) => {
                let b = pop(self);
                let a = pop(self);
                self.binary(*op, a, b)
            }
            Expr::Call(f, args) => {
                let given = args.len().min(f.arity());
                let mut xs = [None; 2];
                for k in (0..given).rev() {
                    xs[k] = Some(pop(self));
                }
                // A missing argument is NaN, as in the interpreter.
                let [a, b] = xs.map(|x| match x {
                    Some(v) => self.num(v),
                    None => self.constant(f64::NAN),
                });
                Val::Num(self.call(*f, a, b))
            }
            Expr::Select(_, _, _) => {
                let b = pop(self);
                let a = pop(self);
                let c = pop(self);
                let (a, b) = (self.num(a), self.num(b));
                let cond = self.flag(c);
                Val::Num(self.builder.ins().select(cond, a, b))
            }
        }
    }

    fn unary(&mut self, op: UnOp, x: Val) -> Val {
        match (op, x) {
            (UnOp::Neg, x) => {
                let x = self.num(x);
                Val::Num(self.builder.ins().fneg(x))
            }
            (UnOp::Not, Val::Flag(f)) => Val::Flag(self.builder.ins().bxor_imm_u(f, 1)),
            (UnOp::Not, Val::Num(x)) => {
                let zero = self.constant(0.0);
                Val::Flag(self.builder.ins().fcmp(FloatCC::Equal, x, zero))
            }
        }
    }

    fn binary(&mut self, op: BinOp, a: Val, b: Val) -> Val {
        if let BinOp::And | BinOp::Or = op {
            let a = self.flag(a);
            let b = self.flag(b);
            return Val::Flag(if op == BinOp::And {
                self.builder.ins().band(a, b)
            } else {
                self.builder.ins().bor(a, b)
            });
        }
        let (a, b) = (self.num(a), self.num(b));
        let cc = match op {
            BinOp::Add => return Val::Num(self.builder.ins().fadd(a, b)),
            BinOp::Sub => return Val::Num(self.builder.ins().fsub(a, b)),
            BinOp::Mul => return Val::Num(self.builder.ins().fmul(a, b)),
            BinOp::Div => return Val::Num(self.builder.ins().fdiv(a, b)),
            BinOp::Min => return Val::Num(self.builder.ins().fmin(a, b)),
            BinOp::Max => return Val::Num(self.builder.ins().fmax(a, b)),
            // Ordered comparisons: false when either side is NaN, like
            // Rust's `<`, `<=`, `>`, `>=`, `==`.
            BinOp::Lt => FloatCC::LessThan,
            BinOp::Le => FloatCC::LessThanOrEqual,
            BinOp::Gt => FloatCC::GreaterThan,
            BinOp::Ge => FloatCC::GreaterThanOrEqual,
            BinOp::Eq => FloatCC::Equal,
            // Unordered or not equal: true when either side is NaN, like
            // Rust's `!=`. (`and` and `or` returned above.)
            BinOp::Ne | BinOp::And | BinOp::Or => FloatCC::NotEqual,
        };
        Val::Flag(self.builder.ins().fcmp(cc, a, b))
    }

    /// `f(a)` or `f(a, b)`: an instruction for `Sqrt` and `Abs`, a call of
    /// the host wrapper for the others.
    fn call(&mut self, f: Func, a: Value, b: Value) -> Value {
        match f {
            Func::Sqrt => return self.builder.ins().sqrt(a),
            Func::Abs => return self.builder.ins().fabs(a),
            _ => {}
        }
        let Some(callee) = host_index(f).and_then(|k| self.env.host.get(k).copied()) else {
            // Every other function has a wrapper; keep this panic-free.
            return self.constant(f64::NAN);
        };
        let inst = if f.arity() == 2 {
            self.builder.ins().call(callee, &[a, b])
        } else {
            self.builder.ins().call(callee, &[a])
        };
        match self.builder.inst_results(inst).first() {
            Some(&v) => v,
            None => self.constant(f64::NAN),
        }
    }

    /// A value as a number: a flag becomes 1.0 or 0.0.
    fn num(&mut self, v: Val) -> Value {
        match v {
            Val::Num(x) => x,
            Val::Flag(flag) => {
                let one = self.constant(1.0);
                let zero = self.constant(0.0);
                self.builder.ins().select(flag, one, zero)
            }
        }
    }

    /// A value's truth as an `i8` flag: a number is true when `x != 0.0`
    /// (unordered or not equal: NaN is true).
    fn flag(&mut self, v: Val) -> Value {
        match v {
            Val::Flag(flag) => flag,
            Val::Num(x) => {
                let zero = self.constant(0.0);
                self.builder.ins().fcmp(FloatCC::NotEqual, x, zero)
            }
        }
    }

    /// The constant `c` in the current block: defined at its first use in
    /// the block, reused after (Cranelift would merge the copies, at a cost).
    fn constant(&mut self, c: f64) -> Value {
        let block = self.builder.current_block();
        if block != Some(self.constants.0) {
            if let Some(b) = block {
                self.constants.0 = b;
            }
            self.constants.1.clear();
        }
        if let Some(&v) = self.constants.1.get(&c.to_bits()) {
            return v;
        }
        let v = self.builder.ins().f64const(c);
        self.constants.1.insert(c.to_bits(), v);
        v
    }
    /// The base pointer and constant offset of `slot`.
    fn address(&mut self, slot: Slot) -> (Value, i32) {
        // `validate` caps slots at 2^27, so every offset fits an i32.
        let byte_offset = |s: Slot| i32::try_from(u64::from(s) * 8).unwrap_or(i32::MAX);
        let persistent = self.env.layout.persistent;
        match self.addr {
            Addressing::Single { scratch, .. } | Addressing::Fleet { scratch, .. }
                if slot >= persistent =>
            {
                (scratch, byte_offset(slot - persistent))
            }
            Addressing::Single { block, .. } => (block, byte_offset(slot)),
            Addressing::Fleet { base, .. } if slot == 0 => (base, 0),
            Addressing::Fleet { base, stride, .. } => {
                let stride = self.stride(stride);
                let row = self.builder.ins().imul_imm_u(stride, i64::from(slot));
                (self.builder.ins().iadd(base, row), 0)
            }
        }
    }

    fn load(&mut self, slot: Slot) -> Value {
        if let Some(v) = self.window.get(slot) {
            return v;
        }
        let (base, offset) = self.address(slot);
        let v = self
            .builder
            .ins()
            .load(types::F64, MemFlagsData::trusted(), base, offset);
        self.remember(slot, v);
        v
    }

    /// Forgets everything known about memory.
    fn forget(&mut self) {
        self.window.forget();
    }

    /// Records that `slot` holds `v`.
    fn remember(&mut self, slot: Slot, v: Value) {
        self.window.remember(slot, v);
    }

    fn store(&mut self, slot: Slot, v: Value) {
        let (base, offset) = self.address(slot);
        self.builder
            .ins()
            .store(MemFlagsData::trusted(), v, base, offset);
        self.remember(slot, v);
    }
}

/// A statement's size: one per statement and per expression node.
fn stmt_size(s: &Stmt) -> usize {
    match s {
        Stmt::Store(_, e) => 1 + expr_size(e),
        Stmt::If(c, then, otherwise) => {
            1 + expr_size(c)
                + then.iter().map(stmt_size).sum::<usize>()
                + otherwise.iter().map(stmt_size).sum::<usize>()
        }
        Stmt::While(c, body) => 1 + expr_size(c) + body.iter().map(stmt_size).sum::<usize>(),
    }
}

/// The number of nodes of an expression (without recursion).
fn expr_size(e: &Expr) -> usize {
    let mut stack = vec![e];
    let mut n = 0;
    while let Some(e) = stack.pop() {
        n += 1;
        match e {
            Expr::Const(_) | Expr::Load(_) => {}
            Expr::Unary(_, x) => stack.push(x),
            Expr::Binary(_, a, b) => stack.extend([&**a, &**b]),
            Expr::Call(_, args) => stack.extend(args),
            Expr::Select(c, a, b) => stack.extend([&**c, &**a, &**b]),
        }
    }
    n
}
