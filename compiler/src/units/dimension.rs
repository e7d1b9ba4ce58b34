//! Physical dimensions as vectors of rational exponents over the seven SI
//! base dimensions.
//!
//! Takes nothing but exponents; gives [`Rational`] exponents, the
//! [`Dimension`] algebra (product, quotient, rational power) and the human
//! spellings that diagnostics show: a name such as "power" and a coherent SI
//! symbol such as `W/(m^2*K)`.
//!
//! Invariant: every [`Rational`] is normalised (lowest terms, positive
//! denominator, numerator never `i32::MIN`), so the derived `Eq` and `Hash`
//! on [`Dimension`] are structural equality of dimensions.

use std::fmt;

use super::rational::Rational;

/// One of the seven SI base dimensions, in the order [`Dimension`] stores them.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub enum BaseDim {
    /// Length (L), metre.
    Length,
    /// Mass (M), kilogram.
    Mass,
    /// Time (T), second.
    Time,
    /// Electric current (I), ampere.
    Current,
    /// Thermodynamic temperature (Θ), kelvin.
    Temperature,
    /// Amount of substance (N), mole.
    Amount,
    /// Luminous intensity (J), candela.
    Luminous,
}

impl BaseDim {
    /// All seven, in storage order.
    pub const ALL: [BaseDim; 7] = [
        BaseDim::Length,
        BaseDim::Mass,
        BaseDim::Time,
        BaseDim::Current,
        BaseDim::Temperature,
        BaseDim::Amount,
        BaseDim::Luminous,
    ];

    /// The position of this base dimension in a [`Dimension`]'s exponents.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The coherent SI unit symbol: `m kg s A K mol cd`.
    pub const fn symbol(self) -> &'static str {
        match self {
            BaseDim::Length => "m",
            BaseDim::Mass => "kg",
            BaseDim::Time => "s",
            BaseDim::Current => "A",
            BaseDim::Temperature => "K",
            BaseDim::Amount => "mol",
            BaseDim::Luminous => "cd",
        }
    }
}

/// A physical dimension: one rational exponent per [`BaseDim`], in the order
/// length, mass, time, current, temperature, amount, luminous intensity.
///
/// Products, quotients and powers never fail: an exponent that would
/// overflow `i32` (only reachable through absurd powers) saturates as
/// described on [`Rational`]. The `checked_*` forms report it instead.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Dimension([Rational; 7]);

/// The order factors are written in by [`Dimension::si_symbol`]: mass first,
/// as in `kg*m^2/s^3`, then the rest in storage order.
const WRITE_ORDER: [BaseDim; 7] = [
    BaseDim::Mass,
    BaseDim::Length,
    BaseDim::Time,
    BaseDim::Current,
    BaseDim::Temperature,
    BaseDim::Amount,
    BaseDim::Luminous,
];

/// Shorthand for the tables below: integer exponents `[L, M, T, I, Θ, N, J]`.
const fn d(e: [i32; 7]) -> Dimension {
    Dimension::from_ints(e)
}

