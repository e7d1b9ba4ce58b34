//! The deployment manifest (`twin.toml`).
//!
//! Takes the text of a manifest and its path; gives a [`Manifest`] with
//! every duration in seconds, every path resolved against the manifest's
//! folder and every reference (a binding's source, an actuator's sink)
//! checked, or the list of problems, one line each, naming the file and
//! the key (`twin.toml: sensors.current.source: no [[source]] named
//! "plnt" (did you mean "plant"?)`). Checks that need the model (sensor
//! names, units, params) are in [`Manifest::check_against`].

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use twin_compiler::ir::Model;
use twin_compiler::units::parse::{parse_quantity, parse_unit};
use twin_compiler::units::{BaseDim, Dimension, UnitTable};

/// How instances advance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Tick on the wall clock.
    Live,
    /// Tick on data time, as fast as the data comes; stop when every
    /// source is exhausted.
    Replay,
}

/// Where history goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum History {
    /// An SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL server.
    Postgres(String),
    /// Nowhere.
    Off,
}

/// `[runtime]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Runtime {
    /// Live or replay.
    pub mode: Mode,
    /// Where the HTTP API listens; `None` when `api = "off"`.
    pub api: Option<SocketAddr>,
    /// The environment variable holding the API's bearer token.
    pub token_env: Option<String>,
    /// Where history goes.
    pub history: History,
    /// Resolution of signal history (s).
    pub decimate: f64,
    /// Time between checkpoints (s).
    pub checkpoint_every: f64,
}

/// How a CSV replay is paced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pace {
    /// As fast as the runtime takes it.
    Fast,
    /// One second of data per second.
    Realtime,
}

/// An MQTT broker connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mqtt {
    /// Host name or address.
    pub host: String,
    /// Port (1883, or 8883 for `mqtts://`, unless given).
    pub port: u16,
    /// `mqtts://`.
    pub tls: bool,
    /// Client id; with it the session is persistent.
    pub client_id: String,
    /// User name.
    pub username: Option<String>,
    /// The environment variable holding the password.
    pub password_env: Option<String>,
}

/// What a `[[source]]` is.
#[derive(Clone, Debug, PartialEq)]
pub enum SourceKind {
    /// An MQTT broker (also a sink).
    Mqtt(Mqtt),
    /// A telemetry CSV file: `t`, optionally `id`, then sensor columns.
    Csv {
        /// The file.
        path: PathBuf,
        /// Its pace.
        pace: Pace,
    },
    /// JSON lines on standard input.
    Stdin,
    /// JSON lines on standard output (a sink only).
    Stdout,
}

/// A `[[source]]` (sources double as sinks where they can).
#[derive(Clone, Debug, PartialEq)]
pub struct Source {
    /// Its name, used by bindings.
    pub name: String,
    /// What it is.
    pub kind: SourceKind,
}

/// A topic with an `{id}` placeholder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topic(pub String);

impl Topic {
    /// The topic of one instance.
    pub fn for_id(&self, id: &str) -> String {
        self.0.replace("{id}", id)
    }

    /// The instance id a concrete topic carries, if it matches.
    pub fn match_id(&self, topic: &str) -> Option<String> {
        match self.0.split_once("{id}") {
            None => (self.0 == topic).then(String::new),
            Some((before, after)) => {
                let rest = topic.strip_prefix(before)?;
                let id = rest.strip_suffix(after)?;
                (!id.is_empty() && !id.contains('/')).then(|| id.to_string())
            }
        }
    }

    /// The MQTT subscription filter: the level holding `{id}` becomes `+`
    /// (`site/pump-{id}/flow` → `site/+/flow`; [`Topic::match_id`] then
    /// checks the rest of the level).
    pub fn filter(&self) -> String {
        let levels: Vec<&str> = self
            .0
            .split('/')
            .map(|level| if level.contains("{id}") { "+" } else { level })
            .collect();
        levels.join("/")
    }
}

/// Which instances run.
#[derive(Clone, Debug, PartialEq)]
pub enum Instances {
    /// A fixed list of ids.
    Ids(Vec<String>),
    /// One instance per id seen on a topic.
    Discover(Topic),
}

