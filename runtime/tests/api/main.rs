//! The HTTP API against a real server on an ephemeral port, fed by a real
//! runner replaying the pump example's telemetry into two twins (`pump-2`
//! runs on 380 V; `ambient` is left unbound, so it is never sampled).
//! Guards: the routes' shapes (RUNTIME.md), values in their units with
//! sensor quality and alarms, Prometheus text that parses, 404 and 401 as
//! JSON, what-ifs by scenario name and ad hoc that leave the live state
//! alone, bad what-if bodies naming the field, and event streams.

mod http;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use serde_json::Value;
use twin_runtime::live::Input;
use twin_runtime::live::api::{self, Server, whatif::WhatIf};
use twin_runtime::live::manifest::Manifest;
use twin_runtime::live::run::Runner;

use http::{Events, get, post, request};

fn pump_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/pump")
}

const MANIFEST: &str = r#"
model = "pump.twin"

[runtime]
mode = "replay"
api = "127.0.0.1:0"
history = "off"
checkpoint_every = "10 min"

[[source]]
name = "log"
kind = "csv"
path = "telemetry.csv"

[instances]
ids = ["pump-1", "pump-2"]
params."pump-2" = { voltage = "380 V" }

[sensors.current]
source = "log"

[sensors.speed]
source = "log"
"#;

/// A server and the runner that feeds it.
struct Stack {
    server: Server,
    runner: Runner,
}

impl Stack {
    fn addr(&self) -> SocketAddr {
        self.server.addr()
    }
}

/// Compiles the pump, sets up the runner with the API's observer and
/// starts the server; the runner has not run yet.
fn stack(text: &str, token: Option<&str>) -> Stack {
    stack_in(&pump_dir(), text, token)
}

/// [`stack`] for a `pump.twin` in `dir`.
fn stack_in(dir: &Path, text: &str, token: Option<&str>) -> Stack {
    let manifest = match Manifest::parse(text, &dir.join("api-test.toml")) {
        Ok(m) => m,
        Err(e) => panic!("{e:?}"),
    };
    let path = dir.join("pump.twin");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => panic!("{}: {e}", path.display()),
    };
    let mut sources = twin_compiler::source::Sources::new();
    let root = sources.add(path.display().to_string(), text);
    let checked = twin_compiler::check::check(&mut sources, root);
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
    let Some(twin) = checked.program.twin("Pump") else {
        panic!("no twin Pump");
    };
    let model = match twin_compiler::ir::lower::lower(&checked.program, twin) {
        Ok(m) => m,
        Err(e) => panic!("{e}"),
    };
    assert!(manifest.check_against(&model).is_empty());
    let Some(addr) = manifest.runtime.api else {
        panic!("the manifest has no api address");
    };
    let (observer, shared) = api::observe(&model);
    let runner = Runner::new(
        manifest,
        model,
        vec![Box::new(observer)],
        None,
        Arc::new(AtomicBool::new(false)),
    );
    let whatif = WhatIf::new(path);
    let server = match Server::start(api::Options {
        addr,
        token: token.map(str::to_string),
        shared,
        metrics: runner.metrics(),
        whatif,
    }) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    };
    Stack { server, runner }
}

/// A stack whose replay has run to its end.
fn replayed(token: Option<&str>) -> Stack {
    let mut s = stack(MANIFEST, token);
    s.runner.start_local_sources();
    s.runner.run();
    s
}

