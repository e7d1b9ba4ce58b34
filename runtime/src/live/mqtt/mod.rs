//! MQTT in and out: the broker connections of each `[[source]] kind = "mqtt"`.
//!
//! Takes a source's broker settings ([`manifest::Mqtt`]: host, port, TLS,
//! client id, user name and the environment variable holding the
//! password) and the manifest's bindings; gives an [`MqttLink`]: a
//! persistent MQTT 3.1.1 session (clean session off) that subscribes at
//! QoS 1 to every sensor topic bound to the source and to the discovery
//! topic (`{id}` becomes `+`), hands every incoming message to the runner
//! as an [`Input::Message`] stamped with its arrival time, and reconnects
//! with a growing back-off when the broker goes away; and an [`MqttSink`],
//! the [`Observer`](super::Observer) that publishes the source's actuator commands (at the
//! binding's QoS) and alarm events (QoS 1).
//!
//! A source that is read and written to gets two connections: the
//! subscriptions under its `client_id`, the publications under
//! `client_id` + [`OUT_SUFFIX`] (also a persistent session). On one
//! connection, commands and the acknowledgements of incoming messages
//! queue behind each other in one request queue, so a busy inflow delays
//! the commands and a burst of commands delays the acknowledgements (and
//! with them the broker's next deliveries). A source that is only written
//! to has one connection, under its `client_id`.
//!
//! Delivery, as the runtime guarantees it:
//! - A QoS 1 message is acknowledged (PUBACK) only after the runner has
//!   *handled* it: decoded it, applied or rejected it, shown it to the
//!   observers, and had them make it durable (the history commits the
//!   sample or the dead letter). Until then the broker keeps it in the
//!   session, so a message that was in flight when the process died is
//!   delivered again after the restart (same client id).
//! - That is at least once, not exactly once: a message handled just
//!   before a crash, or before a lost connection, whose acknowledgement
//!   never reached the broker, comes again. A sample that carries a source
//!   timestamp is then rejected by the fleet as `duplicate`; one without is
//!   applied again, stamped with its new arrival time.
//! - QoS 0 messages are not acknowledged and can be lost; QoS 2 ones are
//!   taken at QoS 1 (the subscription's).
//! - Publications are queued on the connection without blocking the tick.
//!   While the broker is unreachable they wait (up to
//!   [`REQUEST_CAPACITY`] requests, then they are dropped and logged); a
//!   broker that kept the session receives them after the reconnect.
//!
//! A network failure, a refused login or a garbled packet never stops the
//! twin: it is logged, and the link tries again after 0.5 s, 1 s, 2 s, ...
//! up to 30 s between attempts.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rumqttc::{
    Client, Connection, ConnectionError, Event, MqttOptions, NetworkOptions, Outgoing, Packet,
    Publish, QoS, SubscribeFilter, SubscribeReasonCode, TlsConfiguration, Transport,
};

use super::Input;
use super::manifest::{self, Instances, Manifest, SourceKind};
use super::sources::now_epoch;
use super::trace::{self, Stage};

mod sink;
pub use sink::MqttSink;

/// Requests (publications, acknowledgements) that may wait for the
/// connection before new publications are dropped.
pub const REQUEST_CAPACITY: usize = 4096;

/// The largest packet taken or sent: MQTT's own limit, so that no message
/// a broker accepts can make the link drop the connection again and again
/// (a persistent session would deliver it forever). Brokers have their own,
/// usually smaller, limit.
const MAX_PACKET: usize = 268_435_455;

/// QoS 1 and 2 publications the link keeps in flight (sent, not yet
/// acknowledged by the broker). rumqttc stops reading its request queue
/// while they are all in flight — acknowledgements of incoming messages
/// included, so the broker stops delivering too: the window must cover
/// the commands of a busy fleet over a broker round trip (rumqttc's
/// default, 100, is 10,000 commands/s at 10 ms).
const INFLIGHT: u16 = 1000;

