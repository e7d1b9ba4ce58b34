//! End to end over MQTT: the built `twinc run` as a subprocess against a
//! real mosquitto of its own, a rumqttc client playing the plant, and the
//! run observed through its SQLite history and its MQTT outputs.
//!
//! Guards:
//! - a fleet of 100 tanks is discovered from announcement topics, and bad
//!   payloads of every kind (not JSON, missing field, not a number, NaN,
//!   infinite, out of range, unknown unit, older than the held sample,
//!   duplicate, unknown twin) are each counted exactly, kept with their
//!   raw payload, and never applied — not to a sample, a signal or a
//!   command;
//! - `twinc run` killed with SIGKILL and started again resumes from its
//!   checkpoint (every twin, its state, its origin), and every QoS 1
//!   sample published while it was down arrives, exactly once;
//! - a model edited while running takes over without losing state, and a
//!   broken edit is refused while the old model runs on.
//!
//! Without mosquitto on this machine the tests print why and pass;
//! `TWIN_E2E_REQUIRED=1` (as `.ci/run` sets it) makes that a failure.
//! Every wait has a generous deadline and no assertion is about speed.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
use rusqlite::Connection;
use serde_json::{Value, json};

use super::mosquitto::{self, Mosquitto};

/// How long any one wait may take before the test fails. Far above what
/// anything needs: the tests assert what happened, never how fast.
const DEADLINE: Duration = Duration::from_secs(60);

/// The fleet's size.
const FLEET: usize = 100;

/// A tank: a level sensor, a state counting twin time (so a reset shows),
/// and a pump command that follows the level.
const TANK: &str = "twin Tank {
    step 100 ms
    solver euler

    sensor level: m range 0 m .. 10 m

    state age: s = 0 s
    der(age) = 1

    actuator pump: m range 0 m .. 10 m = level
}
";

/// The tank with one more signal.
const TANK_V2: &str = "twin Tank {
    step 100 ms
    solver euler

    sensor level: m range 0 m .. 10 m

    state age: s = 0 s
    der(age) = 1

    let doubled: m = 2 * level

    actuator pump: m range 0 m .. 10 m = level
}
";