/// `[sensors.NAME]`: where a sensor's samples come from.
#[derive(Clone, Debug, PartialEq)]
pub struct SensorBinding {
    /// The sensor's path in the twin.
    pub sensor: String,
    /// Index into [`Manifest::sources`].
    pub source: usize,
    /// The topic (MQTT, stdin).
    pub topic: Option<Topic>,
    /// JSON pointer to the value; `None` for a bare number.
    pub path: Option<String>,
    /// JSON pointer to the source timestamp.
    pub time: Option<String>,
    /// The unit the device sends, if not the sensor's.
    pub unit: Option<String>,
    /// The CSV column (default: the sensor's name).
    pub column: String,
}

/// `[actuators.NAME]`: where commands go.
#[derive(Clone, Debug, PartialEq)]
pub struct ActuatorBinding {
    /// The actuator's path in the twin.
    pub actuator: String,
    /// Index into [`Manifest::sources`].
    pub sink: usize,
    /// The topic.
    pub topic: Topic,
    /// MQTT quality of service (0, 1 or 2).
    pub qos: u8,
}

/// `[events]`: where alarm events go.
#[derive(Clone, Debug, PartialEq)]
pub struct EventsBinding {
    /// Index into [`Manifest::sources`].
    pub sink: usize,
    /// The topic.
    pub topic: Topic,
}

