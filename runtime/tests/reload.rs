//! Hot reload of a live runner: an edited model takes over with the state
//! carried across by name; a broken edit is refused and the old model keeps
//! running.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use twin_runtime::live::manifest::Manifest;
use twin_runtime::live::run::Runner;
use twin_runtime::live::{Observer, Tick};

/// Records (t, x, has `y`) at every tick.
struct Trace(Arc<Mutex<Vec<(f64, f64, bool)>>>);

impl Observer for Trace {
    fn tick(&mut self, tick: &Tick<'_>) {
        let model = tick.fleet.model();
        let x = model.slot("x").map_or(f64::NAN, |s| tick.fleet.get(0, s));
        let y = model.slot("y").is_some();
        if let Ok(mut v) = self.0.lock() {
            v.push((tick.fleet.time(), x, y));
        }
    }
}

const V1: &str =
    "twin R {\n    step 10 ms\n    solver euler\n    state x = 0\n    der(x) = 1 1/s\n}\n";
const V2: &str = "twin R {\n    step 10 ms\n    solver euler\n    state x = 0\n    der(x) = 2 1/s\n    let y = 2 * x\n}\n";
const BROKEN: &str = "twin R {\n    step 10 ms\n    state x = 0\n    der(x) = 2 A\n";

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn an_edited_model_takes_over_with_its_state_and_a_broken_one_is_refused() {
    let dir = std::env::temp_dir().join(format!("twin-reload-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let model_path = dir.join("r.twin");
    std::fs::write(&model_path, V1).unwrap_or_default();
    let manifest = Manifest::parse(
        "model = \"r.twin\"\n[runtime]\napi = \"off\"\nhistory = \"off\"\n",
        &dir.join("twin.toml"),
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    let model =
        twin_runtime::live::reload::compile(&model_path, None).unwrap_or_else(|e| panic!("{e}"));
    let trace = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut runner = Runner::new(
        manifest,
        model,
        vec![Box::new(Trace(trace.clone()))],
        None,
        stop.clone(),
    );
    let metrics = runner.metrics();
    runner.watch_model();
    let handle = std::thread::spawn(move || runner.run());
    let ticks = || trace.lock().map_or(0, |v| v.len());
    wait_for("ticks", || ticks() > 20);

    std::fs::write(&model_path, BROKEN).unwrap_or_default();
    wait_for("the broken edit to be refused", || {
        metrics.reloads_failed.load(Ordering::Relaxed) == 1
    });
    let before = ticks();
    wait_for("ticks after the refusal", || ticks() > before + 5);

    std::fs::write(&model_path, V2).unwrap_or_default();
    wait_for("the reload", || {
        metrics.reloads.load(Ordering::Relaxed) == 1
    });
    let before = ticks();
    wait_for("ticks after the reload", || ticks() > before + 5);
    stop.store(true, Ordering::Relaxed);
    let _ = handle.join();

    let v = trace.lock().map(|v| v.clone()).unwrap_or_default();
    let switch = v.iter().position(|(_, _, y)| *y).unwrap_or(v.len());
    assert!(
        switch > 20 && switch < v.len() - 5,
        "switch at {switch} of {}",
        v.len()
    );
    // Before: x = t (Euler on a constant rate). After: x keeps its value and
    // grows at 2/s: no reset to 0, and every tick is on the grid.
    for w in v.windows(2) {
        let ((t0, x0, y0), (t1, x1, _)) = (w[0], w[1]);
        assert!((t1 - t0 - 0.01).abs() < 1e-9, "ticks {t0} then {t1}");
        let rate = if y0 { 2.0 } else { 1.0 };
        assert!(
            (x1 - x0 - rate * 0.01).abs() < 1e-9,
            "x {x0} -> {x1} at t = {t0}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
