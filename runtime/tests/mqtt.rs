//! MQTT in and out, against a real broker: rumqttd embedded on a free
//! loopback port, a live [`Runner`] in a thread on a small tank twin, and
//! a plain rumqttc client playing the plant.
//!
//! Guards: alarm events and actuator commands go out with RUNTIME.md's
//! payloads; every kind of bad payload is counted by reason and never
//! applied; discovery starts twins for new ids; a stop ends cleanly, even
//! with no broker or a broker that refuses the login; QoS 1 messages
//! published while the runtime is down arrive after it restarts; a message
//! the runner has not handled is not acknowledged, so it comes again.
//!
//! Waits have generous deadlines (20 s) and assert nothing about time.

use std::collections::{BTreeSet, HashMap};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rumqttc::{Client, Event, MqttOptions, Packet, Publish, QoS};
use serde_json::{Value, json};
use twin_compiler::check::check;
use twin_compiler::ir::Model;
use twin_compiler::source::Sources;
use twin_runtime::live::fleet::Fleet;
use twin_runtime::live::manifest::Manifest;
use twin_runtime::live::mqtt::{self, MqttLink};
use twin_runtime::live::run::{Metrics, Runner};
use twin_runtime::live::sources::now_epoch;
use twin_runtime::live::{Accepted, Checkpoint, Input, Observer, Tick};

/// A tank: a level sensor, a high-level alarm after 200 ms, and a pump
/// that stops while the alarm is up.
const TANK: &str = r#"
twin Tank {
    step 50 ms

    sensor level: m range 0 m .. 10 m

    alarm high: warning when level > 8 m for 200 ms
        message "level at {level}, limit 8 m"

    actuator pump_speed: rpm range 0 rpm .. 3000 rpm = if high then 0 rpm else 1500 rpm
}
"#;

const DEADLINE: Duration = Duration::from_secs(20);

fn model() -> Model {
    let mut sources = Sources::new();
    let root = sources.add("tank.twin", TANK);
    let checked = check(&mut sources, root);
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
    match twin_compiler::ir::lower::lower(&checked.program, 0) {
        Ok(m) => m,
        Err(e) => panic!("{e}"),
    }
}

/// Polls `f` until it gives something, or fails the test after
/// [`DEADLINE`].
fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(x) = f() {
            return x;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts rumqttd on a free loopback port; with `auth`, it takes only that
/// user and password. Gives the port once it accepts connections.
fn broker(auth: Option<(&str, &str)>) -> u16 {
    let port = match TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()) {
        Ok(a) => a.port(),
        Err(e) => panic!("no free port: {e}"),
    };
    let listen = SocketAddr::from(([127, 0, 0, 1], port));
    let connections = rumqttd::ConnectionSettings {
        connection_timeout_ms: 5000,
        max_payload_size: 20480,
        max_inflight_count: 100,
        auth: auth.map(|(u, p)| HashMap::from([(u.to_string(), p.to_string())])),
        external_auth: None,
        dynamic_filters: true,
    };
    let server = rumqttd::ServerSettings {
        name: format!("v4-{port}"),
        listen,
        tls: None,
        next_connection_delay_ms: 1,
        connections,
    };
    let config = rumqttd::Config {
        router: rumqttd::RouterConfig {
            max_connections: 100,
            max_outgoing_packet_count: 200,
            max_segment_size: 10 * 1024 * 1024,
            max_segment_count: 10,
            ..Default::default()
        },
        v4: Some(HashMap::from([("1".to_string(), server)])),
        ..Default::default()
    };
    std::thread::spawn(move || {
        let mut broker = rumqttd::Broker::new(config);
        if let Err(e) = broker.start() {
            eprintln!("rumqttd stopped: {e}");
        }
    });
    wait_for("the broker to listen", || {
        TcpStream::connect(listen).ok().map(|_| port)
    })
}

/// The password the tests' brokers take: the value of `PATH`, which is
/// always set, so the manifest can name it with `password_env`.
fn password() -> String {
    std::env::var("PATH").unwrap_or_default()
}

