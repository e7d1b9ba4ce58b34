//! `GET /metrics`: the run's counters in Prometheus' text format.
//!
//! Takes the runner's [`Metrics`], the time of the last tick and the what-if
//! counters; gives the text exposition format (version 0.0.4): one `# HELP`
//! and `# TYPE` line per family, then its samples. Counters end in
//! `_total`, durations are in seconds, label values are escaped.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use crate::live::run::Metrics;

/// What the exposition covers besides the runner's counters.
pub struct Extra {
    /// Twins running.
    pub twins: usize,
    /// Seconds since the API started.
    pub uptime_s: f64,
    /// What-if runs answered with a report.
    pub whatif_runs: u64,
    /// What-if requests refused (bad body, busy, failed).
    pub whatif_refused: u64,
}

/// Renders the exposition.
pub fn render(m: &Metrics, t: f64, extra: &Extra) -> String {
    let mut out = String::new();
    let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    family(&mut out, "twin_ticks_total", "counter", "Ticks run.");
    sample(&mut out, "twin_ticks_total", &[], load(&m.ticks) as f64);
    family(
        &mut out,
        "twin_tick_lag_seconds",
        "gauge",
        "How late the last tick ran behind its wall-clock time (live mode).",
    );
    sample(
        &mut out,
        "twin_tick_lag_seconds",
        &[],
        load(&m.lag_us) as f64 / 1e6,
    );
    family(
        &mut out,
        "twin_time_seconds",
        "gauge",
        "Twin time of the last tick.",
    );
    sample(&mut out, "twin_time_seconds", &[], t);
    family(
        &mut out,
        "twin_samples_total",
        "counter",
        "Samples by sensor and quality: good, or why they were rejected.",
    );
    match m.samples.lock() {
        Ok(samples) => {
            for ((sensor, quality), n) in samples.iter() {
                sample(
                    &mut out,
                    "twin_samples_total",
                    &[("sensor", sensor), ("quality", quality)],
                    *n as f64,
                );
            }
        }
        Err(poisoned) => {
            for ((sensor, quality), n) in poisoned.into_inner().iter() {
                sample(
                    &mut out,
                    "twin_samples_total",
                    &[("sensor", sensor), ("quality", quality)],
                    *n as f64,
                );
            }
        }
    }
    let counters = [
        (
            "twin_alarms_raised_total",
            "Alarm raises.",
            &m.alarms_raised,
        ),
        (
            "twin_actuations_total",
            "Actuator commands issued.",
            &m.actuations,
        ),
        (
            "twin_checkpoints_total",
            "Checkpoints written.",
            &m.checkpoints,
        ),
    ];
    for (name, help, counter) in counters {
        family(&mut out, name, "counter", help);
        sample(&mut out, name, &[], load(counter) as f64);
    }
    family(
        &mut out,
        "twin_reloads_total",
        "counter",
        "Model reloads by outcome: ok, or refused (errors in the edited model).",
    );
    sample(
        &mut out,
        "twin_reloads_total",
        &[("outcome", "ok")],
        load(&m.reloads) as f64,
    );
    sample(
        &mut out,
        "twin_reloads_total",
        &[("outcome", "refused")],
        load(&m.reloads_failed) as f64,
    );
    family(
        &mut out,
        "twin_compile_seconds",
        "gauge",
        "Time to check, lower and compile the model.",
    );
    sample(
        &mut out,
        "twin_compile_seconds",
        &[],
        load(&m.compile_us) as f64 / 1e6,
    );
    family(&mut out, "twin_twins", "gauge", "Twins running.");
    sample(&mut out, "twin_twins", &[], extra.twins as f64);
    family(
        &mut out,
        "twin_uptime_seconds",
        "gauge",
        "Seconds since the API started.",
    );
    sample(&mut out, "twin_uptime_seconds", &[], extra.uptime_s);
    family(
        &mut out,
        "twin_whatif_total",
        "counter",
        "What-if requests by outcome: ok (answered with a report) or refused.",
    );
    sample(
        &mut out,
        "twin_whatif_total",
        &[("outcome", "ok")],
        extra.whatif_runs as f64,
    );
    sample(
        &mut out,
        "twin_whatif_total",
        &[("outcome", "refused")],
        extra.whatif_refused as f64,
    );
    out
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], v: f64) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (k, (key, value)) in labels.iter().enumerate() {
            if k > 0 {
                out.push(',');
            }
            let _ = write!(out, "{key}=\"{}\"", escape(value));
        }
        out.push('}');
    }
    let text = if v.is_nan() {
        "NaN".to_string()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else {
        format!("{v}")
    };
    let _ = writeln!(out, " {text}");
}

/// A label value with `\`, `"` and newlines escaped.
fn escape(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for ch in v.chars() {
        match ch {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        let mut out = String::new();
        sample(&mut out, "x_total", &[("sensor", "a\"b\\c\nd")], 2.0);
        assert_eq!(out, "x_total{sensor=\"a\\\"b\\\\c\\nd\"} 2\n");
    }

    #[test]
    fn every_family_has_help_type_and_a_sample() {
        let m = Metrics::default();
        if let Ok(mut samples) = m.samples.lock() {
            samples.insert(("current".into(), "good"), 1);
        }
        let text = render(
            &m,
            0.0,
            &Extra {
                twins: 2,
                uptime_s: 1.5,
                whatif_runs: 0,
                whatif_refused: 0,
            },
        );
        assert!(text.contains("twin_samples_total{sensor=\"current\",quality=\"good\"} 1\n"));
        assert!(text.contains("twin_twins 2\n"));
        for line in text.lines().filter(|l| l.starts_with("# TYPE ")) {
            let name = line.split(' ').nth(2).unwrap_or_default();
            assert!(
                text.lines()
                    .any(|l| l.starts_with(name) && !l.starts_with('#')),
                "{name} has no sample"
            );
        }
    }
}
