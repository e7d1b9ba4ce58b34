//! The history on a real SQLite file in a temporary folder: rows in every
//! table from a replay run by the real runner, dead letters with their raw
//! payloads, decimation, batching up to `finish`, failing writes, schema
//! versions and exports; the fixtures the PostgreSQL tests share. The
//! restart path (checkpoints bit for bit, resumed replays) is in
//! `restart.rs`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use rusqlite::Connection;
use rusqlite::types::Value;
use twin_compiler::ir::Model;

use super::export::{Query, Reader, Table};
use super::{KEPT_CHECKPOINTS, SqliteHistory};
use crate::input::Reject;
use crate::live::fleet::{Fleet, Snapshot};
use crate::live::manifest::Manifest;
use crate::live::release::Release;
use crate::live::run::Runner;
use crate::live::{Checkpoint, Observer, Rejection, Tick};

mod restart;
pub(crate) use restart::{awkward_checkpoint, bits};

/// Heats up while `power` is on (from 0 to 10 s), raising `hot` at about
/// 5.7 s and clearing it at about 28 s; `smooth` is a filter with state of
/// its own, which a restart must carry over.
pub(crate) const HEATER: &str = r#"use std::filters::Lag

twin Heater {
    step 100 ms
    solver rk4
    sensor power: kW range 0 kW .. 5 kW = 0 kW
    sensor ambient: degC = 20 degC
    param capacity: J/K = 500 J/K
    param loss: W/K = 20 W/K
    state temp: degC = 20 degC
    der(temp) = (power - loss * (temp - ambient)) / capacity
    let smooth = Lag(x: power, tau: 3 s)
    actuator fan: 1 range 0 .. 1 = if temp > 30 degC then 1 else 0
    alarm hot: warning when temp > 30 degC clear when temp < 28 degC
        message "at {temp}"
}
"#;

pub(crate) fn model(src: &str, name: &str) -> Model {
    let mut sources = twin_compiler::source::Sources::new();
    let root = sources.add("heater.twin", src);
    let checked = twin_compiler::check::check(&mut sources, root);
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
    let twin = checked.program.twins.iter().position(|t| t.name == name);
    match twin_compiler::ir::lower::lower(&checked.program, twin.unwrap_or(usize::MAX)) {
        Ok(m) => m,
        Err(e) => panic!("{e}"),
    }
}

/// 41 rows, a second apart: power on for 10 s, then off. Row 12 s has a
/// garbled power, row 13 s an out-of-range one, and two rows carry a
/// `humidity` no binding reads.
fn telemetry() -> String {
    let mut csv = String::from("t,power[W],ambient,humidity\n");
    for t in 0..=40 {
        let power = match t {
            12 => "abc".to_string(),
            13 => "9000".to_string(),
            t if t < 10 => "1000".to_string(),
            _ => "0".to_string(),
        };
        let humidity = if t == 3 || t == 30 { "55" } else { "" };
        csv.push_str(&format!("{t},{power},20,{humidity}\n"));
    }
    csv
}

pub(super) fn manifest(dir: &Path, decimate: &str) -> Manifest {
    let _ = std::fs::write(dir.join("telemetry.csv"), telemetry());
    let text = format!(
        r#"model = "heater.twin"

[runtime]
mode = "replay"
api = "off"
history = "sqlite:history.db"
decimate = "{decimate}"
checkpoint_every = "5 s"

[[source]]
name = "log"
kind = "csv"
path = "telemetry.csv"

[instances]
ids = ["h-1", "h-2"]
params."h-2" = {{ loss = "40 W/K" }}

[sensors.power]
source = "log"

[sensors.ambient]
source = "log"
"#
    );
    match Manifest::parse(&text, &dir.join("twin.toml")) {
        Ok(m) => m,
        Err(e) => panic!("{e:?}"),
    }
}

/// Sets the stop flag after `n` ticks, as SIGTERM would.
pub(super) struct StopAfter {
    pub(super) n: u64,
    pub(super) stop: Arc<AtomicBool>,
}