/// A manifest for the tank on `port`, with `instances` and extra source
/// settings spliced in.
fn manifest(port: u16, source: &str, instances: &str) -> Manifest {
    let text = format!(
        r#"
model = "tank.twin"

[runtime]
mode = "live"
api = "off"
history = "off"
checkpoint_every = "1 s"

[[source]]
name = "plant"
kind = "mqtt"
url = "mqtt://127.0.0.1:{port}"
{source}

[instances]
{instances}

[sensors.level]
source = "plant"
topic = "plant/{{id}}/level"
path = "/value"
time = "/ts"
unit = "cm"

[actuators.pump_speed]
sink = "plant"
topic = "plant/{{id}}/pump/set"
qos = 1

[events]
sink = "plant"
topic = "twins/{{id}}/events"
"#
    );
    match Manifest::parse(&text, Path::new("twin.toml")) {
        Ok(m) => m,
        Err(e) => panic!("{e:?}"),
    }
}

/// What the probe saw of the run.
#[derive(Default)]
struct Seen {
    ticks: u64,
    /// The fleet's ids at the last tick.
    ids: Vec<String>,
    /// Each instance's level (m) at the last tick.
    levels: Vec<f64>,
    accepted: Vec<Accepted>,
    checkpoint: Option<Checkpoint>,
    finished: bool,
}

/// An observer that records what the tests look at.
struct Probe(Arc<Mutex<Seen>>);

fn seen(s: &Mutex<Seen>) -> std::sync::MutexGuard<'_, Seen> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

impl Observer for Probe {
    fn tick(&mut self, tick: &Tick<'_>) {
        let fleet: &Fleet = tick.fleet;
        let slot = fleet.model().sensors[0].slot;
        let mut s = seen(&self.0);
        s.ticks += 1;
        s.ids = fleet.ids().to_vec();
        s.levels = (0..fleet.ids().len()).map(|i| fleet.get(i, slot)).collect();
    }
    fn accepted(&mut self, _fleet: &Fleet, sample: &Accepted) {
        seen(&self.0).accepted.push(sample.clone());
    }
    fn checkpoint(&mut self, checkpoint: &Checkpoint) {
        seen(&self.0).checkpoint = Some(checkpoint.clone());
    }
    fn finish(&mut self) {
        seen(&self.0).finished = true;
    }
}

/// A runtime running in its own thread, as `twinc run` wires it.
struct Running {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
    seen: Arc<Mutex<Seen>>,
    metrics: Arc<Metrics>,
}

impl Running {
    fn start(manifest: Manifest, resume: Option<Checkpoint>) -> Running {
        let model = model();
        let problems = manifest.check_against(&model);
        assert!(problems.is_empty(), "{problems:?}");
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (metrics_tx, metrics_rx) = channel();
        let thread = {
            let (stop, seen) = (stop.clone(), seen.clone());
            std::thread::spawn(move || {
                let mut links = match mqtt::links(&manifest) {
                    Ok(l) => l,
                    Err(e) => panic!("{e:?}"),
                };
                let mut observers: Vec<Box<dyn Observer>> = vec![Box::new(Probe(seen))];
                for link in &links {
                    if let Some(sink) = link.sink(&manifest) {
                        observers.push(Box::new(sink));
                    }
                }
                let mut runner = Runner::new(manifest, model, observers, resume, stop);
                for link in &mut links {
                    link.start(runner.sender(), runner.handled());
                }
                let _ = metrics_tx.send(runner.metrics());
                runner.run();
                for link in links {
                    link.stop();
                }
            })
        };
        let metrics = match metrics_rx.recv_timeout(DEADLINE) {
            Ok(m) => m,
            Err(e) => panic!("the runner did not start: {e}"),
        };
        Running {
            stop,
            thread,
            seen,
            metrics,
        }
    }

    /// Samples counted for `level` with `quality` (`good` or a reason).
    fn count(&self, quality: &str) -> u64 {
        let m = self
            .metrics
            .samples
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        m.iter()
            .filter(|((s, q), _)| s == "level" && *q == quality)
            .map(|(_, n)| *n)
            .sum()
    }

    /// Every count for `level` but `good`.
    fn rejections(&self) -> BTreeSet<(String, u64)> {
        let m = self
            .metrics
            .samples
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        m.iter()
            .filter(|((s, q), _)| s == "level" && *q != "good")
            .map(|((_, q), n)| (q.to_string(), *n))
            .collect()
    }

    fn ticks(&self) -> u64 {
        seen(&self.seen).ticks
    }

    /// Sets the stop flag and waits for the runner (and its links) to end;
    /// gives the last checkpoint.
    fn stop(self) -> Checkpoint {
        self.stop.store(true, Ordering::SeqCst);
        let thread = self.thread;
        wait_for("the runtime to stop", || thread.is_finished().then_some(()));
        assert!(thread.join().is_ok(), "the runtime's thread panicked");
        let s = seen(&self.seen);
        assert!(s.finished, "observers were not told the run finished");
        match &s.checkpoint {
            Some(cp) => cp.clone(),
            None => panic!("no checkpoint written"),
        }
    }
}

