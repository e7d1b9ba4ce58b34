//! `POST /twins/{id}/whatif`: a what-if run forked from a live twin.
//!
//! Takes a request body — a `scenario` block of the model file by name,
//! and/or an ad hoc study (`duration`, `set` params, `sensors` held at a
//! value) — and a [`Fork`] of the live instance's state; gives the scenario
//! report as JSON. The run starts from a copy of the instance (every
//! persistent slot, matched by name so a scenario's lowered model may
//! differ from the running one) and never touches the fleet. Named
//! scenarios are read from the model file as it is at the request, so they
//! follow reloads; ad hoc fields apply on top of them. A bad body is a
//! [`Refusal`] that names the field at fault.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};
use twin_compiler::check::check;
use twin_compiler::codegen::CompiledModel;
use twin_compiler::ir::{Expr, Format, Model};
use twin_compiler::source::Sources;
use twin_compiler::units::parse::parse_quantity;
use twin_compiler::units::{BaseDim, Dimension, UnitTable, closest};

use crate::live::manifest::param_value;
use crate::runs::{Prepared, prepare};
use crate::scenario::{Options, Report, run_scenario_from};
use crate::sim::{Fork, Interpreter};

use super::view::tidy;

/// The most steps one what-if may run (about 20 s of native code for a
/// small twin): a request cannot tie up a core for hours.
pub const MAX_STEPS: f64 = 1e8;

/// A what-if request, checked for shape (not yet against the model).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Request {
    /// A `scenario` block of the model file.
    pub scenario: Option<String>,
    /// How long to run (s).
    pub duration: Option<f64>,
    /// Param overrides: (name, value text).
    pub set: Vec<(String, String)>,
    /// Sensors held at a value: (name, value text).
    pub sensors: Vec<(String, String)>,
}

/// Why a what-if gives no report.
#[derive(Clone, Debug, PartialEq)]
pub enum Refusal {
    /// The request is wrong (400): the field at fault and what is wrong.
    Bad {
        /// `duration`, `set.voltage`, `sensors.current`, `scenario`, `body`.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// The run could not be made (500): an unreadable replay file.
    Failed(String),
}

fn bad(field: impl Into<String>, message: impl Into<String>) -> Refusal {
    Refusal::Bad {
        field: field.into(),
        message: message.into(),
    }
}

/// Reads a request body.
pub fn parse_request(body: &[u8]) -> Result<Request, Refusal> {
    let example = r#"{"scenario": "NAME"} or {"duration": "6 h", "set": {...}, "sensors": {...}}"#;
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| bad("body", format!("not JSON ({e}); expected {example}")))?;
    let Value::Object(fields) = value else {
        return Err(bad("body", format!("expected a JSON object: {example}")));
    };
    let mut req = Request::default();
    for (key, v) in &fields {
        match key.as_str() {
            "scenario" => match v {
                Value::String(s) => req.scenario = Some(s.clone()),
                _ => return Err(bad("scenario", "expected the name of a scenario, a string")),
            },
            "duration" => {
                let text = quantity_text(v)
                    .ok_or_else(|| bad("duration", "expected a duration such as \"6 h\""))?;
                req.duration = Some(duration(&text).map_err(|m| bad("duration", m))?);
            }
            "set" | "sensors" => {
                let Value::Object(map) = v else {
                    return Err(bad(
                        key.as_str(),
                        format!(
                            "expected an object of names and values such as {{\"{}\": \"14 A\"}}",
                            if key == "set" { "voltage" } else { "current" }
                        ),
                    ));
                };
                let mut list = Vec::new();
                for (name, value) in map {
                    let text = quantity_text(value).ok_or_else(|| {
                        bad(
                            format!("{key}.{name}"),
                            "expected a number or a quantity such as \"380 V\"",
                        )
                    })?;
                    list.push((name.clone(), text));
                }
                if key == "set" {
                    req.set = list;
                } else {
                    req.sensors = list;
                }
            }
            other => {
                let known = ["scenario", "duration", "set", "sensors"];
                let hint = closest(other, known)
                    .map_or(String::new(), |b| format!(" (did you mean `{b}`?)"));
                return Err(bad(
                    other,
                    format!("unknown field{hint}; expected scenario, duration, set or sensors"),
                ));
            }
        }
    }
    if req.scenario.is_none() && req.duration.is_none() {
        return Err(bad(
            "duration",
            "missing: give a duration such as \"6 h\", or a scenario",
        ));
    }
    Ok(req)
}

/// A JSON value as quantity text: strings as written, numbers as numbers
/// in the declared unit.
fn quantity_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A positive duration in s: `"6 h"`, `"90 s"`, or a bare number of seconds.
fn duration(text: &str) -> Result<f64, String> {
    let table = UnitTable::builtin();
    let seconds = match parse_quantity(&table, text)? {
        (v, Some(u)) if u.dim == Dimension::base(BaseDim::Time) => u.to_si(v),
        (_, Some(u)) => return Err(format!("`{text}` is {}, not a time", u.dim.describe())),
        (v, None) => v,
    };
    if seconds > 0.0 && seconds.is_finite() {
        Ok(seconds)
    } else {
        Err(format!("`{text}` is not a positive duration"))
    }
}