/// Keep-alive interval: a dead connection is noticed within 1.5× this.
const KEEP_ALIVE: Duration = Duration::from_secs(30);

/// First and longest wait between connection attempts.
const BACKOFF_MIN: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// How long [`MqttLink::stop`] waits for the broker to take the last
/// acknowledgements, publications and the DISCONNECT.
const STOP_WAIT: Duration = Duration::from_secs(5);

/// What the publishing connection of a source that is also read adds to
/// the source's `client_id`.
pub const OUT_SUFFIX: &str = "-out";

/// A source's broker connections: one that subscribes (if the source feeds
/// sensors) and publishes, or, when the source is both read and written,
/// one that subscribes and one that publishes.
pub struct MqttLink {
    /// Index into the manifest's sources.
    source: usize,
    /// The source's name and broker, for logs.
    label: Label,
    /// The request side of the connection (shared with the sink unless
    /// there is an `out` connection).
    client: Client,
    /// The connection, until [`MqttLink::start`] moves it to its thread.
    connection: Option<Connection>,
    /// The connection that publishes, when the source is also read.
    out: Option<Out>,
    /// What to subscribe to, QoS 1.
    filters: Vec<String>,
    shared: Arc<Shared>,
    /// The thread that reads the connection.
    receiver: Option<JoinHandle<()>>,
    /// The thread that acknowledges handled messages.
    acker: Option<JoinHandle<()>>,
}

/// The publishing connection of a source that is read and written.
struct Out {
    client: Client,
    /// The connection, until [`MqttLink::start`] moves it to its thread.
    connection: Option<Connection>,
    shared: Arc<Shared>,
    /// The thread that drives the connection.
    driver: Option<JoinHandle<()>>,
}

/// A link's name and broker, and which of its connections, for logs.
#[derive(Clone, Debug)]
struct Label {
    source: String,
    broker: String,
    /// `"in"` (or the only connection) or `"out"`.
    role: &'static str,
}

/// What the link's threads share.
#[derive(Default)]
struct Shared {
    /// Set by [`MqttLink::stop`] (or when the link is dropped).
    stopping: AtomicBool,
    /// Whether the connection is up (for logs).
    connected: AtomicBool,
    /// Messages handed to the runner and not yet acknowledged.
    unacked: Mutex<Unacked>,
    /// Signalled when a message is queued for acknowledgement or the link
    /// stops.
    changed: Condvar,
}

/// Messages handed to the runner, in order.
#[derive(Default)]
struct Unacked {
    /// Messages handed to the runner on this source so far.
    sent: u64,
    /// QoS 1 and 2 messages not yet acknowledged, each with its number in
    /// `sent`'s count: it may be acknowledged once the runner has handled
    /// that many messages of the source.
    queue: VecDeque<(u64, Publish)>,
}

fn lock(m: &Mutex<Unacked>) -> MutexGuard<'_, Unacked> {
    // A panicked thread cannot leave the queue half-changed: every change
    // is one push, pop or clear.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A link for every MQTT source of `manifest` that a binding, an actuator
/// or the events use, not yet connected; or the problems, one line each
/// naming the file and the key (an unset password variable, say).
pub fn links(manifest: &Manifest) -> Result<Vec<MqttLink>, Vec<String>> {
    let mut links = Vec::new();
    let mut problems = Vec::new();
    for (i, source) in manifest.sources.iter().enumerate() {
        if !matches!(source.kind, SourceKind::Mqtt(_)) {
            continue;
        }
        let used = manifest.sensors.iter().any(|b| b.source == i)
            || manifest.actuators.iter().any(|a| a.sink == i)
            || manifest.events.as_ref().is_some_and(|e| e.sink == i);
        if !used {
            continue;
        }
        match MqttLink::new(manifest, i) {
            Ok(link) => links.push(link),
            Err(e) => problems.push(e),
        }
    }
    if problems.is_empty() {
        Ok(links)
    } else {
        Err(problems)
    }
}

