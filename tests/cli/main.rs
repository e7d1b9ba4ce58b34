//! End-to-end tests of `twinc`: the built binary run as a user runs it,
//! checking exit statuses, stdout and stderr of `check`, `sim`, `test` and
//! `simulate` (in [`simulate`]), `run`'s history and `history` (in
//! [`history`]; with PostgreSQL in [`postgres`]), `run`'s HTTP API (in
//! [`run_api`]), `run` against a real MQTT broker (in [`e2e_mqtt`], with
//! the broker from [`mosquitto`]), `lsp` (in [`lsp`]), and that every
//! bundled example checks and simulates.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod e2e_mqtt;
mod history;
mod lsp;
mod mosquitto;
mod postgres;
mod run_api;
mod simulate;

fn twinc(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_twinc"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output();
    match out {
        Ok(o) => o,
        Err(e) => panic!("cannot run twinc: {e}"),
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A scratch file under the target directory, unique per test.
fn scratch(name: &str, text: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli");
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(name);
    let _ = std::fs::write(&path, text);
    path
}

fn rows(csv: &str) -> Vec<Vec<String>> {
    csv.lines()
        .map(|l| l.split(',').map(String::from).collect())
        .collect()
}

const DECAY: &str = "twin Decay {\n    step 100 ms\n    param tau: s = 2 s\n    state x = 10\n    der(x) = -x / tau\n}\n";

#[test]
fn check_exit_statuses() {
    let good = scratch("good.twin", DECAY);
    let bad = scratch("bad.twin", "twin B {\n    let a = 1 m + 1 s\n}\n");
    assert_eq!(
        twinc(&["check", good.to_str().unwrap_or("")]).status.code(),
        Some(0)
    );
    let o = twinc(&["check", "--color", "never", bad.to_str().unwrap_or("")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("unit-mismatch"), "{}", stderr(&o));
    let o = twinc(&["check", "does/not/exist.twin"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
    assert_eq!(
        twinc(&["check", "--color", "sometimes", good.to_str().unwrap_or("")])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn check_json_is_an_array_with_positions() {
    let bad = scratch("json.twin", "twin B {\n    let a = 1 m + 1 s\n}\n");
    let o = twinc(&["check", "--format", "json", bad.to_str().unwrap_or("")]);
    let text = stdout(&o);
    assert!(text.trim_start().starts_with('['), "{text}");
    for key in [
        "\"name\": \"unit-mismatch\"",
        "\"code\": \"E0004\"",
        "\"line\": 2",
        "\"column\": 13",
        "\"end_line\"",
        "\"end_column\"",
        "\"severity\": \"error\"",
    ] {
        assert!(text.contains(key), "missing {key} in {text}");
    }
}

#[test]
fn check_walks_folders() {
    let o = twinc(&["check", "stdlib", "examples"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn sim_writes_rows_on_the_grid() {
    let model = scratch("decay.twin", DECAY);
    let o = twinc(&["sim", model.to_str().unwrap_or(""), "--until", "1s"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = rows(&stdout(&o));
    assert_eq!(r[0], vec!["t", "x"]);
    assert_eq!(r.len(), 12);
    assert_eq!(r[4][0], "0.3");
    let x: f64 = r[11][1].parse().unwrap_or(f64::NAN);
    assert!((x - 10.0 * (-0.5f64).exp()).abs() < 1e-6, "{x}");
}

#[test]
fn sim_set_takes_units_and_rejects_unknown_params() {
    let model = scratch("decay_set.twin", DECAY);
    let m = model.to_str().unwrap_or("");
    let plain = stdout(&twinc(&["sim", m, "--until", "1s", "--set", "tau=4"]));
    let with_unit = stdout(&twinc(&["sim", m, "--until", "1s", "--set", "tau=4000ms"]));
    assert_eq!(plain, with_unit);
    let o = twinc(&["sim", m, "--set", "tua=4"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("did you mean `tau`"), "{}", stderr(&o));
    let o = twinc(&["sim", m, "--set", "tau=4 m"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("time"), "{}", stderr(&o));
}

#[test]
fn sim_rejects_bad_samples_and_keeps_going() {
    let model = scratch(
        "gauge.twin",
        "twin Gauge {\n    sensor p: bar range 0 bar .. 10 bar\n    let reading: bar = p\n}\n",
    );
    let data = scratch("gauge.csv", "t,p\n0,2\n1,NaN\n2,15\n3,abc\n4,3\n4,5\n");
    let o = twinc(&[
        "sim",
        model.to_str().unwrap_or(""),
        "--inputs",
        data.to_str().unwrap_or(""),
        "--until",
        "5s",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let values: Vec<String> = rows(&stdout(&o))
        .iter()
        .skip(1)
        .map(|r| r[1].clone())
        .collect();
    assert_eq!(values, ["2", "2", "2", "2", "3", "3"]);
    let err = stderr(&o);
    for reason in ["(NaN)", "(out of range)", "(not a number)", "(duplicate)"] {
        assert!(err.contains(reason), "no {reason} in {err}");
    }
}

#[test]
fn sim_input_units_convert_at_the_boundary() {
    let model = scratch(
        "amps.twin",
        "twin Amps {\n    sensor i: A\n    let doubled: A = 2 * i\n}\n",
    );
    let data = scratch("amps.csv", "t,i[mA]\n0,1500\n");
    let o = twinc(&[
        "sim",
        model.to_str().unwrap_or(""),
        "--inputs",
        data.to_str().unwrap_or(""),
        "--until",
        "0s",
    ]);
    assert_eq!(rows(&stdout(&o))[1], vec!["0", "3"], "{}", stderr(&o));
    let wrong = scratch("amps_wrong.csv", "t,i[bar]\n0,1\n");
    let o = twinc(&[
        "sim",
        model.to_str().unwrap_or(""),
        "--inputs",
        wrong.to_str().unwrap_or(""),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let unknown = scratch("amps_unknown.csv", "t,j\n0,1\n");
    let o = twinc(&[
        "sim",
        model.to_str().unwrap_or(""),
        "--inputs",
        unknown.to_str().unwrap_or(""),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not a sensor"), "{}", stderr(&o));
}

#[test]
fn sim_usage_errors_are_one_line() {
    let model = scratch("decay_usage.twin", DECAY);
    let m = model.to_str().unwrap_or("");
    for args in [
        vec!["sim", m, "--until", "5 parsecs"],
        vec!["sim", m, "--dt", "0"],
        vec!["sim", m, "--inputs", "missing.csv"],
        vec!["sim", "missing.twin"],
        vec!["sim", m, "--twin", "Nope"],
    ] {
        let o = twinc(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert_eq!(
            stderr(&o).trim().lines().count(),
            1,
            "{args:?}: {}",
            stderr(&o)
        );
    }
    let bad = scratch("sim_bad.twin", "twin B {\n    let a = 1 m + 1 s\n}\n");
    assert_eq!(
        twinc(&["sim", bad.to_str().unwrap_or("")]).status.code(),
        Some(1)
    );
}

#[test]
fn sim_quiet_stats_and_out() {
    let model = scratch("decay_stats.twin", DECAY);
    let m = model.to_str().unwrap_or("");
    let o = twinc(&["sim", m, "--until", "10s", "--quiet", "--stats"]);
    assert!(stdout(&o).is_empty());
    let stats = stderr(&o);
    assert!(stats.trim_end().ends_with("ticks/s"), "{stats}");
    assert!(stats.contains("101 ticks"), "{stats}");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli/decay_out.csv");
    let o = twinc(&[
        "sim",
        m,
        "--until",
        "1s",
        "--out",
        out.to_str().unwrap_or(""),
    ]);
    assert!(stdout(&o).is_empty());
    assert_eq!(
        std::fs::read_to_string(&out)
            .map(|s| s.lines().count())
            .unwrap_or(0),
        12
    );
}

#[test]
fn solvers_differ_and_engines_agree() {
    let model = scratch("decay_solvers.twin", DECAY);
    let m = model.to_str().unwrap_or("");
    let euler = stdout(&twinc(&["sim", m, "--until", "2s", "--solver", "euler"]));
    let rk4 = stdout(&twinc(&["sim", m, "--until", "2s", "--solver", "rk4"]));
    let dopri = stdout(&twinc(&["sim", m, "--until", "2s", "--solver", "dopri5"]));
    assert_ne!(euler, rk4);
    assert_ne!(rk4, dopri);
    for solver in ["euler", "rk4", "dopri5"] {
        let jit = stdout(&twinc(&[
            "sim", m, "--until", "2s", "--solver", solver, "--engine", "jit",
        ]));
        let interp = stdout(&twinc(&[
            "sim", m, "--until", "2s", "--solver", solver, "--engine", "interp",
        ]));
        assert_eq!(jit, interp, "{solver}");
    }
}

/// Every bundled example checks; a single-twin model simulates over its
/// telemetry; every scenario runs (for at most an hour of twin time, to
/// keep the suite quick in debug builds); every manifest replays.
#[test]
fn examples_check_and_run() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut ran = 0;
    for entry in std::fs::read_dir(&examples).into_iter().flatten().flatten() {
        let dir = entry.path();
        for model in std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
        {
            if model.extension().is_none_or(|x| x != "twin") {
                continue;
            }
            let m = model.to_str().unwrap_or("");
            assert_eq!(twinc(&["check", m]).status.code(), Some(0), "{m}");
            let text = std::fs::read_to_string(&model).unwrap_or_default();
            let twins = text.lines().filter(|l| l.starts_with("twin ")).count();
            if twins == 1 {
                let telemetry = dir.join("telemetry.csv");
                let mut args = vec!["sim", m, "--quiet"];
                let t = telemetry.to_str().unwrap_or("").to_string();
                if telemetry.exists() {
                    args.extend(["--inputs", &t]);
                }
                let o = twinc(&args);
                assert_eq!(o.status.code(), Some(0), "{m}: {}", stderr(&o));
            }
            for scenario in text.lines().filter_map(|l| l.strip_prefix("scenario ")) {
                let name = scenario.split_whitespace().next().unwrap_or("");
                let o = twinc(&["simulate", m, "--scenario", name, "--duration", "1h"]);
                assert_eq!(o.status.code(), Some(0), "{m} {name}: {}", stderr(&o));
                assert!(
                    stdout(&o).contains("faster than real time"),
                    "{}",
                    stdout(&o)
                );
            }
            ran += 1;
        }
        let manifest = dir.join("twin.toml");
        if manifest.exists() {
            let o = twinc(&["run", manifest.to_str().unwrap_or("")]);
            assert_eq!(
                o.status.code(),
                Some(0),
                "{}: {}",
                manifest.display(),
                stderr(&o)
            );
        }
    }
    assert!(ran > 0);
}

#[test]
fn pump_example_raises_its_alarm_and_slows_down() {
    let o = twinc(&[
        "sim",
        "examples/pump/pump.twin",
        "--inputs",
        "examples/pump/telemetry.csv",
        "--dt",
        "1s",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = rows(&stdout(&o));
    let col = |name: &str| r[0].iter().position(|h| h == name).unwrap_or(usize::MAX);
    let (alarm, setpoint, t) = (col("overheating"), col("speed_setpoint"), col("t"));
    let raised = r
        .iter()
        .skip(1)
        .find(|row| row[alarm] == "1")
        .map(|row| row[t].clone());
    assert_eq!(raised.as_deref(), Some("1820"));
    let last: f64 = r[r.len() - 1][setpoint].parse().unwrap_or(0.0);
    assert!((2300.0..2330.0).contains(&last), "{last}");
    let err = stderr(&o);
    assert!(
        err.contains("rejected 1 sample of `current` (out of range): line 182"),
        "{err}"
    );
}

const TANK: &str = r#"twin Tank {
    sensor inflow: L/s = 0 L/s
    param outflow: L/s = 1 L/s
    state volume: L = 100 L
    der(volume) = inflow - outflow
    alarm empty: critical when volume < 10 L
}

test "drains" for Tank {
    run 95 s
    expect eventually empty within 95 s
}

test "never drops below half" for Tank {
    run 2 min
    expect always volume > 50 L
}
"#;

#[test]
fn test_runner_reports_time_and_values_of_a_failure() {
    let model = scratch("tank_tests.twin", TANK);
    let o = twinc(&["test", model.to_str().unwrap_or("")]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(out.contains("ok    drains"), "{out}");
    assert!(out.contains("FAIL  never drops below half"), "{out}");
    // Volume falls 1 L/s from 100 L: the first tick at or below 50 L is t = 50 s.
    assert!(
        out.contains("false at t = 50 s: volume = 49.99999"),
        "{out}"
    );
    assert!(out.contains("expect always volume > 50 L"), "{out}");
    assert!(out.trim_end().ends_with("1 passed, 1 failed"), "{out}");
    let o = twinc(&["test", "--filter", "drains", model.to_str().unwrap_or("")]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("1 passed, 0 failed"), "{}", stdout(&o));
}

#[test]
fn test_runner_names_a_missing_csv_file() {
    let model = scratch(
        "tank_csv.twin",
        &format!(
            "{TANK}\ntest \"replay\" for Tank {{\n    sensor inflow = csv(\"no_such_file.csv\", column: \"inflow\")\n    run 10 s\n    expect volume > 0 L\n}}\n"
        ),
    );
    let o = twinc(&["test", "--filter", "replay", model.to_str().unwrap_or("")]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(
        out.contains("cannot read") && out.contains("no_such_file.csv") && out.contains("inflow"),
        "{out}"
    );
}

#[test]
fn example_tests_pass() {
    let o = twinc(&["test", "examples"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains(" passed, 0 failed"), "{}", stdout(&o));
}

#[test]
fn fmt_rewrites_checks_and_reads_stdin() {
    let messy = scratch("fmt_messy.twin", "twin T{\nstate x=0\n  der(x)=-x/1 s\n}\n");
    let path = messy.to_str().unwrap_or("");
    let o = twinc(&["fmt", "--check", path]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("fmt_messy.twin:1: not formatted"),
        "{}",
        stdout(&o)
    );
    let o = twinc(&["fmt", path]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = std::fs::read_to_string(&messy).unwrap_or_default();
    assert_eq!(
        text,
        "twin T {\n    state x = 0\n    der(x) = -x / 1 s\n}\n"
    );
    assert_eq!(twinc(&["fmt", "--check", path]).status.code(), Some(0));
    let broken = scratch("fmt_broken.twin", "twin T {\n    let = 1\n}\n");
    let o = twinc(&["fmt", broken.to_str().unwrap_or("")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("syntax-error"), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(&broken).unwrap_or_default(),
        "twin T {\n    let = 1\n}\n",
        "a file with errors is left alone"
    );
    let mut child = match Command::new(env!("CARGO_BIN_EXE_twinc"))
        .args(["fmt", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => panic!("cannot run twinc: {e}"),
    };
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write;
        let _ = stdin.write_all(b"twin T{\nstate x=0\n}\n");
    }
    let o = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stdout(&o), "twin T {\n    state x = 0\n}\n");
}

#[test]
fn int_and_bool_sensors_reject_values_of_another_type() {
    let model = scratch(
        "typed_sensors.twin",
        "twin T {\n    sensor count: Int = 0\n    sensor door: Bool = false\n    let n = count\n    let open = door\n}\n",
    );
    let inputs = scratch("typed_sensors.csv", "t,count,door\n0,3,1\n1,5.5,2\n2,4,0\n");
    let o = twinc(&[
        "sim",
        model.to_str().unwrap_or(""),
        "--inputs",
        inputs.to_str().unwrap_or(""),
        "--until",
        "2s",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        rows(&stdout(&o))[1..],
        [["0", "3", "1"], ["1", "3", "1"], ["2", "4", "0"]]
    );
    let err = stderr(&o);
    assert!(
        err.contains("rejected 1 sample of `count` (out of range): line 3"),
        "{err}"
    );
    assert!(
        err.contains("rejected 1 sample of `door` (out of range): line 3"),
        "{err}"
    );
}

#[test]
fn tests_drive_the_sensors_of_instances() {
    let model = scratch(
        "pack_tests.twin",
        r#"component Cell(capacity: A*h) {
    sensor current: A range -100 A .. 100 A
    state charge: A*h = capacity
    der(charge) = -current
    out soc: 1 = charge / capacity
}

twin Module {
    cell = Cell(capacity: 10 A*h)
    let soc = cell.soc
}

twin Pack {
    a = Cell(capacity: 10 A*h)
    m = Module()
    let low = min(a.soc, m.soc)
}

test "the nested cell drains at its own rate" for Pack {
    sensor a.current = 1 A
    sensor m.cell.current = 5 A
    run 2 h
    expect always low >= 0.5
}
"#,
    );
    let o = twinc(&["test", model.to_str().unwrap_or("")]);
    let out = stdout(&o);
    // 5 A out of 10 A*h: half at 1 h, so the first tick below is t = 3601 s,
    // and it is the nested cell's state that got there.
    assert!(out.contains("false at t = 3601 s"), "{out}");
    assert!(out.trim_end().ends_with("0 passed, 1 failed"), "{out}");
}
