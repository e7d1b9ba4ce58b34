//! The table of unit names: the built-in units, SI prefixes, user `unit`
//! declarations, and did-you-mean suggestions.
//!
//! Takes a unit name as written (`kJ`, `degC`, `µA`); gives its [`Unit`].
//! Exact names always win over prefix parses, so `min` is the minute,
//! `cd` the candela and `Pa` the pascal. Prefixes are resolved on lookup,
//! never pre-expanded, and only on units marked prefixable: SI base and
//! derived units plus `g`, `L`, `Wh`, `Ah`, `bar` and `rad`. User units are
//! never prefixable.

use std::collections::HashMap;
use std::f64::consts::PI;

use super::dimension::{BaseDim, Dimension};
use super::unit::Unit;

/// SI prefixes accepted on prefixable units, with their power of ten.
/// Both the micro sign `µ` (U+00B5) and Greek mu `μ` (U+03BC) mean micro.
const PREFIXES: &[(char, i32)] = &[
    ('p', -12),
    ('n', -9),
    ('u', -6),
    ('µ', -6),
    ('μ', -6),
    ('m', -3),
    ('c', -2),
    ('k', 3),
    ('M', 6),
    ('G', 9),
];

/// Prefixed spellings offered by [`UnitTable::suggest`] besides the exact
/// names. Every one of them resolves through [`UnitTable::lookup`].
const COMMON_PREFIXED: &[&str] = &[
    "mm", "cm", "km", "um", "µm", "nm", "mg", "kg", "ms", "us", "µs", "ns", "mA", "uA", "µA", "kA",
    "mK", "mmol", "kmol", "mN", "kN", "MN", "kPa", "MPa", "mbar", "kJ", "MJ", "GJ", "mW", "kW",
    "MW", "GW", "kWh", "MWh", "GWh", "mAh", "mV", "kV", "MV", "mOhm", "kOhm", "MOhm", "kΩ", "MΩ",
    "mL", "cL", "mS", "uS", "µS", "uF", "µF", "nF", "pF", "mH", "uH", "µH", "mT", "uT", "µT",
    "kHz", "MHz", "GHz", "mrad", "kC",
];

/// One named unit.
#[derive(Clone, Debug)]
struct Entry {
    name: String,
    unit: Unit,
    prefixable: bool,
}

/// Named units, looked up by the checker for every unit name in a model.
///
/// Keeps insertion order, so [`names`](Self::names) and
/// [`suggest`](Self::suggest) are deterministic.
#[derive(Clone, Debug)]
pub struct UnitTable {
    entries: Vec<Entry>,
    index: HashMap<String, usize>,
}

impl Default for UnitTable {
    /// [`UnitTable::builtin`].
    fn default() -> Self {
        Self::builtin()
    }
}

/// `10^exp` applied to `scale` so that exact powers of ten stay exact:
/// dividing by `10^3` gives the `f64` nearest `scale / 1000`, where
/// multiplying by `1e-3` may be one ulp off.
fn apply_power_of_ten(scale: f64, exp: i32) -> f64 {
    let factor = 10f64.powi(exp.abs());
    if exp >= 0 {
        scale * factor
    } else {
        scale / factor
    }
}

impl UnitTable {
    /// A table with no units at all.
    pub fn empty() -> UnitTable {
        UnitTable {
            entries: Vec::new(),
            index: HashMap::new(),
        }
    }