impl Observer for StopAfter {
    fn tick(&mut self, _tick: &Tick<'_>) {
        self.n = self.n.saturating_sub(1);
        if self.n == 0 {
            self.stop.store(true, Ordering::Relaxed);
        }
    }
}

/// Replays the telemetry in `dir` into `dir/history.db`, resuming from
/// `resume`, stopping after `stop_after` ticks if given; the history
/// writes from a thread of its own, as `twinc run` has it.
pub(super) fn replay(
    dir: &Path,
    decimate: &str,
    resume: Option<Checkpoint>,
    stop_after: Option<u64>,
) {
    replay_in(dir, decimate, resume, stop_after, true);
}

/// [`replay`], the history writing from the runner's thread unless
/// `background`.
fn replay_in(
    dir: &Path,
    decimate: &str,
    resume: Option<Checkpoint>,
    stop_after: Option<u64>,
    background: bool,
) {
    let manifest = manifest(dir, decimate);
    let model = model(HEATER, "Heater");
    assert!(manifest.check_against(&model).is_empty());
    let mut history = match SqliteHistory::open(&db(dir), &model, manifest.runtime.decimate) {
        Ok(h) => h,
        Err(e) => panic!("{e}"),
    };
    if background {
        history.write_in_background();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let mut observers: Vec<Box<dyn Observer>> = vec![Box::new(history)];
    if let Some(n) = stop_after {
        observers.push(Box::new(StopAfter {
            n,
            stop: stop.clone(),
        }));
    }
    let mut runner = Runner::new(manifest, model, observers, resume, stop);
    runner.start_local_sources();
    runner.run();
}

pub(super) fn db(dir: &Path) -> PathBuf {
    dir.join("history.db")
}

pub(super) fn temp() -> tempfile::TempDir {
    match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("no temporary folder: {e}"),
    }
}

fn open(dir: &Path) -> SqliteHistory {
    match SqliteHistory::open(&db(dir), &model(HEATER, "Heater"), 1.0) {
        Ok(h) => h,
        Err(e) => panic!("{e}"),
    }
}

/// Every row of a query, each value as exact text.
fn dump(path: &Path, sql: &str) -> Vec<Vec<String>> {
    let conn = match Connection::open(path) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    let mut stmt = match conn.prepare(sql) {
        Ok(s) => s,
        Err(e) => panic!("{sql}: {e}"),
    };
    let width = stmt.column_count();
    let rows = stmt.query_map([], |r| {
        (0..width)
            .map(|c| {
                r.get::<_, Value>(c).map(|v| match v {
                    Value::Real(x) => format!("{:?}", x.to_bits()),
                    other => format!("{other:?}"),
                })
            })
            .collect::<Result<Vec<_>, _>>()
    });
    match rows.and_then(|r| r.collect::<Result<Vec<_>, _>>()) {
        Ok(r) => r,
        Err(e) => panic!("{sql}: {e}"),
    }
}

fn count(path: &Path, sql: &str) -> i64 {
    match Connection::open(path).and_then(|c| c.query_row(sql, [], |r| r.get(0))) {
        Ok(n) => n,
        Err(e) => panic!("{sql}: {e}"),
    }
}

pub(super) fn export(path: &Path, q: &Query) -> String {
    let mut out = Vec::new();
    match Reader::open(path).and_then(|r| r.export(q, &mut out)) {
        Ok(_) => String::from_utf8_lossy(&out).into_owned(),
        Err(e) => panic!("{e}"),
    }
}

pub(super) fn query(table: Table) -> Query {
    Query {
        table,
        from: None,
        to: None,
        twin: None,
        names: Vec::new(),
    }
}

