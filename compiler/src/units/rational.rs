//! Exact rational numbers, the exponents of [`Dimension`](super::Dimension)s.
//!
//! Takes numerators and denominators; gives normalised fractions with
//! checked arithmetic (for exponents written by users) and saturating
//! arithmetic (for dimension algebra, which must never fail).

use std::cmp::Ordering;
use std::fmt;

/// An exact fraction `num/den` used as a dimension exponent.
///
/// Always normalised: the fraction is in lowest terms, the denominator is
/// positive, zero is `0/1`, and the numerator is never `i32::MIN` (so
/// negation cannot overflow). [`add`](Self::add), [`mul`](Self::mul) and
/// friends are checked: they return `None` when the exact result does not
/// fit these bounds or when dividing by zero. The `saturating_*` forms,
/// which [`Dimension`](super::Dimension) uses, instead clamp to
/// `±i32::MAX` or, when only the parts of the fraction overflow, return the
/// closest continued-fraction convergent that fits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Rational {
    num: i32,
    den: i32,
}

fn gcd(mut a: i128, mut b: i128) -> i128 {
    a = a.abs();
    b = b.abs();
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl Rational {
    /// Zero.
    pub const ZERO: Rational = Rational { num: 0, den: 1 };
    /// One.
    pub const ONE: Rational = Rational { num: 1, den: 1 };
    /// One half, the exponent of a square root.
    pub const HALF: Rational = Rational { num: 1, den: 2 };

    /// `num/den` in lowest terms; `None` if `den` is zero or the reduced
    /// fraction has a numerator or denominator outside `-i32::MAX..=i32::MAX`.
    pub fn new(num: i32, den: i32) -> Option<Rational> {
        Self::reduce(i128::from(num), i128::from(den))
    }

    /// The integer `n`. `i32::MIN` saturates to `-i32::MAX`, the smallest
    /// representable numerator.
    pub const fn int(n: i32) -> Rational {
        let num = if n == i32::MIN { -i32::MAX } else { n };
        Rational { num, den: 1 }
    }

    /// Reduces an exact fraction given in wide integers; `None` if `den` is
    /// zero or the result does not fit.
    fn reduce(num: i128, den: i128) -> Option<Rational> {
        if den == 0 {
            return None;
        }
        let g = gcd(num, den).max(1);
        let sign = if den < 0 { -1 } else { 1 };
        let (num, den) = (sign * num / g, sign * den / g);
        let num = i32::try_from(num).ok().filter(|&n| n != i32::MIN)?;
        let den = i32::try_from(den).ok()?;
        Some(Rational { num, den })
    }

    /// The exact fraction when it fits; otherwise `±i32::MAX` beyond that
    /// magnitude, else the last continued-fraction convergent whose parts
    /// fit (within `1/den²` of the exact value). Zero for a zero
    /// denominator, which no caller produces.
    fn saturate(num: i128, den: i128) -> Rational {
        if let Some(exact) = Self::reduce(num, den) {
            return exact;
        }
        let max = i128::from(i32::MAX);
        let negative = (num < 0) != (den < 0);
        let (mut p, mut q) = (num.abs(), den.abs());
        if q == 0 {
            return Self::ZERO;
        }
        if p / q >= max {
            return Self::int(if negative { -i32::MAX } else { i32::MAX });
        }
        // Convergents h/k of the continued fraction of p/q; the first one,
        // floor(p/q)/1, always fits.
        let (mut h0, mut h1, mut k0, mut k1) = (0, 1, 1, 0);
        while q != 0 {
            let a = p / q;
            let (h2, k2) = (a * h1 + h0, a * k1 + k0);
            if h2 > max || k2 > max {
                break;
            }
            (h0, h1, k0, k1) = (h1, h2, k1, k2);
            (p, q) = (q, p - a * q);
        }
        let h = if negative { -h1 } else { h1 };
        Self::reduce(h, k1).unwrap_or(Self::ZERO)
    }

    /// The numerator (carries the sign).
    pub const fn numer(&self) -> i32 {
        self.num
    }

    /// The denominator (always positive).
    pub const fn denom(&self) -> i32 {
        self.den
    }

    /// Whether this is zero.
    pub const fn is_zero(&self) -> bool {
        self.num == 0
    }

    /// Whether the denominator is one.
    pub const fn is_integer(&self) -> bool {
        self.den == 1
    }

    /// The nearest `f64`.
    pub fn to_f64(&self) -> f64 {
        f64::from(self.num) / f64::from(self.den)
    }

    /// The exact sum as a wide fraction.
    fn wide_add(&self, other: Rational) -> (i128, i128) {
        let (a, b) = (i128::from(self.num), i128::from(self.den));
        let (c, d) = (i128::from(other.num), i128::from(other.den));
        (a * d + c * b, b * d)
    }

    /// The exact product as a wide fraction.
    fn wide_mul(&self, other: Rational) -> (i128, i128) {
        (
            i128::from(self.num) * i128::from(other.num),
            i128::from(self.den) * i128::from(other.den),
        )
    }

    /// `self + other`, or `None` on overflow.
    pub fn add(&self, other: Rational) -> Option<Rational> {
        let (n, d) = self.wide_add(other);
        Self::reduce(n, d)
    }

    /// `self - other`, or `None` on overflow.
    pub fn sub(&self, other: Rational) -> Option<Rational> {
        self.add(-other)
    }

    /// `self * other`, or `None` on overflow.
    pub fn mul(&self, other: Rational) -> Option<Rational> {
        let (n, d) = self.wide_mul(other);
        Self::reduce(n, d)
    }

    /// `self / other`, or `None` when `other` is zero or on overflow.
    pub fn div(&self, other: Rational) -> Option<Rational> {
        Self::reduce(
            i128::from(self.num) * i128::from(other.den),
            i128::from(self.den) * i128::from(other.num),
        )
    }

    /// `-self`. Never overflows: the numerator is never `i32::MIN`.
    pub const fn neg(&self) -> Rational {
        Rational {
            num: -self.num,
            den: self.den,
        }
    }

    /// `1 / self`, or `None` for zero.
    pub fn recip(&self) -> Option<Rational> {
        Self::ONE.div(*self)
    }

    /// `self + other`, saturating on overflow (see the type's docs).
    pub fn saturating_add(&self, other: Rational) -> Rational {
        let (n, d) = self.wide_add(other);
        Self::saturate(n, d)
    }

    /// `self - other`, saturating on overflow (see the type's docs).
    pub fn saturating_sub(&self, other: Rational) -> Rational {
        self.saturating_add(-other)
    }

    /// `self * other`, saturating on overflow (see the type's docs).
    pub fn saturating_mul(&self, other: Rational) -> Rational {
        let (n, d) = self.wide_mul(other);
        Self::saturate(n, d)
    }
}

impl std::ops::Neg for Rational {
    type Output = Rational;

    /// Never overflows: the numerator is never `i32::MIN`.
    fn neg(self) -> Rational {
        Rational::neg(&self)
    }
}

impl Ord for Rational {
    fn cmp(&self, other: &Self) -> Ordering {
        // Denominators are positive, so cross-multiplying keeps the order.
        (i64::from(self.num) * i64::from(other.den))
            .cmp(&(i64::from(other.num) * i64::from(self.den)))
    }
}

impl PartialOrd for Rational {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Default for Rational {
    fn default() -> Self {
        Self::ZERO
    }
}

impl From<i32> for Rational {
    fn from(n: i32) -> Self {
        Self::int(n)
    }
}

impl fmt::Display for Rational {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.den == 1 {
            write!(f, "{}", self.num)
        } else {
            write!(f, "{}/{}", self.num, self.den)
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

    #[test]
    fn rational_normalises() {
        assert_eq!(r(2, 4), r(1, 2));
        assert_eq!(r(3, -6), r(-1, 2));
        assert_eq!(r(-3, -6), r(1, 2));
        assert_eq!(r(0, -5), Rational::ZERO);
        assert_eq!(r(0, 5).denom(), 1);
        assert_eq!(Rational::new(1, 0), None);
        assert_eq!(Rational::new(i32::MIN, 1), None);
        assert_eq!(r(i32::MIN, 2), Rational::int(-(1 << 30)));
        assert_eq!(Rational::int(i32::MIN), Rational::int(-i32::MAX));
    }

    #[test]
    fn rational_arithmetic() {
        assert_eq!(r(1, 2).add(r(1, 3)), Some(r(5, 6)));
        assert_eq!(r(1, 2).sub(r(1, 2)), Some(Rational::ZERO));
        assert_eq!(r(2, 3).mul(r(3, 4)), Some(r(1, 2)));
        assert_eq!(r(1, 2).div(r(1, 4)), Some(Rational::int(2)));
        assert_eq!(r(1, 2).div(Rational::ZERO), None);
        assert_eq!(-r(1, 2), r(-1, 2));
        assert_eq!(r(-2, 3).recip(), Some(r(-3, 2)));
        assert_eq!(Rational::ZERO.recip(), None);
        assert!(Rational::ZERO.is_zero());
        assert_eq!(r(-3, 4).to_f64(), -0.75);
        assert!(r(1, 3) < r(1, 2) && r(-1, 2) < Rational::ZERO);
    }

    #[test]
    fn rational_overflow_is_none() {
        let big = Rational::int(i32::MAX);
        assert_eq!(big.add(Rational::ONE), None);
        assert_eq!(big.mul(Rational::int(2)), None);
        assert_eq!(r(1, i32::MAX).mul(Rational::HALF), None);
        // Large intermediates that reduce back into range are fine.
        assert_eq!(big.mul(r(1, i32::MAX)), Some(Rational::ONE));
    }

    #[test]
    fn rational_display() {
        assert_eq!(Rational::int(2).to_string(), "2");
        assert_eq!(Rational::int(-1).to_string(), "-1");
        assert_eq!(r(1, 2).to_string(), "1/2");
        assert_eq!(r(-3, 2).to_string(), "-3/2");
    }

    #[test]
    fn rational_saturates() {
        let third = r(1, 3).saturating_add(r(1, i32::MAX));
        assert!((third.to_f64() - 1.0 / 3.0).abs() < 1e-9, "{third}");
        assert_eq!(r(-1, 3).saturating_sub(r(1, i32::MAX)), -third);
        let big = Rational::int(i32::MAX);
        assert_eq!(big.saturating_add(Rational::ONE), big);
        assert_eq!(big.neg().saturating_mul(big), -big);
    }
}