/// Well-known dimensions: the human name [`Dimension::name`] gives, and the
/// spelling [`Dimension::si_symbol`] prefers over base symbols, when there
/// is a better one: a named SI unit (`W`; `Hz` only for exactly `1/s`) or a
/// named unit over base units (`J/K`, `W/(m^2*K)`).
#[rustfmt::skip]
const KNOWN: &[(Dimension, &str, Option<&str>)] = &[
    (d([0, 0, 0, 0, 0, 0, 0]),      "dimensionless",             None),
    (d([1, 0, 0, 0, 0, 0, 0]),      "length",                    None),
    (d([0, 1, 0, 0, 0, 0, 0]),      "mass",                      None),
    (d([0, 0, 1, 0, 0, 0, 0]),      "time",                      None),
    (d([0, 0, 0, 1, 0, 0, 0]),      "current",                   None),
    (d([0, 0, 0, 0, 1, 0, 0]),      "temperature",               None),
    (d([0, 0, 0, 0, 0, 1, 0]),      "amount of substance",       None),
    (d([0, 0, 0, 0, 0, 0, 1]),      "luminous intensity",        None),
    (d([2, 0, 0, 0, 0, 0, 0]),      "area",                      None),
    (d([3, 0, 0, 0, 0, 0, 0]),      "volume",                    None),
    (d([1, 0, -1, 0, 0, 0, 0]),     "velocity",                  None),
    (d([1, 0, -2, 0, 0, 0, 0]),     "acceleration",              None),
    (d([0, 0, -1, 0, 0, 0, 0]),     "frequency",                 Some("Hz")),
    (d([1, 1, -2, 0, 0, 0, 0]),     "force",                     Some("N")),
    (d([-1, 1, -2, 0, 0, 0, 0]),    "pressure",                  Some("Pa")),
    (d([2, 1, -2, 0, 0, 0, 0]),     "energy",                    Some("J")),
    (d([2, 1, -3, 0, 0, 0, 0]),     "power",                     Some("W")),
    (d([1, 1, -1, 0, 0, 0, 0]),     "momentum",                  None),
    (d([0, 0, 1, 1, 0, 0, 0]),      "charge",                    Some("C")),
    (d([2, 1, -3, -1, 0, 0, 0]),    "voltage",                   Some("V")),
    (d([2, 1, -3, -2, 0, 0, 0]),    "resistance",                Some("Ohm")),
    (d([-2, -1, 3, 2, 0, 0, 0]),    "conductance",               Some("S")),
    (d([-2, -1, 4, 2, 0, 0, 0]),    "capacitance",               Some("F")),
    (d([2, 1, -2, -2, 0, 0, 0]),    "inductance",                Some("H")),
    (d([2, 1, -2, -1, 0, 0, 0]),    "magnetic flux",             Some("Wb")),
    (d([0, 1, -2, -1, 0, 0, 0]),    "magnetic flux density",     Some("T")),
    (d([1, 1, -3, -1, 0, 0, 0]),    "electric field",            Some("V/m")),
    (d([3, 0, -1, 0, 0, 0, 0]),     "volume flow",               None),
    (d([0, 1, -1, 0, 0, 0, 0]),     "mass flow",                 None),
    (d([-3, 1, 0, 0, 0, 0, 0]),     "density",                   None),
    (d([-1, 1, -1, 0, 0, 0, 0]),    "dynamic viscosity",         Some("Pa*s")),
    (d([2, 0, -1, 0, 0, 0, 0]),     "kinematic viscosity",       None),
    (d([2, 0, -2, 0, 0, 0, 0]),     "specific energy",           Some("J/kg")),
    (d([2, 1, -2, 0, -1, 0, 0]),    "heat capacity",             Some("J/K")),
    (d([2, 0, -2, 0, -1, 0, 0]),    "specific heat capacity",    Some("J/(kg*K)")),
    (d([2, 1, -3, 0, -1, 0, 0]),    "thermal conductance",       Some("W/K")),
    (d([1, 1, -3, 0, -1, 0, 0]),    "thermal conductivity",      Some("W/(m*K)")),
    (d([0, 1, -3, 0, 0, 0, 0]),     "heat flux",                 Some("W/m^2")),
    (d([0, 1, -3, 0, -1, 0, 0]),    "heat transfer coefficient", Some("W/(m^2*K)")),
    (d([0, 0, -1, 0, 1, 0, 0]),     "temperature rate",          None),
    (d([-3, 0, 0, 0, 0, 1, 0]),     "concentration",             None),
    (d([0, 1, 0, 0, 0, -1, 0]),     "molar mass",                None),
];

fn known(dim: &Dimension) -> Option<&'static (Dimension, &'static str, Option<&'static str>)> {
    KNOWN.iter().find(|(d, _, _)| d == dim)
}