impl MqttLink {
    /// A link for source `source` of `manifest` (an MQTT one), not yet
    /// connected. Fails, naming the file and the key, when the password
    /// variable is not set or the settings cannot make a session.
    pub fn new(manifest: &Manifest, source: usize) -> Result<MqttLink, String> {
        let key = format!("{}: source[{source}]", manifest.path.display());
        let Some(SourceKind::Mqtt(settings)) = manifest.sources.get(source).map(|s| &s.kind) else {
            return Err(format!("{key}: not an MQTT source"));
        };
        let (client, connection) = connect(options(settings, &settings.client_id, &key)?);
        let filters = filters(manifest, source);
        let out = if !filters.is_empty() && writes_to(manifest, source) {
            let id = format!("{}{OUT_SUFFIX}", settings.client_id);
            let (client, connection) = connect(options(settings, &id, &key)?);
            Some(Out {
                client,
                connection: Some(connection),
                shared: Arc::new(Shared::default()),
                driver: None,
            })
        } else {
            None
        };
        Ok(MqttLink {
            source,
            label: Label {
                source: manifest.sources[source].name.clone(),
                broker: format!("{}:{}", settings.host, settings.port),
                role: "in",
            },
            client,
            connection: Some(connection),
            out,
            filters,
            shared: Arc::new(Shared::default()),
            receiver: None,
            acker: None,
        })
    }

    /// The topic filters this link subscribes to.
    pub fn filters(&self) -> &[String] {
        &self.filters
    }

    /// The observer that publishes this source's actuator commands and
    /// alarm events, if the manifest sends any here.
    pub fn sink(&self, manifest: &Manifest) -> Option<MqttSink> {
        writes_to(manifest, self.source).then(|| {
            let out = self.out.as_ref().map_or(&self.client, |o| &o.client);
            MqttSink::new(
                manifest.clone(),
                self.source,
                out.clone(),
                self.label.clone(),
            )
        })
    }

    /// How many connections the link opens (2 when the source is read and
    /// written).
    pub fn connections(&self) -> usize {
        1 + usize::from(self.out.is_some())
    }

    /// Opens the connection. From now on every incoming message goes to
    /// `inputs` (the runner's [`super::run::Runner::sender`]), and is
    /// acknowledged once `handled[source]` (the runner's
    /// [`super::run::Runner::handled`]) has counted it. Call once.
    pub fn start(&mut self, inputs: Sender<Input>, handled: Arc<[AtomicU64]>) {
        let Some(connection) = self.connection.take() else {
            return;
        };
        let reader = Reader {
            source: self.source,
            label: self.label.clone(),
            client: self.client.clone(),
            filters: self.filters.clone(),
            shared: self.shared.clone(),
            inputs: Some(inputs),
        };
        let (client, shared, source) = (self.client.clone(), self.shared.clone(), self.source);
        self.receiver = self.spawn("in", move || reader.run(connection));
        self.acker = self.spawn("ack", move || {
            acknowledge(&client, &shared, &handled, source);
        });
        let label = Label {
            role: "out",
            ..self.label.clone()
        };
        if let Some(out) = &mut self.out
            && let Some(connection) = out.connection.take()
        {
            let driver = Reader {
                source: self.source,
                label,
                client: out.client.clone(),
                filters: Vec::new(),
                shared: out.shared.clone(),
                inputs: None,
            };
            let spawned = spawn(&self.label.source, "out", move || driver.run(connection));
            out.driver = spawned;
        }
    }

    /// A thread named after the source (`mqtt-in-plant`), or `None`, logged,
    /// when the system has none to give.
    fn spawn(&self, role: &str, f: impl FnOnce() + Send + 'static) -> Option<JoinHandle<()>> {
        spawn(&self.label.source, role, f)
    }