/// A checked manifest.
#[derive(Clone, Debug, PartialEq)]
pub struct Manifest {
    /// The manifest file.
    pub path: PathBuf,
    /// The model file.
    pub model: PathBuf,
    /// The twin to run.
    pub twin: Option<String>,
    /// `[runtime]`.
    pub runtime: Runtime,
    /// `[[source]]`s, in order.
    pub sources: Vec<Source>,
    /// `[instances]`.
    pub instances: Instances,
    /// Param overrides per instance id: (param, value text).
    pub params: BTreeMap<String, Vec<(String, String)>>,
    /// Sensor bindings, sorted by sensor.
    pub sensors: Vec<SensorBinding>,
    /// Actuator bindings, sorted by actuator.
    pub actuators: Vec<ActuatorBinding>,
    /// Alarm events.
    pub events: Option<EventsBinding>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    model: String,
    twin: Option<String>,
    #[serde(default)]
    runtime: RawRuntime,
    #[serde(default)]
    source: Vec<RawSource>,
    instances: Option<RawInstances>,
    #[serde(default)]
    sensors: BTreeMap<String, RawSensor>,
    #[serde(default)]
    actuators: BTreeMap<String, RawActuator>,
    events: Option<RawEvents>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawRuntime {
    mode: Option<String>,
    api: Option<String>,
    token_env: Option<String>,
    history: Option<String>,
    decimate: Option<String>,
    checkpoint_every: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    name: String,
    kind: String,
    url: Option<String>,
    client_id: Option<String>,
    username: Option<String>,
    password_env: Option<String>,
    path: Option<String>,
    pace: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInstances {
    ids: Option<Vec<String>>,
    discover: Option<String>,
    #[serde(default)]
    params: BTreeMap<String, BTreeMap<String, toml::Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSensor {
    source: String,
    topic: Option<String>,
    path: Option<String>,
    time: Option<String>,
    unit: Option<String>,
    column: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawActuator {
    sink: String,
    topic: String,
    qos: Option<u8>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEvents {
    sink: String,
    topic: String,
}

/// Collects problems, each naming the file and the key.
struct Problems<'a> {
    file: &'a str,
    list: Vec<String>,
}

impl Problems<'_> {
    fn add(&mut self, key: &str, what: impl std::fmt::Display) {
        self.list.push(format!("{}: {key}: {what}", self.file));
    }
}

impl Manifest {
    /// Reads and checks the manifest at `path`.
    pub fn load(path: &Path) -> Result<Manifest, Vec<String>> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| vec![format!("cannot read `{}`: {e}", path.display())])?;
        Manifest::parse(&text, path)
    }

    /// Checks the text of a manifest that lives at `path`.
    pub fn parse(text: &str, path: &Path) -> Result<Manifest, Vec<String>> {
        let file = path.display().to_string();
        let raw: Raw = toml::from_str(text).map_err(|e| {
            let at = e.span().map_or(String::new(), |s| {
                let line = text[..s.start.min(text.len())].matches('\n').count() + 1;
                format!(":{line}")
            });
            vec![format!("{file}{at}: {}", e.message().trim_end())]
        })?;
        let mut p = Problems {
            file: &file,
            list: Vec::new(),
        };
        let dir = path.parent().unwrap_or(Path::new("")).to_path_buf();
        let table = UnitTable::builtin();
        let runtime = runtime(&raw.runtime, path, &dir, &table, &mut p);
        let sources = sources(&raw.source, &dir, &mut p);
        let names: Vec<&str> = sources.iter().map(|s| s.name.as_str()).collect();
        let find = |key: &str, name: &str, p: &mut Problems<'_>| -> Option<usize> {
            let found = names.iter().position(|n| *n == name);
            if found.is_none() {
                let hint = twin_compiler::units::closest(name, names.iter().copied())
                    .map_or(String::new(), |b| format!(" (did you mean \"{b}\"?)"));
                p.add(key, format!("no [[source]] named \"{name}\"{hint}"));
            }
            found
        };
        let (instances, params) = match raw.instances {
            None => (Instances::Ids(vec!["default".into()]), BTreeMap::new()),
            Some(i) => {
                let instances = match (i.ids, i.discover) {
                    (Some(_), Some(_)) => {
                        p.add("instances", "give `ids` or `discover`, not both");
                        Instances::Ids(Vec::new())
                    }
                    (Some(ids), None) => {
                        check_ids(&ids, &mut p);
                        Instances::Ids(ids)
                    }
                    (None, Some(pattern)) => {
                        if pattern.matches("{id}").count() != 1 {
                            p.add("instances.discover", "the topic needs exactly one `{id}`");
                        }
                        Instances::Discover(Topic(pattern))
                    }
                    (None, None) => {
                        p.add(
                            "instances",
                            "give `ids = [...]` or `discover = \"topic/{id}/...\"`",
                        );
                        Instances::Ids(Vec::new())
                    }
                };
                let mut params = BTreeMap::new();
                for (id, values) in i.params {
                    if let Instances::Ids(ids) = &instances
                        && !ids.contains(&id)
                    {
                        p.add(
                            &format!("instances.params.\"{id}\""),
                            "no instance with this id",
                        );
                    }
                    let mut list = Vec::new();
                    for (name, value) in values {
                        let text = match value {
                            toml::Value::String(s) => s,
                            toml::Value::Integer(n) => n.to_string(),
                            toml::Value::Float(x) => x.to_string(),
                            other => {
                                p.add(
                                    &format!("instances.params.\"{id}\".{name}"),
                                    format!(
                                        "expected a number or a quantity like \"380 V\", not {}",
                                        other.type_str()
                                    ),
                                );
                                continue;
                            }
                        };
                        list.push((name, text));
                    }
                    params.insert(id, list);
                }
                (instances, params)
            }
        };
        let mut sensors = Vec::new();
        for (name, s) in raw.sensors {
            let key = format!("sensors.{name}");
            let Some(source) = find(&format!("{key}.source"), &s.source, &mut p) else {
                continue;
            };
            let topic = s.topic.map(Topic);
            match (&sources[source].kind, &topic) {
                (SourceKind::Mqtt(_) | SourceKind::Stdin, None) => p.add(
                    &format!("{key}.topic"),
                    "missing: this source needs a topic",
                ),
                (SourceKind::Stdout, _) => p.add(
                    &format!("{key}.source"),
                    format!("\"{}\" is stdout, which only takes output", s.source),
                ),
                _ => {}
            }
            for (k, pointer) in [("path", &s.path), ("time", &s.time)] {
                if let Some(ptr) = pointer
                    && !ptr.is_empty()
                    && !ptr.starts_with('/')
                {
                    p.add(
                        &format!("{key}.{k}"),
                        format!("a JSON pointer starts with `/` (\"/{ptr}\")"),
                    );
                }
            }
            if let Some(u) = &s.unit
                && let Err(e) = parse_unit(&table, u)
            {
                p.add(&format!("{key}.unit"), e);
            }
            sensors.push(SensorBinding {
                column: s.column.unwrap_or_else(|| name.clone()),
                sensor: name,
                source,
                topic,
                path: s.path.filter(|x| !x.is_empty()),
                time: s.time,
                unit: s.unit,
            });
        }
        let mut actuators = Vec::new();
        for (name, a) in raw.actuators {
            let key = format!("actuators.{name}");
            let Some(sink) = find(&format!("{key}.sink"), &a.sink, &mut p) else {
                continue;
            };
            check_sink(&sources[sink], &format!("{key}.sink"), &mut p);
            let qos = a.qos.unwrap_or(1);
            if qos > 2 {
                p.add(&format!("{key}.qos"), "must be 0, 1 or 2");
            }
            actuators.push(ActuatorBinding {
                actuator: name,
                sink,
                topic: Topic(a.topic),
                qos,
            });
        }
        let events = raw.events.and_then(|e| {
            let sink = find("events.sink", &e.sink, &mut p)?;
            check_sink(&sources[sink], "events.sink", &mut p);
            Some(EventsBinding {
                sink,
                topic: Topic(e.topic),
            })
        });
        if !p.list.is_empty() {
            return Err(p.list);
        }
        Ok(Manifest {
            path: path.to_path_buf(),
            model: dir.join(&raw.model),
            twin: raw.twin,
            runtime,
            sources,
            instances,
            params,
            sensors,
            actuators,
            events,
        })
    }