/// One base factor with a positive exponent: `m`, `m^2`, `s^(1/2)`.
fn factor(base: BaseDim, exp: Rational) -> String {
    let symbol = base.symbol();
    if exp == Rational::ONE {
        symbol.to_string()
    } else if exp.is_integer() {
        format!("{symbol}^{exp}")
    } else {
        format!("{symbol}^({exp})")
    }
}

impl Dimension {
    /// The dimension of pure numbers.
    pub const NONE: Dimension = Dimension([Rational::ZERO; 7]);

    /// A dimension from its exponents, in [`BaseDim::ALL`] order.
    pub const fn from_exponents(exponents: [Rational; 7]) -> Dimension {
        Dimension(exponents)
    }

    /// A dimension from integer exponents `[L, M, T, I, Θ, N, J]`.
    pub const fn from_ints(exponents: [i32; 7]) -> Dimension {
        let mut out = [Rational::ZERO; 7];
        let mut i = 0;
        while i < 7 {
            out[i] = Rational::int(exponents[i]);
            i += 1;
        }
        Dimension(out)
    }

    /// A single base dimension with exponent one.
    pub const fn base(base: BaseDim) -> Dimension {
        let mut out = [Rational::ZERO; 7];
        out[base.index()] = Rational::ONE;
        Dimension(out)
    }

    /// All seven exponents, in [`BaseDim::ALL`] order.
    pub const fn exponents(&self) -> [Rational; 7] {
        self.0
    }

    /// The exponent of one base dimension.
    pub const fn exponent(&self, base: BaseDim) -> Rational {
        self.0[base.index()]
    }

    /// Whether every exponent is zero.
    pub fn is_dimensionless(&self) -> bool {
        self.0.iter().all(Rational::is_zero)
    }

    /// The dimension of a product (exponents add). Exponents saturate
    /// rather than overflow; see [`checked_mul`](Self::checked_mul).
    pub fn mul(&self, other: &Dimension) -> Dimension {
        Dimension(std::array::from_fn(|i| {
            self.0[i].saturating_add(other.0[i])
        }))
    }

    /// The dimension of a quotient (exponents subtract). Exponents saturate
    /// rather than overflow; see [`checked_div`](Self::checked_div).
    pub fn div(&self, other: &Dimension) -> Dimension {
        Dimension(std::array::from_fn(|i| {
            self.0[i].saturating_sub(other.0[i])
        }))
    }

    /// The dimension raised to a rational power (exponents scale);
    /// `pow(Rational::HALF)` is the square root. Exponents saturate rather
    /// than overflow; see [`checked_pow`](Self::checked_pow).
    pub fn pow(&self, exp: Rational) -> Dimension {
        Dimension(self.0.map(|e| e.saturating_mul(exp)))
    }

    /// Applies a checked operation to each exponent.
    fn try_map(&self, op: impl Fn(usize, Rational) -> Option<Rational>) -> Option<Dimension> {
        let mut out = [Rational::ZERO; 7];
        for (i, slot) in out.iter_mut().enumerate() {
            *slot = op(i, self.0[i])?;
        }
        Some(Dimension(out))
    }

    /// [`mul`](Self::mul), or `None` if an exponent overflows `i32`.
    pub fn checked_mul(&self, other: &Dimension) -> Option<Dimension> {
        self.try_map(|i, e| e.add(other.0[i]))
    }

    /// [`div`](Self::div), or `None` if an exponent overflows `i32`.
    pub fn checked_div(&self, other: &Dimension) -> Option<Dimension> {
        self.try_map(|i, e| e.sub(other.0[i]))
    }

    /// [`pow`](Self::pow), or `None` if an exponent overflows `i32`.
    pub fn checked_pow(&self, exp: Rational) -> Option<Dimension> {
        self.try_map(|_, e| e.mul(exp))
    }

    /// The reciprocal dimension (exponents negate). Never overflows.
    pub fn recip(&self) -> Dimension {
        Dimension(self.0.map(|e| -e))
    }

