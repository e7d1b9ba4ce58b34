//! A fleet that shares the params no instance overrides computes what a
//! fleet with a copy per instance computes, bit for bit, and its
//! checkpoints restore into either layout.

use super::*;
use crate::live::history::tests::{HEATER, model};

/// Two heaters, `h-2` with a `loss` of its own, fed the same power ramp
/// for 60 ticks; every slot of every instance by name after each tick.
fn run(per_instance: &[&str]) -> (Fleet, Vec<Vec<(String, u64)>>) {
    let per_instance: Vec<String> = per_instance.iter().map(|s| s.to_string()).collect();
    let mut fleet = Fleet::new(model(HEATER, "Heater"), 0.1, &per_instance);
    fleet.add("h-1", &[]);
    fleet.add("h-2", &[("loss".to_string(), 40.0)]);
    let power = fleet
        .model()
        .sensors
        .iter()
        .position(|s| s.name == "power")
        .unwrap_or(usize::MAX);
    let mut trace = Vec::new();
    for k in 0..60u32 {
        let t = f64::from(k) * 0.1;
        for i in 0..2 {
            let watts = if k < 40 {
                1000.0 + 500.0 * i as f64
            } else {
                0.0
            };
            assert_eq!(fleet.offer(i, power, t, watts), Ok(()));
        }
        fleet.tick();
        fleet.advance();
        let model = fleet.model();
        let mut row = Vec::new();
        for i in 0..2 {
            for o in &model.outputs {
                row.push((format!("{i} {}", o.name), fleet.get(i, o.slot).to_bits()));
            }
        }
        trace.push(row);
    }
    (fleet, trace)
}

#[test]
fn params_no_instance_overrides_are_shared() {
    let (fleet, _) = run(&["loss"]);
    let model = fleet.model();
    let slot = |name: &str| model.params.iter().find(|p| p.name == name).map(|p| p.slot);
    assert!(slot("capacity").is_some_and(|s| s >= model.persistent));
    assert!(slot("loss").is_some_and(|s| s < model.persistent));
    assert_eq!(fleet.block().len(), 2 * model.persistent as usize);
    assert_eq!(fleet.shared_params(), 1);
    assert_eq!(fleet.bytes_per_instance(), 8 * model.persistent as usize);
    // h-2's override is applied, h-1 has the default; both see the
    // shared capacity.
    let loss = slot("loss").unwrap_or(Slot::MAX);
    assert_eq!((fleet.get(0, loss), fleet.get(1, loss)), (20.0, 40.0));
    let capacity = slot("capacity").unwrap_or(Slot::MAX);
    assert_eq!(
        (fleet.get(0, capacity), fleet.get(1, capacity)),
        (500.0, 500.0)
    );
}

#[test]
fn sharing_changes_no_bit_of_what_the_twins_compute() {
    let (shared, with_sharing) = run(&["loss"]);
    let (copies, without) = run(&["loss", "capacity"]);
    assert!(shared.model().persistent < copies.model().persistent);
    assert_eq!(with_sharing, without);
    // The temperatures did move, differently per instance.
    let last = &with_sharing[with_sharing.len() - 1];
    let temp = |i: usize| {
        last.iter()
            .find(|(n, _)| *n == format!("{i} temp"))
            .map(|x| x.1)
    };
    assert_ne!(temp(0), temp(1));
    assert_ne!(temp(0).map(f64::from_bits), Some(293.15));
}

#[test]
fn checkpoints_restore_across_layouts_without_dropping_params() {
    let (shared, _) = run(&["loss"]);
    let (copies, _) = run(&["loss", "capacity"]);
    let overrides = |id: &str| {
        if id == "h-2" {
            vec![("loss".to_string(), 40.0)]
        } else {
            Vec::new()
        }
    };
    // A checkpoint of either layout into a fresh fleet of the other.
    for (from, per_instance) in [(&copies, vec!["loss"]), (&shared, vec!["loss", "capacity"])] {
        let per_instance: Vec<String> = per_instance.iter().map(|s| s.to_string()).collect();
        let mut fleet = Fleet::new(model(HEATER, "Heater"), 0.1, &per_instance);
        for (id, dropped, added) in fleet.restore(&from.snapshot(), &overrides) {
            assert!(dropped.is_empty(), "{id}: dropped {dropped:?}");
            assert!(added.is_empty(), "{id}: added {added:?}");
        }
        for o in &fleet.model().outputs {
            let theirs = from.model().outputs.iter().find(|x| x.name == o.name);
            for i in 0..2 {
                let want = theirs.map(|x| from.get(i, x.slot).to_bits());
                assert_eq!(Some(fleet.get(i, o.slot).to_bits()), want, "{i} {}", o.name);
            }
        }
    }
}

#[test]
fn an_override_of_a_shared_param_is_not_applied() {
    let mut fleet = Fleet::new(model(HEATER, "Heater"), 0.1, &[]);
    fleet.add("h-1", &[("loss".to_string(), 40.0)]);
    let loss = fleet.model().params.iter().find(|p| p.name == "loss");
    assert_eq!(loss.map(|p| fleet.get(0, p.slot)), Some(20.0));
}
