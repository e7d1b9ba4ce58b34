//! Unit parameters as stand-in dimensions ("probes"), and back.
//!
//! A generic body is checked once, with each unit parameter replaced by a
//! probe: a dimension no real unit has. Probe `i` is `mol^(1/p) * cd^(1/q)`
//! for two primes `p`, `q` that no other probe uses (97 and 89 for the
//! first). Products and quotients of probes cancel exactly, which is what
//! checking a body needs.
//!
//! [`split_probes`] undoes this for a type computed in such a body (an
//! `out`'s, say): it finds the power of each probe the dimension holds, so a
//! use site can put in the units it inferred. It is exact under one
//! assumption: the known part's amount and luminous-intensity exponents,
//! and the probe powers, have no factor of the probe primes in their
//! denominators (nobody writes `mol^(1/97)`), and the powers are fractions
//! whose numerator and denominator are at most about 65 (`U^2`, `U^(1/2)`
//! and `U^-3` are all fine). A dimension that does not fit gives `None`.

use super::types::{Quantity, Ty};
use crate::units::{BaseDim, Dimension, Rational};

/// The primes of probe `i`: its amount exponent is `1/p`, its luminous
/// intensity exponent `1/q`. Two consecutive primes from 89 up per probe:
/// (97, 89), (103, 101), (109, 107), ...
fn probe_primes(i: usize) -> (i64, i64) {
    let is_prime = |n: i64| n > 1 && (2..).take_while(|d| d * d <= n).all(|d| n % d != 0);
    let mut primes = (89..).filter(|&n| is_prime(n));
    let mut pair = || primes.next().unwrap_or(89);
    for _ in 0..i {
        pair();
        pair();
    }
    let q = pair();
    let p = pair();
    (p, q)
}

/// A dimension no real unit has, standing for unit parameter `i`.
pub(crate) fn probe(i: usize) -> Dimension {
    let (p, q) = probe_primes(i);
    let part = |base: BaseDim, n: i64| {
        i32::try_from(n)
            .ok()
            .and_then(|n| Rational::new(1, n))
            .and_then(|r| Dimension::base(base).checked_pow(r))
    };
    // The exponents are tiny fractions, so the product always fits.
    part(BaseDim::Amount, p)
        .and_then(|a| a.checked_mul(&part(BaseDim::Luminous, q)?))
        .unwrap_or(Dimension::NONE)
}