    /// A human name for well-known dimensions ("power", "heat capacity"),
    /// or `None` when the dimension has no common name.
    pub fn name(&self) -> Option<&'static str> {
        known(self).map(|&(_, name, _)| name)
    }

    /// The coherent SI unit of this dimension, written compactly.
    ///
    /// Uses the spelling of a well-known dimension when it has one: a named
    /// derived unit (`W`, `Pa`, `Hz` for exactly `1/s`) or a named unit over
    /// base units (`J/K`, `W/(m^2*K)`); otherwise base symbols, mass first
    /// (`kg*m/s^3`, `kg/(m*s^2)`, `1/s^2`, `m^(1/2)`). Dimensionless is `1`.
    pub fn si_symbol(&self) -> String {
        if self.is_dimensionless() {
            return "1".to_string();
        }
        if let Some(&(_, _, Some(symbol))) = known(self) {
            return symbol.to_string();
        }
        self.base_symbol()
    }

    /// The dimension written with base symbols only.
    fn base_symbol(&self) -> String {
        let mut num = Vec::new();
        let mut den = Vec::new();
        for base in WRITE_ORDER {
            let exp = self.exponent(base);
            if exp > Rational::ZERO {
                num.push(factor(base, exp));
            } else if exp < Rational::ZERO {
                den.push(factor(base, -exp));
            }
        }
        let num = if num.is_empty() {
            "1".to_string()
        } else {
            num.join("*")
        };
        match den.as_slice() {
            [] => num,
            [single] => format!("{num}/{single}"),
            _ => format!("{num}/({})", den.join("*")),
        }
    }

    /// What diagnostics show: the [`name`](Self::name) when there is one,
    /// otherwise the [`si_symbol`](Self::si_symbol), e.g. `kg*m/s^3`.
    pub fn describe(&self) -> String {
        match self.name() {
            Some(name) => name.to_string(),
            None => self.si_symbol(),
        }
    }
}

impl fmt::Display for Dimension {
    /// The [`si_symbol`](Dimension::si_symbol).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.si_symbol())
    }
}