    /// The built-in units of the language (see the module docs of
    /// [`crate::units`] and the language reference, section 3).
    pub fn builtin() -> UnitTable {
        let mut t = UnitTable::empty();
        let base = Dimension::base;
        let ints = Dimension::from_ints;
        let one = Dimension::NONE;
        let temperature = base(BaseDim::Temperature);
        let pressure = ints([-1, 1, -2, 0, 0, 0, 0]);
        let energy = ints([2, 1, -2, 0, 0, 0, 0]);
        let charge = ints([0, 0, 1, 1, 0, 0, 0]);
        let ohm = ints([2, 1, -3, -2, 0, 0, 0]);
        let per_time = ints([0, 0, -1, 0, 0, 0, 0]);

        // SI base units; the kilogram is `k` + `g`.
        for (name, dim, scale) in [
            ("m", base(BaseDim::Length), 1.0),
            ("g", base(BaseDim::Mass), 1e-3),
            ("s", base(BaseDim::Time), 1.0),
            ("A", base(BaseDim::Current), 1.0),
            ("K", temperature, 1.0),
            ("mol", base(BaseDim::Amount), 1.0),
            ("cd", base(BaseDim::Luminous), 1.0),
            // Coherent derived units.
            ("N", ints([1, 1, -2, 0, 0, 0, 0]), 1.0),
            ("Pa", pressure, 1.0),
            ("J", energy, 1.0),
            ("W", ints([2, 1, -3, 0, 0, 0, 0]), 1.0),
            ("V", ints([2, 1, -3, -1, 0, 0, 0]), 1.0),
            ("C", charge, 1.0),
            ("Ohm", ohm, 1.0),
            ("Ω", ohm, 1.0),
            ("F", ints([-2, -1, 4, 2, 0, 0, 0]), 1.0),
            ("H", ints([2, 1, -2, -2, 0, 0, 0]), 1.0),
            ("T", ints([0, 1, -2, -1, 0, 0, 0]), 1.0),
            ("Wb", ints([2, 1, -2, -1, 0, 0, 0]), 1.0),
            ("Hz", per_time, 1.0),
            ("S", ints([-2, -1, 3, 2, 0, 0, 0]), 1.0),
            ("rad", one, 1.0),
            // Accepted non-coherent units that take prefixes.
            ("L", ints([3, 0, 0, 0, 0, 0, 0]), 1e-3),
            ("Wh", energy, 3600.0),
            ("Ah", charge, 3600.0),
            ("bar", pressure, 1e5),
        ] {
            t.insert(name, Unit::scaled(dim, scale), true);
        }

        let time = base(BaseDim::Time);
        let length = base(BaseDim::Length);
        for (name, dim, scale) in [
            ("min", time, 60.0),
            ("h", time, 3600.0),
            ("d", time, 86400.0),
            ("rpm", per_time, 1.0 / 60.0),
            ("deg", one, PI / 180.0),
            ("°", one, PI / 180.0),
            ("percent", one, 0.01),
            ("%", one, 0.01),
            ("ppm", one, 1e-6),
            ("psi", pressure, 6894.757293168361),
            ("atm", pressure, 101325.0),
            ("in", length, 0.0254),
            ("ft", length, 0.3048),
        ] {
            t.insert(name, Unit::scaled(dim, scale), false);
        }

        let deg_c = Unit::new(temperature, 1.0, 273.15);
        let deg_f = Unit::new(temperature, 5.0 / 9.0, 459.67 * 5.0 / 9.0);
        for (name, unit) in [
            ("degC", deg_c),
            ("°C", deg_c),
            ("degF", deg_f),
            ("°F", deg_f),
        ] {
            t.insert(name, unit, false);
        }
        t
    }

    /// Adds or replaces an entry, keeping the position of a replaced one.
    fn insert(&mut self, name: &str, unit: Unit, prefixable: bool) -> Option<Unit> {
        let entry = Entry {
            name: name.to_string(),
            unit,
            prefixable,
        };
        match self.index.get(name) {
            Some(&i) => Some(std::mem::replace(&mut self.entries[i], entry).unit),
            None => {
                self.index.insert(name.to_string(), self.entries.len());
                self.entries.push(entry);
                None
            }
        }
    }

    /// The entry named exactly `name`.
    fn exact(&self, name: &str) -> Option<&Entry> {
        self.index.get(name).map(|&i| &self.entries[i])
    }