/// A plain MQTT client playing the plant: publishes telemetry, and
/// collects what it receives on its subscriptions.
struct Plant {
    client: Client,
    received: Receiver<Packet>,
}

impl Plant {
    fn connect(port: u16, id: &str, filters: &[&str]) -> Plant {
        let mut options = MqttOptions::new(id, "127.0.0.1", port);
        options.set_credentials("twin", password());
        let (client, mut connection) = Client::new(options, 256);
        let (tx, received) = channel();
        std::thread::spawn(move || {
            for event in connection.iter() {
                match event {
                    Ok(Event::Incoming(packet)) => {
                        if tx.send(packet).is_err() {
                            return;
                        }
                    }
                    Ok(Event::Outgoing(_)) => {}
                    Err(_) => std::thread::sleep(Duration::from_millis(100)),
                }
            }
        });
        let plant = Plant { client, received };
        plant.next("a connection", |p| matches!(p, Packet::ConnAck(_)));
        for f in filters {
            if let Err(e) = plant.client.subscribe(*f, QoS::AtLeastOnce) {
                panic!("{e}");
            }
            plant.next("a subscription", |p| matches!(p, Packet::SubAck(_)));
        }
        plant
    }

    /// The next packet that `pick` takes, skipping others.
    fn next(&self, what: &str, mut pick: impl FnMut(&Packet) -> bool) -> Packet {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.received.recv_timeout(left) {
                Ok(p) if pick(&p) => return p,
                Ok(_) => {}
                Err(_) => panic!("timed out waiting for {what}"),
            }
        }
    }

    /// The payload of the next message on `topic`, as JSON.
    fn message(&self, topic: &str) -> Value {
        let p = self.next(
            topic,
            |p| matches!(p, Packet::Publish(x) if x.topic == topic),
        );
        let Packet::Publish(Publish { payload, .. }) = p else {
            unreachable!("picked a publish")
        };
        match serde_json::from_slice(&payload) {
            Ok(v) => v,
            Err(e) => panic!("{topic}: not JSON ({e}): {payload:?}"),
        }
    }

    fn publish(&self, topic: &str, payload: impl Into<Vec<u8>>) {
        if let Err(e) = self.client.publish(topic, QoS::AtLeastOnce, false, payload) {
            panic!("{e}");
        }
    }

    /// Publishes a level in cm stamped `ts`.
    fn level(&self, id: &str, cm: f64, ts: f64) {
        self.publish(
            &format!("plant/{id}/level"),
            json!({"value": cm, "ts": ts}).to_string(),
        );
    }
}

/// Publishes a level until the runtime has counted one more good sample:
/// its subscription is live. Gives the time stamp of the newest sample it
/// accepted.
fn warm_up(plant: &Plant, run: &Running, id: &str, cm: f64) -> f64 {
    let before = run.count("good");
    let mut ts = 0.0;
    wait_for("the runtime's subscription", || {
        ts = now_epoch();
        plant.level(id, cm, ts);
        std::thread::sleep(Duration::from_millis(100));
        (run.count("good") > before).then_some(())
    });
    // Everything in flight is handled once this last one is.
    let counted = run.count("good");
    ts = now_epoch();
    plant.level(id, cm, ts);
    wait_for("the last warm-up sample", || {
        (run.count("good") > counted).then_some(())
    });
    ts
}

