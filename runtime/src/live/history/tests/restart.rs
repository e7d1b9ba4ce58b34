//! The history across restarts: checkpoints kept to the bit, and a
//! replay stopped and resumed from a checkpoint (the newest or an older
//! one) leaving the same tables as one that never stopped.

use super::*;

/// A checkpoint's contents with every number as its bits, for comparing
/// round trips exactly (NaN included).
pub(crate) fn bits(cp: &Checkpoint) -> String {
    let instances: Vec<(String, Vec<(String, u64)>)> = cp
        .fleet
        .instances
        .iter()
        .map(|(id, slots)| {
            let slots = slots
                .iter()
                .map(|(n, v)| (n.clone(), v.to_bits()))
                .collect();
            (id.clone(), slots)
        })
        .collect();
    format!(
        "{} {} {instances:?} {:?}",
        cp.origin.to_bits(),
        cp.fleet.k,
        cp.positions
    )
}

/// Checkpoint `k` of a fleet whose first twin is called `first` and holds
/// the numbers a store must keep to the bit: a sum that is not a short
/// decimal, NaN, infinity, -0 and a subnormal.
pub(crate) fn awkward_checkpoint(first: &str, k: u64) -> Checkpoint {
    Checkpoint {
        origin: 1_790_000_000.123_456_7,
        fleet: Snapshot {
            k,
            instances: vec![
                (
                    first.into(),
                    vec![
                        ("temp".into(), 0.1 + 0.2),
                        ("power".into(), f64::NAN),
                        ("x".into(), f64::INFINITY),
                        ("y".into(), -0.0),
                        ("z".into(), f64::MIN_POSITIVE / 3.0),
                    ],
                ),
                ("h-1".into(), vec![("temp".into(), k as f64 / 7.0)]),
                ("empty".into(), Vec::new()),
            ],
        },
        positions: vec![("log".into(), k), ("other".into(), 0)],
    }
}

#[test]
fn checkpoints_round_trip_bit_for_bit_and_only_the_newest_are_kept() {
    let dir = temp();
    let mut h = open(dir.path());
    let checkpoint = |k: u64| awkward_checkpoint("h-2", k);
    for k in 1..=7 {
        h.checkpoint(&checkpoint(k));
    }
    let last = h.last_checkpoint().ok().flatten();
    assert_eq!(last.as_ref().map(bits), Some(bits(&checkpoint(7))));
    let kept: Vec<u64> = h
        .checkpoints()
        .unwrap_or_default()
        .iter()
        .map(|c| c.fleet.k)
        .collect();
    assert_eq!(kept.len(), KEPT_CHECKPOINTS);
    assert_eq!(kept, [3, 4, 5, 6, 7]);
    let path = db(dir.path());
    assert_eq!(
        count(
            &path,
            "SELECT count(DISTINCT checkpoint) FROM checkpoint_slots"
        ),
        5
    );
    // A fresh handle (a restarted process) reads the same.
    drop(h);
    let again = open(dir.path()).last_checkpoint().ok().flatten();
    assert_eq!(again.as_ref().map(bits), Some(bits(&checkpoint(7))));
}

/// Every table that a restart must leave as an unbroken run leaves it.
const SAME_AFTER_RESTART: [&str; 4] = [
    "SELECT * FROM signals ORDER BY t, instance",
    "SELECT * FROM samples ORDER BY t, instance, sensor",
    "SELECT * FROM alarms ORDER BY t, instance, alarm",
    "SELECT t, instance, sensor, reason, substr(origin, instr(origin, 'telemetry')), raw
     FROM rejected ORDER BY t, origin, reason, instance",
];

