//! Params a fleet shares.
//!
//! Takes a lowered [`Model`] and the names of the params that some
//! instance of a fleet sets to a value of its own; gives the same model
//! with every other param moved out of the instance block into the region
//! the fleet shares (with the clock and the solver scratch), where one
//! copy serves every instance. A param that no instance overrides has the
//! same value in all of them (its default), unless its default reads a
//! param that is overridden; such a param stays in the block too.
//!
//! No program writes a param (the driver sets them before `init`), so a
//! shared param keeps its value through every instance's run: the
//! programs compute exactly what they computed with a copy per instance,
//! and the instance block is 8 bytes shorter per param shared.

use super::renumber;
use super::{Model, SlotKind, Stmt};

/// Moves every param of `model` that can be shared into the shared region
/// (kind [`SlotKind::SharedParam`]), keeping in the instance block the
/// params named in `per_instance` and those whose default reads one of
/// them. Renumbers the slots; gives how many params moved.
///
/// The driver then sets a shared param once, in the shared region, to its
/// default. Sharing again is harmless: params already shared stay shared.
pub fn share_params(model: &mut Model, per_instance: &[String]) -> usize {
    let n = model.slots.len();
    let mut stored = vec![false; n];
    for list in [
        &model.init_sensors,
        &model.init,
        &model.tick,
        &model.integrate,
    ] {
        mark_stores(list, &mut stored);
    }
    let mut shared = vec![false; n];
    let mut moved = 0;
    for p in &model.params {
        let s = p.slot as usize;
        if s >= n || stored[s] {
            continue;
        }
        if model.slots[s].kind == SlotKind::SharedParam {
            shared[s] = true;
            continue;
        }
        if per_instance.contains(&p.name) {
            continue;
        }
        let mut uniform = true;
        p.default
            .for_each_load(&mut |l| uniform &= shared.get(l as usize).copied().unwrap_or(false));
        if uniform {
            shared[s] = true;
            moved += 1;
        }
    }
    if moved == 0 {
        return 0;
    }
    for (info, &shared) in model.slots.iter_mut().zip(&shared) {
        if shared {
            info.kind = SlotKind::SharedParam;
        }
    }
    renumber::scratch_last(model);
    moved
}

/// Marks every slot a statement list stores.
fn mark_stores(list: &[Stmt], stored: &mut [bool]) {
    for s in list {
        match s {
            Stmt::Store(slot, _) => {
                if let Some(x) = stored.get_mut(*slot as usize) {
                    *x = true;
                }
            }
            Stmt::If(_, a, b) => {
                mark_stores(a, stored);
                mark_stores(b, stored);
            }
            Stmt::While(_, body) => mark_stores(body, stored),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::check;
    use crate::interp::{self, Memory};
    use crate::ir::lower::lower;
    use crate::source::Sources;

    const HEATER: &str = "\
twin Heater {
    step 1 s
    param power: W = 1000 W
    param mass: kg = 10 kg
    param loss: W/K = power / 100 K
    sensor ambient: degC = 20 degC
    state temp: degC = 20 degC
    der(temp) = (power - loss * (temp - ambient)) / (mass * 4186 J/(kg*K))
}
";

    fn heater() -> Model {
        let mut sources = Sources::new();
        let root = sources.add("heater.twin", HEATER.to_string());
        let checked = check(&mut sources, root);
        assert!(checked.diagnostics.is_empty(), "{:?}", checked.diagnostics);
        match lower(&checked.program, 0) {
            Ok(m) => m,
            Err(e) => panic!("{e:?}"),
        }
    }

    fn kind_of(model: &Model, name: &str) -> SlotKind {
        let s = model.params.iter().find(|p| p.name == name).map(|p| p.slot);
        match s {
            Some(s) => model.slots[s as usize].kind.clone(),
            None => panic!("no param {name}"),
        }
    }

    #[test]
    fn params_nobody_overrides_leave_the_block() {
        let mut model = heater();
        let before = model.persistent;
        assert_eq!(share_params(&mut model, &[]), 3);
        assert_eq!(model.persistent, before - 3);
        for p in &model.params {
            assert!(p.slot >= model.persistent, "{} still in the block", p.name);
            assert_eq!(kind_of(&model, &p.name), SlotKind::SharedParam);
        }
        // Twice is once.
        assert_eq!(share_params(&mut model, &[]), 0);
    }

    #[test]
    fn an_overridden_param_and_the_params_it_feeds_stay() {
        let mut model = heater();
        assert_eq!(share_params(&mut model, &["power".to_string()]), 1);
        assert_eq!(kind_of(&model, "power"), SlotKind::Param);
        assert_eq!(kind_of(&model, "loss"), SlotKind::Param);
        assert_eq!(kind_of(&model, "mass"), SlotKind::SharedParam);
    }

    #[test]
    fn a_shared_model_computes_what_the_model_did() {
        let plain = heater();
        let mut shared = plain.clone();
        share_params(&mut shared, &[]);
        let run = |model: &Model| {
            let mut mem = Memory::new(model);
            mem.set(model.dt, model.step);
            interp::set_params(model, &mut mem, &[]);
            interp::exec(&model.init_sensors, &mut mem);
            interp::exec(&model.init, &mut mem);
            for k in 0..10u64 {
                interp::exec(&model.tick, &mut mem);
                interp::exec(&model.integrate, &mut mem);
                model.set_tick(&mut |s, v| mem.set(s, v), k + 1, model.step);
            }
            model
                .outputs
                .iter()
                .map(|o| mem.get(o.slot).to_bits())
                .collect::<Vec<_>>()
        };
        assert_eq!(run(&plain), run(&shared));
    }
}
