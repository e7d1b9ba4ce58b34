//! `twinc simulate --plot`: the reported signals over time, as SVG or PNG.
//!
//! Takes a scenario [`Report`] with its min/max-decimated trace; gives a
//! picture with one panel per reported signal (each with its own y axis
//! labelled with the signal's unit; time on x in s, min, h or d to fit the
//! run), the band between each bucket's min and max filled so that spikes
//! survive decimation, and alarm periods shaded in every panel. Text uses
//! an embedded subset of DejaVu Sans, so nothing depends on the fonts of
//! the machine.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};
use twin_runtime::scenario::Report;

/// Trace buckets: about one per horizontal pixel of a panel.
pub const BUCKETS: usize = 1200;

/// DejaVu Sans cut to Latin-1, Greek and a few symbols (see
/// `assets/DejaVu-LICENSE.txt`).
static FONT: &[u8] = include_bytes!("assets/DejaVuSans-subset.ttf");

/// Picture formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Scalable vector graphics.
    Svg,
    /// A PNG bitmap.
    Png,
}

impl Kind {
    /// The format the file name asks for.
    pub fn from_path(path: &Path) -> Result<Kind, String> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("svg") => Ok(Kind::Svg),
            Some("png") => Ok(Kind::Png),
            _ => Err(format!(
                "--plot {}: name a `.svg` or `.png` file",
                path.display()
            )),
        }
    }
}

const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(23, 190, 207),
];

/// Draws the report's trace into `path`.
pub fn draw(path: &Path, kind: Kind, scenario: &str, report: &Report) -> Result<(), String> {
    register_font("sans-serif", FontStyle::Normal, FONT)
        .map_err(|_| "the embedded font is unreadable".to_string())?;
    let panels = report.signals.len().max(1);
    let size = (1200, 120 + 260 * panels as u32);
    match kind {
        Kind::Svg => panels_on(
            SVGBackend::new(path, size).into_drawing_area(),
            scenario,
            report,
        ),
        Kind::Png => panels_on(
            BitMapBackend::new(path, size).into_drawing_area(),
            scenario,
            report,
        ),
    }
}

fn panels_on<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    scenario: &str,
    report: &Report,
) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(err)?;
    let title = format!(
        "scenario {scenario} for {}: {}",
        report.twin,
        crate::simulate::human_duration(report.duration)
    );
    let root = root.titled(&title, ("sans-serif", 24)).map_err(err)?;
    let Some(trace) = &report.trace else {
        return Err("the run kept no trace".into());
    };
    let (scale, unit) = time_axis(report.duration);
    let t_end = (report.duration / scale).max(f64::MIN_POSITIVE);
    let areas = root.split_evenly((report.signals.len().max(1), 1));
    for (i, (signal, area)) in report.signals.iter().zip(&areas).enumerate() {
        let series = &trace.series[i];
        let (lo, hi) = y_range(series);
        let mut chart = ChartBuilder::on(area)
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(80)
            .build_cartesian_2d(0.0..t_end, lo..hi)
            .map_err(err)?;
        let y_desc = if signal.unit.text == "1" {
            signal.name.clone()
        } else {
            format!("{} [{}]", signal.name, signal.unit.text)
        };
        chart
            .configure_mesh()
            .x_desc(format!("time [{unit}]"))
            .y_desc(y_desc)
            .x_max_light_lines(2)
            .y_max_light_lines(2)
            .light_line_style(RGBColor(240, 240, 240))
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 16))
            .draw()
            .map_err(err)?;
        // Alarm periods first, under the data; one legend entry per alarm.
        let mut named: Vec<&str> = Vec::new();
        for alarm in &report.alarms {
            let shade = match alarm.severity {
                "critical" => RGBColor(214, 39, 40).mix(0.18),
                "warning" => RGBColor(255, 165, 0).mix(0.22),
                _ => RGBColor(120, 120, 120).mix(0.15),
            };
            let end = alarm.cleared.unwrap_or(report.duration);
            let drawn = chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(alarm.raised / scale, lo), (end / scale, hi)],
                    shade.filled(),
                )))
                .map_err(err)?;
            if !named.contains(&alarm.name.as_str()) {
                named.push(&alarm.name);
                drawn
                    .label(format!("{} ({})", alarm.name, alarm.severity))
                    .legend(move |(x, y)| {
                        Rectangle::new([(x, y - 6), (x + 16, y + 6)], shade.filled())
                    });
            }
        }
        let color = PALETTE[i % PALETTE.len()];
        let points: Vec<(f64, f64, f64)> = trace
            .t
            .iter()
            .zip(series)
            .filter(|(_, (a, b))| a.is_finite() && b.is_finite())
            .map(|(t, (a, b))| (t / scale, *a, *b))
            .collect();
        // A band only where it says something: wider than 1% of the axis.
        let banded = points.iter().any(|(_, a, b)| b - a > 0.01 * (hi - lo));
        if banded {
            let outline: Vec<(f64, f64)> = points
                .iter()
                .map(|(t, _, b)| (*t, *b))
                .chain(points.iter().rev().map(|(t, a, _)| (*t, *a)))
                .collect();
            chart
                .draw_series(std::iter::once(Polygon::new(outline, color.mix(0.35))))
                .map_err(err)?;
        }
        chart
            .draw_series(LineSeries::new(
                points.iter().map(|(t, a, b)| (*t, (a + b) / 2.0)),
                color.stroke_width(2),
            ))
            .map_err(err)?
            .label(signal.name.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
            });
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .label_font(("sans-serif", 14))
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(err)?;
    }
    root.present().map_err(err)?;
    Ok(())
}

/// The time unit that keeps the axis numbers readable: (seconds per unit,
/// name).
fn time_axis(duration: f64) -> (f64, &'static str) {
    if duration <= 300.0 {
        (1.0, "s")
    } else if duration <= 5.0 * 3600.0 {
        (60.0, "min")
    } else if duration <= 5.0 * 86400.0 {
        (3600.0, "h")
    } else {
        (86400.0, "d")
    }
}

/// The y range of a series with a margin, never empty.
fn y_range(series: &[(f64, f64)]) -> (f64, f64) {
    let (lo, hi) = series
        .iter()
        .flat_map(|(a, b)| [*a, *b])
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if !lo.is_finite() {
        return (-1.0, 1.0);
    }
    let span = hi - lo;
    let pad = if span > 0.0 {
        span * 0.08
    } else {
        lo.abs().max(1.0) * 0.05
    };
    (lo - pad, hi + pad)
}