    /// Closes the link after the runner has stopped: acknowledges every
    /// message the runner handled, sends DISCONNECT on each connection
    /// (after the publications already queued; the broker keeps the session
    /// and whatever was not acknowledged), and waits up to 5 s for each to
    /// close.
    pub fn stop(mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        self.shared.changed.notify_all();
        // The acknowledgements go out before the DISCONNECT: same queue.
        if let Some(acker) = self.acker.take() {
            let _ = acker.join();
        }
        close(
            &self.client,
            self.receiver.take(),
            &self.shared,
            &self.label,
        );
        if let Some(mut out) = self.out.take() {
            out.shared.stopping.store(true, Ordering::SeqCst);
            let label = Label {
                role: "out",
                ..self.label.clone()
            };
            close(&out.client, out.driver.take(), &out.shared, &label);
        }
    }
}

/// A thread named `mqtt-ROLE-SOURCE`, or `None`, logged, when the system
/// has none to give.
fn spawn(source: &str, role: &str, f: impl FnOnce() + Send + 'static) -> Option<JoinHandle<()>> {
    let name = format!("mqtt-{role}-{source}");
    match std::thread::Builder::new().name(name).spawn(f) {
        Ok(t) => Some(t),
        Err(e) => {
            tracing::error!(source, error = %e, "cannot start a thread");
            None
        }
    }
}

/// Asks `client`'s connection to disconnect and waits up to [`STOP_WAIT`]
/// for `driver`, the thread that drives it, to see the DISCONNECT go out.
fn close(client: &Client, driver: Option<JoinHandle<()>>, shared: &Shared, label: &Label) {
    let Some(driver) = driver else {
        return;
    };
    let (source, broker, connection) = (&label.source, &label.broker, label.role);
    let deadline = Instant::now() + STOP_WAIT;
    let mut asked = false;
    while !driver.is_finished() && Instant::now() < deadline {
        if !asked {
            asked = client.try_disconnect().is_ok();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    if driver.is_finished() {
        let _ = driver.join();
        if shared.connected.load(Ordering::SeqCst) {
            tracing::info!(source, broker, connection, "disconnected");
        }
    } else {
        tracing::warn!(
            source,
            broker,
            connection,
            "the broker did not take the disconnect in time; leaving the connection"
        );
    }
}

impl Drop for MqttLink {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        self.shared.changed.notify_all();
        if let Some(out) = &self.out {
            out.shared.stopping.store(true, Ordering::SeqCst);
        }
    }
}

/// Whether `manifest` publishes actuator commands or alarm events on
/// source `source`.
fn writes_to(manifest: &Manifest, source: usize) -> bool {
    manifest.actuators.iter().any(|a| a.sink == source)
        || manifest.events.as_ref().is_some_and(|e| e.sink == source)
}

/// A client for `options`, its connection not yet opened, with Nagle's
/// algorithm off: it would hold a command or an acknowledgement back until
/// the previous segment is acknowledged, which with delayed ACKs costs up
/// to 40 ms a message.
fn connect(options: MqttOptions) -> (Client, Connection) {
    let (client, mut connection) = Client::new(options, REQUEST_CAPACITY);
    let mut network = NetworkOptions::new();
    network.set_tcp_nodelay(true);
    connection.eventloop.set_network_options(network);
    (client, connection)
}

/// The options of a session under `client_id`: persistent, manual
/// acknowledgements, TLS for `mqtts://`, the login.
fn options(settings: &manifest::Mqtt, client_id: &str, key: &str) -> Result<MqttOptions, String> {
    if client_id.is_empty() {
        return Err(format!(
            "{key}.client_id: empty; a persistent session needs a client id"
        ));
    }
    let mut options = MqttOptions::new(client_id, &settings.host, settings.port);
    options
        .set_clean_session(false)
        .set_manual_acks(true)
        .set_keep_alive(KEEP_ALIVE)
        .set_inflight(INFLIGHT)
        .set_max_packet_size(MAX_PACKET, MAX_PACKET);
    match (&settings.username, &settings.password_env) {
        (Some(user), Some(var)) => {
            let password = std::env::var(var).map_err(|e| {
                format!("{key}.password_env: the environment variable {var} {}", {
                    match e {
                        std::env::VarError::NotPresent => "is not set",
                        std::env::VarError::NotUnicode(_) => "is not valid UTF-8",
                    }
                })
            })?;
            options.set_credentials(user, password);
        }
        (Some(user), None) => {
            options.set_credentials(user, "");
        }
        (None, Some(_)) => {
            return Err(format!("{key}.password_env: a password needs a `username`"));
        }
        (None, None) => {}
    }
    if settings.tls {
        options.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
            Arc::new(tls_config()?),
        )));
    }
    Ok(options)
}