    /// Checks the bindings and overrides against the model they run:
    /// every bound sensor and actuator exists, every unit has the
    /// dimension of its sensor, every overridden param exists and its
    /// value has the param's dimension. Gives one line per problem.
    pub fn check_against(&self, model: &Model) -> Vec<String> {
        let file = self.path.display().to_string();
        let mut p = Problems {
            file: &file,
            list: Vec::new(),
        };
        let table = UnitTable::builtin();
        let hint = |name: &str, names: Vec<&str>| {
            twin_compiler::units::closest(name, names.iter().copied())
                .map_or(String::new(), |b| format!(" (did you mean `{b}`?)"))
        };
        for b in &self.sensors {
            let key = format!("sensors.{}", b.sensor);
            let Some(sensor) = model.sensors.iter().find(|s| s.name == b.sensor) else {
                let names = model.sensors.iter().map(|s| s.name.as_str()).collect();
                p.add(
                    &key,
                    format!(
                        "`{}` has no sensor `{}`{}",
                        model.name,
                        b.sensor,
                        hint(&b.sensor, names)
                    ),
                );
                continue;
            };
            if let Some(text) = &b.unit
                && let Ok(unit) = parse_unit(&table, text)
                && unit.dim != sensor.dimension
            {
                p.add(
                    &format!("{key}.unit"),
                    format!(
                        "`{text}` is {}, but sensor `{}` is {} (`{}`)",
                        unit.dim.describe(),
                        sensor.name,
                        sensor.dimension.describe(),
                        sensor.unit.text
                    ),
                );
            }
        }
        for b in &self.actuators {
            if !model.actuators.iter().any(|a| a.name == b.actuator) {
                let names = model.actuators.iter().map(|a| a.name.as_str()).collect();
                p.add(
                    &format!("actuators.{}", b.actuator),
                    format!(
                        "`{}` has no actuator `{}`{}",
                        model.name,
                        b.actuator,
                        hint(&b.actuator, names)
                    ),
                );
            }
        }
        for (id, values) in &self.params {
            for (name, text) in values {
                let key = format!("instances.params.\"{id}\".{name}");
                if let Err(e) = param_value(model, &table, name, text) {
                    p.add(&key, e);
                }
            }
        }
        p.list
    }

    /// The SI value of each param override of instance `id`.
    pub fn overrides(&self, model: &Model, id: &str) -> Vec<(String, f64)> {
        let table = UnitTable::builtin();
        self.params
            .get(id)
            .into_iter()
            .flatten()
            .filter_map(|(name, text)| {
                param_value(model, &table, name, text)
                    .ok()
                    .map(|v| (name.clone(), v))
            })
            .collect()
    }
}

/// A param override's SI value: `"380 V"`, `"0.85"`, `"68degF"`.
pub(crate) fn param_value(
    model: &Model,
    table: &UnitTable,
    name: &str,
    text: &str,
) -> Result<f64, String> {
    let Some(param) = model.params.iter().find(|p| p.name == name) else {
        let names: Vec<&str> = model.params.iter().map(|p| p.name.as_str()).collect();
        let hint = twin_compiler::units::closest(name, names.iter().copied())
            .map_or(String::new(), |b| format!(" (did you mean `{b}`?)"));
        return Err(format!("`{}` has no param `{name}`{hint}", model.name));
    };
    let (v, unit) = parse_quantity(table, text)?;
    match unit {
        Some(u) if u.dim != param.dimension => Err(format!(
            "`{text}` is {}, but `{name}` is {} (`{}`)",
            u.dim.describe(),
            param.dimension.describe(),
            param.unit.text
        )),
        Some(u) => Ok(u.to_si(v)),
        None => Ok(param.unit.to_si(v)),
    }
}

