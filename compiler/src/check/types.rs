//! Types of values as the checker sees them.
//!
//! Takes dimensions from [`crate::units`]; gives [`Ty`] and [`Quantity`].
//! A `Real` carries its dimension and its [`Affinity`]: whether it is an
//! absolute point on an affine scale (`degC`, `degF`), a difference of two
//! such points, or neither. Scales and offsets are not part of a type: the
//! checker converts every literal to SI, so values of one dimension are
//! interchangeable whatever unit they were written in.

use crate::units::Dimension;

/// Where a temperature-like value stands on an affine scale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Affinity {
    /// Not tied to a scale's origin: anything but an affine point or a
    /// difference of points (kelvin values are neutral, being both).
    Neutral,
    /// An absolute point on an affine scale (`20 degC`).
    Point,
    /// A difference of two points (`a - b` with both in `degC`).
    Delta,
}

/// A real value's dimension and affinity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Quantity {
    /// The dimension.
    pub dim: Dimension,
    /// Point, delta or neither.
    pub affinity: Affinity,
}

impl Quantity {
    /// A dimensionless, neutral quantity.
    pub const NUMBER: Quantity = Quantity {
        dim: Dimension::NONE,
        affinity: Affinity::Neutral,
    };

    /// A neutral quantity of `dim`.
    pub fn of(dim: Dimension) -> Quantity {
        Quantity {
            dim,
            affinity: Affinity::Neutral,
        }
    }

    /// The same dimension, neutral.
    pub fn neutral(self) -> Quantity {
        Quantity::of(self.dim)
    }
}

/// The identity of an enum: its index in the program's enum table.
pub type EnumId = usize;

/// The type of a value.
#[derive(Clone, Debug, PartialEq)]
pub enum Ty {
    /// A real number with a dimension.
    Real(Quantity),
    /// A whole number (dimensionless). Unit-less integer literals are
    /// `Int` and widen to `Real` wherever a real is expected.
    Int,
    /// `true` or `false`.
    Bool,
    /// A value of an enum.
    Enum(EnumId),
    /// A string (only as an argument of `csv(...)`).
    Str,
    /// The type of something that already failed to check; it is
    /// compatible with everything so one mistake gives one diagnostic.
    Error,
}

impl Ty {
    /// A dimensionless real.
    pub const NUMBER: Ty = Ty::Real(Quantity::NUMBER);

    /// A neutral real of `dim`.
    pub fn real(dim: Dimension) -> Ty {
        Ty::Real(Quantity::of(dim))
    }

    /// The quantity of a numeric type (`Int` counts as dimensionless).
    pub fn quantity(&self) -> Option<Quantity> {
        match self {
            Ty::Real(q) => Some(*q),
            Ty::Int => Some(Quantity::NUMBER),
            _ => None,
        }
    }

    /// Whether this is `Ty::Error`.
    pub fn is_error(&self) -> bool {
        matches!(self, Ty::Error)
    }

    /// Whether this is a number (real or int).
    pub fn is_numeric(&self) -> bool {
        matches!(self, Ty::Real(_) | Ty::Int)
    }
}

impl Quantity {
    /// Whether this is the type of a value in a generic body that depends
    /// on the body's unit parameters (`U`, `U/s`): its dimension is then
    /// the checker's stand-in, fixed only at each use.
    pub fn depends_on_unit_params(&self) -> bool {
        // Sixteen unit parameters are more than any signature has.
        super::probe::split_probes(self.dim, 16)
            .is_none_or(|(_, exps)| exps.iter().any(|e| !e.is_zero()))
    }
}