/// TLS with [`roots`] and the `ring` provider (named, so that another
/// crate enabling a second provider cannot make the choice ambiguous).
fn tls_config() -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots())
        .with_no_client_auth())
}

/// The platform's trusted roots (which honour `SSL_CERT_FILE` and
/// `SSL_CERT_DIR`), or Mozilla's bundled roots where the platform has none.
fn roots() -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    for e in &found.errors {
        tracing::debug!(error = %e, "skipped a platform certificate");
    }
    let (added, _) = roots.add_parsable_certificates(found.certs);
    if roots.is_empty() {
        tracing::info!("no trusted roots on this machine; using the bundled Mozilla roots");
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    } else {
        tracing::debug!(roots = added, "using the platform's trusted roots");
    }
    roots
}

/// The filters of the sensors bound to `source`, and the discovery topic
/// when the source feeds any sensor; sorted, without repeats.
fn filters(manifest: &Manifest, source: usize) -> Vec<String> {
    let mut out: Vec<String> = manifest
        .sensors
        .iter()
        .filter(|b| b.source == source)
        .filter_map(|b| b.topic.as_ref().map(manifest::Topic::filter))
        .collect();
    if let Instances::Discover(topic) = &manifest.instances
        && !out.is_empty()
    {
        out.push(topic.filter());
    }
    out.sort();
    out.dedup();
    out
}

/// The thread that drives the connection and reads it.
struct Reader {
    source: usize,
    label: Label,
    client: Client,
    filters: Vec<String>,
    shared: Arc<Shared>,
    /// Where incoming messages go; `None` on a connection that only
    /// publishes (it subscribes to nothing, so nothing comes).
    inputs: Option<Sender<Input>>,
}

impl Reader {
    fn stopping(&self) -> bool {
        self.shared.stopping.load(Ordering::SeqCst)
    }