/// Polls `ready` until it gives a value (a request to a server that a
/// runner thread feeds); gives up, naming `what`, after many tries rather
/// than hang.
fn until<T>(what: &str, mut ready: impl FnMut() -> Option<T>) -> T {
    for _ in 0..100_000 {
        if let Some(v) = ready() {
            return v;
        }
        std::thread::yield_now();
    }
    panic!("gave up waiting for {what}");
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn health_and_the_twin_list() {
    let s = replayed(None);
    let health = get(s.addr(), "/health");
    assert_eq!(health.status, 200);
    assert_eq!(health.header("content-type"), Some("application/json"));
    let h = health.json();
    assert_eq!(h["status"], "ok");
    assert_eq!(h["twins"], 2);
    assert!(num(&h["uptime_s"]) >= 0.0);
    let twins = get(s.addr(), "/twins").json();
    let Value::Array(list) = twins else {
        panic!("not a list");
    };
    let ids: Vec<&str> = list.iter().filter_map(|t| t["id"].as_str()).collect();
    assert_eq!(ids, ["pump-1", "pump-2"]);
    for t in &list {
        assert_eq!(t["twin"], "Pump");
        // The replay's data has no epoch stamps: t is twin time, and the
        // last tick is the last row's.
        assert_eq!(num(&t["t"]), 3600.0);
    }
}

#[test]
fn a_twin_shows_values_in_units_with_quality_and_alarms() {
    let s = replayed(None);
    let one = get(s.addr(), "/twins/pump-1");
    assert_eq!(one.status, 200);
    let one = one.json();
    assert_eq!(one["id"], "pump-1");
    assert_eq!(num(&one["t"]), 3600.0);
    let signals = &one["signals"];
    // The last row: 3600,39.51,2889.5 (rpm), applied at the last tick.
    assert_eq!(signals["current"]["unit"], "A");
    assert_eq!(num(&signals["current"]["value"]), 39.51);
    assert_eq!(signals["current"]["quality"], "good");
    assert_eq!(num(&signals["current"]["age_s"]), 0.0);
    assert_eq!(signals["speed"]["unit"], "rpm");
    assert!((num(&signals["speed"]["value"]) - 2889.5).abs() < 1e-9);
    // Never sampled: its default, stale, no age.
    assert_eq!(signals["ambient"]["unit"], "degC");
    assert!((num(&signals["ambient"]["value"]) - 20.0).abs() < 1e-9);
    assert_eq!(signals["ambient"]["quality"], "stale");
    assert!(signals["ambient"]["age_s"].is_null());
    // Not a sensor: value and unit only.
    assert_eq!(signals["bearing_temp"]["unit"], "degC");
    assert!(signals["bearing_temp"].get("quality").is_none());
    assert!(num(&signals["bearing_temp"]["value"]) > 75.0);
    // The bearing ran hot in the second half hour and is still hot.
    assert_eq!(signals["overheating"]["value"], true);
    let Value::Array(alarms) = &one["alarms"] else {
        panic!("no alarm list: {one}");
    };
    assert_eq!(alarms.len(), 1);
    assert_eq!(alarms[0]["name"], "overheating");
    assert_eq!(alarms[0]["severity"], "critical");
    let since = num(&alarms[0]["since"]);
    assert!(since > 1200.0 && since < 3600.0, "since {since}");
    assert!(
        alarms[0]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("bearing at"))
    );
    // pump-2 runs on 380 V instead of 400 V: 5% less power.
    let two = get(s.addr(), "/twins/pump-2").json();
    let p1 = num(&signals["power"]["value"]);
    let p2 = num(&two["signals"]["power"]["value"]);
    assert!((p2 / p1 - 0.95).abs() < 1e-9, "{p1} W, {p2} W");
}

#[test]
fn unknown_twins_and_routes_are_404_json() {
    let s = replayed(None);
    for path in ["/twins/pump-9", "/twins/pump-9/stream", "/nowhere"] {
        let r = get(s.addr(), path);
        assert_eq!(r.status, 404, "{path}");
        assert!(r.json()["error"].is_string(), "{path}");
    }
    let r = post(s.addr(), "/twins/pump-9/whatif", r#"{"duration": "1 h"}"#);
    assert_eq!(r.status, 404);
    assert!(
        r.json()["error"]
            .as_str()
            .is_some_and(|e| e.contains("pump-9"))
    );
}

/// Parses Prometheus text: (name, labels, value) per sample; every sample
/// belongs to a family declared by `# TYPE`.
fn parse_metrics(text: &str) -> Vec<(String, String, f64)> {
    let mut families = Vec::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split(' ');
            let name = parts.next().unwrap_or_default().to_string();
            let kind = parts.next().unwrap_or_default();
            assert!(["counter", "gauge"].contains(&kind), "{line}");
            families.push(name);
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("no value: {line}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value: {line}"));
        let (name, labels) = match series.split_once('{') {
            Some((n, l)) => {
                assert!(l.ends_with('}'), "{line}");
                (n, l.trim_end_matches('}'))
            }
            None => (series, ""),
        };
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "{line}"
        );
        assert!(families.iter().any(|f| f == name), "no # TYPE for {line}");
        samples.push((name.to_string(), labels.to_string(), value));
    }
    samples
}