/// What a what-if needs besides the live state: the model file, for its
/// `scenario` blocks.
pub struct WhatIf {
    file: PathBuf,
}

impl WhatIf {
    /// What-ifs whose named scenarios come from the model file `file`, read
    /// anew for each request so that they follow reloads of the model;
    /// their replay files are relative to its folder.
    pub fn new(file: PathBuf) -> WhatIf {
        WhatIf { file }
    }

    /// Runs `req` on `model` (the running one) from `fork` (instance `id`,
    /// forked at `epoch`); gives the report as JSON.
    pub fn run(
        &self,
        req: &Request,
        model: &Model,
        fork: &Fork,
        id: &str,
        epoch: f64,
    ) -> Result<Value, Refusal> {
        let mut p = match &req.scenario {
            Some(name) => self.named(name, &model.name)?,
            None => Prepared {
                model: model.clone(),
                drives: Vec::new(),
                inputs: None,
                overrides: Vec::new(),
                duration: 0.0,
                expects: Vec::new(),
                report: Vec::new(),
            },
        };
        if let Some(d) = req.duration {
            p.duration = d;
        }
        let steps = p.duration / p.model.step;
        if steps > MAX_STEPS {
            return Err(bad(
                "duration",
                format!(
                    "{} s is {steps:.0} steps of {} s; a what-if runs at most {MAX_STEPS:.0}",
                    p.duration, p.model.step
                ),
            ));
        }
        let table = UnitTable::builtin();
        for (name, text) in &req.set {
            let v = param_value(&p.model, &table, name, text)
                .map_err(|m| bad(format!("set.{name}"), m))?;
            p.overrides.retain(|(n, _)| n != name);
            p.overrides.push((name.clone(), v));
        }
        for (name, text) in &req.sensors {
            let (index, v) = sensor_value(&p.model, &table, name, text)
                .map_err(|m| bad(format!("sensors.{name}"), m))?;
            p.drives.retain(|(s, _)| *s != index);
            p.drives.push((index, Expr::Const(v)));
        }
        if p.report.is_empty() {
            p.report = p
                .model
                .outputs
                .iter()
                .filter(|o| matches!(o.format, Format::Real | Format::Int))
                .map(|o| (o.name.clone(), o.slot, o.unit.clone()))
                .collect();
        }
        let options = || Options {
            csv: None,
            trace_buckets: None,
            progress: None,
        };
        let report = match CompiledModel::compile(&p.model) {
            Ok(code) => run_scenario_from(&p, code, options(), Some(fork)),
            Err(_) => run_scenario_from(&p, Interpreter, options(), Some(fork)),
        }
        .map_err(Refusal::Failed)?;
        Ok(report_json(&report, req, id, epoch + p.model.step))
    }

    /// The `scenario` block `name` for the twin `twin` of the model file,
    /// prepared.
    fn named(&self, name: &str, twin: &str) -> Result<Prepared, Refusal> {
        let file = self.file.display();
        let text = std::fs::read_to_string(&self.file)
            .map_err(|e| Refusal::Failed(format!("cannot read `{file}`: {e}")))?;
        let mut sources = Sources::new();
        let root = sources.add(file.to_string(), text);
        let checked = check(&mut sources, root);
        if checked.has_errors() {
            return Err(Refusal::Failed(format!(
                "`{file}` has errors now; fix it to run its scenarios"
            )));
        }
        let program = &checked.program;
        let Some(index) = program.twin(twin) else {
            return Err(Refusal::Failed(format!(
                "`{file}` has no twin `{twin}` now"
            )));
        };
        let ours: Vec<&str> = program
            .scenarios
            .iter()
            .filter(|s| s.twin == index)
            .map(|s| s.name.as_str())
            .collect();
        let Some(run) = program.scenarios.iter().find(|s| s.name == name) else {
            let hint = closest(name, ours.iter().copied())
                .map_or(String::new(), |b| format!(" (did you mean `{b}`?)"));
            let list = if ours.is_empty() {
                format!("`{file}` has no scenario for it")
            } else {
                format!("it has: {}", ours.join(", "))
            };
            return Err(bad(
                "scenario",
                format!("no scenario `{name}` for `{twin}`{hint}; {list}"),
            ));
        };
        if run.twin != index {
            let other = program.twins.get(run.twin).map_or("?", |t| t.name.as_str());
            return Err(bad(
                "scenario",
                format!("`{name}` is a scenario for `{other}`, not for `{twin}`"),
            ));
        }
        let base = self.file.parent().unwrap_or(Path::new(""));
        prepare(program, run, base).map_err(Refusal::Failed)
    }
}