/// An edit with a unit error.
const TANK_BROKEN: &str = "twin Tank {
    step 100 ms
    sensor level: m range 0 m .. 10 m
    state age: s = 0 s
    der(age) = 1 A
    actuator pump: m range 0 m .. 10 m = level
}
";

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Polls `f` until it gives something; fails the test after [`DEADLINE`].
fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(x) = f() {
            return x;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn id(i: usize) -> String {
    format!("tank-{i:03}")
}

/// A deployment in a folder of its own: the model, the manifest, the
/// history file and the broker.
struct Deployment {
    dir: PathBuf,
    manifest: PathBuf,
    db: PathBuf,
    broker: Mosquitto,
    runs: usize,
}

impl Deployment {
    /// Sets one up for the test `name`, checkpointing every
    /// `checkpoint_every`, or gives `None` (after saying why) when this
    /// machine has no mosquitto and the suite is not required.
    fn new(name: &str, checkpoint_every: &str) -> Option<Deployment> {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("e2e-mqtt")
            .join(name);
        let _ = std::fs::remove_dir_all(&dir);
        let broker = match Mosquitto::start(&dir) {
            Ok(b) => b,
            Err(why) if mosquitto::required() => {
                panic!("TWIN_E2E_REQUIRED=1 but no broker: {why}")
            }
            Err(why) => {
                eprintln!("skipped {name}: {why} (install mosquitto to run it)");
                return None;
            }
        };
        let _ = std::fs::write(dir.join("tank.twin"), TANK);
        // Unique per test and per run of the suite: a broker never sees
        // two runtimes with one session.
        let client_id = format!("twin-e2e-{name}-{}", std::process::id());
        let manifest = dir.join("twin.toml");
        let text = format!(
            r#"model = "tank.twin"

[runtime]
mode = "live"
api = "off"
history = "sqlite:tank.db"
decimate = "100 ms"
checkpoint_every = "{checkpoint_every}"

[[source]]
name = "plant"
kind = "mqtt"
url = "mqtt://127.0.0.1:{port}"
client_id = "{client_id}"

[instances]
discover = "plant/{{id}}/hello"

[sensors.level]
source = "plant"
topic = "plant/{{id}}/level"
path = "/value"
time = "/ts"
unit = "cm"

[actuators.pump]
sink = "plant"
topic = "plant/{{id}}/pump/set"
qos = 1
"#,
            port = broker.port
        );
        assert!(std::fs::write(&manifest, text).is_ok());
        Some(Deployment {
            db: dir.join("tank.db"),
            dir,
            manifest,
            broker,
            runs: 0,
        })
    }

    /// Starts `twinc run` on the manifest, its log in `run-N.log`.
    fn run(&mut self) -> Run {
        self.runs += 1;
        let log = self.dir.join(format!("run-{}.log", self.runs));
        let child = File::create(&log).and_then(|err| {
            Command::new(env!("CARGO_BIN_EXE_twinc"))
                .arg("run")
                .arg(&self.manifest)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(err)
                .spawn()
        });
        match child {
            Ok(child) => Run { child, log },
            Err(e) => panic!("cannot run twinc: {e}"),
        }
    }

    /// A plain client of the broker.
    fn plant(&self, name: &str) -> Plant {
        Plant::connect(
            self.broker.port,
            &format!("plant-{name}-{}", std::process::id()),
        )
    }

    /// One query's rows on the history, or `None` while the file or its
    /// tables are not there yet.
    fn query(&self, sql: &str) -> Option<Vec<Vec<Value>>> {
        if !self.db.exists() {
            return None;
        }
        let conn = Connection::open(&self.db).ok()?;
        conn.busy_timeout(Duration::from_secs(5)).ok()?;
        let mut stmt = conn.prepare(sql).ok()?;
        let n = stmt.column_count();
        let rows = stmt
            .query_map([], |row| {
                (0..n)
                    .map(|i| {
                        Ok(match row.get::<_, rusqlite::types::Value>(i)? {
                            rusqlite::types::Value::Null => Value::Null,
                            rusqlite::types::Value::Integer(x) => json!(x),
                            rusqlite::types::Value::Real(x) => json!(x),
                            rusqlite::types::Value::Text(s) => json!(s),
                            rusqlite::types::Value::Blob(b) => json!(b),
                        })
                    })
                    .collect::<rusqlite::Result<Vec<Value>>>()
            })
            .ok()?;
        rows.collect::<rusqlite::Result<Vec<_>>>().ok()
    }

    /// A single number from the history (0 while there is none).
    fn number(&self, sql: &str) -> f64 {
        self.query(sql)
            .and_then(|rows| rows.first()?.first()?.as_f64())
            .unwrap_or(0.0)
    }

    /// Waits until `sql` counts `n`; fails at once if it counts more
    /// (the counts only grow).
    fn wait_count(&self, what: &str, sql: &str, n: usize) {
        let got = wait_for(what, || {
            let got = self.number(sql) as usize;
            (got >= n).then_some(got)
        });
        assert_eq!(got, n, "{what}: {sql}");
    }

    /// The twins' origin (epoch s at twin time 0), as the history keeps it.
    fn origin(&self) -> f64 {
        self.query("SELECT value FROM meta WHERE key = 'origin'")
            .and_then(|rows| rows.first()?.first()?.as_str()?.parse().ok())
            .unwrap_or(f64::NAN)
    }

    /// `twinc history` on this deployment's manifest.
    fn export(&self, args: &[&str]) -> String {
        let manifest = self.manifest.to_str().unwrap_or_default();
        let mut all = vec!["history", manifest];
        all.extend_from_slice(args);
        let o = super::twinc(&all);
        assert_eq!(o.status.code(), Some(0), "{}", super::stderr(&o));
        super::stdout(&o)
    }

    /// Every signal row: (t, instance, age, pump), in time order. (Sensors
    /// have no column; `pump` follows `level`.)
    fn signals(&self) -> Vec<(f64, String, f64, Option<f64>)> {
        let rows = self
            .query("SELECT t, instance, age, pump FROM signals ORDER BY t, instance")
            .unwrap_or_default();
        rows.iter()
            .map(|r| {
                (
                    r[0].as_f64().unwrap_or(f64::NAN),
                    r[1].as_str().unwrap_or_default().to_string(),
                    r[2].as_f64().unwrap_or(f64::NAN),
                    r[3].as_f64(),
                )
            })
            .collect()
    }

    /// Checks that every twin's `age` grew with twin time in every
    /// recorded row since the twin was discovered: `t - age` (the epoch at
    /// which it started) never moved, so the state never went back to 0
    /// and the origin never shifted. (Epoch times in f64 are good to about
    /// 0.2 µs.)
    fn assert_age_is_twin_time(&self) {
        let rows = self.signals();
        assert!(!rows.is_empty(), "no signals recorded");
        let mut born: BTreeMap<String, f64> = BTreeMap::new();
        for (t, instance, age, _) in &rows {
            let start = *born.entry(instance.clone()).or_insert(t - age);
            assert!(
                (t - age - start).abs() < 1e-5,
                "{instance} at {t}: age {age}, but {} since it started",
                t - start
            );
        }
    }
}

/// A running `twinc run`.
struct Run {
    child: Child,
    log: PathBuf,
}

impl Run {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits for a log line holding every one of `words`.
    fn wait_log(&mut self, words: &[&str]) {
        wait_for(&format!("a log line with {words:?}"), || {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("twinc run exited ({status}):\n{}", self.log());
            }
            self.log()
                .lines()
                .any(|l| words.iter().all(|w| l.contains(w)))
                .then_some(())
        });
    }

    /// Kills it with SIGKILL: no signal handler, no flush, no checkpoint.
    fn kill(mut self) {
        assert!(self.child.kill().is_ok(), "cannot kill twinc");
        let status = self.child.wait();
        assert_eq!(status.ok().and_then(|s| s.signal()), Some(9));
    }

    /// Stops it with SIGTERM, as an operator would; gives its status.
    fn stop(mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(sent.is_ok_and(|s| s.success()), "cannot send SIGTERM");
        let status = wait_for("twinc run to stop", || self.child.try_wait().ok().flatten());
        assert!(status.success(), "{status}:\n{}", self.log());
        status
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A plain MQTT client playing the plant: publishes at QoS 1 and counts
/// the broker's acknowledgements; collects the actuator commands.
struct Plant {
    client: Client,
    published: u64,
    acked: Arc<AtomicU64>,
    incoming: Receiver<(String, Value)>,
    /// Commands received so far: (twin, value in m, or null).
    commands: Vec<(String, Value)>,
}

impl Plant {
    fn connect(port: u16, client_id: &str) -> Plant {
        let options = MqttOptions::new(client_id, "127.0.0.1", port);
        let (client, mut connection) = Client::new(options, 1024);
        let acked = Arc::new(AtomicU64::new(0));
        let (tx, incoming) = channel();
        let (up_tx, up) = channel();
        let counter = acked.clone();
        std::thread::spawn(move || {
            for event in connection.iter() {
                match event {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        let _ = up_tx.send(());
                    }
                    Ok(Event::Incoming(Packet::PubAck(_))) => {
                        counter.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let value = serde_json::from_slice(&p.payload).unwrap_or(Value::Null);
                        if tx.send((p.topic.clone(), value)).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => std::thread::sleep(Duration::from_millis(100)),
                }
            }
        });
        assert!(
            up.recv_timeout(DEADLINE).is_ok(),
            "the plant cannot connect to the broker"
        );
        let plant = Plant {
            client,
            published: 0,
            acked,
            incoming,
            commands: Vec::new(),
        };
        assert!(
            plant
                .client
                .subscribe("plant/+/pump/set", QoS::AtLeastOnce)
                .is_ok()
        );
        plant
    }

    fn publish(&mut self, topic: &str, payload: &str) {
        assert!(
            self.client
                .publish(topic, QoS::AtLeastOnce, false, payload.as_bytes().to_vec())
                .is_ok(),
            "cannot publish"
        );
        self.published += 1;
    }

    fn announce(&mut self, id: &str) {
        self.publish(&format!("plant/{id}/hello"), "{}");
    }

    /// A level sample, in cm, stamped `ts`.
    fn level(&mut self, id: &str, cm: f64, ts: f64) {
        let payload = json!({"value": cm, "ts": ts}).to_string();
        self.publish(&format!("plant/{id}/level"), &payload);
    }

    /// Waits until the broker has acknowledged everything published.
    fn wait_acked(&self) {
        wait_for("the broker's acknowledgements", || {
            (self.acked.load(Ordering::SeqCst) >= self.published).then_some(())
        });
    }

    /// Every command received so far: (twin, value in m or null), each
    /// checked to be on its twin's topic.
    fn commands(&mut self) -> &[(String, Value)] {
        for (topic, v) in self.incoming.try_iter() {
            let twin = v["twin"].as_str().unwrap_or_default().to_string();
            assert_eq!(topic, format!("plant/{twin}/pump/set"), "{v}");
            assert_eq!(v["actuator"], json!("pump"), "{v}");
            assert_eq!(v["unit"], json!("m"), "{v}");
            self.commands.push((twin, v["value"].clone()));
        }
        &self.commands
    }

    /// Waits until every twin of the fleet has been sent a command whose
    /// value `pick` takes.
    fn wait_commands(&mut self, pick: impl Fn(f64) -> bool) {
        wait_for("a command for every twin", || {
            let twins: BTreeSet<&str> = self
                .commands()
                .iter()
                .filter(|(_, v)| v.as_f64().is_some_and(&pick))
                .map(|(twin, _)| twin.as_str())
                .collect();
            (twins.len() == FLEET).then_some(())
        });
    }
}

/// Starts the fleet: announces `tank-000` until the runtime has
/// discovered it (its subscriptions are then live), then every other
/// twin, then one sample each (`100 + i` cm, stamped now). Waits until
/// all the samples are in the history; gives their stamps.
fn start_fleet(d: &Deployment, run: &mut Run, plant: &mut Plant) -> Vec<f64> {
    wait_for("the runtime to discover its first twin", || {
        plant.announce(&id(0));
        std::thread::sleep(Duration::from_millis(200));
        run.log()
            .lines()
            .any(|l| l.contains("discovered a new twin") && l.contains(&id(0)))
            .then_some(())
    });
    for i in 1..FLEET {
        plant.announce(&id(i));
    }
    let mut stamps = Vec::new();
    for i in 0..FLEET {
        let ts = now();
        plant.level(&id(i), 100.0 + i as f64, ts);
        stamps.push(ts);
    }
    d.wait_count(
        "the fleet's first samples",
        "SELECT count(*) FROM samples",
        FLEET,
    );
    stamps
}

#[test]
fn a_discovered_fleet_counts_every_bad_payload_and_applies_none() {
    let Some(mut d) = Deployment::new("bad-payloads", "1 s") else {
        return;
    };
    let mut run = d.run();
    let mut plant = d.plant("bad");
    let first = start_fleet(&d, &mut run, &mut plant);

    // Ten of each kind, each to a twin of its own (kind k to twins
    // 10k .. 10k+9), so every dead letter is told apart by its topic.
    type Payload = fn(ts: f64, held: f64) -> String;
    let kinds: [(&str, Payload); 9] = [
        ("not_json", |ts, _| format!("{{\"value\": 12, \"ts\": {ts}")),
        ("missing_field", |ts, _| format!("{{\"ts\": {ts}}}")),
        ("not_a_number", |ts, _| {
            format!("{{\"value\": \"twelve\", \"ts\": {ts}}}")
        }),
        ("nan", |ts, _| {
            format!("{{\"value\": \"NaN\", \"ts\": {ts}}}")
        }),
        ("infinite", |ts, _| {
            format!("{{\"value\": \"-inf\", \"ts\": {ts}}}")
        }),
        ("out_of_range", |ts, _| {
            format!("{{\"value\": 1500, \"ts\": {ts}}}")
        }),
        ("unknown_unit", |ts, _| {
            format!("{{\"value\": 3, \"unit\": \"furlong\", \"ts\": {ts}}}")
        }),
        // Stamped by the same serializer as the held sample, so that a
        // duplicate's time is the held one to the bit.
        ("late", |_, held| {
            json!({"value": 444, "ts": held - 5.0}).to_string()
        }),
        ("duplicate", |_, held| {
            json!({"value": 333, "ts": held}).to_string()
        }),
    ];
    let mut sent: BTreeMap<String, (String, String)> = BTreeMap::new();
    for (k, (reason, payload)) in kinds.iter().enumerate() {
        for j in 0..10 {
            let i = k * 10 + j;
            let text = payload(now(), first[i]);
            let topic = format!("plant/{}/level", id(i));
            plant.publish(&topic, &text);
            sent.insert(topic, (reason.to_string(), text));
        }
    }
    // Samples for twins that were never announced.
    for j in 0..10 {
        let topic = format!("plant/ghost-{j}/level");
        let text = json!({"value": 222, "ts": now()}).to_string();
        plant.publish(&topic, &text);
        sent.insert(topic, ("unknown_twin".to_string(), text));
    }
    // A wrong dimension is an unknown unit too.
    let topic = format!("plant/{}/level", id(95));
    let text = json!({"value": 3, "unit": "K", "ts": now()}).to_string();
    plant.publish(&topic, &text);
    sent.insert(topic, ("unknown_unit".to_string(), text));
    // Then one good sample each: 500 + i cm.
    for i in 0..FLEET {
        plant.level(&id(i), 500.0 + i as f64, now());
    }
    d.wait_count(
        "the last samples",
        "SELECT count(*) FROM samples",
        2 * FLEET,
    );
    d.wait_count(
        "the dead letters",
        "SELECT count(*) FROM rejected",
        sent.len(),
    );
    // Every twin commands its last level, on MQTT and in the history.
    plant.wait_commands(|value| value >= 5.0);
    d.wait_count(
        "every twin's last command",
        "SELECT count(DISTINCT instance) FROM commands WHERE value >= 5",
        FLEET,
    );
    assert!(run.stop().success());

    // Exactly two samples per twin, the good ones.
    let samples = d
        .query("SELECT instance, value FROM samples ORDER BY instance, t")
        .unwrap_or_default();
    assert_eq!(samples.len(), 2 * FLEET);
    for (i, pair) in samples.chunks(2).enumerate() {
        let want = [(100.0 + i as f64) / 100.0, (500.0 + i as f64) / 100.0];
        assert_eq!(pair[0][0], json!(id(i)));
        assert_eq!(pair[1][0], json!(id(i)));
        for (row, want) in pair.iter().zip(want) {
            let got = row[1].as_f64().unwrap_or(f64::NAN);
            assert!((got - want).abs() < 1e-9, "{}: {got} m", id(i));
        }
    }

    // Every dead letter, with its reason, twin, topic and raw payload.
    let rows = d
        .query("SELECT origin, reason, instance, sensor, raw FROM rejected")
        .unwrap_or_default();
    let mut by_reason: BTreeMap<String, usize> = BTreeMap::new();
    for r in &rows {
        let origin = r[0].as_str().unwrap_or_default();
        let Some((reason, raw)) = sent.get(origin) else {
            panic!("a dead letter nobody sent: {r:?}");
        };
        assert_eq!(r[1], json!(reason), "{origin}");
        assert_eq!(r[4], json!(raw), "{origin}");
        assert_eq!(r[3], json!("level"), "{origin}");
        let twin = origin.split('/').nth(1).unwrap_or_default();
        assert_eq!(r[2], json!(twin), "{origin}");
        *by_reason.entry(reason.clone()).or_default() += 1;
    }
    let mut want: BTreeMap<String, usize> = kinds
        .iter()
        .map(|(reason, _)| (reason.to_string(), 10))
        .collect();
    want.insert("unknown_twin".into(), 10);
    want.insert("unknown_unit".into(), 11);
    assert_eq!(by_reason, want);
    let export = d.export(&["--table", "rejected"]);
    assert_eq!(export.lines().count(), 1 + sent.len(), "{export}");
    assert!(export.contains(",ghost-3,level,unknown_twin,plant/ghost-3/level,"));

    // No bad value reached a twin: each twin's level (which its pump
    // follows) was only ever unset or one of its two good samples, and so
    // was every command it sent.
    // Every discovered twin ticked: rows at several ticks, its age grown.
    let ticked = d
        .query("SELECT instance, count(*), max(age) FROM signals GROUP BY instance")
        .unwrap_or_default();
    let twins: BTreeSet<String> = ticked
        .iter()
        .map(|r| r[0].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(twins, (0..FLEET).map(id).collect());
    for r in &ticked {
        assert!(r[1].as_u64().is_some_and(|n| n >= 2), "{r:?}");
        assert!(r[2].as_f64().is_some_and(|age| age > 0.0), "{r:?}");
    }
    for (t, instance, _, pump) in d.signals() {
        let i: usize = instance[5..].parse().unwrap_or(usize::MAX);
        let good = [(100.0 + i as f64) / 100.0, (500.0 + i as f64) / 100.0];
        assert!(
            pump.is_none_or(|l| good.iter().any(|g| (l - g).abs() < 1e-9)),
            "{instance} at {t}: pump {pump:?}"
        );
    }
    for (twin, value) in plant.commands().to_vec() {
        let i: usize = twin[5..].parse().unwrap_or(usize::MAX);
        let good = [(100.0 + i as f64) / 100.0, (500.0 + i as f64) / 100.0];
        assert!(
            value.is_null()
                || good
                    .iter()
                    .any(|g| (value.as_f64().unwrap_or(f64::NAN) - g).abs() < 1e-9),
            "{twin} was commanded {value}"
        );
    }
    d.assert_age_is_twin_time();
}

#[test]
fn a_killed_runtime_resumes_and_loses_no_sample() {
    // No periodic checkpoint in this run: the one the restart resumes from
    // is the one taken when the fleet was discovered.
    let Some(mut d) = Deployment::new("sigkill", "1 h") else {
        return;
    };
    let mut run = d.run();
    let mut plant = d.plant("kill");
    start_fleet(&d, &mut run, &mut plant);
    let origin = d.origin();

    // A round of samples for every twin every 20 ms, 600 + r/10 cm stamped
    // now: 25 rounds up, the kill (SIGKILL: no flush, no checkpoint), 25
    // rounds while it is down, the restart, 25 rounds after. The rounds up
    // are acknowledged and so never delivered again: only the history
    // can give them back to the twins.
    let mut round = 0;
    let mut stream = |plant: &mut Plant, rounds: usize| {
        let (from, to) = (round, round + rounds);
        for r in from..to {
            for i in 0..FLEET {
                plant.level(&id(i), 600.0 + r as f64 / 10.0, now());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        round = to;
    };
    let started = now();
    stream(&mut plant, 25);
    run.kill();
    let down_from = now();
    stream(&mut plant, 25);
    let down_to = now();
    let mut run = d.run();
    run.wait_log(&["resumed from the last checkpoint", "twins=100"]);
    stream(&mut plant, 25);
    plant.wait_acked();
    let all = format!("FROM samples WHERE t >= {started}");
    d.wait_count(
        "every sample published",
        &format!("SELECT count(*) {all}"),
        75 * FLEET,
    );
    // And each twin holds its last one (a command follows it).
    plant.wait_commands(|value| value >= 6.074);
    assert!(run.stop().success());

    // Every sample once: up, down and after. None rejected but as a
    // duplicate (a message handled, committed, and not yet acknowledged
    // when the process died comes again).
    let per_twin = d
        .query(&format!(
            "SELECT instance, count(*), count(DISTINCT t), min(value), max(value) \
             {all} GROUP BY instance"
        ))
        .unwrap_or_default();
    assert_eq!(per_twin.len(), FLEET);
    for (i, row) in per_twin.iter().enumerate() {
        assert_eq!(row[0], json!(id(i)));
        assert_eq!(row[1], json!(75), "{row:?}");
        assert_eq!(row[2], json!(75), "{row:?}");
        assert_eq!(row[3], json!(6.0), "{row:?}");
        assert_eq!(row[4], json!(6.074), "{row:?}");
    }
    let down = d.number(&format!(
        "SELECT count(*) FROM samples WHERE t > {down_from} AND t < {down_to}"
    ));
    assert_eq!(down as usize, 25 * FLEET, "published while down");
    let rejected = d
        .query("SELECT reason, count(*) FROM rejected WHERE reason != 'duplicate' GROUP BY reason")
        .unwrap_or_default();
    assert!(rejected.is_empty(), "{rejected:?}");
    // The state went on from the checkpoint, on the same clock: no twin's
    // age went back, and twin time 0 is the same instant.
    d.assert_age_is_twin_time();
    assert_eq!(d.origin().to_bits(), origin.to_bits());
    // The ticks run again after the restart saw the samples received
    // before the kill: from shortly after the first round on, no twin's
    // level (its pump) is the one the checkpoint held (1.xx m).
    let settled = started + 0.3;
    let reverted: Vec<_> = d
        .signals()
        .into_iter()
        .filter(|(t, _, _, pump)| *t >= settled && pump.is_none_or(|p| p < 6.0))
        .collect();
    assert!(
        reverted.is_empty(),
        "{} rows after {settled} hold the level from before the stream, the first: {:?}",
        reverted.len(),
        reverted.first()
    );
}

#[test]
fn an_edited_model_reloads_without_losing_state() {
    let Some(mut d) = Deployment::new("reload", "1 s") else {
        return;
    };
    let mut run = d.run();
    let mut plant = d.plant("reload");
    start_fleet(&d, &mut run, &mut plant);

    let model = d.dir.join("tank.twin");
    assert!(std::fs::write(&model, TANK_BROKEN).is_ok());
    run.wait_log(&["the edited model has errors; the running model stays"]);
    let refused_at = now();
    assert!(std::fs::write(&model, TANK_V2).is_ok());
    run.wait_log(&["model reloaded"]);
    // The history gains a column for the new signal; rows fill it.
    let reloaded_at = wait_for("a row with the new signal", || {
        d.query("SELECT min(t) FROM signals WHERE doubled IS NOT NULL")
            .and_then(|rows| rows.first()?.first()?.as_f64())
    });
    // The binding still works after the reload: one more sample each.
    for i in 0..FLEET {
        plant.level(&id(i), 700.0 + i as f64, now());
    }
    d.wait_count(
        "the samples after the reload",
        "SELECT count(*) FROM samples",
        2 * FLEET,
    );
    wait_for("the last samples' signals", || {
        let n = d.number("SELECT count(DISTINCT instance) FROM signals WHERE doubled >= 14");
        (n as usize == FLEET).then_some(())
    });
    assert!(run.stop().success());
    assert!(refused_at < reloaded_at);

    // The old model ran on through the refusal and the new one took over
    // the state: age is twin time throughout, levels were held across.
    d.assert_age_is_twin_time();
    let rows = d
        .query("SELECT t, instance, pump, doubled FROM signals ORDER BY instance, t")
        .unwrap_or_default();
    for i in 0..FLEET {
        let mine: Vec<_> = rows.iter().filter(|r| r[1] == json!(id(i))).collect();
        let held = (100.0 + i as f64) / 100.0;
        let after = (700.0 + i as f64) / 100.0;
        let mut saw_held = false;
        for r in &mine {
            let t = r[0].as_f64().unwrap_or(f64::NAN);
            // The pump follows the level.
            let level = r[2].as_f64();
            if t >= reloaded_at {
                // Held across the reload, then the new sample; the new
                // signal is computed from it.
                let l = level.unwrap_or(f64::NAN);
                assert!(
                    (l - held).abs() < 1e-9 || (l - after).abs() < 1e-9,
                    "{} at {t}: level {l}",
                    id(i)
                );
                saw_held |= (l - held).abs() < 1e-9;
                let doubled = r[3].as_f64().unwrap_or(f64::NAN);
                assert!((doubled - 2.0 * l).abs() < 1e-9, "{r:?}");
            }
        }
        assert!(
            saw_held,
            "{}: the level was not held across the reload",
            id(i)
        );
    }
}