#[test]
fn samples_after_a_checkpoint_go_back_to_a_resumed_runner_unless_a_csv_gives_them_again() {
    let dir = temp();
    // Stopped midway: samples 0 ..= 20 s, checkpoints every 5 s.
    replay(dir.path(), "1 s", None, Some(150));
    let h = open(dir.path());
    let Ok(Some(cp)) = h.last_checkpoint() else {
        panic!("no checkpoint");
    };
    let taken = cp.origin + cp.fleet.k as f64 * 0.1;
    let since = match h.samples_since(taken - 3.0) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    };
    drop(h);
    assert!(!since.is_empty());
    assert!(since.windows(2).all(|w| w[0].t <= w[1].t));
    assert!(since.iter().all(|s| s.t > taken - 3.0));
    // Power is on until 10 s, in W.
    let power = since
        .iter()
        .find(|s| s.sensor == "power" && s.instance == "h-1");
    assert!(power.is_some_and(|p| p.value == if p.t < 10.0 { 1000.0 } else { 0.0 }));
    let model = model(HEATER, "Heater");
    let runner = |text: &str, resume: Option<Checkpoint>| {
        let csv = manifest(dir.path(), "1 s");
        let manifest = if text.is_empty() {
            csv
        } else {
            match Manifest::parse(text, &csv.path) {
                Ok(m) => m,
                Err(e) => panic!("{e:?}"),
            }
        };
        Runner::new(
            manifest,
            model.clone(),
            Vec::new(),
            resume,
            Arc::new(AtomicBool::new(false)),
        )
    };
    // The CSV source reads its rows after the checkpoint again: none.
    assert_eq!(runner("", Some(cp.clone())).reapply(&since), 0);
    // Samples from a source that cannot give them again: those the
    // checkpoint had not applied, stamped at or after its tick (which had
    // not run yet); the 3 s before it were applied already.
    let stdin = r#"model = "heater.twin"
[runtime]
mode = "replay"
api = "off"
[[source]]
name = "feed"
kind = "stdin"
[instances]
ids = ["h-1", "h-2"]
[sensors.power]
source = "feed"
topic = "{id}/power"
[sensors.ambient]
source = "feed"
topic = "{id}/ambient"
"#;
    let after = since.iter().filter(|s| s.t >= taken - 1e-9).count();
    assert!(after > 0);
    assert_eq!(runner(stdin, Some(cp)).reapply(&since), after);
    // A run that did not resume takes none.
    assert_eq!(runner(stdin, None).reapply(&since), 0);
}

#[test]
fn a_replay_resumed_from_its_last_checkpoint_matches_an_unbroken_one() {
    let unbroken = temp();
    replay(unbroken.path(), "1 s", None, None);
    let broken = temp();
    // Stopped (as by SIGTERM) after 153 ticks: the last checkpoint is at
    // 15.3 s, off the decimation grid and between two telemetry rows.
    replay(broken.path(), "1 s", None, Some(153));
    let cp = open(broken.path()).last_checkpoint().ok().flatten();
    assert_eq!(cp.as_ref().map(|c| c.fleet.k), Some(153));
    assert_eq!(
        count(
            &db(broken.path()),
            "SELECT CAST(max(t) AS INTEGER) FROM signals"
        ),
        15
    );
    replay(broken.path(), "1 s", cp, None);
    for sql in SAME_AFTER_RESTART {
        assert_eq!(
            dump(&db(broken.path()), sql),
            dump(&db(unbroken.path()), sql),
            "{sql}"
        );
    }
    // A restarted run issues every command once more (the fleet does not
    // keep what it last sent): one more row per twin, at 15.3 s.
    let commands = "SELECT * FROM commands ORDER BY t, instance, actuator";
    let (after, before) = (
        dump(&db(broken.path()), commands),
        dump(&db(unbroken.path()), commands),
    );
    assert!(before.iter().all(|r| after.contains(r)));
    let extra: Vec<&Vec<String>> = after.iter().filter(|r| !before.contains(r)).collect();
    assert_eq!(extra.len(), 2, "{extra:?}");
    let at = format!("{:?}", (153.0f64 * 0.1).to_bits());
    assert!(extra.iter().all(|r| r[0] == at), "{extra:?}");
}

#[test]
fn a_replay_resumed_from_an_older_checkpoint_redoes_the_rest_the_same() {
    let unbroken = temp();
    replay(unbroken.path(), "1 s", None, None);
    let crashed = temp();
    replay(crashed.path(), "1 s", None, Some(253));
    // As if the process had died after the checkpoint at 10 s: the
    // history holds rows up to 25 s that the resumed run writes again.
    let older = open(crashed.path())
        .checkpoints()
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.fleet.k == 100);
    assert!(older.is_some());
    replay(crashed.path(), "1 s", older, None);
    for sql in SAME_AFTER_RESTART {
        assert_eq!(
            dump(&db(crashed.path()), sql),
            dump(&db(unbroken.path()), sql),
            "{sql}"
        );
    }
}