fn gcd(a: i64, b: i64) -> i64 {
    let (mut a, mut b) = (a.abs(), b.abs());
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// `a⁻¹ mod m` for `a` coprime to `m`.
fn inverse(a: i64, m: i64) -> Option<i64> {
    let (mut r0, mut r1) = (m, a.rem_euclid(m));
    let (mut t0, mut t1) = (0i64, 1i64);
    while r1 != 0 {
        let q = r0 / r1;
        (r0, r1) = (r1, r0 - q * r1);
        (t0, t1) = (t1, t0 - q * t1);
    }
    (r0 == 1).then(|| t0.rem_euclid(m))
}

/// `p·x mod p`, for an exponent `x` whose denominator holds `p` at most
/// once (as it does when `x` sums a known part and probe powers).
fn residue(x: Rational, p: i64) -> Option<i64> {
    let (num, den) = (i64::from(x.numer()), i64::from(x.denom()));
    if den % p != 0 {
        return Some(0);
    }
    let rest = den / p;
    if rest % p == 0 {
        return None;
    }
    Some((num.rem_euclid(p) * inverse(rest, p)?).rem_euclid(p))
}

/// The fraction `x/y` with `x ≡ y·r (mod m)` and `|x|, y ≤ √(m/2)`, if
/// there is one (rational reconstruction).
fn reconstruct(r: i64, m: i64) -> Option<Rational> {
    let bound = (1..)
        .take_while(|b: &i64| 2 * b * b <= m)
        .last()
        .unwrap_or(0);
    let (mut r0, mut r1) = (m, r);
    let (mut t0, mut t1) = (0i64, 1i64);
    while r1 > bound {
        let q = r0 / r1;
        (r0, r1) = (r1, r0 - q * r1);
        (t0, t1) = (t1, t0 - q * t1);
    }
    if t1 == 0 || t1.abs() > bound {
        return None;
    }
    let (x, y) = if t1 < 0 { (-r1, -t1) } else { (r1, t1) };
    if gcd(x, y) != 1 {
        return None;
    }
    Rational::new(i32::try_from(x).ok()?, i32::try_from(y).ok()?)
}

/// Splits a dimension computed with the first `n` probes into its known
/// part and the power of each probe: `dim = known × Π probe(i)^exps[i]`.
/// `None` when the dimension is not of that form (see the module docs).
pub(crate) fn split_probes(dim: Dimension, n: usize) -> Option<(Dimension, Vec<Rational>)> {
    let amount = dim.exponent(BaseDim::Amount);
    let lum = dim.exponent(BaseDim::Luminous);
    let mut exps = Vec::with_capacity(n);
    let mut known = dim;
    for i in 0..n {
        let (p, q) = probe_primes(i);
        let (rp, rq) = (residue(amount, p)?, residue(lum, q)?);
        // The power modulo p·q, from its residues modulo p and q.
        let r = rp + p * ((rq - rp).rem_euclid(q) * inverse(p, q)?).rem_euclid(q);
        let e = reconstruct(r, p * q)?;
        known = known.checked_div(&probe(i).checked_pow(e)?)?;
        exps.push(e);
    }
    // What is left must not hold a probe prime in its denominators.
    let (amount, lum) = (
        i64::from(known.exponent(BaseDim::Amount).denom()),
        i64::from(known.exponent(BaseDim::Luminous).denom()),
    );
    let clean = (0..n).all(|i| {
        let (p, q) = probe_primes(i);
        amount % p != 0 && lum % q != 0
    });
    clean.then_some((known, exps))
}

/// The type, at a use site, of a member of a generic body whose unit
/// parameters stand for `solved` there: `ty` is the type the body gave it
/// (with probes), `unit` the unit it is shown in, which is the parameter's
/// name exactly when the member is declared as, or computed to be, a bare
/// unit parameter (`out r: U`). A bare member takes the inferred quantity
/// whole, affinity included (an absolute temperature stays one); any other
/// power or product of unit parameters is derived, hence neutral (`U^1`
/// with `U = degC` is `K`). `None` when the type cannot be split.
pub(crate) fn instantiate(
    ty: &Ty,
    unit: &str,
    generics: &[String],
    solved: &[Quantity],
) -> Option<Ty> {
    let Ty::Real(q) = ty else {
        return Some(ty.clone());
    };
    if generics.is_empty() {
        return Some(ty.clone());
    }
    if let Some(i) = generics.iter().position(|g| g == unit)
        && q.dim == probe(i)
    {
        return Some(Ty::Real(solved.get(i).copied().unwrap_or(Quantity::NUMBER)));
    }
    let (known, exps) = split_probes(q.dim, generics.len())?;
    if exps.iter().all(Rational::is_zero) {
        return Some(ty.clone());
    }
    let mut dim = known;
    for (i, e) in exps.iter().enumerate() {
        let s = solved.get(i).copied().unwrap_or(Quantity::NUMBER);
        dim = dim.checked_mul(&s.dim.checked_pow(*e)?)?;
    }
    Some(Ty::real(dim))
}

/// What the unit parameters of an instance inside a generic body stand
/// for at a use of the body whose own unit parameters stand for `solved`:
/// [`instantiate`] of each (one that is exactly a probe is that parameter,
/// affinity included).
pub(crate) fn instantiate_all(
    inner: &[Quantity],
    generics: &[String],
    solved: &[Quantity],
) -> Vec<Quantity> {
    inner
        .iter()
        .map(|q| {
            let name = (0..generics.len())
                .find(|&i| q.dim == probe(i))
                .map_or("", |i| generics[i].as_str());
            match instantiate(&Ty::Real(*q), name, generics, solved) {
                Some(Ty::Real(q)) => q,
                _ => Quantity::NUMBER,
            }
        })
        .collect()
}

/// Whether a type computed in a body with `n` unit parameters depends on
/// them (or cannot be split, which only such a type can).
pub(crate) fn mentions_probes(ty: &Ty, n: usize) -> bool {
    match ty {
        Ty::Real(q) if n > 0 => {
            split_probes(q.dim, n).is_none_or(|(_, exps)| exps.iter().any(|e| !e.is_zero()))
        }
        _ => false,
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
    fn probes_use_their_own_primes() {
        assert_eq!(probe_primes(0), (97, 89));
        assert_eq!(probe_primes(1), (103, 101));
        assert_eq!(probe_primes(2), (109, 107));
        assert_eq!(
            probe(0),
            Dimension::base(BaseDim::Amount)
                .pow(r(1, 97))
                .mul(&Dimension::base(BaseDim::Luminous).pow(r(1, 89)))
        );
    }

    #[test]
    fn split_recovers_known_part_and_powers() {
        let metre = Dimension::base(BaseDim::Length);
        let mole = Dimension::base(BaseDim::Amount);
        let cases: Vec<(Dimension, Vec<Rational>)> = vec![
            (Dimension::NONE, vec![r(1, 1)]),
            (metre, vec![r(2, 1), r(-1, 1)]),
            (mole.pow(r(3, 1)), vec![r(1, 2), r(0, 1), r(-3, 2)]),
            (metre.div(&mole), vec![r(-5, 1), r(7, 3)]),
            (Dimension::NONE, vec![r(0, 1), r(0, 1)]),
        ];
        for (known, exps) in cases {
            let mut dim = known;
            for (i, e) in exps.iter().enumerate() {
                dim = dim.mul(&probe(i).pow(*e));
            }
            assert_eq!(
                split_probes(dim, exps.len()),
                Some((known, exps.clone())),
                "{dim:?}"
            );
        }
    }

    #[test]
    fn split_refuses_what_probes_cannot_make() {
        let odd = Dimension::base(BaseDim::Amount).pow(r(1, 97 * 97));
        assert_eq!(split_probes(odd, 1), None);
    }
}
