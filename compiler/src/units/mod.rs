//! Physical units: dimensions, units and the table of unit names.
//!
//! Takes unit names as written in a model (`kW`, `degC`, `µA`, user `unit`
//! declarations) and gives what the checker computes with:
//!
//! - [`Dimension`]: a vector of [`Rational`] exponents over the seven SI base
//!   dimensions ([`BaseDim`]: length, mass, time, current, temperature,
//!   amount, luminous intensity), with product, quotient and rational
//!   power, and the spellings diagnostics use
//!   ([`Dimension::describe`]: "power"; [`Dimension::si_symbol`]: `W/K`).
//! - [`Unit`]: a dimension plus a scale and an offset to SI
//!   (`SI = value * scale + offset`); only absolute temperatures have an
//!   offset, and products and powers treat them as differences.
//! - [`UnitTable`]: the built-in units with SI prefixes (`n u µ m c k M G p`)
//!   resolved on lookup, user units, and did-you-mean suggestions
//!   ([`UnitTable::suggest`], [`closest`], [`edit_distance`]).
//!
//! Invariants: rationals are always normalised, so equal dimensions compare
//! and hash equal; exact table names win over prefix parses (`min` is the
//! minute, `cd` the candela); nothing here panics on user input. Dimension
//! algebra never fails: exponents that would overflow `i32` saturate, and
//! the `checked_*` forms on [`Dimension`] report the overflow instead.

mod dimension;
mod rational;
mod table;
mod unit;

pub mod parse;

pub use dimension::{BaseDim, Dimension};
pub use rational::Rational;
pub use table::{UnitTable, closest, edit_distance};
pub use unit::Unit;