fn check_ids(ids: &[String], p: &mut Problems<'_>) {
    if ids.is_empty() {
        p.add("instances.ids", "the list is empty");
    }
    for (i, id) in ids.iter().enumerate() {
        if id.is_empty() || id.contains(['/', '+', '#']) {
            p.add(
                &format!("instances.ids[{i}]"),
                format!("\"{id}\" is not a usable id (no `/`, `+`, `#`, not empty)"),
            );
        }
        if ids[..i].contains(id) {
            p.add(&format!("instances.ids[{i}]"), format!("\"{id}\" twice"));
        }
    }
}

fn check_sink(source: &Source, key: &str, p: &mut Problems<'_>) {
    if matches!(source.kind, SourceKind::Csv { .. } | SourceKind::Stdin) {
        p.add(
            key,
            format!(
                "\"{}\" only gives input; use an mqtt or stdout sink",
                source.name
            ),
        );
    }
}

fn duration(
    table: &UnitTable,
    key: &str,
    text: Option<&String>,
    default: f64,
    p: &mut Problems<'_>,
) -> f64 {
    let Some(text) = text else {
        return default;
    };
    match parse_quantity(table, text) {
        Ok((v, Some(u))) if u.dim == Dimension::base(BaseDim::Time) && u.to_si(v) > 0.0 => {
            u.to_si(v)
        }
        Ok((v, None)) if v > 0.0 => v,
        Ok(_) => {
            p.add(key, format!("\"{text}\" is not a positive duration"));
            default
        }
        Err(e) => {
            p.add(key, e);
            default
        }
    }
}

fn runtime(
    raw: &RawRuntime,
    path: &Path,
    dir: &Path,
    table: &UnitTable,
    p: &mut Problems<'_>,
) -> Runtime {
    let mode = match raw.mode.as_deref() {
        None | Some("live") => Mode::Live,
        Some("replay") => Mode::Replay,
        Some(other) => {
            p.add(
                "runtime.mode",
                format!("\"{other}\": expected \"live\" or \"replay\""),
            );
            Mode::Live
        }
    };
    let api = match raw.api.as_deref() {
        Some("off") => None,
        None => Some(SocketAddr::from(([127, 0, 0, 1], 8080))),
        Some(text) => match text.parse::<SocketAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                p.add(
                    "runtime.api",
                    format!("\"{text}\": expected HOST:PORT like \"127.0.0.1:8080\", or \"off\""),
                );
                None
            }
        },
    };
    let history = match raw.history.as_deref() {
        None => History::Sqlite(dir.join(format!(
            "{}.db",
            path.file_stem().and_then(|s| s.to_str()).unwrap_or("twin")
        ))),
        Some("off") => History::Off,
        Some(text) => {
            if let Some(file) = text.strip_prefix("sqlite:") {
                History::Sqlite(dir.join(file))
            } else if text.starts_with("postgres://") || text.starts_with("postgresql://") {
                History::Postgres(text.to_string())
            } else {
                p.add(
                    "runtime.history",
                    format!("\"{text}\": expected \"sqlite:FILE\", \"postgres://...\" or \"off\""),
                );
                History::Off
            }
        }
    };
    Runtime {
        mode,
        api,
        token_env: raw.token_env.clone(),
        history,
        decimate: duration(table, "runtime.decimate", raw.decimate.as_ref(), 1.0, p),
        checkpoint_every: duration(
            table,
            "runtime.checkpoint_every",
            raw.checkpoint_every.as_ref(),
            10.0,
            p,
        ),
    }
}

