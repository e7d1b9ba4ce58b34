//! `twinc run` keeps a history, and `twinc history` exports it: a replay
//! manifest run end to end, then every table read back as CSV, filtered,
//! into a file, and the usage errors; a second run resumes at the end.

use std::path::{Path, PathBuf};

use super::{stderr, stdout, twinc};

/// Fills at 2 L/s for 6 s, then drains at 1 L/s: `full` from 5 s (50.5 L)
/// to 14 s (44.5 L), the valve open from 5 s to 8.5 s.
const TANK: &str = r#"twin Tank {
    step 500 ms
    sensor inflow: L/s range 0 L/s .. 10 L/s = 0 L/s
    param outflow: L/s = 1 L/s
    state volume: L = 40.5 L
    der(volume) = inflow - outflow
    actuator valve: 1 range 0 .. 1 = if volume > 50 L then 1 else 0
    alarm full: warning when volume > 50 L clear when volume < 45 L
        message "volume {volume}"
}
"#;

/// A folder of its own for each test, emptied first.
fn folder(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("cli-history")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// A replay deployment of two tanks in `dir`; gives the manifest's path.
fn deployment(dir: &Path, history: &str) -> String {
    let _ = std::fs::write(dir.join("tank.twin"), TANK);
    let mut csv = String::from("t,inflow[L/min]\n");
    for t in 0..=30 {
        let cell = match t {
            7 => "lots".to_string(),
            t if t < 6 => "180".to_string(),
            _ => "0".to_string(),
        };
        csv.push_str(&format!("{t},{cell}\n"));
    }
    let _ = std::fs::write(dir.join("flow.csv"), csv);
    let manifest = dir.join("twin.toml");
    let _ = std::fs::write(
        &manifest,
        format!(
            r#"model = "tank.twin"

[runtime]
mode = "replay"
api = "off"
history = "{history}"
decimate = "2 s"
checkpoint_every = "10 s"

[[source]]
name = "log"
kind = "csv"
path = "flow.csv"

[instances]
ids = ["t-1", "t-2"]

[sensors.inflow]
source = "log"
"#
        ),
    );
    manifest.to_str().unwrap_or("").to_string()
}

#[test]
fn a_replay_is_kept_and_exported() {
    let dir = folder("export");
    let m = deployment(&dir, "sqlite:data/tank.db");
    let o = twinc(&["run", &m]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(dir.join("data/tank.db").exists());

    // 0 ..= 30 s every 2 s, two tanks.
    let o = twinc(&["history", &m]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let signals = stdout(&o);
    let lines: Vec<&str> = signals.lines().collect();
    assert_eq!(lines[0], "t,id,volume[L],valve,full");
    assert_eq!(lines.len(), 1 + 16 * 2);
    assert_eq!(lines[1], "0,t-1,40.5,0,0");
    assert_eq!(lines[7], "6,t-1,52.5,1,1");

    let o = twinc(&[
        "history",
        &m,
        "--twin",
        "t-2",
        "--from",
        "10",
        "--to",
        "14",
        "--signals",
        "full,volume",
    ]);
    assert_eq!(
        stdout(&o),
        "t,id,full,volume[L]\n10,t-2,1,48.5\n12,t-2,1,46.5\n14,t-2,0,44.5\n",
        "{}",
        stderr(&o)
    );

    let o = twinc(&["history", &m, "--table", "samples", "--to", "1"]);
    assert_eq!(
        stdout(&o),
        "t,id,inflow[L/s]\n0,t-1,3\n0,t-2,3\n1,t-1,3\n1,t-2,3\n"
    );

    let o = twinc(&["history", &m, "--table", "alarms", "--twin", "t-1"]);
    let alarms = stdout(&o);
    assert!(
        alarms.starts_with("t,id,alarm,severity,state,message\n"),
        "{alarms}"
    );
    assert!(
        alarms.contains("5,t-1,full,warning,raised,volume 50.5 L"),
        "{alarms}"
    );
    assert!(
        alarms.contains("14,t-1,full,warning,cleared,volume 44.5 L"),
        "{alarms}"
    );

    let o = twinc(&["history", &m, "--table", "commands", "--twin", "t-1"]);
    assert_eq!(stdout(&o).lines().count(), 4, "{}", stdout(&o));

    let o = twinc(&["history", &m, "--table", "rejected"]);
    let rejected = stdout(&o);
    assert!(
        rejected.starts_with("t,id,sensor,reason,origin,raw\n"),
        "{rejected}"
    );
    assert!(rejected.contains("7,,inflow,not_a_number,"), "{rejected}");
    assert!(
        rejected.trim_end().ends_with("flow.csv:9,lots"),
        "{rejected}"
    );

    let out = dir.join("signals.csv");
    let o = twinc(&["history", &m, "--out", out.to_str().unwrap_or("")]);
    assert!(stdout(&o).is_empty());
    assert_eq!(std::fs::read_to_string(&out).unwrap_or_default(), signals);

    // A second run of a replay that ran to the end starts over: the same
    // rows again, nothing written twice.
    let o = twinc(&["run", &m]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("the last replay ran to the end"),
        "{}",
        stderr(&o)
    );
    assert_eq!(stdout(&twinc(&["history", &m])), signals);
}

#[test]
fn history_usage_errors_are_one_line() {
    let dir = folder("usage");
    let m = deployment(&dir, "sqlite:tank.db");
    for (args, says) in [
        (vec!["history", &m], "no history at"),
        (vec!["history", "missing.toml"], "missing.toml"),
    ] {
        let o = twinc(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert_eq!(stderr(&o).trim().lines().count(), 1, "{}", stderr(&o));
        assert!(stderr(&o).contains(says), "{}", stderr(&o));
    }
    assert_eq!(twinc(&["run", &m]).status.code(), Some(0));
    for (args, says) in [
        (
            vec!["history", &m, "--signals", "volume,levle"],
            "no signal `levle`",
        ),
        (
            vec!["history", &m, "--from", "noon"],
            "--from: `noon` is not a time",
        ),
        (vec!["history", &m, "--table", "everything"], "everything"),
    ] {
        let o = twinc(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(stderr(&o).contains(says), "{}", stderr(&o));
    }
    let o = twinc(&["history", &m, "--from", "2026-01-01T00:00:00Z"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o).lines().count(),
        1,
        "only the header: {}",
        stdout(&o)
    );

    let off = folder("off");
    let m = deployment(&off, "off");
    let o = twinc(&["history", &m]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("runtime.history is \"off\""),
        "{}",
        stderr(&o)
    );

    let pg = folder("postgres");
    let m = deployment(&pg, "postgres://twin@localhost/plant");
    let o = twinc(&["run", &m]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stderr(&o).trim().lines().count(), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("runtime.history"), "{}", stderr(&o));
}