/// A sensor's index and a held value for it in SI, checked against its
/// dimension and range.
fn sensor_value(
    model: &Model,
    table: &UnitTable,
    name: &str,
    text: &str,
) -> Result<(usize, f64), String> {
    let Some(index) = model.sensors.iter().position(|s| s.name == name) else {
        let hint = closest(name, model.sensors.iter().map(|s| s.name.as_str()))
            .map_or(String::new(), |b| format!(" (did you mean `{b}`?)"));
        return Err(format!("`{}` has no sensor `{name}`{hint}", model.name));
    };
    let sensor = &model.sensors[index];
    let si = match parse_quantity(table, text)? {
        (v, Some(u)) if u.dim == sensor.dimension => u.to_si(v),
        (_, Some(u)) => {
            return Err(format!(
                "`{text}` is {}, but `{name}` is {} (`{}`)",
                u.dim.describe(),
                sensor.dimension.describe(),
                sensor.unit.text
            ));
        }
        (v, None) => sensor.unit.to_si(v),
    };
    if !si.is_finite() {
        return Err(format!("`{text}` is not a finite value"));
    }
    if let Some((lo, hi)) = sensor.range
        && !(lo..=hi).contains(&si)
    {
        let u = &sensor.unit;
        return Err(format!(
            "`{text}` is outside the sensor's range {} {} .. {} {}",
            u.from_si(lo),
            u.text,
            u.from_si(hi),
            u.text
        ));
    }
    Ok((index, si))
}

/// The report as the API answers it.
fn report_json(r: &Report, req: &Request, id: &str, start: f64) -> Value {
    let mut signals = Map::new();
    for s in &r.signals {
        signals.insert(
            s.name.clone(),
            json!({
                "unit": s.unit.text,
                "min": number(tidy(s.min)),
                "max": number(tidy(s.max)),
                "mean": number(tidy(s.mean)),
                "final": number(tidy(s.last)),
                "nan_rows": s.nan_rows,
            }),
        );
    }
    let alarms: Vec<Value> = r
        .alarms
        .iter()
        .map(|a| {
            json!({
                "name": a.name,
                "severity": a.severity,
                "raised_s": number(a.raised),
                "cleared_s": a.cleared.map(number),
            })
        })
        .collect();
    let clamps: Map<String, Value> = r
        .clamps
        .iter()
        .map(|c| (c.name.clone(), Value::from(c.ticks)))
        .collect();
    let rejected: Vec<Value> = r
        .rejected
        .iter()
        .map(|x| json!({"sensor": x.sensor, "reason": x.reason.code(), "count": x.lines.len()}))
        .collect();
    json!({
        "id": id,
        "twin": r.twin,
        "scenario": req.scenario,
        "start_t": number(super::view::round(start)),
        "duration_s": number(r.duration),
        "step_s": number(r.step),
        "rows": r.rows,
        "wall_s": number(r.wall.as_secs_f64()),
        "speedup": number(r.speedup()),
        "signals": signals,
        "alarms": alarms,
        "clamps": clamps,
        "rejected": rejected,
    })
}

fn number(v: f64) -> Value {
    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(body: &str) -> String {
        match parse_request(body.as_bytes()) {
            Ok(r) => panic!("accepted {body}: {r:?}"),
            Err(Refusal::Bad { field, message }) => format!("{field}: {message}"),
            Err(Refusal::Failed(m)) => panic!("failed: {m}"),
        }
    }

    #[test]
    fn bodies_read_with_units_and_numbers() {
        let req = match parse_request(
            br#"{"duration": "6 h", "set": {"voltage": "380 V", "efficiency": 0.8}, "sensors": {"current": "14 A"}}"#,
        ) {
            Ok(r) => r,
            Err(e) => panic!("{e:?}"),
        };
        assert_eq!(req.duration, Some(21600.0));
        assert_eq!(
            req.set,
            vec![
                ("efficiency".to_string(), "0.8".to_string()),
                ("voltage".to_string(), "380 V".to_string())
            ]
        );
        assert_eq!(
            req.sensors,
            vec![("current".to_string(), "14 A".to_string())]
        );
    }

    #[test]
    fn bad_bodies_name_the_field() {
        assert!(refused("nope").starts_with("body: not JSON"));
        assert!(refused("[1]").starts_with("body: expected a JSON object"));
        assert!(refused("{}").starts_with("duration: missing"));
        assert!(refused(r#"{"duration": "5 V"}"#).starts_with("duration: `5 V` is"));
        assert!(
            refused(r#"{"duration": "-1 s"}"#).starts_with("duration: `-1 s` is not a positive")
        );
        assert!(refused(r#"{"duration": true}"#).starts_with("duration: expected"));
        assert!(refused(r#"{"durration": "1 h"}"#).contains("(did you mean `duration`?)"));
        assert!(
            refused(r#"{"duration": "1 h", "set": [1]}"#).starts_with("set: expected an object")
        );
        assert!(
            refused(r#"{"duration": "1 h", "sensors": {"current": null}}"#)
                .starts_with("sensors.current: expected a number")
        );
        assert!(refused(r#"{"scenario": 3}"#).starts_with("scenario: expected"));
    }
}