fn sources(raw: &[RawSource], dir: &Path, p: &mut Problems<'_>) -> Vec<Source> {
    let mut out: Vec<Source> = Vec::new();
    for (i, s) in raw.iter().enumerate() {
        let key = format!("source[{i}]");
        if out.iter().any(|o| o.name == s.name) {
            p.add(&format!("{key}.name"), format!("\"{}\" twice", s.name));
        }
        let unused = |field: &str, value: &Option<String>, p: &mut Problems<'_>| {
            if value.is_some() {
                p.add(
                    &format!("{key}.{field}"),
                    format!("not used by a {} source", s.kind),
                );
            }
        };
        let kind = match s.kind.as_str() {
            "mqtt" => {
                unused("path", &s.path, p);
                unused("pace", &s.pace, p);
                match s.url.as_deref().map(parse_mqtt_url) {
                    None => {
                        p.add(
                            &format!("{key}.url"),
                            "missing: e.g. \"mqtt://127.0.0.1:1883\"",
                        );
                        continue;
                    }
                    Some(Err(e)) => {
                        p.add(&format!("{key}.url"), e);
                        continue;
                    }
                    Some(Ok((host, port, tls))) => SourceKind::Mqtt(Mqtt {
                        host,
                        port,
                        tls,
                        client_id: s
                            .client_id
                            .clone()
                            .unwrap_or_else(|| format!("twinc-{}", s.name)),
                        username: s.username.clone(),
                        password_env: s.password_env.clone(),
                    }),
                }
            }
            "csv" => {
                for (f, v) in [
                    ("url", &s.url),
                    ("client_id", &s.client_id),
                    ("username", &s.username),
                    ("password_env", &s.password_env),
                ] {
                    unused(f, v, p);
                }
                let pace = match s.pace.as_deref() {
                    None | Some("fast") => Pace::Fast,
                    Some("realtime") => Pace::Realtime,
                    Some(other) => {
                        p.add(
                            &format!("{key}.pace"),
                            format!("\"{other}\": expected \"fast\" or \"realtime\""),
                        );
                        Pace::Fast
                    }
                };
                match &s.path {
                    Some(path) => SourceKind::Csv {
                        path: dir.join(path),
                        pace,
                    },
                    None => {
                        p.add(&format!("{key}.path"), "missing: the CSV file to replay");
                        continue;
                    }
                }
            }
            "stdin" | "stdout" => {
                for (f, v) in [
                    ("url", &s.url),
                    ("client_id", &s.client_id),
                    ("username", &s.username),
                    ("password_env", &s.password_env),
                    ("path", &s.path),
                    ("pace", &s.pace),
                ] {
                    unused(f, v, p);
                }
                if s.kind == "stdin" {
                    SourceKind::Stdin
                } else {
                    SourceKind::Stdout
                }
            }
            other => {
                p.add(
                    &format!("{key}.kind"),
                    format!("\"{other}\": expected \"mqtt\", \"csv\", \"stdin\" or \"stdout\""),
                );
                continue;
            }
        };
        out.push(Source {
            name: s.name.clone(),
            kind,
        });
    }
    out
}

/// `mqtt://host[:port]` or `mqtts://host[:port]`: (host, port, tls).
fn parse_mqtt_url(url: &str) -> Result<(String, u16, bool), String> {
    let (rest, tls) = if let Some(r) = url.strip_prefix("mqtts://") {
        (r, true)
    } else if let Some(r) = url.strip_prefix("mqtt://") {
        (r, false)
    } else {
        return Err(format!(
            "\"{url}\": expected mqtt://HOST[:PORT] or mqtts://HOST[:PORT]"
        ));
    };
    let rest = rest.trim_end_matches('/');
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (
            h,
            p.parse::<u16>()
                .map_err(|_| format!("\"{url}\": \"{p}\" is not a port"))?,
        ),
        None => (rest, if tls { 8883 } else { 1883 }),
    };
    if host.is_empty() {
        return Err(format!("\"{url}\": no host"));
    }
    Ok((host.to_string(), port, tls))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Manifest, Vec<String>> {
        Manifest::parse(text, Path::new("plant/twin.toml"))
    }

    const FULL: &str = r#"
model = "pump.twin"
twin = "Pump"

[runtime]
mode = "replay"
api = "off"
history = "sqlite:hist.db"
decimate = "500 ms"
checkpoint_every = "1 min"

[[source]]
name = "plant"
kind = "mqtt"
url = "mqtts://broker.local"
client_id = "twin-pump"

[[source]]
name = "log"
kind = "csv"
path = "data/telemetry.csv"