#[test]
fn a_replay_fills_every_table() {
    let dir = temp();
    replay(dir.path(), "1 s", None, None);
    let path = db(dir.path());
    // 0 ..= 40 s at 1 s, two twins.
    assert_eq!(count(&path, "SELECT count(*) FROM signals"), 82);
    // 41 rows × 2 sensors × 2 twins, less the two bad power cells.
    assert_eq!(count(&path, "SELECT count(*) FROM samples"), 160);
    let power = dump(
        &path,
        "SELECT value, unit, value_si FROM samples WHERE instance = 'h-1' AND sensor = 'power' AND t = 0",
    );
    assert_eq!(
        power,
        [[
            format!("{:?}", 1.0f64.to_bits()),
            "Text(\"kW\")".to_string(),
            format!("{:?}", 1000.0f64.to_bits())
        ]]
    );
    let alarms = dump(
        &path,
        "SELECT instance, state, severity FROM alarms ORDER BY instance, t",
    );
    assert_eq!(alarms.len(), 4, "{alarms:?}");
    assert!(alarms[0][1].contains("raised") && alarms[1][1].contains("cleared"));
    assert!(alarms[0][2].contains("warning"));
    let message: Vec<Vec<String>> = dump(&path, "SELECT message FROM alarms LIMIT 1");
    assert!(message[0][0].contains("at 3"), "{message:?}");
    // The fan: 0 at the start, 1 while hot, 0 again, per twin.
    let commands = dump(
        &path,
        "SELECT instance, value, unit FROM commands ORDER BY instance, t",
    );
    assert_eq!(commands.len(), 6, "{commands:?}");
    // Garbled and out of range (for both twins: a row without an id is for
    // every twin, and the range is checked per twin), humidity unbound.
    let rejected = dump(
        &path,
        "SELECT reason, sensor, raw, origin FROM rejected ORDER BY t, reason, instance",
    );
    let reasons: Vec<&str> = rejected.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        reasons,
        [
            "Text(\"unbound\")",
            "Text(\"not_a_number\")",
            "Text(\"out_of_range\")",
            "Text(\"out_of_range\")",
            "Text(\"unbound\")"
        ]
    );
    assert_eq!(rejected[1][2], "Text(\"abc\")");
    assert!(
        rejected[1][3].ends_with("telemetry.csv:14\")"),
        "{rejected:?}"
    );
    assert_eq!(rejected[2][2], "Text(\"9000\")");
    // The last checkpoint is at the end.
    let h = open(dir.path());
    let last = h.last_checkpoint().ok().flatten().map(|c| c.fleet.k);
    assert_eq!(last, Some(401));
}

#[test]
fn signals_follow_the_decimation() {
    let dir = temp();
    replay(dir.path(), "2500 ms", None, None);
    let times = dump(&db(dir.path()), "SELECT DISTINCT t FROM signals ORDER BY t");
    let times: Vec<f64> = times
        .iter()
        .filter_map(|r| r[0].parse::<u64>().ok().map(f64::from_bits))
        .collect();
    // The first tick at or after each multiple of 2.5 s (ticks are 0.1 s).
    let expected: Vec<f64> = (0..=16).map(|m| (m * 25) as f64 * 0.1).collect();
    assert_eq!(times, expected);
    let every = temp();
    replay(every.path(), "100 ms", None, None);
    assert_eq!(
        count(&db(every.path()), "SELECT count(*) FROM signals"),
        802
    );
}

/// Runs `ticks` ticks of `fleet`, handing each to the history as the
/// runner does (the epoch is the twin time).
fn run(h: &mut SqliteHistory, fleet: &mut Fleet, ticks: usize) {
    for _ in 0..ticks {
        let events = fleet.tick();
        let tick = Tick {
            fleet,
            events: &events,
            epoch: fleet.time(),
        };
        h.tick(&tick);
        fleet.advance();
    }
}

/// One tick of a small fleet, for tests that drive the observer by hand.
fn fleet() -> Fleet {
    let mut fleet = Fleet::new(model(HEATER, "Heater"), 0.1, &[]);
    fleet.add("h-1", &[]);
    fleet
}

