//! The production runtime's MQTT load benchmark (issue 7), against a
//! private mosquitto started for the run.
//!
//! Measures, in one run against one broker:
//! - **ingest**: M telemetry messages (100 twins round robin, JSON with a
//!   source timestamp), published as fast as the broker takes them at
//!   QoS 0 and at QoS 1, received (a) by a *null subscriber* — a plain
//!   rumqttc client that only counts — and (b) by the runtime, wired as
//!   `twinc run` wires it (persistent session, acknowledgements after
//!   handling, SQLite history, a fleet ticking live), counted by its
//!   `handled` counter. Each is the median of three trials, alternated;
//!   the ratio runtime / null is the figure of merit;
//! - **latency**: at half the runtime's QoS 1 ingest rate, paced, the time
//!   from publishing a sample to receiving the actuator command that
//!   follows it (`actuator valve = level`, step 1 ms) on its topic: p50, p99,
//!   p99.9 and the worst, with the commands at QoS 1 (and, at half the
//!   rate, at QoS 0 too); lower rates show where the latency comes from.
//!   A command goes out when the valve's value changes, so the share of
//!   samples that cause one is set by how often the level changes: in the
//!   *every* rows each sample carries a new level, so there are as many
//!   commands as samples (the broker then carries twice the ingest test's
//!   traffic); in the *1 in N* rows a twin's level changes on one sample in
//!   N and the others repeat it, which is closer to a plant, where
//!   telemetry is many times the commands. Latency is measured on the
//!   samples that change the level.
//!
//! `cargo bench --bench mqtt` (`TWIN_BENCH_MESSAGES` changes M, default
//! 100,000; `TWIN_BENCH_RATE=1000,5000` measures only the latency, at
//! those rates, and `TWIN_BENCH_EVERY=1,10` only those shares of commanding
//! samples). Without mosquitto it prints why and exits 0. Figures go
//! to stdout; BENCHMARKS.md keeps them. With `--features latency-trace`
//! each latency row is preceded by its breakdown hop by hop (publisher to
//! runtime, inside the runtime, runtime to subscriber), from timestamps the
//! runtime takes only with that feature.

/// The allocator `twinc` uses, so the runtime here is the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::channel;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rumqttc::{Client, Connection, Event, MqttOptions, NetworkOptions, Packet, QoS};
use twin_runtime::live::Observer;
use twin_runtime::live::history::SqliteHistory;
use twin_runtime::live::manifest::Manifest;
use twin_runtime::live::mqtt;
use twin_runtime::live::run::Runner;
use twin_runtime::live::sources::now_epoch;
use twin_runtime::live::trace::{self, Mark, Stage};

#[path = "../tests/cli/mosquitto.rs"]
#[allow(dead_code)]
mod mosquitto;

/// Twins the messages are spread over.
const TWINS: usize = 100;

/// A meter: a level, a smoothed level with state of its own, an alarm
/// that never fires. What a typical twin does per sample, and no commands.
const METER: &str = "twin Meter {
    step 10 ms
    sensor level: m range 0 m .. 1000 m
    state smooth: m = 0 m
    der(smooth) = (level - smooth) / 1 s
    alarm high: warning when smooth > 999 m
}
";

/// A follower: the command is the level, at the next tick.
const FOLLOWER: &str = "twin Follower {
    step 1 ms
    sensor level: m
    actuator valve: m = level
}
";

/// How long a receiver may go quiet before a trial is over.
const QUIET: Duration = Duration::from_secs(3);