    /// The unit a name stands for: an exact name first, otherwise an SI
    /// prefix on a prefixable unit (`kJ` is a thousand joules, `kg` one
    /// kilogram). `None` for unknown names, including prefixes on units
    /// that take none (`kmin`).
    pub fn lookup(&self, name: &str) -> Option<Unit> {
        if let Some(entry) = self.exact(name) {
            return Some(entry.unit);
        }
        let mut chars = name.chars();
        let first = chars.next()?;
        let rest = chars.as_str();
        let &(_, exp) = PREFIXES.iter().find(|(p, _)| *p == first)?;
        let entry = self.exact(rest).filter(|e| e.prefixable)?;
        Some(Unit {
            scale: apply_power_of_ten(entry.unit.scale, exp),
            ..entry.unit
        })
    }

    /// Declares a user unit (`unit lpm = L/min`). User units take no
    /// prefixes. Returns the unit previously bound to exactly this name, if
    /// any, so the caller can report a redefinition; the new one replaces it.
    pub fn define(&mut self, name: &str, unit: Unit) -> Option<Unit> {
        self.insert(name, unit, false)
    }

    /// Whether `name` is an exact entry (not a prefix parse).
    pub fn contains_exact(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    /// The exact names, built-ins first, in definition order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|e| e.name.as_str())
    }

    /// The closest known spelling to an unknown unit name, for a
    /// "did you mean" help: exact names and common prefixed spellings
    /// (`kW`, `mA`, `kPa`, ...) are considered, with the thresholds of
    /// [`closest`]. A case-insensitive match wins (`kw` → `kW`).
    pub fn suggest(&self, name: &str) -> Option<String> {
        let prefixed = COMMON_PREFIXED
            .iter()
            .copied()
            .filter(|p| !self.contains_exact(p) && self.lookup(p).is_some());
        closest(name, self.names().chain(prefixed)).map(str::to_string)
    }
}