[instances]
ids = ["pump-1", "pump-2"]
params."pump-1" = { voltage = "380 V" }

[sensors.current]
source = "plant"
topic = "plant/{id}/current"
path = "/value"
time = "/ts"
unit = "mA"

[sensors.speed]
source = "log"

[actuators.speed_setpoint]
sink = "plant"
topic = "plant/{id}/speed/set"

[events]
sink = "plant"
topic = "twins/{id}/events"
"#;

    #[test]
    fn a_full_manifest_reads() {
        let m = match parse(FULL) {
            Ok(m) => m,
            Err(e) => panic!("{e:?}"),
        };
        assert_eq!(m.model, Path::new("plant/pump.twin"));
        assert_eq!(m.runtime.mode, Mode::Replay);
        assert_eq!(m.runtime.api, None);
        assert_eq!(m.runtime.history, History::Sqlite("plant/hist.db".into()));
        assert_eq!(m.runtime.decimate, 0.5);
        assert_eq!(m.runtime.checkpoint_every, 60.0);
        let SourceKind::Mqtt(mqtt) = &m.sources[0].kind else {
            panic!("not mqtt")
        };
        assert_eq!(
            (mqtt.host.as_str(), mqtt.port, mqtt.tls),
            ("broker.local", 8883, true)
        );
        assert_eq!(
            m.sources[1].kind,
            SourceKind::Csv {
                path: "plant/data/telemetry.csv".into(),
                pace: Pace::Fast
            }
        );
        assert_eq!(m.sensors[0].sensor, "current");
        assert_eq!(m.sensors[1].column, "speed");
        assert_eq!(m.actuators[0].qos, 1);
        assert_eq!(m.params["pump-1"], vec![("voltage".into(), "380 V".into())]);
    }

    #[test]
    fn defaults_are_live_localhost_and_a_database_beside_the_manifest() {
        let m = match parse("model = \"m.twin\"\n") {
            Ok(m) => m,
            Err(e) => panic!("{e:?}"),
        };
        assert_eq!(m.runtime.mode, Mode::Live);
        assert_eq!(
            m.runtime.api,
            Some(SocketAddr::from(([127, 0, 0, 1], 8080)))
        );
        assert_eq!(m.runtime.history, History::Sqlite("plant/twin.db".into()));
        assert_eq!(m.instances, Instances::Ids(vec!["default".into()]));
    }

    #[test]
    fn every_problem_names_the_file_and_the_key() {
        let text = FULL
            .replace("mode = \"replay\"", "mode = \"fast\"")
            .replace("source = \"log\"", "source = \"lg\"")
            .replace("decimate = \"500 ms\"", "decimate = \"5 m\"")
            .replace(
                "sink = \"plant\"\ntopic = \"plant/{id}/speed/set\"",
                "sink = \"log\"\ntopic = \"x\"",
            );
        let errors = parse(&text).err().unwrap_or_default();
        assert_eq!(
            errors,
            [
                "plant/twin.toml: runtime.mode: \"fast\": expected \"live\" or \"replay\"",
                "plant/twin.toml: runtime.decimate: \"5 m\" is not a positive duration",
                "plant/twin.toml: sensors.speed.source: no [[source]] named \"lg\" (did you mean \"log\"?)",
                "plant/twin.toml: actuators.speed_setpoint.sink: \"log\" only gives input; use an mqtt or stdout sink",
            ]
        );
    }

    #[test]
    fn unknown_keys_give_the_line() {
        let errors = parse("model = \"m.twin\"\n[runtime]\nmdoe = \"live\"\n")
            .err()
            .unwrap_or_default();
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].starts_with("plant/twin.toml:3: unknown field `mdoe`"),
            "{errors:?}"
        );
    }

    #[test]
    fn topics_match_and_fill_ids() {
        let t = Topic("plant/{id}/current".into());
        assert_eq!(t.for_id("p1"), "plant/p1/current");
        assert_eq!(t.match_id("plant/p1/current"), Some("p1".into()));
        assert_eq!(t.match_id("plant/a/b/current"), None);
        assert_eq!(t.match_id("plant//current"), None);
        assert_eq!(t.filter(), "plant/+/current");
        assert_eq!(Topic("site/pump-{id}/flow".into()).filter(), "site/+/flow");
    }
}
