//! Units: a [`Dimension`] with an affine map to the coherent SI unit.
//!
//! A value `v` in a unit means `v * scale + offset` in SI. Only absolute
//! temperatures (`degC`, `degF`) have an offset. Products, quotients and
//! powers use the scale alone, that is they treat an affine unit as the
//! matching temperature *difference*: `J/degC` is `J/K`. Whether such a use
//! is legal is the checker's business (it reports `affine-misuse`), not this
//! module's. Dimension exponents saturate instead of overflowing, as in
//! [`Dimension::mul`]; use [`Dimension::checked_pow`] to detect that.

use super::dimension::Dimension;
use super::rational::Rational;

/// A unit of measure: its dimension and how to convert its values to SI.
///
/// `SI value = value * scale + offset`.
#[derive(Clone, Copy, PartialEq, Debug)]
pub struct Unit {
    /// The physical dimension.
    pub dim: Dimension,
    /// The size of one unit in the coherent SI unit of `dim`.
    pub scale: f64,
    /// The SI value of this unit's zero; non-zero only for affine units.
    pub offset: f64,
}

impl Unit {
    /// The unit of pure numbers: scale 1, no offset.
    pub const DIMENSIONLESS: Unit = Unit::si(Dimension::NONE);

    /// A unit from all three parts.
    pub const fn new(dim: Dimension, scale: f64, offset: f64) -> Unit {
        Unit { dim, scale, offset }
    }

    /// The coherent SI unit of `dim` (scale 1, no offset).
    pub const fn si(dim: Dimension) -> Unit {
        Unit::new(dim, 1.0, 0.0)
    }

    /// A linear unit of `dim`: one of it is `scale` SI units.
    pub const fn scaled(dim: Dimension, scale: f64) -> Unit {
        Unit::new(dim, scale, 0.0)
    }

    /// This unit multiplied by a number, as in `unit kcal = 4184 J`. Like any
    /// product, the result is linear (an affine unit contributes its scale).
    pub fn times(&self, factor: f64) -> Unit {
        Unit::scaled(self.dim, self.scale * factor)
    }

    /// Whether this is an absolute-temperature style unit with an offset.
    pub fn is_affine(&self) -> bool {
        self.offset != 0.0
    }

    /// The same unit as a difference: the offset dropped (`degC` → `K`).
    pub fn as_delta(&self) -> Unit {
        Unit::scaled(self.dim, self.scale)
    }

    /// The product unit. Affine units contribute their scale only.
    pub fn mul(&self, other: &Unit) -> Unit {
        Unit::scaled(self.dim.mul(&other.dim), self.scale * other.scale)
    }

    /// The quotient unit. Affine units contribute their scale only.
    pub fn div(&self, other: &Unit) -> Unit {
        Unit::scaled(self.dim.div(&other.dim), self.scale / other.scale)
    }

    /// The unit raised to a rational power (`m^2`, `Hz^(1/2)`). Integer
    /// powers use `powi` for the scale, so `(1e-3)^3` stays as exact as
    /// `f64` allows. Affine units contribute their scale only.
    pub fn powr(&self, exp: Rational) -> Unit {
        let scale = if exp.is_integer() {
            self.scale.powi(exp.numer())
        } else {
            self.scale.powf(exp.to_f64())
        };
        Unit::scaled(self.dim.pow(exp), scale)
    }

    /// The reciprocal unit (`1/min`). Affine units contribute their scale only.
    pub fn recip(&self) -> Unit {
        Unit::scaled(self.dim.recip(), 1.0 / self.scale)
    }

    /// A value in this unit, in SI.
    pub fn to_si(&self, value: f64) -> f64 {
        value * self.scale + self.offset
    }

    /// An SI value, in this unit.
    pub fn from_si(&self, value: f64) -> f64 {
        (value - self.offset) / self.scale
    }

    /// A value in this unit converted to `target`, or `None` when the
    /// dimensions differ. Offsets apply, so `100 degC` is `212 degF`.
    pub fn convert(&self, value: f64, target: &Unit) -> Option<f64> {
        (self.dim == target.dim).then(|| target.from_si(self.to_si(value)))
    }
}

impl Default for Unit {
    /// [`Unit::DIMENSIONLESS`].
    fn default() -> Self {
        Unit::DIMENSIONLESS
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::dimension::BaseDim;
    use super::*;

    const METRE: Unit = Unit::si(Dimension::base(BaseDim::Length));
    const SECOND: Unit = Unit::si(Dimension::base(BaseDim::Time));
    const KELVIN: Unit = Unit::si(Dimension::base(BaseDim::Temperature));
    const DEG_C: Unit = Unit::new(Dimension::base(BaseDim::Temperature), 1.0, 273.15);

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * b.abs().max(1.0)
    }

    #[test]
    fn products_and_quotients_combine_dimension_and_scale() {
        let km = METRE.times(1000.0);
        let h = SECOND.times(3600.0);
        let kmh = km.div(&h);
        assert_eq!(kmh.dim, METRE.dim.div(&SECOND.dim));
        assert!(close(kmh.to_si(36.0), 10.0));
        let km2 = km.mul(&km);
        assert_eq!(km2, km.powr(Rational::int(2)));
        assert_eq!(km2.scale, 1e6);
        assert_eq!(km2.powr(Rational::HALF), km);
        let per_min = SECOND.times(60.0).recip();
        assert!(close(per_min.to_si(1500.0), 25.0));
        assert!(!per_min.is_affine());
    }

    #[test]
    fn affine_units_convert_with_offset_and_combine_as_deltas() {
        assert!(DEG_C.is_affine());
        assert!(close(DEG_C.to_si(100.0), 373.15));
        assert!(close(DEG_C.from_si(273.15), 0.0));
        assert_eq!(DEG_C.as_delta(), KELVIN);
        let per_deg = Unit::DIMENSIONLESS.div(&DEG_C);
        assert_eq!(per_deg, KELVIN.recip());
        assert_eq!(DEG_C.powr(Rational::ONE), KELVIN);
        assert_eq!(DEG_C.convert(0.0, &KELVIN), Some(273.15));
        assert_eq!(DEG_C.convert(0.0, &METRE), None);
    }

    #[test]
    fn overflowing_dimensions_saturate() {
        let huge = METRE.powr(Rational::int(i32::MAX));
        assert_eq!(huge.mul(&METRE), huge);
        assert_eq!(huge.dim.checked_mul(&METRE.dim), None);
    }
}