#[test]
fn rows_wait_for_a_commit_and_finish_writes_them() {
    let dir = temp();
    let mut h = open(dir.path());
    h.set_commit_interval(Duration::from_secs(3600));
    let mut fleet = fleet();
    run(&mut h, &mut fleet, 30);
    let path = db(dir.path());
    // Another connection sees nothing yet: the rows are in one open
    // transaction.
    assert_eq!(count(&path, "SELECT count(*) FROM signals"), 0);
    h.finish();
    // 0, 1 and 2 s.
    assert_eq!(count(&path, "SELECT count(*) FROM signals"), 3);
    assert_eq!(h.failures(), 0);
}

#[test]
fn a_thread_moves_the_log_into_the_database() {
    // SQLite's own checkpoints are off: only the history's thread can grow
    // the database file while the history is open.
    let dir = temp();
    let mut h = open(dir.path());
    let path = db(dir.path());
    let size = || std::fs::metadata(&path).map_or(0, |m| m.len());
    let before = size();
    let mut fleet = fleet();
    for _ in 0..200 {
        run(&mut h, &mut fleet, 1);
        h.commit();
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while size() <= before {
        assert!(
            std::time::Instant::now() < deadline,
            "the log was never checkpointed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(h.failures(), 0);
}

fn rejection(raw: &str, t: f64) -> Rejection {
    Rejection {
        instance: "h-1".into(),
        sensor: "power".into(),
        reason: Reject::NotJson,
        raw: raw.into(),
        origin: "plant/h-1/power".into(),
        t,
    }
}

#[test]
fn dead_letters_keep_their_raw_payloads() {
    let dir = temp();
    let mut h = open(dir.path());
    let raw = "{\"value\": 1,, \"note\": \"a \"quoted\" word\"}\nsecond line";
    h.rejected(&rejection(raw, 1.5));
    h.rejected(&rejection("\u{fffd}binary", 2.0));
    // Before any tick the origin is unknown; a checkpoint tells it.
    let mut fleet = fleet();
    let events = fleet.tick();
    h.tick(&Tick {
        fleet: &fleet,
        events: &events,
        epoch: 1_790_000_000.0,
    });
    h.finish();
    let path = db(dir.path());
    let rows = dump(
        &path,
        "SELECT raw, reason, origin, t FROM rejected ORDER BY t",
    );
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0][0], format!("{:?}", Value::Text(raw.into())));
    assert_eq!(rows[0][1], "Text(\"not_json\")");
    assert_eq!(rows[0][3], format!("{:?}", 1_790_000_001.5f64.to_bits()));
    let csv = export(&path, &query(Table::Rejected));
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("t,id,sensor,reason,origin,raw"));
    assert!(
        csv.contains(
            "1790000001.5,h-1,power,not_json,plant/h-1/power,\"{\"\"value\"\": 1,, \"\"note\"\": \"\"a \"\"quoted\"\" word\"\"}\nsecond line\""
        ),
        "{csv}"
    );
}

#[test]
fn a_failing_write_is_counted_and_the_run_goes_on() {
    let dir = temp();
    let mut h = open(dir.path());
    let path = db(dir.path());
    let other = match Connection::open(&path) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    if let Err(e) = other.execute_batch("DROP TABLE rejected") {
        panic!("{e}");
    }
    h.rejected(&rejection("x", 0.0));
    let mut fleet = fleet();
    let events = fleet.tick();
    h.tick(&Tick {
        fleet: &fleet,
        events: &events,
        epoch: 0.0,
    });
    h.finish();
    assert_eq!(h.failures(), 1);
    assert_eq!(count(&path, "SELECT count(*) FROM signals"), 1);
}