impl fmt::Debug for Dimension {
    /// The base-symbol spelling, which never hides the exponents behind a
    /// derived unit: `Dimension(kg*m^2/s^3)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_dimensionless() {
            f.write_str("Dimension(1)")
        } else {
            write!(f, "Dimension({})", self.base_symbol())
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn r(n: i32, d: i32) -> Rational {
        Rational::new(n, d).unwrap()
    }

    const LENGTH: Dimension = Dimension::base(BaseDim::Length);
    const MASS: Dimension = Dimension::base(BaseDim::Mass);
    const TIME: Dimension = Dimension::base(BaseDim::Time);
    const CURRENT: Dimension = Dimension::base(BaseDim::Current);
    const TEMP: Dimension = Dimension::base(BaseDim::Temperature);
    const ENERGY: Dimension = Dimension::from_ints([2, 1, -2, 0, 0, 0, 0]);
    const POWER: Dimension = Dimension::from_ints([2, 1, -3, 0, 0, 0, 0]);
    const PRESSURE: Dimension = Dimension::from_ints([-1, 1, -2, 0, 0, 0, 0]);

    #[test]
    fn dimension_algebra() {
        // W = J/s, Pa*m^3 = J.
        assert_eq!(ENERGY.div(&TIME), POWER);
        assert_eq!(PRESSURE.mul(&LENGTH.pow(Rational::int(3))), ENERGY);
        // sqrt(m^2) = m, and a half power survives the round trip.
        let area = LENGTH.mul(&LENGTH);
        assert_eq!(area.pow(Rational::HALF), LENGTH);
        let root = TIME.pow(Rational::HALF);
        assert_eq!(root.exponent(BaseDim::Time), Rational::HALF);
        assert_eq!(root.mul(&root), TIME);
        assert_eq!(TIME.recip().mul(&TIME), Dimension::NONE);
        assert!(Dimension::NONE.is_dimensionless());
        assert!(!MASS.is_dimensionless());
        assert_eq!(POWER.exponent(BaseDim::Time), Rational::int(-3));
    }

    #[test]
    fn dimension_overflow_saturates_or_is_none_when_checked() {
        let huge = LENGTH.pow(Rational::int(i32::MAX));
        assert_eq!(huge.checked_mul(&LENGTH), None);
        assert_eq!(huge.checked_pow(Rational::int(2)), None);
        assert_eq!(huge.recip().checked_div(&LENGTH), None);
        assert_eq!(huge.mul(&LENGTH), huge);
        assert_eq!(huge.pow(Rational::int(-2)), huge.recip());
        assert_eq!(
            LENGTH.checked_pow(Rational::HALF),
            Some(LENGTH.pow(Rational::HALF))
        );
        assert_eq!(TIME.checked_div(&LENGTH), Some(TIME.div(&LENGTH)));
        // A denominator overflow is approximated, keeping the value close.
        let tiny = TIME.pow(r(1, i32::MAX));
        let near = tiny.mul(&TIME.pow(r(1, i32::MAX - 1)));
        let exp = near.exponent(BaseDim::Time).to_f64();
        let exact = 1.0 / f64::from(i32::MAX) + 1.0 / f64::from(i32::MAX - 1);
        assert!((exp - exact).abs() < exact * 1e-8, "{exp} vs {exact}");
    }

    #[test]
    fn describe_names_and_falls_back_to_symbol() {
        assert_eq!(CURRENT.describe(), "current");
        assert_eq!(TEMP.describe(), "temperature");
        assert_eq!(POWER.describe(), "power");
        assert_eq!(ENERGY.div(&TEMP).describe(), "heat capacity");
        assert_eq!(Dimension::NONE.describe(), "dimensionless");
        let odd = Dimension::from_ints([1, 1, -3, 0, 0, 0, 0]);
        assert_eq!(odd.name(), None);
        assert_eq!(odd.describe(), "kg*m/s^3");
    }

    #[test]
    fn si_symbol_prefers_named_and_composite_units() {
        let sym = |e| Dimension::from_ints(e).si_symbol();
        assert_eq!(POWER.si_symbol(), "W");
        assert_eq!(ENERGY.div(&TEMP).si_symbol(), "J/K");
        assert_eq!(sym([2, 1, -3, 0, -1, 0, 0]), "W/K");
        assert_eq!(sym([0, 1, -3, 0, -1, 0, 0]), "W/(m^2*K)");
        assert_eq!(sym([0, 0, -1, 0, 1, 0, 0]), "K/s");
        assert_eq!(sym([1, 0, -1, 0, 0, 0, 0]), "m/s");
        assert_eq!(sym([1, 0, -2, 0, 0, 0, 0]), "m/s^2");
        assert_eq!(sym([3, 0, -1, 0, 0, 0, 0]), "m^3/s");
        assert_eq!(sym([-3, 1, 0, 0, 0, 0, 0]), "kg/m^3");
        assert_eq!(sym([0, 0, -1, 0, 0, 0, 0]), "Hz");
        assert_eq!(sym([0, 0, -2, 0, 0, 0, 0]), "1/s^2");
        assert_eq!(sym([2, 1, -3, -2, 0, 0, 0]), "Ohm");
        assert_eq!(Dimension::NONE.si_symbol(), "1");
        assert_eq!(sym([-1, 1, -3, 0, 0, 0, 0]), "kg/(m*s^3)");
        let root_s = TIME.pow(Rational::HALF);
        assert_eq!(root_s.si_symbol(), "s^(1/2)");
        assert_eq!(root_s.recip().mul(&LENGTH).si_symbol(), "m/s^(1/2)");
        assert_eq!(POWER.to_string(), "W");
        assert_eq!(format!("{POWER:?}"), "Dimension(kg*m^2/s^3)");
    }

    #[test]
    fn known_dimensions_are_unique() {
        for (i, (a, _, _)) in KNOWN.iter().enumerate() {
            assert!(
                KNOWN[i + 1..].iter().all(|(b, _, _)| a != b),
                "duplicate {a:?}"
            );
        }
    }
}
