//! The PostgreSQL history on a real server that each test starts
//! ([`super::server`]; skipped with a note when PostgreSQL is not
//! installed, failed when `TWIN_E2E_REQUIRED=1`): a replay exports the same
//! CSV as the SQLite history of the same replay, checkpoints round-trip
//! bit for bit, a replay stopped and resumed from its Postgres checkpoint
//! leaves the history of one that never stopped, a failing write is
//! counted while the run goes on, and rows written while the server is
//! away arrive once it is back.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use super::super::KEPT_CHECKPOINTS;
use super::super::export::Table;
use super::super::tests::{
    HEATER, StopAfter, awkward_checkpoint, bits, export, manifest, model, query, replay, temp,
};
use super::server::{TempServer, for_test};
use super::{PgReader, PostgresHistory};
use crate::live::fleet::Snapshot;
use crate::live::release::Release;
use crate::live::run::Runner;
use crate::live::{Checkpoint, Observer};

fn open(url: &str) -> PostgresHistory {
    match PostgresHistory::open(url, &model(HEATER, "Heater"), 1.0) {
        Ok(h) => h,
        Err(e) => panic!("{e}"),
    }
}

/// Replays the heater telemetry in `dir` into the database at `url`.
fn replay_pg(dir: &Path, url: &str, resume: Option<Checkpoint>, stop_after: Option<u64>) {
    let manifest = manifest(dir, "1 s");
    let model = model(HEATER, "Heater");
    let history = match PostgresHistory::open(url, &model, manifest.runtime.decimate) {
        Ok(h) => h,
        Err(e) => panic!("{e}"),
    };
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

fn export_pg(url: &str, table: Table) -> String {
    let mut out = Vec::new();
    match PgReader::open(url).and_then(|mut r| r.export(&query(table), &mut out)) {
        Ok(_) => String::from_utf8_lossy(&out).into_owned(),
        Err(e) => panic!("{e}"),
    }
}

fn database(server: &TempServer, name: &str) -> String {
    match server.database(name) {
        Ok(url) => url,
        Err(e) => panic!("{e}"),
    }
}

/// Dead letters name their file by its full path, which differs by folder.
fn relative(csv: &str, dir: &Path) -> String {
    csv.replace(&format!("{}/", dir.display()), "")
}

#[test]
fn a_replay_exports_the_same_csv_as_sqlite() {
    let root = temp();
    let Some(server) = for_test(root.path()) else {
        return;
    };
    let url = database(&server, "same");
    let (lite, pg) = (temp(), temp());
    replay(lite.path(), "1 s", None, None);
    replay_pg(pg.path(), &url, None, None);
    for (name, table) in Table::ALL {
        let want = relative(
            &export(&lite.path().join("history.db"), &query(table)),
            lite.path(),
        );
        let got = relative(&export_pg(&url, table), pg.path());
        assert!(want.lines().count() > 2, "{name}: {want}");
        assert_eq!(got, want, "{name}");
    }
    // Replayed again from the start: every row is the same row.
    replay_pg(pg.path(), &url, None, None);
    let again = relative(&export_pg(&url, Table::Signals), pg.path());
    let want = relative(
        &export(&lite.path().join("history.db"), &query(Table::Signals)),
        lite.path(),
    );
    assert_eq!(again, want);
}

#[test]
fn checkpoints_round_trip_bit_for_bit_and_only_the_newest_are_kept() {
    let root = temp();
    let Some(server) = for_test(root.path()) else {
        return;
    };
    let url = database(&server, "checkpoints");
    let mut h = open(&url);
    // A twin id with the characters COPY text escapes.
    let checkpoint = |k: u64| awkward_checkpoint("h-2\ttab\\", k);
    for k in 1..=7 {
        h.checkpoint(&checkpoint(k));
    }
    h.commit();
    assert_eq!(h.failures(), 0);
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
    drop(h);
    let again = open(&url).last_checkpoint().ok().flatten();
    assert_eq!(again.as_ref().map(bits), Some(bits(&checkpoint(7))));
}

#[test]
fn a_replay_resumed_from_its_postgres_checkpoint_matches_an_unbroken_one() {
    let root = temp();
    let Some(server) = for_test(root.path()) else {
        return;
    };
    let unbroken = temp();
    replay(unbroken.path(), "1 s", None, None);
    let url = database(&server, "resumed");
    let broken = temp();
    // Stopped (as by SIGTERM) after 153 ticks, off the decimation grid.
    replay_pg(broken.path(), &url, None, Some(153));
    let cp = open(&url).last_checkpoint().ok().flatten();
    assert_eq!(cp.as_ref().map(|c| c.fleet.k), Some(153));
    replay_pg(broken.path(), &url, cp, None);
    for table in [
        Table::Signals,
        Table::Samples,
        Table::Alarms,
        Table::Rejected,
    ] {
        let want = export(&unbroken.path().join("history.db"), &query(table));
        assert_eq!(
            relative(&export_pg(&url, table), broken.path()),
            relative(&want, unbroken.path()),
            "{table:?}"
        );
    }
    // A restarted run issues every command once more: one row per twin.
    let want = export(&unbroken.path().join("history.db"), &query(Table::Commands));
    let got = export_pg(&url, Table::Commands);
    assert!(want.lines().all(|l| got.lines().any(|g| g == l)), "{got}");
    assert_eq!(got.lines().count(), want.lines().count() + 2, "{got}");
}

#[test]
fn a_failing_write_is_counted_and_the_run_goes_on() {
    let root = temp();
    let Some(server) = for_test(root.path()) else {
        return;
    };
    let url = database(&server, "failing");
    let mut h = open(&url);
    h.set_commit_interval(Duration::ZERO);
    let rejection = crate::live::Rejection {
        instance: "h-1".into(),
        sensor: "power".into(),
        reason: crate::input::Reject::NotANumber,
        raw: "x\0y".into(),
        origin: "topic".into(),
        t: 1.0,
    };
    h.rejected(&rejection);
    h.checkpoint(&Checkpoint {
        origin: 0.0,
        fleet: Snapshot {
            k: 1,
            instances: Vec::new(),
        },
        positions: Vec::new(),
    });
    h.commit();
    assert_eq!(h.failures(), 0);
    let rows = export_pg(&url, Table::Rejected);
    assert!(rows.contains("1,h-1,power,nan,topic,x\u{FFFD}y"), "{rows}");
    // Another process breaks the table under the running history.
    let breaks = postgres::Client::connect(&url, postgres::NoTls)
        .and_then(|mut c| c.batch_execute("DROP TABLE rejected"));
    assert!(breaks.is_ok(), "{breaks:?}");
    h.rejected(&rejection);
    h.commit();
    assert_eq!(h.failures(), 1);
    // The next batch is written as usual.
    h.checkpoint(&Checkpoint {
        origin: 0.0,
        fleet: Snapshot {
            k: 2,
            instances: Vec::new(),
        },
        positions: Vec::new(),
    });
    h.commit();
    assert_eq!(h.failures(), 1);
    assert_eq!(
        h.last_checkpoint().ok().flatten().map(|c| c.fleet.k),
        Some(2)
    );
}

#[test]
fn rows_written_while_the_server_is_away_arrive_when_it_is_back() {
    let root = temp();
    let Some(server) = for_test(root.path()) else {
        return;
    };
    let url = database(&server, "away");
    let mut h = open(&url);
    let rejection = |t: f64| crate::live::Rejection {
        instance: "h-1".into(),
        sensor: "power".into(),
        reason: crate::input::Reject::NotANumber,
        raw: format!("row {t}"),
        origin: "topic".into(),
        t,
    };
    let checkpoint = Checkpoint {
        origin: 0.0,
        fleet: Snapshot {
            k: 1,
            instances: Vec::new(),
        },
        positions: Vec::new(),
    };
    h.checkpoint(&checkpoint);
    h.rejected(&rejection(1.0));
    h.commit();
    assert!(server.stop().is_ok());
    h.rejected(&rejection(2.0));
    h.commit();
    assert!(h.failures() >= 1);
    assert!(server.restart().is_ok());
    // The writer tries again at most every two seconds.
    std::thread::sleep(super::writer::RETRY_EVERY + Duration::from_millis(200));
    h.rejected(&rejection(3.0));
    h.commit();
    let rows = export_pg(&url, Table::Rejected);
    for t in ["1,", "2,", "3,"] {
        assert!(rows.lines().any(|l| l.starts_with(t)), "{t}: {rows}");
    }
    assert_eq!(
        h.last_checkpoint().ok().flatten().map(|c| c.fleet.k),
        Some(1)
    );
}

#[test]
fn a_bad_url_or_a_missing_server_is_one_line() {
    for url in ["postgres://a:b:c@/x", "postgres://twin@127.0.0.1:1/none"] {
        let e = match PostgresHistory::open(url, &model(HEATER, "Heater"), 1.0) {
            Ok(_) => panic!("{url} opened"),
            Err(e) => e.to_string(),
        };
        assert_eq!(e.lines().count(), 1, "{e}");
        assert!(!e.contains("a:b"), "no password in messages: {e}");
    }
}

#[test]
fn samples_since_a_checkpoint_are_those_of_the_sqlite_history() {
    let root = temp();
    let Some(server) = for_test(root.path()) else {
        return;
    };
    let url = database(&server, "since");
    let (lite, pg) = (temp(), temp());
    replay(lite.path(), "1 s", None, Some(150));
    replay_pg(pg.path(), &url, None, Some(150));
    let h = open(&url);
    let Ok(Some(cp)) = h.last_checkpoint() else {
        panic!("no checkpoint");
    };
    let taken = cp.origin + cp.fleet.k as f64 * 0.1;
    let got = match h.samples_since(taken - 3.0) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    };
    let lite = match super::super::SqliteHistory::open(
        &lite.path().join("history.db"),
        &model(HEATER, "Heater"),
        1.0,
    ) {
        Ok(h) => h,
        Err(e) => panic!("{e}"),
    };
    let want = match lite.samples_since(taken - 3.0) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    };
    assert!(!want.is_empty());
    let key = |s: &super::super::Stored| {
        (
            s.t.to_bits(),
            s.instance.clone(),
            s.sensor.clone(),
            s.value.to_bits(),
        )
    };
    let mut got: Vec<_> = got.iter().map(key).collect();
    let mut want: Vec<_> = want.iter().map(key).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn sync_holds_the_release_while_the_server_is_away() {
    let root = temp();
    let Some(server) = for_test(root.path()) else {
        return;
    };
    let url = database(&server, "away");
    let mut h = open(&url);
    let handled: Arc<[AtomicU64]> = Arc::new([AtomicU64::new(0)]);
    let released = || handled[0].load(Ordering::Acquire);
    h.sync(Release::new(vec![2], handled.clone()));
    // The writer releases it on its own; `commit` waits for it.
    assert!(h.commit());
    assert_eq!(released(), 2, "nothing waits: durable");
    assert!(server.stop().is_ok());
    // A dead letter, written once the origin is known.
    h.learn_origin(0.0);
    h.rejected(&crate::live::Rejection {
        instance: "h-1".into(),
        sensor: "temp".into(),
        reason: crate::input::Reject::Garbled,
        raw: "abc".into(),
        origin: "plant/h-1".into(),
        t: 1.0,
    });
    h.sync(Release::new(vec![3], handled.clone()));
    assert!(!h.commit(), "the row waits for the server");
    assert_eq!(released(), 2, "a row waits for the server: not durable");
    // Back: the writer tries again on its own, with nothing more handed
    // to it, writes the row and releases the sync.
    assert!(server.restart().is_ok());
    let deadline = std::time::Instant::now() + 5 * super::writer::RETRY_EVERY;
    while released() != 5 {
        assert!(
            std::time::Instant::now() < deadline,
            "the sync was never released"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