fn main() {
    // The runtime's warnings (dropped publications, say) on stderr.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    // `cargo bench` passes `--bench`; a filter argument is not used.
    let dir = std::env::temp_dir().join(format!("twin-bench-mqtt-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let broker = match mosquitto::Mosquitto::start(&dir) {
        Ok(b) => b,
        Err(why) => {
            println!("mqtt benchmark skipped: {why}");
            return;
        }
    };
    let messages: usize = std::env::var("TWIN_BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    println!(
        "mosquitto on 127.0.0.1:{}, {messages} messages over {TWINS} twins",
        broker.port
    );
    let mut trial = 0;
    let mut ingest_qos1 = 0.0;
    let only_latency = std::env::var("TWIN_BENCH_RATE").is_ok();
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce] {
        if only_latency {
            break;
        }
        let mut null = Vec::new();
        let mut runtime = Vec::new();
        for _ in 0..3 {
            trial += 1;
            null.push(null_subscriber(broker.port, messages, qos, trial));
            trial += 1;
            runtime.push(runtime_ingest(&dir, broker.port, messages, qos, trial));
        }
        let (n, r) = (median(&null), median(&runtime));
        println!(
            "ingest {qos:?}: null subscriber {} msg/s, runtime {} msg/s, ratio {:.2}",
            n.0 as u64,
            r.0 as u64,
            r.0 / n.0
        );
        println!(
            "  null trials: {}\n  runtime trials: {}",
            show(&null),
            show(&runtime)
        );
        if qos == QoS::AtLeastOnce {
            ingest_qos1 = r.0;
        }
    }
    // Half the ingest rate is the target's; the lower rates show where
    // the latency comes from.
    let rates: Vec<f64> = match std::env::var("TWIN_BENCH_RATE") {
        Ok(v) => v.split(',').filter_map(|r| r.trim().parse().ok()).collect(),
        Err(_) => vec![1000.0, 2000.0, 5000.0, 10_000.0, ingest_qos1 / 2.0],
    };
    let shares: Vec<usize> = match std::env::var("TWIN_BENCH_EVERY") {
        Ok(v) => v.split(',').filter_map(|r| r.trim().parse().ok()).collect(),
        Err(_) => vec![1, 10],
    };
    println!(
        "latency, publish -> command (step 1 ms, samples QoS 1; ms; after {LATENCY_WARM_UP} s of {LATENCY_SECONDS} s):"
    );
    println!(
        "  rate msg/s | commanding | command QoS | measured | commands |   p50 |   p99 | p99.9 |   max"
    );
    for &every in &shares {
        for &rate in &rates {
            trial += 1;
            latency(&dir, broker.port, rate, every, 1, trial);
        }
    }
    // The commands at QoS 0, at half the ingest rate: no acknowledgements
    // of the runtime's own publications, which shows how much of the
    // latency is the broker's packet rate.
    if !only_latency {
        trial += 1;
        latency(&dir, broker.port, ingest_qos1 / 2.0, 1, 0, trial);
    }
    drop(broker);
    let _ = std::fs::remove_dir_all(&dir);
}

/// One trial: (messages per second, messages received).
type Trial = (f64, u64);

fn median(trials: &[Trial]) -> Trial {
    let mut v = trials.to_vec();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    v[v.len() / 2]
}

fn show(trials: &[Trial]) -> String {
    trials
        .iter()
        .map(|(rate, n)| format!("{} msg/s ({n} received)", *rate as u64))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A thread named `name` (so that profiles tell the bench's threads
/// from the runtime's).
fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> JoinHandle<()> {
    match std::thread::Builder::new().name(name.into()).spawn(f) {
        Ok(t) => t,
        Err(e) => panic!("cannot start a thread: {e}"),
    }
}

/// A client with Nagle off, so that no measured delay is the client's own.
fn client(port: u16, id: &str, inflight: u16) -> (Client, Connection) {
    let mut options = MqttOptions::new(id, "127.0.0.1", port);
    options
        .set_inflight(inflight)
        .set_keep_alive(Duration::from_secs(30));
    let (client, mut connection) = Client::new(options, 10_000);
    let mut network = NetworkOptions::new();
    network.set_tcp_nodelay(true);
    connection.eventloop.set_network_options(network);
    (client, connection)
}

/// A publisher: its client, and a thread driving its connection.
struct Publisher {
    client: Client,
    _driver: JoinHandle<()>,
}

impl Publisher {
    fn connect(port: u16, id: &str) -> Publisher {
        let (client, mut connection) = client(port, id, 1000);
        let (up_tx, up) = channel();
        let driver = spawn("bench-pub", move || {
            for event in connection.iter() {
                match event {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        let _ = up_tx.send(());
                    }
                    Ok(_) => {}
                    Err(_) => return,
                }
            }
        });
        if up.recv_timeout(Duration::from_secs(10)).is_err() {
            panic!("the publisher cannot connect");
        }
        Publisher {
            client,
            _driver: driver,
        }
    }

    /// Sample `j`: twin `j % TWINS`, value `j % 1000` m, stamped `ts`.
    fn sample(&self, j: usize, qos: QoS, ts: f64) {
        let topic = format!("bench/tw-{:03}/level", j % TWINS);
        let payload = format!("{{\"value\": {}, \"ts\": {ts:.6}}}", j % 1000);
        if let Err(e) = self.client.publish(topic, qos, false, payload) {
            panic!("cannot publish: {e}");
        }
    }

    /// M samples as fast as the broker takes them, stamped a microsecond
    /// apart from `base` (so that no twin sees two with one stamp).
    fn burst(&self, messages: usize, qos: QoS, base: f64) {
        for j in 0..messages {
            self.sample(j, qos, base + j as f64 * 1e-6);
        }
    }

    fn disconnect(self) {
        let _ = self.client.disconnect();
    }
}

/// Waits until `count` reaches `want` or stops moving for [`QUIET`];
/// gives the count and when it last moved.
fn settle(count: &dyn Fn() -> (u64, Instant), want: u64) -> (u64, Instant) {
    let mut last = count();
    let mut still_since = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(1));
        let now = count();
        if now.0 >= want {
            return now;
        }
        if now.0 != last.0 {
            last = now;
            still_since = Instant::now();
        } else if still_since.elapsed() > QUIET {
            return last;
        }
    }
}

