//! `runtime.history = "postgres://..."` end to end, on a real PostgreSQL
//! that the tests start themselves (skipped with a note when it is not
//! installed, failed when `TWIN_E2E_REQUIRED=1`): the bundled pump replay
//! keeps the same rows in Postgres as in SQLite (every table exported by
//! `twinc history` is the same CSV), a restart resumes from the Postgres
//! checkpoint, and a bad URL or a missing server is one line naming the
//! manifest and the key.

use std::path::{Path, PathBuf};

use twin_runtime::live::history::postgres::server::{TempServer, for_test};

use super::{stderr, stdout, twinc};

/// A copy of the pump example in a fresh folder, its history at `history`;
/// gives the manifest's path.
fn pump(name: &str, history: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("cli-postgres")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::create_dir_all(&dir);
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/pump");
    for f in ["pump.twin", "telemetry.csv"] {
        let _ = std::fs::copy(examples.join(f), dir.join(f));
    }
    let manifest = std::fs::read_to_string(examples.join("twin.toml")).unwrap_or_default();
    let manifest = manifest.replace(
        "history = \"sqlite:pump.db\"",
        &format!("history = \"{history}\""),
    );
    assert!(manifest.contains(history), "{manifest}");
    let path = dir.join("twin.toml");
    let _ = std::fs::write(&path, manifest);
    path
}

fn server() -> Option<TempServer> {
    for_test(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-postgres"))
}

fn database(server: &TempServer, name: &str) -> String {
    match server.database(name) {
        Ok(url) => url,
        Err(e) => panic!("{e}"),
    }
}

fn run(manifest: &Path) -> String {
    let o = twinc(&["run", manifest.to_str().unwrap_or("")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    stderr(&o)
}

/// `twinc history --table TABLE`, with the folder's path taken out of the
/// dead letters' origins.
fn history(manifest: &Path, table: &str) -> String {
    let o = twinc(&["history", manifest.to_str().unwrap_or(""), "--table", table]);
    assert_eq!(o.status.code(), Some(0), "{table}: {}", stderr(&o));
    let dir = manifest.parent().map(|d| format!("{}/", d.display()));
    stdout(&o).replace(dir.as_deref().unwrap_or("/"), "")
}

const TABLES: [&str; 5] = ["signals", "samples", "alarms", "commands", "rejected"];

#[test]
fn a_replay_keeps_the_same_rows_in_postgres_as_in_sqlite() {
    let Some(server) = server() else {
        return;
    };
    let lite = pump("same-sqlite", "sqlite:pump.db");
    let pg = pump("same-postgres", &database(&server, "pump"));
    run(&lite);
    run(&pg);
    for table in TABLES {
        let want = history(&lite, table);
        assert!(want.lines().count() > 1, "{table}: {want}");
        assert_eq!(history(&pg, table), want, "{table}");
    }
    assert!(history(&pg, "alarms").contains("overheating"));
    // Run again: the checkpoint read back from Postgres says the replay
    // ran to the end, so it starts over and every row is the same row.
    let again = run(&pg);
    assert!(again.contains("the last replay ran to the end"), "{again}");
    assert_eq!(history(&pg, "signals"), history(&lite, "signals"));
}

#[test]
fn a_restart_resumes_from_the_postgres_checkpoint() {
    let Some(server) = server() else {
        return;
    };
    let lite = pump("resume-sqlite", "sqlite:pump.db");
    run(&lite);
    let pg = pump("resume-postgres", &database(&server, "resume"));
    // The first run sees the first 200 rows; then the rest arrive.
    let telemetry = pg.with_file_name("telemetry.csv");
    let full = std::fs::read_to_string(&telemetry).unwrap_or_default();
    let head: Vec<&str> = full.lines().take(201).collect();
    let _ = std::fs::write(&telemetry, head.join("\n") + "\n");
    run(&pg);
    let _ = std::fs::write(&telemetry, &full);
    let resumed = run(&pg);
    assert!(
        resumed.contains("resumed from the last checkpoint"),
        "{resumed}"
    );
    for table in ["signals", "samples", "alarms", "rejected"] {
        assert_eq!(history(&pg, table), history(&lite, table), "{table}");
    }
}

#[test]
fn a_bad_url_or_a_missing_server_is_one_line() {
    for (name, url) in [
        ("bad-url", "postgres://twin@127.0.0.1:notaport/plant"),
        ("no-server", "postgres://twin@127.0.0.1:1/plant"),
    ] {
        let m = pump(name, url);
        for command in ["run", "history"] {
            let o = twinc(&[command, m.to_str().unwrap_or("")]);
            assert_eq!(o.status.code(), Some(2), "{command} {url}: {}", stderr(&o));
            let e = stderr(&o);
            assert_eq!(e.trim().lines().count(), 1, "{e}");
            assert!(e.contains("twin.toml: runtime.history: "), "{e}");
            assert!(!e.contains("panicked"), "{e}");
        }
    }
}