fn metric(samples: &[(String, String, f64)], name: &str, labels: &str) -> f64 {
    samples
        .iter()
        .find(|(n, l, _)| n == name && l == labels)
        .map(|(_, _, v)| *v)
        .unwrap_or_else(|| panic!("no {name}{{{labels}}}"))
}

#[test]
fn metrics_parse_and_count_the_run() {
    let s = replayed(None);
    let r = get(s.addr(), "/metrics");
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("text/plain; version=0.0.4"))
    );
    let m = parse_metrics(&r.body);
    // 0 s to 3600 s at 100 ms.
    assert_eq!(metric(&m, "twin_ticks_total", ""), 36001.0);
    assert_eq!(metric(&m, "twin_twins", ""), 2.0);
    // 361 rows, each for both twins; `current` is NaN in one row and out
    // of range in another, `speed` is garbled in one; every row's
    // `ambient` cell has no binding.
    let good = |sensor: &str| {
        metric(
            &m,
            "twin_samples_total",
            &format!("sensor=\"{sensor}\",quality=\"good\""),
        )
    };
    assert_eq!(good("current"), 718.0);
    assert_eq!(good("speed"), 720.0);
    let bad = |sensor: &str, why: &str| {
        metric(
            &m,
            "twin_samples_total",
            &format!("sensor=\"{sensor}\",quality=\"{why}\""),
        )
    };
    // A cell that is no number is rejected once, before it reaches a
    // twin; an out-of-range value is rejected by each twin.
    assert_eq!(bad("current", "nan"), 1.0);
    assert_eq!(bad("current", "out_of_range"), 2.0);
    assert_eq!(bad("speed", "not_a_number"), 1.0);
    assert_eq!(
        metric(
            &m,
            "twin_samples_total",
            "sensor=\"ambient\",quality=\"unbound\""
        ),
        361.0
    );
    assert!(metric(&m, "twin_alarms_raised_total", "") >= 2.0);
    assert!(metric(&m, "twin_actuations_total", "") > 0.0);
    assert!(metric(&m, "twin_checkpoints_total", "") >= 6.0);
    assert!(metric(&m, "twin_tick_lag_seconds", "") >= 0.0);
    metric(&m, "twin_compile_seconds", "");
    assert_eq!(metric(&m, "twin_whatif_total", "outcome=\"ok\""), 0.0);
}

#[test]
fn a_token_guards_every_route_but_health() {
    let s = replayed(Some("s3cret"));
    for path in [
        "/twins",
        "/twins/pump-1",
        "/metrics",
        "/twins/pump-1/stream",
    ] {
        let none = get(s.addr(), path);
        assert_eq!(none.status, 401, "{path}");
        assert_eq!(none.header("www-authenticate"), Some("Bearer"));
        assert!(none.json()["error"].is_string());
        let wrong = request(
            s.addr(),
            "GET",
            path,
            &[("Authorization", "Bearer s3cre")],
            "",
        );
        assert_eq!(wrong.status, 401, "{path}");
        let basic = request(
            s.addr(),
            "GET",
            path,
            &[("Authorization", "Basic s3cret")],
            "",
        );
        assert_eq!(basic.status, 401, "{path}");
    }
    let whatif = request(
        s.addr(),
        "POST",
        "/twins/pump-1/whatif",
        &[],
        r#"{"duration": "1 s"}"#,
    );
    assert_eq!(whatif.status, 401);
    let right = request(
        s.addr(),
        "GET",
        "/twins/pump-1",
        &[("Authorization", "Bearer s3cret")],
        "",
    );
    assert_eq!(right.status, 200);
    assert_eq!(right.json()["id"], "pump-1");
    assert_eq!(get(s.addr(), "/health").status, 200);
}

