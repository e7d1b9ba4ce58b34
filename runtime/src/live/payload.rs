//! Decoding one telemetry message for one sensor binding.
//!
//! Takes a message payload (bytes off MQTT or one stdin line) and the
//! binding's JSON pointers and unit; gives the value in SI and the source
//! timestamp (seconds since the Unix epoch) if the binding names one, or
//! the reason the message cannot be applied: not JSON, a missing field,
//! not a number, or a unit that does not exist or does not fit the sensor.
//! A payload may name its own unit (`{"value": 1200, "unit": "mA"}`); it
//! wins over the binding's.

use serde_json::Value;
use twin_compiler::ir::SensorInfo;
use twin_compiler::units::UnitTable;
use twin_compiler::units::parse::parse_unit;

use crate::input::Reject;

/// A decoded sample.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Decoded {
    /// The value in SI (not yet checked against the sensor's range).
    pub value: f64,
    /// The source timestamp, seconds since the Unix epoch.
    pub time: Option<f64>,
}

/// How a binding reads payloads: pointers and the unit conversion.
#[derive(Clone, Debug, PartialEq)]
pub struct Decoder {
    path: Option<String>,
    time: Option<String>,
    /// SI = value × scale + offset.
    scale: f64,
    offset: f64,
    sensor: SensorInfo,
}

impl Decoder {
    /// A decoder for `sensor` with the binding's pointers and unit. The
    /// unit was checked with the manifest; an unusable one falls back to
    /// the sensor's own.
    pub fn new(
        sensor: &SensorInfo,
        path: Option<&str>,
        time: Option<&str>,
        unit: Option<&str>,
    ) -> Decoder {
        let (scale, offset) = unit
            .and_then(|u| convert(u, sensor).ok())
            .unwrap_or((sensor.unit.scale, sensor.unit.offset));
        Decoder {
            path: path.map(String::from),
            time: time.map(String::from),
            scale,
            offset,
            sensor: sensor.clone(),
        }
    }

    /// Decodes a payload.
    pub fn decode(&self, payload: &[u8]) -> Result<Decoded, Reject> {
        let text = std::str::from_utf8(payload).map_err(|_| Reject::NotJson)?;
        let json: Value = serde_json::from_str(text.trim()).map_err(|_| Reject::NotJson)?;
        self.decode_json(&json)
    }

    /// Decodes an already parsed payload.
    pub fn decode_json(&self, json: &Value) -> Result<Decoded, Reject> {
        let field = match &self.path {
            Some(p) => json.pointer(p).ok_or(Reject::MissingField)?,
            None => json,
        };
        let raw = number(field)?;
        let (scale, offset) = match json.get("unit") {
            Some(Value::String(u)) => convert(u, &self.sensor)?,
            Some(_) => return Err(Reject::UnknownUnit),
            None => (self.scale, self.offset),
        };
        let time = match &self.time {
            Some(p) => Some(timestamp(json.pointer(p).ok_or(Reject::MissingField)?)?),
            None => None,
        };
        Ok(Decoded {
            value: raw * scale + offset,
            time,
        })
    }
}

/// A JSON number, or a string holding one (`"NaN"`, `"12.5"`).
fn number(v: &Value) -> Result<f64, Reject> {
    match v {
        Value::Number(n) => n.as_f64().ok_or(Reject::Garbled),
        Value::String(s) => {
            let x: f64 = s.trim().parse().map_err(|_| Reject::Garbled)?;
            Ok(x)
        }
        _ => Err(Reject::Garbled),
    }
}

/// Seconds since the epoch, or an RFC 3339 string.
fn timestamp(v: &Value) -> Result<f64, Reject> {
    match v {
        Value::Number(n) => n.as_f64().filter(|x| x.is_finite()).ok_or(Reject::Garbled),
        Value::String(s) => {
            if let Ok(x) = s.trim().parse::<f64>() {
                return Ok(x);
            }
            let ts: jiff::Timestamp = s.trim().parse().map_err(|_| Reject::Garbled)?;
            Ok(ts.as_nanosecond() as f64 / 1e9)
        }
        _ => Err(Reject::Garbled),
    }
}

/// (scale, offset) from `unit` to SI, if it fits the sensor.
fn convert(unit: &str, sensor: &SensorInfo) -> Result<(f64, f64), Reject> {
    let table = UnitTable::builtin();
    let u = parse_unit(&table, unit).map_err(|_| Reject::UnknownUnit)?;
    if u.dim != sensor.dimension {
        return Err(Reject::UnknownUnit);
    }
    Ok((u.scale, u.offset))
}

#[cfg(test)]
mod tests {
    use super::*;
    use twin_compiler::hir::DisplayUnit;
    use twin_compiler::units::{BaseDim, Dimension};

    fn current() -> SensorInfo {
        SensorInfo {
            name: "current".into(),
            slot: 0,
            last_sample: 1,
            unit: DisplayUnit::si("A"),
            dimension: Dimension::base(BaseDim::Current),
            range: Some((0.0, 60.0)),
            stale_after: None,
            format: twin_compiler::ir::Format::Real,
        }
    }

    #[test]
    fn values_convert_and_times_parse() {
        let d = Decoder::new(&current(), Some("/value"), Some("/ts"), Some("mA"));
        let got = d.decode(br#"{"value": 1500, "ts": 1790000000.5}"#);
        assert_eq!(
            got,
            Ok(Decoded {
                value: 1.5,
                time: Some(1_790_000_000.5)
            })
        );
        let got = d.decode(br#"{"value": 2, "unit": "A", "ts": "2026-11-24T10:00:00+01:00"}"#);
        assert_eq!(got.map(|x| x.value), Ok(2.0));
        assert_eq!(got.map(|x| x.time), Ok(Some(1_795_510_800.0)));
        let bare = Decoder::new(&current(), None, None, None);
        assert_eq!(bare.decode(b" 12.5\n").map(|x| x.value), Ok(12.5));
    }

    #[test]
    fn every_bad_payload_has_its_reason() {
        let d = Decoder::new(&current(), Some("/value"), Some("/ts"), None);
        assert_eq!(d.decode(b"{not json"), Err(Reject::NotJson));
        assert_eq!(d.decode(b"\xff\xfe"), Err(Reject::NotJson));
        assert_eq!(d.decode(br#"{"ts": 1}"#), Err(Reject::MissingField));
        assert_eq!(d.decode(br#"{"value": 1}"#), Err(Reject::MissingField));
        assert_eq!(
            d.decode(br#"{"value": "abc", "ts": 1}"#),
            Err(Reject::Garbled)
        );
        assert_eq!(
            d.decode(br#"{"value": [1], "ts": 1}"#),
            Err(Reject::Garbled)
        );
        assert_eq!(
            d.decode(br#"{"value": 1, "ts": 1, "unit": "furlong"}"#),
            Err(Reject::UnknownUnit)
        );
        assert_eq!(
            d.decode(br#"{"value": 1, "ts": 1, "unit": "K"}"#),
            Err(Reject::UnknownUnit)
        );
        assert_eq!(
            d.decode(br#"{"value": 1, "ts": "yesterday"}"#),
            Err(Reject::Garbled)
        );
        // NaN passes decoding; the fleet rejects it with its own reason.
        assert!(
            d.decode(br#"{"value": "NaN", "ts": 1}"#)
                .is_ok_and(|x| x.value.is_nan())
        );
    }
}