    /// Polls the connection (which connects and reconnects) until the link
    /// stops.
    fn run(self, mut connection: Connection) {
        let (source, broker) = (&self.label.source, &self.label.broker);
        let connection_role = self.label.role;
        let mut backoff = BACKOFF_MIN;
        for event in connection.iter() {
            match event {
                Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                    tracing::info!(
                        source,
                        broker,
                        connection = connection_role,
                        session_present = ack.session_present,
                        "connected"
                    );
                    backoff = BACKOFF_MIN;
                    self.shared.connected.store(true, Ordering::SeqCst);
                    self.connected();
                }
                Ok(Event::Incoming(Packet::Publish(publish))) => self.deliver(publish),
                Ok(Event::Incoming(Packet::SubAck(ack))) => {
                    if ack.return_codes.contains(&SubscribeReasonCode::Failure) {
                        tracing::error!(
                            source,
                            broker,
                            connection = connection_role,
                            filters = ?self.filters,
                            "the broker refused a subscription (not allowed to read a topic?)"
                        );
                    }
                }
                Ok(Event::Outgoing(Outgoing::Publish(_))) if self.inputs.is_none() => {
                    trace::mark(Stage::Written, &[]);
                }
                Ok(Event::Outgoing(Outgoing::Disconnect)) if self.stopping() => break,
                Ok(_) => {}
                Err(e) => {
                    self.shared.connected.store(false, Ordering::SeqCst);
                    if self.stopping() {
                        break;
                    }
                    match &e {
                        ConnectionError::ConnectionRefused(code) => tracing::error!(
                            source,
                            broker,
                            connection = connection_role,
                            reason = ?code,
                            retry_in_s = backoff.as_secs_f64(),
                            "the broker refused the connection"
                        ),
                        _ => tracing::warn!(
                            source,
                            broker,
                            connection = connection_role,
                            error = %e,
                            retry_in_s = backoff.as_secs_f64(),
                            "no connection to the broker"
                        ),
                    }
                    if !self.pause(backoff) {
                        break;
                    }
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                }
            }
        }
    }

    /// A new connection: what was handed over on the last one and not yet
    /// acknowledged is the broker's to send again (an acknowledgement on
    /// the new connection could name another message with the same packet
    /// id); (re)subscribe, in case the broker lost the session or the
    /// manifest gained topics.
    fn connected(&self) {
        lock(&self.shared.unacked).queue.clear();
        if self.filters.is_empty() {
            return;
        }
        let filters = self
            .filters
            .iter()
            .map(|f| SubscribeFilter::new(f.clone(), QoS::AtLeastOnce));
        if let Err(e) = self.client.try_subscribe_many(filters) {
            tracing::error!(
                source = self.label.source,
                filters = ?self.filters,
                error = %e,
                "cannot subscribe"
            );
        }
    }

    /// Hands a message to the runner and queues it for acknowledgement.
    fn deliver(&self, publish: Publish) {
        let Some(inputs) = &self.inputs else {
            // A session of the publishing connection that once subscribed
            // (another program under the same client id, say): not ours
            // to take; left unacknowledged.
            tracing::debug!(
                topic = publish.topic,
                "a message on the publishing connection"
            );
            return;
        };
        trace::mark(Stage::Received, &publish.payload);
        let input = Input::Message {
            source: self.source,
            topic: publish.topic.clone(),
            payload: publish.payload.to_vec(),
            arrived: now_epoch(),
        };
        let mut unacked = lock(&self.shared.unacked);
        // A runner that is gone never acknowledges: the broker keeps the
        // message for the next run.
        if inputs.send(input).is_err() {
            return;
        }
        unacked.sent += 1;
        if publish.qos != QoS::AtMostOnce {
            let n = unacked.sent;
            unacked.queue.push_back((n, publish));
            self.shared.changed.notify_one();
        }
    }

    /// Waits `d`, or less if the link stops; false if it stopped.
    fn pause(&self, d: Duration) -> bool {
        let until = Instant::now() + d;
        while Instant::now() < until {
            if self.stopping() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50).min(d));
        }
        !self.stopping()
    }
}

/// Acknowledges, in order, every queued message the runner has handled,
/// until the link stops (then once more, for what the runner handled last).
fn acknowledge(client: &Client, shared: &Shared, handled: &[AtomicU64], source: usize) {
    loop {
        let stopping = shared.stopping.load(Ordering::SeqCst);
        let done = handled.get(source).map_or(0, |c| c.load(Ordering::Acquire));
        let mut unacked = lock(&shared.unacked);
        while let Some((n, publish)) = unacked.queue.front() {
            if *n > done {
                break;
            }
            match client.try_ack(publish) {
                Ok(()) => {
                    unacked.queue.pop_front();
                }
                // The request queue is full: try again shortly.
                Err(_) => break,
            }
        }
        if stopping {
            return;
        }
        if unacked.queue.is_empty() {
            // Nothing waits: sleep until a message is queued.
            let _ = shared
                .changed
                .wait_timeout(unacked, Duration::from_millis(200));
        } else {
            // The runner has not handled the next one yet: it will soon.
            drop(unacked);
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

#[cfg(test)]
mod tests;
