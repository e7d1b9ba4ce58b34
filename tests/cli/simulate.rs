//! `twinc simulate`: the report's figures against a scenario whose answer
//! is known exactly, the CSV and plot files, and its usage errors.

use super::{scratch, stderr, stdout, twinc};

/// `x` ramps up 1 per second for 10 s and back down: with Euler at 1 s,
/// exactly 0, 1, ..., 10, 9, ..., 0.
const RAMP: &str = r#"twin Ramp {
    step 1 s
    solver euler
    sensor rate: 1/s = 0 1/s
    state x = 0
    der(x) = rate
    actuator cmd: 1 range 0 .. 0.5 = x / 10
    alarm high: warning when x > 5 clear when x < 5.5
}

scenario up_and_down for Ramp {
    duration 20 s
    sensor rate = if t < 10 s then 1 1/s else -1 1/s
    report x, cmd
}

scenario everything for Ramp {
    duration 3 s
}
"#;

fn run(name: &str, extra: &[&str]) -> (Option<i32>, String, String) {
    let model = scratch(name, RAMP);
    let mut args = vec!["simulate", model.to_str().unwrap_or("")];
    args.extend_from_slice(extra);
    let o = twinc(&args);
    (o.status.code(), stdout(&o), stderr(&o))
}

#[test]
fn report_has_exact_statistics_alarms_and_clamps() {
    let (code, out, err) = run("ramp_report.twin", &["--scenario", "up_and_down"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("scenario `up_and_down` for Ramp: 20 s at 1 s steps (21 rows)"),
        "{out}"
    );
    // x: min 0, max 10, mean 100/21 = 4.762, final 0.
    let x = out
        .lines()
        .find(|l| l.trim_start().starts_with("x "))
        .unwrap_or("");
    let cells: Vec<&str> = x.split_whitespace().collect();
    assert_eq!(cells, ["x", "0", "10", "4.762", "0"], "{out}");
    // cmd = x / 10 clamped to 0.5: (1.5 + 9 × 0.5 + 1.5) / 21 = 0.3571.
    let cmd = out
        .lines()
        .find(|l| l.trim_start().starts_with("cmd "))
        .unwrap_or("");
    let cells: Vec<&str> = cmd.split_whitespace().collect();
    assert_eq!(cells, ["cmd", "0", "0.5", "0.3571", "0"], "{out}");
    // x > 5 first at t = 6 s; x < 5.5 again at t = 15 s.
    assert!(
        out.contains("high (warning): raised 1 time, active 9 s in all"),
        "{out}"
    );
    assert!(
        out.contains("raised at t = 6 s, cleared at t = 15 s  (9 s)"),
        "{out}"
    );
    // x / 10 > 0.5 at t = 6 ..= 14 s.
    assert!(
        out.contains("cmd  clamped to its range at 9 of 21 ticks"),
        "{out}"
    );
    assert!(out.contains("faster than real time"), "{out}");
}

#[test]
fn without_report_every_numeric_signal_is_summarised() {
    let (code, out, err) = run("ramp_all.twin", &["--scenario", "everything"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("alarms: none raised"), "{out}");
    for name in ["x ", "cmd "] {
        assert!(
            out.lines().any(|l| l.trim_start().starts_with(name)),
            "{name}: {out}"
        );
    }
}

#[test]
fn out_and_plot_files_are_written() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli");
    let csv = dir.join("ramp.csv");
    let svg = dir.join("ramp.svg");
    let png = dir.join("ramp.png");
    for f in [&csv, &svg, &png] {
        let _ = std::fs::remove_file(f);
    }
    let (code, out, err) = run(
        "ramp_files.twin",
        &[
            "--scenario",
            "up_and_down",
            "--out",
            csv.to_str().unwrap_or(""),
            "--plot",
            svg.to_str().unwrap_or(""),
        ],
    );
    assert_eq!(code, Some(0), "{out}{err}");
    let text = std::fs::read_to_string(&csv).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 22, "{text}");
    assert_eq!(lines[0], "t,x,cmd,high");
    assert_eq!(lines[10], "9,9,0.5,1");
    let picture = std::fs::read_to_string(&svg).unwrap_or_default();
    assert!(
        picture.starts_with("<svg"),
        "{}",
        &picture[..picture.len().min(80)]
    );
    assert!(picture.contains("time [s]"));
    assert!(picture.contains("high (warning)"));
    let (code, out, err) = run(
        "ramp_files.twin",
        &[
            "--scenario",
            "up_and_down",
            "--plot",
            png.to_str().unwrap_or(""),
        ],
    );
    assert_eq!(code, Some(0), "{out}{err}");
    let bytes = std::fs::read(&png).unwrap_or_default();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
}

#[test]
fn usage_errors_name_the_scenarios() {
    let (code, _, err) = run("ramp_usage.twin", &[]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("several scenarios; pick one with --scenario (up_and_down, everything)"),
        "{err}"
    );
    let (code, _, err) = run("ramp_usage.twin", &["--scenario", "up_and_dwn"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("did you mean `up_and_down`?"), "{err}");
    let (code, _, err) = run(
        "ramp_usage.twin",
        &["--scenario", "everything", "--plot", "x.pdf"],
    );
    assert_eq!(code, Some(2));
    assert!(err.contains("name a `.svg` or `.png` file"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}
