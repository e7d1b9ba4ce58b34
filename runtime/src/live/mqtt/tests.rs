//! Unit tests of the MQTT link: the filters, the login settings, the
//! second connection for publications, TLS roots.

use super::*;
use std::path::Path;

fn manifest(extra: &str) -> Manifest {
    let text = format!(
        r#"
model = "m.twin"
[[source]]
name = "plant"
kind = "mqtt"
url = "mqtt://127.0.0.1:1883"
{extra}
[instances]
discover = "plant/{{id}}/hello"
[sensors.level]
source = "plant"
topic = "plant/{{id}}/level"
[sensors.flow]
source = "plant"
topic = "site/pump-{{id}}/flow"
"#
    );
    match Manifest::parse(&text, Path::new("plant/twin.toml")) {
        Ok(m) => m,
        Err(e) => panic!("{e:?}"),
    }
}

#[test]
fn filters_cover_every_bound_topic_and_discovery() {
    let m = manifest("");
    assert_eq!(
        filters(&m, 0),
        ["plant/+/hello", "plant/+/level", "site/+/flow"]
    );
}

#[test]
fn a_password_variable_must_be_set_and_needs_a_user() {
    let m = manifest("username = \"twin\"\npassword_env = \"TWIN_TEST_UNSET_PASSWORD_VAR\"");
    assert_eq!(
        MqttLink::new(&m, 0).err().as_deref(),
        Some(
            "plant/twin.toml: source[0].password_env: the environment variable \
             TWIN_TEST_UNSET_PASSWORD_VAR is not set"
        )
    );
    let m = manifest("password_env = \"PATH\"");
    assert_eq!(
        MqttLink::new(&m, 0).err().as_deref(),
        Some("plant/twin.toml: source[0].password_env: a password needs a `username`")
    );
    let m = manifest("client_id = \"\"");
    assert!(
        MqttLink::new(&m, 0)
            .err()
            .is_some_and(|e| e.contains("client_id: empty"))
    );
}

#[test]
fn a_source_read_and_written_publishes_on_a_connection_of_its_own() {
    let read = manifest("");
    let link = MqttLink::new(&read, 0);
    assert_eq!(link.as_ref().map(MqttLink::connections), Ok(1));
    assert!(link.is_ok_and(|l| l.sink(&read).is_none()));
    let both = manifest("[actuators.valve]\nsink = \"plant\"\ntopic = \"plant/{id}/valve\"");
    let link = MqttLink::new(&both, 0);
    assert_eq!(link.as_ref().map(MqttLink::connections), Ok(2));
    assert!(link.is_ok_and(|l| l.sink(&both).is_some()));
}

#[test]
fn tls_has_trusted_roots() {
    // Either the platform's or the bundled ones: never an empty store,
    // which would refuse every broker.
    assert!(!roots().is_empty());
    assert!(tls_config().is_ok());
    let m = manifest("").sources[0].kind.clone();
    let SourceKind::Mqtt(mut settings) = m else {
        panic!("not mqtt")
    };
    settings.tls = true;
    assert!(options(&settings, "twin", "k").is_ok());
}
