//! The checks of the manifest's parts that need no model: instance ids,
//! sinks, durations, `[runtime]`, `[[source]]`s and broker URLs.
//!
//! Takes the raw TOML tables ([`super::Raw`] and its parts); gives the
//! checked values, each problem added to [`super::Problems`] with its key.

use std::net::SocketAddr;
use std::path::Path;

use twin_compiler::units::parse::parse_quantity;
use twin_compiler::units::{BaseDim, Dimension, UnitTable};

use super::{
    History, Mode, Mqtt, Pace, Problems, RawRuntime, RawSource, Runtime, Source, SourceKind,
};

pub(super) fn check_ids(ids: &[String], p: &mut Problems<'_>) {
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

pub(super) fn check_sink(source: &Source, key: &str, p: &mut Problems<'_>) {
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

pub(super) fn duration(
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

pub(super) fn runtime(
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

pub(super) fn sources(raw: &[RawSource], dir: &Path, p: &mut Problems<'_>) -> Vec<Source> {
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
pub(super) fn parse_mqtt_url(url: &str) -> Result<(String, u16, bool), String> {
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
