//! Types and units in words, for hover, completion and inlay hints.
//!
//! Takes the checker's [`Ty`] (and a signal's display unit when there is
//! one); gives short texts: `kW`, `Int`, `Mode`, and a longer line naming
//! the dimension (`power, SI unit W`).

use twin_compiler::check::types::{Affinity, Quantity, Ty};
use twin_compiler::hir::{DisplayUnit, Program};

/// The unit or type as one would annotate it: `kW`, `1`, `Int`, `Mode`.
pub fn short(ty: &Ty, unit: Option<&DisplayUnit>, program: &Program) -> Option<String> {
    Some(match ty {
        Ty::Real(q) => match unit {
            Some(u) if !u.text.is_empty() => u.text.clone(),
            _ if q.depends_on_unit_params() => return None,
            _ => q.dim.si_symbol(),
        },
        Ty::Int => "Int".into(),
        Ty::Bool => "Bool".into(),
        Ty::Enum(e) => program.enums.get(*e)?.name.clone(),
        Ty::Str => "string".into(),
        Ty::Error => return None,
    })
}

/// The dimension of a quantity in words: `power (W)`,
/// `absolute temperature (K)`, `dimensionless`.
pub fn dimension(q: &Quantity) -> String {
    if q.dim.is_dimensionless() {
        return "dimensionless".into();
    }
    if q.depends_on_unit_params() {
        return "set by the unit parameters at each use".into();
    }
    let si = q.dim.si_symbol();
    let name = match q.affinity {
        Affinity::Point => Some("absolute temperature"),
        Affinity::Delta => Some("temperature difference"),
        Affinity::Neutral => q.dim.name(),
    };
    match name {
        Some(name) => format!("{name} (SI unit `{si}`)"),
        None => format!("SI unit `{si}`"),
    }
}

/// A Markdown line with the type, unit and dimension.
pub fn type_line(ty: &Ty, unit: Option<&DisplayUnit>, program: &Program) -> String {
    match ty {
        Ty::Real(q) => {
            let unit = short(ty, unit, program).unwrap_or_default();
            format!("**unit** `{unit}` · **dimension** {}", dimension(q))
        }
        Ty::Error => "**type** unknown (its declaration has errors)".into(),
        _ => format!(
            "**type** `{}`",
            short(ty, unit, program).unwrap_or_default()
        ),
    }
}

/// A value in SI shown in `unit`, e.g. `60 A`, `20 degC`.
pub fn value_in(si: f64, unit: &DisplayUnit) -> String {
    let v = unit.from_si(si);
    // Round away the noise of the SI round trip (0.1 * 3600 / 3600).
    let v = (v * 1e12).round() / 1e12;
    if unit.text.is_empty() || unit.text == "1" {
        format!("{v}")
    } else {
        format!("{v} {}", unit.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use twin_compiler::units::{BaseDim, Dimension};

    #[test]
    fn dimensions_read_as_words() {
        let temp = Quantity {
            dim: Dimension::base(BaseDim::Temperature),
            affinity: Affinity::Point,
        };
        assert_eq!(dimension(&temp), "absolute temperature (SI unit `K`)");
        assert_eq!(dimension(&Quantity::NUMBER), "dimensionless");
        let amps = Quantity::of(Dimension::base(BaseDim::Current));
        assert!(dimension(&amps).contains("`A`"), "{}", dimension(&amps));
        let u = DisplayUnit {
            text: "degC".into(),
            scale: 1.0,
            offset: 273.15,
        };
        assert_eq!(value_in(293.15, &u), "20 degC");
    }
}
