//! The harness of the end-to-end MQTT tests: a deployment (model,
//! manifest, history) in a folder of its own, `twinc run` as a child
//! process, and a rumqttc client playing the plant.

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

use crate::mosquitto::{self, Mosquitto};

/// How long any one wait may take before the test fails. Far above what
/// anything needs: the tests assert what happened, never how fast.
pub(super) const DEADLINE: Duration = Duration::from_secs(60);

/// The fleet's size.
pub(super) const FLEET: usize = 100;

/// A tank: a level sensor, a state counting twin time (so a reset shows),
/// and a pump command that follows the level.
pub(super) const TANK: &str = "twin Tank {
    step 100 ms
    solver euler

    sensor level: m range 0 m .. 10 m

    state age: s = 0 s
    der(age) = 1

    actuator pump: m range 0 m .. 10 m = level
}
";

/// The tank with one more signal.
pub(super) const TANK_V2: &str = "twin Tank {
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
pub(super) const TANK_BROKEN: &str = "twin Tank {
    step 100 ms
    sensor level: m range 0 m .. 10 m
    state age: s = 0 s
    der(age) = 1 A
    actuator pump: m range 0 m .. 10 m = level
}
";

pub(super) fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Polls `f` until it gives something; fails the test after [`DEADLINE`].
pub(super) fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(x) = f() {
            return x;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub(super) fn id(i: usize) -> String {
    format!("tank-{i:03}")
}

/// A deployment in a folder of its own: the model, the manifest, the
/// history file and the broker.
pub(super) struct Deployment {
    pub(super) dir: PathBuf,
    pub(super) manifest: PathBuf,
    pub(super) db: PathBuf,
    pub(super) broker: Mosquitto,
    pub(super) runs: usize,
}

impl Deployment {
    /// Sets one up for the test `name`, checkpointing every
    /// `checkpoint_every`, or gives `None` (after saying why) when this
    /// machine has no mosquitto and the suite is not required.
    pub(super) fn new(name: &str, checkpoint_every: &str) -> Option<Deployment> {
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
    pub(super) fn run(&mut self) -> Run {
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
    pub(super) fn plant(&self, name: &str) -> Plant {
        Plant::connect(
            self.broker.port,
            &format!("plant-{name}-{}", std::process::id()),
        )
    }

    /// One query's rows on the history, or `None` while the file or its
    /// tables are not there yet.
    pub(super) fn query(&self, sql: &str) -> Option<Vec<Vec<Value>>> {
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
    pub(super) fn number(&self, sql: &str) -> f64 {
        self.query(sql)
            .and_then(|rows| rows.first()?.first()?.as_f64())
            .unwrap_or(0.0)
    }

    /// Waits until `sql` counts `n`; fails at once if it counts more
    /// (the counts only grow).
    pub(super) fn wait_count(&self, what: &str, sql: &str, n: usize) {
        let got = wait_for(what, || {
            let got = self.number(sql) as usize;
            (got >= n).then_some(got)
        });
        assert_eq!(got, n, "{what}: {sql}");
    }

    /// The twins' origin (epoch s at twin time 0), as the history keeps it.
    pub(super) fn origin(&self) -> f64 {
        self.query("SELECT value FROM meta WHERE key = 'origin'")
            .and_then(|rows| rows.first()?.first()?.as_str()?.parse().ok())
            .unwrap_or(f64::NAN)
    }

    /// `twinc history` on this deployment's manifest.
    pub(super) fn export(&self, args: &[&str]) -> String {
        let manifest = self.manifest.to_str().unwrap_or_default();
        let mut all = vec!["history", manifest];
        all.extend_from_slice(args);
        let o = crate::twinc(&all);
        assert_eq!(o.status.code(), Some(0), "{}", crate::stderr(&o));
        crate::stdout(&o)
    }

    /// Every signal row: (t, instance, age, pump), in time order. (Sensors
    /// have no column; `pump` follows `level`.)
    pub(super) fn signals(&self) -> Vec<(f64, String, f64, Option<f64>)> {
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
    pub(super) fn assert_age_is_twin_time(&self) {
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
pub(super) struct Run {
    pub(super) child: Child,
    pub(super) log: PathBuf,
}

impl Run {
    pub(super) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits for a log line holding every one of `words`.
    pub(super) fn wait_log(&mut self, words: &[&str]) {
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
    pub(super) fn kill(mut self) {
        assert!(self.child.kill().is_ok(), "cannot kill twinc");
        let status = self.child.wait();
        assert_eq!(status.ok().and_then(|s| s.signal()), Some(9));
    }

    /// Stops it with SIGTERM, as an operator would; gives its status.
    pub(super) fn stop(mut self) -> ExitStatus {
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
pub(super) struct Plant {
    pub(super) client: Client,
    pub(super) published: u64,
    pub(super) acked: Arc<AtomicU64>,
    pub(super) incoming: Receiver<(String, Value)>,
    /// Commands received so far: (twin, value in m, or null).
    pub(super) commands: Vec<(String, Value)>,
}

impl Plant {
    pub(super) fn connect(port: u16, client_id: &str) -> Plant {
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

    pub(super) fn publish(&mut self, topic: &str, payload: &str) {
        assert!(
            self.client
                .publish(topic, QoS::AtLeastOnce, false, payload.as_bytes().to_vec())
                .is_ok(),
            "cannot publish"
        );
        self.published += 1;
    }

    pub(super) fn announce(&mut self, id: &str) {
        self.publish(&format!("plant/{id}/hello"), "{}");
    }

    /// A level sample, in cm, stamped `ts`.
    pub(super) fn level(&mut self, id: &str, cm: f64, ts: f64) {
        let payload = json!({"value": cm, "ts": ts}).to_string();
        self.publish(&format!("plant/{id}/level"), &payload);
    }

    /// Waits until the broker has acknowledged everything published.
    pub(super) fn wait_acked(&self) {
        wait_for("the broker's acknowledgements", || {
            (self.acked.load(Ordering::SeqCst) >= self.published).then_some(())
        });
    }

    /// Every command received so far: (twin, value in m or null), each
    /// checked to be on its twin's topic.
    pub(super) fn commands(&mut self) -> &[(String, Value)] {
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
    pub(super) fn wait_commands(&mut self, pick: impl Fn(f64) -> bool) {
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
pub(super) fn start_fleet(d: &Deployment, run: &mut Run, plant: &mut Plant) -> Vec<f64> {
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