fn keys(v: &Value) -> BTreeSet<&str> {
    v.as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

#[test]
fn alarms_and_commands_go_out_with_the_documented_payloads() {
    let pass = password();
    let port = broker(Some(("twin", &pass)));
    let plant = Plant::connect(
        port,
        "plant-shapes",
        &["plant/+/pump/set", "twins/+/events"],
    );
    let run = Running::start(
        manifest(
            port,
            "client_id = \"twin-shapes\"\nusername = \"twin\"\npassword_env = \"PATH\"",
            "ids = [\"tank-1\"]",
        ),
        None,
    );
    // The first tick computes the pump's command.
    let first = plant.message("plant/tank-1/pump/set");
    assert_eq!(
        keys(&first),
        BTreeSet::from(["twin", "actuator", "value", "unit", "t"])
    );
    assert_eq!(first["twin"], "tank-1");
    assert_eq!(first["actuator"], "pump_speed");
    assert_eq!(first["value"].as_f64(), Some(1500.0));
    assert_eq!(first["unit"], "rpm");
    assert!(first["t"].as_f64().is_some_and(|t| t > 1.7e9), "{first}");

    warm_up(&plant, &run, "tank-1", 300.0);
    plant.level("tank-1", 900.0, now_epoch());
    let raised = plant.message("twins/tank-1/events");
    assert_eq!(
        keys(&raised),
        BTreeSet::from(["twin", "alarm", "severity", "state", "t", "message"])
    );
    assert_eq!(raised["twin"], "tank-1");
    assert_eq!(raised["alarm"], "high");
    assert_eq!(raised["severity"], "warning");
    assert_eq!(raised["state"], "raised");
    assert!(
        raised["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("level at 9")),
        "{raised}"
    );
    let stopped = plant.message("plant/tank-1/pump/set");
    assert_eq!(stopped["value"].as_f64(), Some(0.0));

    plant.level("tank-1", 500.0, now_epoch());
    let cleared = plant.message("twins/tank-1/events");
    assert_eq!(cleared["state"], "cleared");
    let restarted = plant.message("plant/tank-1/pump/set");
    assert_eq!(restarted["value"].as_f64(), Some(1500.0));
    run.stop();
}

#[test]
fn bad_payloads_are_counted_by_reason_and_never_applied() {
    let pass = password();
    let port = broker(Some(("twin", &pass)));
    let plant = Plant::connect(port, "plant-bad", &[]);
    let run = Running::start(
        manifest(
            port,
            "client_id = \"twin-bad\"\nusername = \"twin\"\npassword_env = \"PATH\"",
            "ids = [\"tank-1\"]",
        ),
        None,
    );
    let held = warm_up(&plant, &run, "tank-1", 300.0);
    let level_of = |run: &Running| seen(&run.seen).levels.first().copied();
    let before = wait_for("the warm-up level to apply", || {
        level_of(&run).filter(|l| (l - 3.0).abs() < 1e-9)
    });
    let good = run.count("good");
    let topic = "plant/tank-1/level";
    let bad = [
        ("not_json", "{\"value\": 3".to_string()),
        ("missing_field", json!({"ts": held + 1.0}).to_string()),
        (
            "not_a_number",
            json!({"value": "abc", "ts": held + 2.0}).to_string(),
        ),
        ("nan", json!({"value": "NaN", "ts": held + 3.0}).to_string()),
        (
            "out_of_range",
            json!({"value": 4200, "ts": held + 4.0}).to_string(),
        ),
        (
            "unknown_unit",
            json!({"value": 1, "unit": "furlong", "ts": held + 5.0}).to_string(),
        ),
        ("late", json!({"value": 700, "ts": held - 10.0}).to_string()),
        ("duplicate", json!({"value": 700, "ts": held}).to_string()),
    ];
    for (_, payload) in &bad {
        plant.publish(topic, payload.as_str());
    }
    let expected: BTreeSet<(String, u64)> = bad.iter().map(|(r, _)| (r.to_string(), 1)).collect();
    wait_for("every rejection to be counted", || {
        (run.rejections() == expected).then_some(())
    });
    // A few more ticks: a rejected sample would have been applied by now.
    let ticks = run.ticks();
    wait_for("three more ticks", || {
        (run.ticks() >= ticks + 3).then_some(())
    });
    assert_eq!(level_of(&run).map(f64::to_bits), Some(before.to_bits()));
    assert_eq!(run.count("good"), good);
    run.stop();
}

#[test]
fn discovery_starts_a_twin_for_each_new_id() {
    let port = broker(None);
    let plant = Plant::connect(port, "plant-discovery", &[]);
    let run = Running::start(
        manifest(
            port,
            "client_id = \"twin-discovery\"",
            "discover = \"plant/{id}/hello\"",
        ),
        None,
    );
    assert!(seen(&run.seen).ids.is_empty());
    let ids = |run: &Running| seen(&run.seen).ids.clone();
    // Announce until the subscription is live.
    wait_for("tank-7 to be discovered", || {
        plant.publish("plant/tank-7/hello", "{}");
        std::thread::sleep(Duration::from_millis(100));
        ids(&run).contains(&"tank-7".to_string()).then_some(())
    });
    // Telemetry for an id nobody announced is not a twin.
    plant.level("tank-9", 100.0, now_epoch());
    wait_for("the unknown twin's rejection", || {
        (run.count("unknown_twin") == 1).then_some(())
    });
    plant.publish("plant/tank-9/hello", "{}");
    plant.level("tank-9", 200.0, now_epoch());
    wait_for("tank-9's sample", || (run.count("good") == 1).then_some(()));
    // The probe sees the fleet at ticks; the sample is counted at once.
    wait_for("a tick with tank-9", || {
        (ids(&run).len() == 2).then_some(())
    });
    assert_eq!(ids(&run), ["tank-7", "tank-9"]);
    let accepted = seen(&run.seen).accepted.clone();
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0].instance, 1);
    assert!((accepted[0].value - 2.0).abs() < 1e-12);
    // Announcements are not telemetry: nothing was counted as unbound.
    assert_eq!(run.count("unbound"), 0);
    run.stop();
}