#[test]
fn whatifs_by_name_and_ad_hoc_leave_the_live_state_alone() {
    let s = replayed(None);
    let before = get(s.addr(), "/twins/pump-1").body;
    let live: Value = serde_json::from_str(&before).unwrap_or_default();
    let live_temp = num(&live["signals"]["bearing_temp"]["value"]);

    let named = post(
        s.addr(),
        "/twins/pump-1/whatif",
        r#"{"scenario": "worn_motor"}"#,
    );
    assert_eq!(named.status, 200, "{}", named.body);
    let r = named.json();
    assert_eq!(r["id"], "pump-1");
    assert_eq!(r["twin"], "Pump");
    assert_eq!(r["scenario"], "worn_motor");
    assert_eq!(num(&r["duration_s"]), 21600.0);
    assert_eq!(r["rows"], 216001);
    assert!((num(&r["start_t"]) - 3600.1).abs() < 1e-9);
    assert!(num(&r["speedup"]) > 1.0);
    let temp = &r["signals"]["bearing_temp"];
    assert_eq!(temp["unit"], "degC");
    // It starts from the live bearing, not from the model's 25 degC, and
    // cools a little at 38 A (the telemetry ended at 39.5 A).
    assert!(
        (num(&temp["max"]) - live_temp).abs() < 0.1,
        "{temp} from {live_temp}"
    );
    assert!(num(&temp["final"]) < live_temp);
    assert!(num(&temp["max"]) >= num(&temp["mean"]) && num(&temp["mean"]) >= num(&temp["min"]));
    assert_eq!(num(&r["signals"]["power"]["final"]), 400.0 * 38.0 * 0.8);
    // The alarm was raised live: it is active from the scenario's start.
    assert_eq!(r["alarms"][0]["name"], "overheating");
    assert_eq!(num(&r["alarms"][0]["raised_s"]), 0.0);
    assert!(r["clamps"].is_object());

    let ad_hoc = post(
        s.addr(),
        "/twins/pump-2/whatif",
        r#"{"duration": "10 min", "set": {"efficiency": 0.5}, "sensors": {"current": "5000 mA", "speed": 2900}}"#,
    );
    assert_eq!(ad_hoc.status, 200, "{}", ad_hoc.body);
    let r = ad_hoc.json();
    assert!(r["scenario"].is_null());
    assert_eq!(r["rows"], 6001);
    // pump-2 keeps its manifest's 380 V; efficiency and current are the
    // study's.
    let power = &r["signals"]["power"];
    assert_eq!(power["unit"], "W");
    assert!(
        (num(&power["min"]) - 380.0 * 5.0 * 0.5).abs() < 1e-9,
        "{power}"
    );
    assert!(
        (num(&power["max"]) - 380.0 * 5.0 * 0.5).abs() < 1e-9,
        "{power}"
    );
    // The bearing cools from where it was.
    let temp = &r["signals"]["bearing_temp"];
    assert!(num(&temp["final"]) < num(&temp["max"]));

    assert_eq!(get(s.addr(), "/twins/pump-1").body, before);
    let m = parse_metrics(&get(s.addr(), "/metrics").body);
    assert_eq!(metric(&m, "twin_whatif_total", "outcome=\"ok\""), 2.0);
}

