//! Sources that need no network: CSV replay and JSON lines on stdin.
//!
//! Takes a source's settings and the runner's channel; gives a thread that
//! delivers [`Input`]s and ends with [`Input::End`]. A CSV file has the
//! header `t`, optionally `id`, then one column per sensor (with an
//! optional unit, `current[mA]`); each cell becomes an [`Input::Cell`] and
//! each row a watermark, at full speed or paced to real time. A stdin line
//! is `{"topic": "...", "payload": ...}` and becomes an
//! [`Input::Message`], so stdin bindings work exactly like MQTT ones; a
//! line that is not such an object is delivered on the topic `""` and
//! rejected by the runner as unbound.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::mpsc::Sender;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::Input;
use super::manifest::Pace;
use crate::input::Reject;

/// Seconds since the Unix epoch, now.
pub fn now_epoch() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// A CSV header: whether there is an `id` column, and per other column
/// its name and unit.
struct Header {
    has_id: bool,
    columns: Vec<(String, Option<String>)>,
}

fn header(line: &str) -> Result<Header, String> {
    let cells: Vec<&str> = line.split(',').map(str::trim).collect();
    if cells.first() != Some(&"t") {
        return Err("the first column must be `t`".into());
    }
    let has_id = cells.get(1) == Some(&"id");
    let columns = cells[if has_id { 2 } else { 1 }..]
        .iter()
        .map(|c| match c.split_once('[') {
            Some((name, unit)) => (
                name.trim().to_string(),
                Some(unit.trim_end_matches(']').trim().to_string()),
            ),
            None => (c.to_string(), None),
        })
        .collect();
    Ok(Header { has_id, columns })
}

fn cell_value(text: &str) -> Result<f64, Reject> {
    let v: f64 = text.parse().map_err(|_| Reject::Garbled)?;
    if v.is_nan() {
        Err(Reject::NotANumber)
    } else if v.is_infinite() {
        Err(Reject::Infinite)
    } else {
        Ok(v)
    }
}

/// The number of data rows of a CSV file (non-empty lines after the
/// header), as [`spawn_csv`] counts them.
pub fn count_rows(path: &Path) -> Option<u64> {
    let file = std::fs::File::open(path).ok()?;
    let mut rows = 0u64;
    for line in BufReader::new(file).lines().skip(1) {
        if !line.ok()?.trim().is_empty() {
            rows += 1;
        }
    }
    Some(rows)
}

/// Replays a CSV file, skipping its first `skip` data rows (already
/// consumed before a restart).
pub fn spawn_csv(
    source: usize,
    path: &Path,
    pace: Pace,
    skip: u64,
    tx: Sender<Input>,
) -> JoinHandle<()> {
    let path = path.to_path_buf();
    std::thread::spawn(move || {
        let error = replay(source, &path, pace, skip, &tx).err();
        let _ = tx.send(Input::End { source, error });
    })
}

fn replay(
    source: usize,
    path: &Path,
    pace: Pace,
    skip: u64,
    tx: &Sender<Input>,
) -> Result<(), String> {
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    let mut lines = BufReader::new(file).lines();
    let first = match lines.next() {
        Some(Ok(l)) => l,
        Some(Err(e)) => return Err(format!("`{}`: {e}", path.display())),
        None => return Err(format!("`{}` is empty", path.display())),
    };
    let head = header(first.trim_start_matches('\u{feff}'))
        .map_err(|e| format!("`{}`: {e}", path.display()))?;
    let file_name = path.display().to_string();
    let started = Instant::now();
    let mut first_t = None;
    let mut row = 0u64;
    for (n, line) in lines.enumerate() {
        let line_no = n + 2;
        let line = line.map_err(|e| format!("`{file_name}` line {line_no}: {e}"))?;
        if line.trim().is_empty() {
            continue;
        }
        row += 1;
        if row <= skip {
            continue;
        }
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        let t = match cells.first().map(|c| cell_value(c)) {
            Some(Ok(t)) => t,
            _ => {
                let sent = tx.send(Input::Cell {
                    source,
                    id: None,
                    column: "t".into(),
                    unit: None,
                    t: f64::NAN,
                    value: Err(Reject::Garbled),
                    raw: line.clone(),
                    line: line_no,
                });
                if sent.is_err() {
                    return Ok(());
                }
                continue;
            }
        };
        if pace == Pace::Realtime {
            let t0 = *first_t.get_or_insert(t);
            let due = started + Duration::from_secs_f64((t - t0).max(0.0));
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        let id = head.has_id.then(|| cells.get(1).unwrap_or(&"").to_string());
        let offset = if head.has_id { 2 } else { 1 };
        for (c, (name, unit)) in head.columns.iter().enumerate() {
            let Some(text) = cells.get(c + offset) else {
                continue;
            };
            if text.is_empty() {
                continue;
            }
            let sent = tx.send(Input::Cell {
                source,
                id: id.clone(),
                column: name.clone(),
                unit: unit.clone(),
                t,
                value: cell_value(text),
                raw: (*text).to_string(),
                line: line_no,
            });
            if sent.is_err() {
                return Ok(());
            }
        }
        if tx.send(Input::Watermark { source, t }).is_err() {
            return Ok(());
        }
    }
    Ok(())
}

/// Reads JSON lines from `input` (stdin in production).
pub fn spawn_lines<R: Read + Send + 'static>(
    source: usize,
    input: R,
    tx: Sender<Input>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut error = None;
        for line in BufReader::new(input).lines() {
            let line = match line {
                Ok(l) => l,
                Err(e) => {
                    error = Some(format!("stdin: {e}"));
                    break;
                }
            };
            if line.trim().is_empty() {
                continue;
            }
            let (topic, payload) = split_line(&line);
            let input = Input::Message {
                source,
                topic,
                payload,
                arrived: now_epoch(),
            };
            if tx.send(input).is_err() {
                return;
            }
        }
        let _ = tx.send(Input::End { source, error });
    })
}

/// `{"topic": T, "payload": P}` → (T, P as bytes); anything else → ("",
/// the line).
fn split_line(line: &str) -> (String, Vec<u8>) {
    if let Ok(serde_json::Value::Object(mut o)) = serde_json::from_str(line)
        && let Some(serde_json::Value::String(topic)) = o.remove("topic")
        && let Some(payload) = o.remove("payload")
    {
        return (topic, payload.to_string().into_bytes());
    }
    (String::new(), line.as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_carry_ids_and_units() {
        let h = header("t,id,current[mA], speed").unwrap_or(Header {
            has_id: false,
            columns: Vec::new(),
        });
        assert!(h.has_id);
        assert_eq!(
            h.columns,
            [
                ("current".to_string(), Some("mA".to_string())),
                ("speed".to_string(), None)
            ]
        );
        assert!(header("time,x").is_err());
    }

    #[test]
    fn stdin_lines_split_into_topic_and_payload() {
        let (topic, payload) =
            split_line(r#"{"topic": "plant/p1/current", "payload": {"value": 3}}"#);
        assert_eq!(topic, "plant/p1/current");
        assert_eq!(payload, br#"{"value":3}"#);
        assert_eq!(split_line("garbage"), (String::new(), b"garbage".to_vec()));
    }
}