#[test]
fn messages_published_while_the_runtime_is_down_arrive_after_a_restart() {
    let port = broker(None);
    let plant = Plant::connect(port, "plant-restart", &[]);
    let settings = "client_id = \"twin-restart\"";
    let ids = "ids = [\"tank-1\"]";
    let first = Running::start(manifest(port, settings, ids), None);
    let held = warm_up(&plant, &first, "tank-1", 300.0);
    let checkpoint = first.stop();

    // The broker keeps the session: these wait for the twin.
    let sent = 40;
    for k in 0..sent {
        plant.level(
            "tank-1",
            100.0 + f64::from(k),
            held + 1.0 + f64::from(k) * 0.01,
        );
    }
    let mut acked = 0;
    plant.next("the broker to take every message", |p| {
        acked += u32::from(matches!(p, Packet::PubAck(_)));
        acked == sent
    });

    let second = Running::start(manifest(port, settings, ids), Some(checkpoint));
    wait_for("every queued message", || {
        (second.count("good") >= u64::from(sent)).then_some(())
    });
    let values: Vec<f64> = seen(&second.seen)
        .accepted
        .iter()
        .map(|a| (a.value * 100.0).round())
        .collect();
    let expected: Vec<f64> = (0..sent).map(|k| 100.0 + f64::from(k)).collect();
    assert_eq!(values, expected);
    second.stop();
}

#[test]
fn a_message_the_runner_has_not_handled_is_delivered_again() {
    let port = broker(None);
    let plant = Plant::connect(port, "plant-unhandled", &[]);
    let settings = "client_id = \"twin-unhandled\"";
    let ids = "ids = [\"tank-1\"]";
    // Establish the session (and its subscription) with a real run.
    let first = Running::start(manifest(port, settings, ids), None);
    let held = warm_up(&plant, &first, "tank-1", 300.0);
    let checkpoint = first.stop();

    // A link whose runner takes messages but handles only the first two.
    let m = manifest(port, settings, ids);
    let mut link = match MqttLink::new(&m, 0) {
        Ok(l) => l,
        Err(e) => panic!("{e}"),
    };
    let (tx, rx) = channel::<Input>();
    let handled: Arc<[AtomicU64]> = Arc::from([AtomicU64::new(0)]);
    link.start(tx, handled.clone());
    for k in 0..5 {
        plant.level("tank-1", 100.0 + f64::from(k), held + 1.0 + f64::from(k));
    }
    let mut got = Vec::new();
    wait_for("five messages handed over", || {
        got.extend(rx.try_iter());
        (got.len() == 5).then_some(())
    });
    handled[0].store(2, Ordering::Release);
    link.stop();
    drop(rx);

    let second = Running::start(manifest(port, settings, ids), Some(checkpoint));
    wait_for("the three unhandled messages", || {
        (second.count("good") >= 3).then_some(())
    });
    let values: Vec<f64> = seen(&second.seen)
        .accepted
        .iter()
        .map(|a| (a.value * 100.0).round())
        .collect();
    assert_eq!(values, [102.0, 103.0, 104.0]);
    second.stop();
}

#[test]
fn no_broker_or_a_refused_login_never_stops_the_twin() {
    // Nothing listens on this port.
    let closed = match TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()) {
        Ok(a) => a.port(),
        Err(e) => panic!("no free port: {e}"),
    };
    let pass = password();
    let strict = broker(Some(("twin", &pass)));
    for (port, settings) in [
        (closed, "client_id = \"twin-nobroker\""),
        (
            strict,
            "client_id = \"twin-refused\"\nusername = \"intruder\"\npassword_env = \"PATH\"",
        ),
    ] {
        let run = Running::start(manifest(port, settings, "ids = [\"tank-1\"]"), None);
        wait_for("ticks without a broker", || {
            (run.ticks() >= 10).then_some(())
        });
        run.stop();
    }
}
