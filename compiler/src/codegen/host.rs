//! The host functions generated code calls.
//!
//! Takes nothing; gives one `extern "C"` wrapper per [`Func`] that is not a
//! Cranelift instruction, each calling [`Func::apply`] (the definition the
//! interpreter uses, so both engines round alike), with the symbol name the
//! JIT registers it under. `Sqrt` and `Abs` are exact instructions
//! (`sqrt`, `fabs`) and have no wrapper.

use crate::ir::Func;

/// A host function's address, by arity.
#[derive(Clone, Copy)]
pub(super) enum HostFn {
    /// `f(a)`.
    Unary(extern "C" fn(f64) -> f64),
    /// `f(a, b)`.
    Binary(extern "C" fn(f64, f64) -> f64),
}

impl HostFn {
    /// The address to register with the JIT.
    pub(super) fn address(self) -> *const u8 {
        match self {
            HostFn::Unary(f) => f as *const u8,
            HostFn::Binary(f) => f as *const u8,
        }
    }

    /// How many `f64` arguments it takes.
    pub(super) fn arity(self) -> usize {
        match self {
            HostFn::Unary(_) => 1,
            HostFn::Binary(_) => 2,
        }
    }
}

/// Every function called through a wrapper: (function, symbol, wrapper).
pub(super) const HOST_FUNCS: [(Func, &str, HostFn); 9] = [
    (Func::Floor, "twin_floor", HostFn::Unary(floor)),
    (Func::Ceil, "twin_ceil", HostFn::Unary(ceil)),
    (Func::Exp, "twin_exp", HostFn::Unary(exp)),
    (Func::Log, "twin_log", HostFn::Unary(log)),
    (Func::Sin, "twin_sin", HostFn::Unary(sin)),
    (Func::Cos, "twin_cos", HostFn::Unary(cos)),
    (Func::Tan, "twin_tan", HostFn::Unary(tan)),
    (Func::Atan2, "twin_atan2", HostFn::Binary(atan2)),
    (Func::Pow, "twin_pow", HostFn::Binary(pow)),
];

/// The index of `func` in [`HOST_FUNCS`], or `None` for the functions that
/// are instructions.
pub(super) fn host_index(func: Func) -> Option<usize> {
    HOST_FUNCS.iter().position(|(f, _, _)| *f == func)
}

// The interpreter passes 0.0 as the second argument of one-argument
// functions; so do these.

extern "C" fn floor(a: f64) -> f64 {
    Func::Floor.apply(a, 0.0)
}

extern "C" fn ceil(a: f64) -> f64 {
    Func::Ceil.apply(a, 0.0)
}

extern "C" fn exp(a: f64) -> f64 {
    Func::Exp.apply(a, 0.0)
}

extern "C" fn log(a: f64) -> f64 {
    Func::Log.apply(a, 0.0)
}

extern "C" fn sin(a: f64) -> f64 {
    Func::Sin.apply(a, 0.0)
}

extern "C" fn cos(a: f64) -> f64 {
    Func::Cos.apply(a, 0.0)
}

extern "C" fn tan(a: f64) -> f64 {
    Func::Tan.apply(a, 0.0)
}

extern "C" fn atan2(a: f64, b: f64) -> f64 {
    Func::Atan2.apply(a, b)
}

extern "C" fn pow(a: f64, b: f64) -> f64 {
    Func::Pow.apply(a, b)
}