/// Trial (a): a plain client that subscribes like the runtime and counts.
fn null_subscriber(port: u16, messages: usize, qos: QoS, trial: usize) -> Trial {
    let (client, mut connection) = client(port, &format!("null-{trial}"), 1000);
    let seen = Arc::new(Mutex::new((0u64, Instant::now())));
    let (sub_tx, subscribed) = channel();
    let counter = seen.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let stopping = stop.clone();
    let driver = spawn("bench-null", move || {
        for event in connection.iter() {
            match event {
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    let _ = sub_tx.send(());
                }
                Ok(Event::Incoming(Packet::Publish(_))) => {
                    if let Ok(mut s) = counter.lock() {
                        s.0 += 1;
                        s.1 = Instant::now();
                    }
                }
                Ok(_) => {}
                Err(_) => return,
            }
            if stopping.load(Ordering::Relaxed) {
                return;
            }
        }
    });
    if let Err(e) = client.subscribe("bench/+/level", QoS::AtLeastOnce) {
        panic!("cannot subscribe: {e}");
    }
    if subscribed.recv_timeout(Duration::from_secs(10)).is_err() {
        panic!("no SUBACK");
    }
    let publisher = Publisher::connect(port, &format!("pub-{trial}"));
    let count = || seen.lock().map(|s| *s).unwrap_or((0, Instant::now()));
    // The same warm-up as the runtime's.
    let deadline = Instant::now() + Duration::from_secs(30);
    while count().0 == 0 {
        assert!(
            Instant::now() < deadline,
            "the null subscriber gets nothing"
        );
        publisher.sample(0, QoS::AtLeastOnce, now_epoch());
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(200));
    let before = count().0;
    let start = Instant::now();
    publisher.burst(messages, qos, now_epoch());
    let count = || {
        let (n, at) = count();
        (n - before, at)
    };
    let (n, last) = settle(&count, messages as u64);
    publisher.disconnect();
    stop.store(true, Ordering::Relaxed);
    let _ = client.disconnect();
    let _ = driver.join();
    (n as f64 / (last - start).as_secs_f64(), n)
}

/// A live runtime wired as `twinc run` wires it, in its own thread.
struct Runtime {
    stop: Arc<AtomicBool>,
    handled: Arc<[AtomicU64]>,
    thread: JoinHandle<()>,
}