/// The optimal-string-alignment edit distance between two strings, counted
/// in `char`s: insertions, deletions, substitutions and transpositions of
/// adjacent characters each cost one (`flwo` → `flow` is 1).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Three rows of the dynamic-programming matrix: i-2, i-1 and i.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur: Vec<usize> = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(before[j - 2] + 1);
            }
            cur[j] = best;
        }
        std::mem::swap(&mut before, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The most edits a suggestion may be from a name of `len` chars.
fn max_distance(len: usize) -> usize {
    if len <= 3 { 1 } else { 2 }
}

/// How many characters differ between two strings that are equal ignoring case.
fn case_differences(a: &str, b: &str) -> usize {
    let differing = a.chars().zip(b.chars()).filter(|(x, y)| x != y).count();
    differing + a.chars().count().abs_diff(b.chars().count())
}

/// The candidate closest to `name`, for "did you mean" help on unit names
/// and identifiers.
///
/// In order of preference: an exact match; a case-insensitive match (the
/// one with the fewest differing letters); the smallest [`edit_distance`],
/// if it is at most 1 for names of up to 3 chars and at most 2 otherwise,
/// and smaller than the name's length (so a one-letter name only matches
/// by case). Ties go to the earliest candidate, so the result is
/// deterministic for a deterministic candidate order.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let len = name.chars().count();
    let limit = max_distance(len).min(len.saturating_sub(1));
    let lower = name.to_lowercase();
    let mut by_case: Option<(usize, &'a str)> = None;
    let mut by_edit: Option<(usize, &'a str)> = None;
    for cand in candidates {
        if cand == name {
            return Some(cand);
        }
        if cand.to_lowercase() == lower {
            let diff = case_differences(name, cand);
            if by_case.is_none_or(|(best, _)| diff < best) {
                by_case = Some((diff, cand));
            }
            continue;
        }
        if by_case.is_some() {
            continue;
        }
        let dist = edit_distance(name, cand);
        if dist <= limit && by_edit.is_none_or(|(best, _)| dist < best) {
            by_edit = Some((dist, cand));
        }
    }
    by_case.or(by_edit).map(|(_, cand)| cand)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn table() -> UnitTable {
        UnitTable::builtin()
    }

    fn unit(name: &str) -> Unit {
        table()
            .lookup(name)
            .unwrap_or_else(|| panic!("unknown unit {name}"))
    }

    /// `value` in unit `from`, converted to unit `to`.
    fn convert(value: f64, from: &str, to: &str) -> f64 {
        unit(from).convert(value, &unit(to)).unwrap()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * b.abs().max(1.0)
    }

    #[test]
    fn base_and_derived_units() {
        let t = table();
        assert_eq!(unit("kg").scale, 1.0);
        assert_eq!(unit("kg").dim, Dimension::base(BaseDim::Mass));
        assert_eq!(unit("g").scale, 1e-3);
        assert_eq!(unit("cd").dim, Dimension::base(BaseDim::Luminous));
        assert_eq!(unit("cd").scale, 1.0);
        assert_eq!(unit("Pa").scale, 1.0);
        assert_eq!(unit("T").dim.describe(), "magnetic flux density");
        assert_eq!(unit("Ω"), unit("Ohm"));
        assert_eq!(unit("Hz"), Unit::si(Dimension::base(BaseDim::Time).recip()));
        assert_eq!(unit("L").scale, 1e-3);
        assert!(t.contains_exact("min") && !t.contains_exact("kJ"));
    }

    #[test]
    fn prefixes_resolve_on_lookup() {
        let kj = unit("kJ");
        assert_eq!((kj.dim, kj.scale), (unit("J").dim, 1000.0));
        assert_eq!(unit("mm").scale, 1e-3);
        assert_eq!(unit("km").scale, 1e3);
        assert_eq!(unit("ms").scale, 1e-3);
        assert_eq!(unit("uA").scale, 1e-6);
        assert_eq!(unit("µA"), unit("uA"));
        assert_eq!(unit("μA"), unit("uA"));
        assert_eq!(unit("mg").scale, 1e-6);
        assert_eq!(unit("pF").scale, 1e-12);
        assert_eq!(unit("GW").scale, 1e9);
        assert_eq!(unit("mL").scale, 1e-6);
        assert_eq!(unit("kΩ").scale, 1e3);
        assert!(close(unit("mbar").scale, 100.0));
        assert_eq!(unit("kWh").scale, 3.6e6);
        assert_eq!(unit("MWh").scale, 3.6e9);
    }

    #[test]
    fn exact_names_beat_prefix_parses() {
        let t = table();
        assert_eq!(unit("min").scale, 60.0);
        assert_eq!(unit("min").dim, Dimension::base(BaseDim::Time));
        assert_eq!(unit("cd").dim, Dimension::base(BaseDim::Luminous));
        assert_eq!(unit("Pa").dim.describe(), "pressure");
        assert_eq!(unit("T").dim.describe(), "magnetic flux density");
        for name in [
            "kmin", "kh", "mdeg", "kdegC", "m%", "kpsi", "katm", "mrpm", "kppm", "kkg",
        ] {
            assert_eq!(t.lookup(name), None, "{name}");
        }
        assert_eq!(t.lookup(""), None);
        assert_eq!(t.lookup("k"), None);
    }

    #[test]
    fn conversions() {
        // 1500 rpm is 25 Hz.
        assert!(close(convert(1500.0, "rpm", "Hz"), 25.0));
        assert!(close(convert(100.0, "degC", "K"), 373.15));
        assert!(close(convert(100.0, "degC", "degF"), 212.0));
        assert!(close(convert(32.0, "°F", "°C"), 0.0));
        assert!(close(convert(1.0, "atm", "bar"), 1.01325));
        assert!(close(convert(3.6, "MJ", "kWh"), 1.0));
        assert!(close(unit("%").to_si(50.0), 0.5));
        assert!(close(unit("percent").to_si(50.0), 0.5));
        assert!(close(unit("ppm").to_si(1.0), 1e-6));
        assert_eq!(unit("%").dim, Dimension::NONE);
        assert!(close(convert(180.0, "deg", "rad"), PI));
        assert!(close(convert(1.0, "psi", "kPa"), 6.894757293168361));
        assert!(close(convert(1.0, "d", "h"), 24.0));
        assert!(close(convert(1.0, "ft", "in"), 12.0));
        assert!(close(convert(1.0, "Ah", "C"), 3600.0));
        assert_eq!(Unit::DIMENSIONLESS.convert(1.0, &unit("m")), None);
    }

    #[test]
    fn composed_units() {
        let t = table();
        let kj_per_k = unit("kJ").div(&unit("K"));
        assert_eq!(kj_per_k.dim.describe(), "heat capacity");
        assert_eq!(kj_per_k.dim.si_symbol(), "J/K");
        assert_eq!(kj_per_k.scale, 1000.0);
        let l_per_s = unit("L").div(&unit("s"));
        let l_per_min = unit("L").div(&unit("min"));
        assert!(close(l_per_s.convert(1.0, &l_per_min).unwrap(), 60.0));
        assert_eq!(l_per_s.dim.si_symbol(), "m^3/s");
        let w_per_m2k = unit("W").div(&unit("m").powr(2.into()).mul(&unit("K")));
        assert_eq!(w_per_m2k.dim.si_symbol(), "W/(m^2*K)");
        assert_eq!(t.lookup("1"), None, "`1` is syntax, not a table entry");
    }

    #[test]
    fn user_units() {
        let mut t = table();
        let lpm = unit("L").div(&unit("min"));
        assert_eq!(t.define("lpm", lpm), None);
        assert_eq!(t.lookup("lpm"), Some(lpm));
        assert_eq!(t.lookup("klpm"), None, "user units take no prefixes");
        assert_eq!(t.define("lpm", lpm.times(2.0)), Some(lpm));
        assert_eq!(t.names().filter(|n| *n == "lpm").count(), 1);
        assert_eq!(t.names().last(), Some("lpm"));
        assert!(t.contains_exact("lpm"));
    }

    #[test]
    fn common_prefixed_spellings_resolve() {
        let t = table();
        for name in COMMON_PREFIXED {
            assert!(t.lookup(name).is_some(), "{name}");
            assert!(!t.contains_exact(name), "{name} is exact");
        }
    }

    #[test]
    fn suggestions() {
        let t = table();
        assert_eq!(t.suggest("degc").as_deref(), Some("degC"));
        assert_eq!(t.suggest("kw").as_deref(), Some("kW"));
        assert_eq!(t.suggest("KWH").as_deref(), Some("kWh"));
        assert_eq!(t.suggest("mw").as_deref(), Some("mW"));
        assert_eq!(t.suggest("pa").as_deref(), Some("Pa"));
        assert_eq!(t.suggest("l").as_deref(), Some("L"));
        assert_eq!(t.suggest("dgeC").as_deref(), Some("degC"));
        assert_eq!(t.suggest("kPaa").as_deref(), Some("kPa"));
        assert_eq!(t.suggest("xyzzy"), None);
        assert_eq!(t.suggest("x"), None);
        assert_eq!(t.suggest("qq"), None);
    }

    #[test]
    fn closest_thresholds_and_ties() {
        assert_eq!(closest("flwo", ["flow", "speed"]), Some("flow"));
        assert_eq!(closest("spede", ["flow", "speed"]), Some("speed"));
        assert_eq!(closest("tmp", ["temp", "time"]), Some("temp"));
        assert_eq!(closest("tp", ["temp"]), None, "2 edits on a short name");
        assert_eq!(
            closest("pressur", ["presure", "pressure"]),
            Some("pressure")
        );
        assert_eq!(closest("abcde", ["abxyz"]), None);
        assert_eq!(closest("ab", ["ax", "ay"]), Some("ax"));
        assert_eq!(closest("Speed", ["speeds", "speed"]), Some("speed"));
        assert_eq!(closest("x", std::iter::empty()), None);
    }

    #[test]
    fn edit_distance_counts_chars() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("abc", ""), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("flwo", "flow"), 1);
        assert_eq!(edit_distance("µA", "uA"), 1);
        assert_eq!(edit_distance("°C", "degC"), 3);
        assert_eq!(edit_distance("ca", "abc"), 3);
    }
}