#[test]
fn a_newer_schema_is_refused_and_a_foreign_file_too() {
    let dir = temp();
    drop(open(dir.path()));
    let path = db(dir.path());
    if let Err(e) = Connection::open(&path)
        .and_then(|c| c.execute_batch("UPDATE schema_version SET version = 99"))
    {
        panic!("{e}");
    }
    let model = model(HEATER, "Heater");
    let err = SqliteHistory::open(&path, &model, 1.0).err().map(|e| e.0);
    assert!(
        err.as_deref()
            .is_some_and(|e| e.contains("newer twinc (schema version 99)")),
        "{err:?}"
    );
    assert!(Reader::open(&path).is_err());
    let foreign = dir.path().join("foreign.db");
    if let Err(e) = Connection::open(&foreign).and_then(|c| c.execute_batch("CREATE TABLE x (a)")) {
        panic!("{e}");
    }
    let err = Reader::open(&foreign).err().map(|e| e.0);
    assert!(
        err.as_deref()
            .is_some_and(|e| e.contains("not a twin history")),
        "{err:?}"
    );
    let missing = Reader::open(&dir.path().join("missing.db"))
        .err()
        .map(|e| e.0);
    assert!(
        missing.as_deref().is_some_and(|e| e.contains("no history")),
        "{missing:?}"
    );
}

#[test]
fn a_signal_the_model_gains_becomes_a_column() {
    let dir = temp();
    replay(dir.path(), "1 s", None, None);
    let grown = HEATER.replace(
        "    let smooth",
        "    let doubled: W = 2 * power\n    let instance = 1\n    let smooth",
    );
    let path = db(dir.path());
    let h = SqliteHistory::open(&path, &model(&grown, "Heater"), 1.0);
    assert!(h.is_ok());
    drop(h);
    let csv = export(
        &path,
        &Query {
            names: vec!["doubled".into(), "instance".into(), "temp".into()],
            to: Some(1.0),
            ..query(Table::Signals)
        },
    );
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "t,id,doubled[W],instance,temp[degC]");
    assert!(lines[1].starts_with("0,h-1,,,20"), "{csv}");
    assert_eq!(lines.len(), 5);
}

#[test]
fn a_hot_reload_gives_the_new_signal_a_column_and_rows_go_on() {
    let dir = temp();
    let mut h = open(dir.path());
    let mut fleet = fleet();
    run(&mut h, &mut fleet, 11);
    // What the runner does on a reload: a fleet of the edited model, the
    // state carried over by name.
    let grown = HEATER.replace(
        "    let smooth",
        "    let doubled: W = 2 * power\n    let smooth",
    );
    let mut edited = Fleet::new(model(&grown, "Heater"), 0.1, &[]);
    edited.restore(&fleet.snapshot(), &|_| Vec::new());
    h.reloaded(&edited);
    run(&mut h, &mut edited, 10);
    h.finish();
    assert_eq!(h.failures(), 0);
    let path = db(dir.path());
    // 0 and 1 s before the reload, 2 s after it.
    assert_eq!(count(&path, "SELECT count(*) FROM signals"), 3);
    assert_eq!(
        count(
            &path,
            "SELECT count(*) FROM signals WHERE doubled IS NOT NULL"
        ),
        1
    );
    assert_eq!(
        count(
            &path,
            "SELECT count(*) FROM catalog WHERE name = 'doubled' AND unit = 'W'"
        ),
        1
    );
}