impl Runtime {
    /// Starts `model` on `port` for the twins `tw-000` .. with the extra
    /// manifest text `extra` (actuator bindings), history in `dir`.
    fn start(dir: &Path, port: u16, model: &str, extra: &str, trial: usize) -> Runtime {
        let dir = dir.join(format!("trial-{trial}"));
        let _ = std::fs::create_dir_all(&dir);
        let model_path = dir.join("model.twin");
        if let Err(e) = std::fs::write(&model_path, model) {
            panic!("{e}");
        }
        let ids: Vec<String> = (0..TWINS).map(|i| format!("\"tw-{i:03}\"")).collect();
        let text = format!(
            r#"model = "model.twin"
[runtime]
mode = "live"
api = "off"
history = "sqlite:history.db"
checkpoint_every = "10 s"
[[source]]
name = "plant"
kind = "mqtt"
url = "mqtt://127.0.0.1:{port}"
client_id = "twin-bench-{trial}-{pid}"
[instances]
ids = [{ids}]
[sensors.level]
source = "plant"
topic = "bench/{{id}}/level"
path = "/value"
time = "/ts"
{extra}"#,
            ids = ids.join(", "),
            pid = std::process::id(),
        );
        let manifest = match Manifest::parse(&text, &dir.join("twin.toml")) {
            Ok(m) => m,
            Err(e) => panic!("{e:?}"),
        };
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = channel();
        let stopping = stop.clone();
        let history: PathBuf = dir.join("history.db");
        let thread = spawn("runner", move || {
            let model = match twin_runtime::live::reload::compile(&model_path, None) {
                Ok(m) => m,
                Err(e) => panic!("{e}"),
            };
            let problems = manifest.check_against(&model);
            assert!(problems.is_empty(), "{problems:?}");
            let mut store = match SqliteHistory::open(&history, &model, manifest.runtime.decimate) {
                Ok(s) => s,
                Err(e) => panic!("{e}"),
            };
            store.write_in_background();
            let mut observers: Vec<Box<dyn Observer>> = vec![Box::new(store)];
            let mut links = match mqtt::links(&manifest) {
                Ok(l) => l,
                Err(e) => panic!("{e:?}"),
            };
            for link in &links {
                if let Some(sink) = link.sink(&manifest) {
                    observers.push(Box::new(sink));
                }
            }
            let mut runner = Runner::new(manifest, model, observers, None, stopping);
            for link in &mut links {
                link.start(runner.sender(), runner.handled());
            }
            let _ = tx.send(runner.handled());
            runner.run();
            for link in links {
                link.stop();
            }
        });
        let handled = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(h) => h,
            Err(e) => panic!("the runtime did not start: {e}"),
        };
        Runtime {
            stop,
            handled,
            thread,
        }
    }

    fn handled(&self) -> u64 {
        self.handled[0].load(Ordering::Acquire)
    }

    /// Publishes sample 0 until the runtime has handled one: its
    /// subscription is live. Gives the count it handled.
    fn warm_up(&self, publisher: &Publisher) -> u64 {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.handled() == 0 {
            assert!(Instant::now() < deadline, "the runtime never subscribed");
            publisher.sample(0, QoS::AtLeastOnce, now_epoch());
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(200));
        self.handled()
    }

    fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.thread.join();
    }
}

/// Trial (b): the runtime ingests the same burst.
fn runtime_ingest(dir: &Path, port: u16, messages: usize, qos: QoS, trial: usize) -> Trial {
    let runtime = Runtime::start(dir, port, METER, "", trial);
    let publisher = Publisher::connect(port, &format!("pub-{trial}"));
    let before = runtime.warm_up(&publisher);
    let start = Instant::now();
    publisher.burst(messages, qos, now_epoch());
    let count = || (runtime.handled() - before, Instant::now());
    let (n, last) = settle(&count, messages as u64);
    publisher.disconnect();
    runtime.stop();
    // The ingest trials' marks (with `latency-trace`) are not looked at.
    drop(trace::take());
    (n as f64 / (last - start).as_secs_f64(), n)
}

/// Part (c): paced at `rate`, publish → command latency.
/// How long each latency run publishes, and how much of its start is not
/// counted (s).
const LATENCY_SECONDS: f64 = 6.0;
const LATENCY_WARM_UP: f64 = 1.0;