#[test]
fn bad_whatif_bodies_are_400_naming_the_field() {
    let s = replayed(None);
    let cases = [
        ("{", "body"),
        (r#"{"duration": "1 h", "sensor": {}}"#, "sensor"),
        (r#"{"duration": "10 kg"}"#, "duration"),
        (r#"{"duration": "1000 d"}"#, "duration"),
        (
            r#"{"duration": "1 h", "set": {"voltage": "3 A"}}"#,
            "set.voltage",
        ),
        (r#"{"duration": "1 h", "set": {"volts": 3}}"#, "set.volts"),
        (
            r#"{"duration": "1 h", "sensors": {"current": "80 A"}}"#,
            "sensors.current",
        ),
        (
            r#"{"duration": "1 h", "sensors": {"curent": "8 A"}}"#,
            "sensors.curent",
        ),
        (r#"{"scenario": "worn_motr"}"#, "scenario"),
    ];
    for (body, field) in cases {
        let r = post(s.addr(), "/twins/pump-1/whatif", body);
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        let j = r.json();
        assert_eq!(j["field"], field, "{body}");
        let message = j["error"].as_str().unwrap_or_default();
        assert!(message.starts_with(&format!("{field}: ")), "{message}");
    }
    let hint = post(
        s.addr(),
        "/twins/pump-1/whatif",
        r#"{"scenario": "worn_motr"}"#,
    )
    .json();
    assert!(
        hint["error"]
            .as_str()
            .is_some_and(|e| e.contains("did you mean `worn_motor`"))
    );
    let m = parse_metrics(&get(s.addr(), "/metrics").body);
    assert_eq!(metric(&m, "twin_whatif_total", "outcome=\"refused\""), 10.0);
}

/// A replay fed by the test itself through the runner's channel, so the
/// test decides when ticks happen.
const FED: &str = r#"
model = "pump.twin"

[runtime]
mode = "replay"
api = "127.0.0.1:0"
history = "off"

[[source]]
name = "feed"
kind = "stdin"

[instances]
ids = ["pump-1", "pump-2"]

[sensors.current]
source = "feed"
topic = "plant/{id}/current"
path = "/value"
time = "/ts"
"#;

fn sample(id: &str, value: f64, ts: f64) -> Input {
    Input::Message {
        source: 0,
        topic: format!("plant/{id}/current"),
        payload: format!(r#"{{"value": {value}, "ts": {ts}}}"#).into_bytes(),
        arrived: ts,
    }
}

/// The fields of an event.
fn field(event: &[(String, String)], name: &str) -> Option<String> {
    event
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.clone())
}

fn tick_of(event: &[(String, String)]) -> u64 {
    field(event, "id")
        .and_then(|i| i.parse().ok())
        .unwrap_or_else(|| panic!("no tick id: {event:?}"))
}

#[test]
fn a_stream_sends_the_twin_at_each_tick_and_never_holds_up_the_runner() {
    let s = stack(FED, None);
    let addr = s.addr();
    // Before the first tick there is no twin to stream.
    assert_eq!(get(addr, "/twins/pump-2/stream").status, 404);
    let Stack { server, mut runner } = s;
    let feed = runner.sender();
    let run = std::thread::spawn(move || runner.run());
    let send = |input: Input| {
        if feed.send(input).is_err() {
            panic!("the runner stopped early");
        }
    };
    // Data up to 1 s lets the runner tick 0 s .. 0.9 s.
    send(sample("pump-2", 20.0, 0.0));
    send(sample("pump-2", 21.0, 1.0));
    until("the first tick", || {
        let twins = get(addr, "/twins").json();
        twins
            .as_array()
            .is_some_and(|t| !t.is_empty())
            .then_some(())
    });
    let mut events = Events::open(addr, "/twins/pump-2/stream");
    assert_eq!(events.status, 200);
    assert!(
        events
            .headers
            .iter()
            .any(|(n, v)| n == "content-type" && v == "text/event-stream")
    );
    // In step with the reader, every tick is streamed: one second of data
    // is ten ticks, fewer than a stream may fall behind.
    let mut expected = 10;
    for second in [2.0, 3.0] {
        send(sample("pump-2", 20.0 + second, second));
        for _ in 0..10 {
            let Some(event) = events.next() else {
                panic!("the stream ended");
            };
            assert_eq!(field(&event, "event").as_deref(), Some("tick"));
            assert_eq!(tick_of(&event), expected);
            let data: Value = match field(&event, "data").map(|d| serde_json::from_str(&d)) {
                Some(Ok(v)) => v,
                _ => panic!("{event:?}"),
            };
            assert_eq!(data["id"], "pump-2");
            let t = num(&data["t"]);
            assert!((t - expected as f64 * 0.1).abs() < 1e-9, "t = {t}");
            // The held sample is the one stamped at the whole second.
            let current = &data["signals"]["current"];
            assert_eq!(num(&current["value"]), 20.0 + (t + 1e-9).floor());
            assert_eq!(current["unit"], "A");
            assert_eq!(current["quality"], "good");
            assert_eq!(data["signals"]["bearing_temp"]["unit"], "degC");
            expected += 1;
        }
    }
    // A reader that stops reading: the runner goes on to the end of the
    // data regardless, and the reader then gets the latest ticks, having
    // skipped what it could not keep.
    for second in 4..=60 {
        send(sample("pump-2", 20.0, second as f64));
    }
    send(Input::End {
        source: 0,
        error: None,
    });
    if run.join().is_err() {
        panic!("the runner failed");
    }
    let mut last = expected - 1;
    while last < 600 {
        let Some(event) = events.next() else {
            panic!("the stream ended");
        };
        let tick = tick_of(&event);
        assert!(tick > last, "{tick} after {last}");
        last = tick;
    }
    assert_eq!(last, 600);
    drop(server);
}

#[test]
fn a_reloaded_model_shows_its_new_signals() {
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("{e}"),
    };
    let model = dir.path().join("pump.twin");
    let original = match std::fs::read_to_string(pump_dir().join("pump.twin")) {
        Ok(t) => t,
        Err(e) => panic!("{e}"),
    };
    if let Err(e) = std::fs::write(&model, &original) {
        panic!("{e}");
    }
    let Stack { server, mut runner } = stack_in(dir.path(), FED, None);
    let addr = server.addr();
    let feed = runner.sender();
    let run = std::thread::spawn(move || runner.run());
    let send = |input: Input| {
        if feed.send(input).is_err() {
            panic!("the runner stopped early");
        }
    };
    let twin_at = |t: f64| {
        until(&format!("the tick at {t} s"), || {
            let r = get(addr, "/twins/pump-1");
            let j = (r.status == 200).then(|| r.json())?;
            ((num(&j["t"]) - t).abs() < 1e-9).then_some(j)
        })
    };
    send(sample("pump-1", 20.0, 0.0));
    send(sample("pump-1", 20.0, 1.0));
    let before = twin_at(0.9);
    assert!(before["signals"].get("heat").is_none());
    // A new signal, and the pump runs on 300 V from now on.
    let edited = original
        .replace(
            "    let power: W = voltage * current * efficiency\n",
            "    let power: W = voltage * current * efficiency\n    let heat: W = 0.02 * power\n",
        )
        .replace("param voltage: V = 400 V", "param voltage: V = 300 V");
    assert_ne!(edited, original);
    if let Err(e) = std::fs::write(&model, &edited) {
        panic!("{e}");
    }
    send(Input::Reload);
    send(sample("pump-1", 20.0, 2.0));
    let after = twin_at(1.9);
    let power = num(&after["signals"]["power"]["value"]);
    assert_eq!(power, 300.0 * 20.0 * 0.9);
    assert_eq!(after["signals"]["heat"]["unit"], "W");
    assert!((num(&after["signals"]["heat"]["value"]) - 0.02 * power).abs() < 1e-9);
    // What-ifs run the model that runs now, named ones the file as it is.
    let r = post(addr, "/twins/pump-1/whatif", r#"{"duration": "10 s"}"#).json();
    assert_eq!(num(&r["signals"]["heat"]["final"]), 0.02 * power);
    let r = post(
        addr,
        "/twins/pump-1/whatif",
        r#"{"scenario": "worn_motor"}"#,
    )
    .json();
    assert_eq!(num(&r["signals"]["power"]["final"]), 300.0 * 38.0 * 0.8);
    send(Input::End {
        source: 0,
        error: None,
    });
    if run.join().is_err() {
        panic!("the runner failed");
    }
    drop(server);
}
