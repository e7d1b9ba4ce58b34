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
use twin_compiler::units::UnitTable;
use twin_compiler::units::parse::{parse_quantity, parse_unit};

mod checks;
#[cfg(test)]
mod tests;

use checks::{check_ids, check_sink, runtime, sources};

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

    /// The params that some instance overrides (each name once): the
    /// others are the same in every instance, which a fleet shares.
    pub fn overridden_params(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .params
            .values()
            .flatten()
            .map(|(name, _)| name.clone())
            .collect();
        names.sort();
        names.dedup();
        names
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