/// One latency run at `rate` samples/s, one sample in `every` changing its
/// twin's level (and so causing a command at `command_qos`).
fn latency(dir: &Path, port: u16, rate: f64, every: usize, command_qos: u8, trial: usize) {
    let runtime = Runtime::start(
        dir,
        port,
        FOLLOWER,
        &format!(
            "[actuators.valve]\nsink = \"plant\"\ntopic = \"bench/{{id}}/out\"\nqos = {command_qos}\n"
        ),
        trial,
    );
    // Commands by value: each sample's value is its number j, so each
    // command names the sample it follows.
    let (client, mut connection) = client(port, &format!("commands-{trial}"), 1000);
    let arrivals = Arc::new(Mutex::new(Vec::<(u64, f64)>::new()));
    let (sub_tx, subscribed) = channel();
    let sink = arrivals.clone();
    let driver = spawn("bench-commands", move || {
        for event in connection.iter() {
            match event {
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    let _ = sub_tx.send(());
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let at = now_epoch();
                    if let (Some(v), Ok(mut a)) = (value_of(&p.payload), sink.lock()) {
                        a.push((v, at));
                    }
                }
                Ok(_) => {}
                Err(_) => return,
            }
        }
    });
    if client.subscribe("bench/+/out", QoS::AtMostOnce).is_err()
        || subscribed.recv_timeout(Duration::from_secs(10)).is_err()
    {
        panic!("cannot subscribe to the commands");
    }
    let publisher = Publisher::connect(port, &format!("pub-{trial}"));
    runtime.warm_up(&publisher);
    drop(trace::take());
    let total = (rate * LATENCY_SECONDS) as usize;
    let mut sent = vec![0.0; total];
    // The level each twin holds: a sample that does not change it repeats it.
    let mut level = vec![0usize; TWINS];
    let every = every.max(1);
    let start = Instant::now();
    // Values start at 1,000,000 so that the warm-up's commands (value 0)
    // are told apart; a changing sample j carries 1,000,000 + j.
    for (j, at) in sent.iter_mut().enumerate() {
        // Sleep, not spin, and only for half a millisecond or more: a
        // publisher spinning or sleeping per message would take one of the
        // machine's two cores from the broker and the runtime. A message
        // may so go out up to 0.5 ms early; each is timed when it goes.
        let due = Duration::from_secs_f64(j as f64 / rate);
        if let Some(wait) = due.checked_sub(start.elapsed())
            && wait > Duration::from_micros(500)
        {
            std::thread::sleep(wait);
        }
        let ts = now_epoch();
        *at = ts;
        let twin = j % TWINS;
        if (j / TWINS).is_multiple_of(every) {
            level[twin] = 1_000_000 + j;
        }
        let topic = format!("bench/tw-{twin:03}/level");
        let payload = format!("{{\"value\": {}, \"ts\": {ts:.6}}}", level[twin]);
        if let Err(e) = publisher
            .client
            .publish(topic, QoS::AtLeastOnce, false, payload)
        {
            panic!("cannot publish: {e}");
        }
    }
    let paced = start.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_secs(2));
    runtime.stop();
    publisher.disconnect();
    let _ = client.disconnect();
    let _ = driver.join();
    let arrivals = arrivals.lock().map(|a| a.clone()).unwrap_or_default();
    if trace::ENABLED {
        breakdown(&trace::take(), &sent, &arrivals, rate);
    }
    let mut ms: Vec<f64> = arrivals
        .iter()
        .filter_map(|(v, at)| {
            let j = v.checked_sub(1_000_000)? as usize;
            let sent_at = *sent.get(j)?;
            (j as f64 / rate >= LATENCY_WARM_UP).then_some((at - sent_at) * 1e3)
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    let pick = |q: f64| quantile(&ms, q);
    let first = (rate * LATENCY_WARM_UP).ceil() as usize;
    let counted = (first..total)
        .filter(|j| (j / TWINS).is_multiple_of(every))
        .count();
    let share = if every == 1 {
        "every".to_string()
    } else {
        format!("1 in {every}")
    };
    println!(
        "  {:>10} | {share:>10} | {command_qos:>11} | {counted:>8} | {:>8} | {:>5.2} | {:>5.2} | {:>5.2} | {:>5.2}{}",
        rate as u64,
        ms.len(),
        pick(0.5),
        pick(0.99),
        pick(0.999),
        ms.last().copied().unwrap_or(f64::NAN),
        if paced > LATENCY_SECONDS * 1.01 {
            format!("  (the publisher fell behind: {paced:.2} s)")
        } else {
            String::new()
        }
    );
}

/// The `q` quantile of `sorted` (the last value for 1), NaN when empty.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let i = ((sorted.len() as f64 * q) as usize).min(sorted.len().saturating_sub(1));
    sorted.get(i).copied().unwrap_or(f64::NAN)
}