#[test]
fn exports_are_in_declared_units_and_filtered() {
    let dir = temp();
    replay(dir.path(), "1 s", None, None);
    let path = db(dir.path());
    let all = export(&path, &query(Table::Signals));
    let header = all.lines().next().unwrap_or("");
    assert!(header.starts_with("t,id,temp[degC],"), "{header}");
    assert!(
        header.contains(",smooth.y[kW],") && header.contains(",fan,"),
        "{header}"
    );
    assert!(header.ends_with(",hot"), "{header}");
    // h-2 (cooled twice as well) raises `hot` at about 6.4 s.
    let q = Query {
        from: Some(5.0),
        to: Some(7.0),
        twin: Some("h-2".into()),
        names: vec!["hot".into(), "temp".into(), "fan".into()],
        ..query(Table::Signals)
    };
    let csv = export(&path, &q);
    let rows: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(rows[0], ["t", "id", "hot", "temp[degC]", "fan"]);
    assert_eq!(rows.len(), 4, "{csv}");
    assert_eq!(rows[1][..3], ["5", "h-2", "0"]);
    assert_eq!(rows[3][..3], ["7", "h-2", "1"]);
    assert_eq!(rows[3][4], "1");
    let temp: f64 = rows[3][3].parse().unwrap_or(0.0);
    assert!((30.0..33.0).contains(&temp), "{csv}");
    // The samples come out in the replay format, in the sensor's unit.
    let samples = export(
        &path,
        &Query {
            twin: Some("h-1".into()),
            to: Some(1.0),
            ..query(Table::Samples)
        },
    );
    assert_eq!(
        samples,
        "t,id,power[kW],ambient[degC]\n0,h-1,1,20\n1,h-1,1,20\n"
    );
    let commands = export(
        &path,
        &Query {
            twin: Some("h-1".into()),
            ..query(Table::Commands)
        },
    );
    assert_eq!(commands.lines().next(), Some("t,id,actuator,value,unit"));
    assert_eq!(commands.lines().count(), 4);
    let unbound = export(&path, &query(Table::Rejected));
    assert_eq!(
        unbound.lines().filter(|l| l.contains(",unbound,")).count(),
        2
    );
    let only_power = export(
        &path,
        &Query {
            names: vec!["power".into()],
            ..query(Table::Rejected)
        },
    );
    assert_eq!(only_power.lines().count(), 4);
    let unknown = Reader::open(&path).and_then(|r| {
        r.export(
            &Query {
                names: vec!["tmep".into()],
                ..query(Table::Signals)
            },
            &mut Vec::new(),
        )
    });
    let e = unknown.err().map(|e| e.0).unwrap_or_default();
    assert!(e.contains("no signal `tmep`") && e.contains("temp"), "{e}");
}

#[test]
fn a_history_written_from_its_own_thread_is_the_same() {
    let (here, there) = (temp(), temp());
    replay_in(here.path(), "1 s", None, None, false);
    replay_in(there.path(), "1 s", None, None, true);
    let (here, there) = (db(here.path()), db(there.path()));
    for sql in [
        "SELECT * FROM signals ORDER BY t, instance",
        "SELECT * FROM samples ORDER BY t, instance, sensor",
        "SELECT * FROM alarms ORDER BY t, instance, alarm",
        "SELECT * FROM commands ORDER BY t, instance, actuator",
        // Not the folder the file was in.
        "SELECT id, t, instance, sensor, reason,
                substr(origin, instr(origin, 'telemetry.csv')), raw
         FROM rejected ORDER BY id",
        "SELECT * FROM meta ORDER BY key",
        "SELECT * FROM catalog ORDER BY kind, name",
        // Not `written`: the wall time.
        "SELECT t, k, origin FROM checkpoints ORDER BY t",
        "SELECT * FROM checkpoint_slots ORDER BY 1, 2, 3",
    ] {
        let rows = dump(&here, sql);
        assert!(!rows.is_empty() || sql.contains("alarms"), "{sql}: no rows");
        assert_eq!(rows, dump(&there, sql), "{sql}");
    }
}

#[test]
fn a_sync_is_released_once_a_commit_covers_it() {
    let dir = temp();
    let mut h = open(dir.path());
    h.write_in_background();
    // Only syncs, checkpoints and the end commit.
    h.set_commit_interval(Duration::from_secs(3600));
    let mut fleet = fleet();
    run(&mut h, &mut fleet, 30);
    let path = db(dir.path());
    let handled: Arc<[AtomicU64]> = Arc::new([AtomicU64::new(0)]);
    h.sync(Release::new(vec![7], handled.clone()));
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while handled[0].load(Ordering::Acquire) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the sync was never released"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(handled[0].load(Ordering::Acquire), 7);
    // Released only once committed: another connection sees the rows
    // (0, 1 and 2 s).
    assert_eq!(count(&path, "SELECT count(*) FROM signals"), 3);
    h.finish();
    assert_eq!(h.failures(), 0);
}
