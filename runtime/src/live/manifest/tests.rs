//! The manifest checks on whole manifests: a full one, each default, and
//! each mistake reported as one line naming the file and the key.

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