/// The `"value"` of a JSON payload, as the number that names a sample.
fn value_of(payload: &[u8]) -> Option<u64> {
    let v = serde_json::from_slice::<serde_json::Value>(payload).ok()?;
    Some(v["value"].as_f64()? as u64)
}

/// With the `latency-trace` feature: where the time from publishing a
/// changing sample to receiving its command goes, hop by hop, from the
/// runtime's [`Mark`]s. A sample is named by its value (the first mark of
/// each value is the changing sample's); commands are written in the order
/// they were queued. Prints each hop's p50, p99 and worst, and its mean
/// over the 1 % of samples slowest from end to end (what makes the p99).
fn breakdown(marks: &[Mark], sent: &[f64], arrivals: &[(u64, f64)], rate: f64) {
    use std::collections::HashMap;
    let mut first: [HashMap<u64, f64>; 4] = Default::default();
    let mut queued = Vec::new();
    let mut written = Vec::new();
    for m in marks {
        match m.stage {
            Stage::Written => written.push(m.at),
            stage => {
                let Some(v) = value_of(&m.payload) else {
                    continue;
                };
                if stage == Stage::Queued {
                    queued.push(v);
                }
                first[stage as usize].entry(v).or_insert(m.at);
            }
        }
    }
    // The k-th command written is the k-th queued.
    let mut wrote = HashMap::new();
    for (v, at) in queued.iter().zip(&written) {
        wrote.entry(*v).or_insert(*at);
    }
    const HOPS: [&str; 7] = [
        "publisher -> runtime reads it",
        "read -> runner has queued it",
        "queued -> tick queues command",
        "command queued -> written",
        "written -> subscriber has it",
        "end to end",
        "in the runtime (read -> written)",
    ];
    let mut rows: Vec<[f64; 7]> = Vec::new();
    for &(v, got) in arrivals {
        let Some(j) = v.checked_sub(1_000_000).map(|j| j as usize) else {
            continue;
        };
        let (Some(&t0), true) = (sent.get(j), j as f64 / rate >= LATENCY_WARM_UP) else {
            continue;
        };
        let at = |stage: Stage| first[stage as usize].get(&v).copied();
        let (Some(t1), Some(t2), Some(t3), Some(&t4)) = (
            at(Stage::Received),
            at(Stage::Handled),
            at(Stage::Queued),
            wrote.get(&v),
        ) else {
            continue;
        };
        let ms = |a: f64, b: f64| (b - a) * 1e3;
        rows.push([
            ms(t0, t1),
            ms(t1, t2),
            ms(t2, t3),
            ms(t3, t4),
            ms(t4, got),
            ms(t0, got),
            ms(t1, t4),
        ]);
    }
    if rows.is_empty() {
        println!("    (no sample could be followed through the runtime)");
        return;
    }
    rows.sort_by(|a, b| a[5].total_cmp(&b[5]));
    let worst = &rows[rows.len() * 99 / 100..];
    println!(
        "    {} samples followed; hop: p50 / p99 / max ms, mean over the worst 1 % end to end",
        rows.len()
    );
    for (k, hop) in HOPS.iter().enumerate() {
        let mut col: Vec<f64> = rows.iter().map(|r| r[k]).collect();
        col.sort_by(f64::total_cmp);
        let mean = worst.iter().map(|r| r[k]).sum::<f64>() / worst.len() as f64;
        println!(
            "    {hop:>34}: {:6.2} / {:6.2} / {:6.2} | {mean:6.2}",
            quantile(&col, 0.5),
            quantile(&col, 0.99),
            quantile(&col, 1.0)
        );
    }
}
