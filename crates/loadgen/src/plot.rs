//! SVG plots of one or more runs: latency over time (p50 and p99 per second, log scale),
//! throughput over time, and the latency histogram. Several runs (Signpost and nginx in the
//! comparison) share the axes, one colour each.

use std::fmt::Write;

use crate::report::{RunReport, Tick};

const COLOURS: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
];
const WIDTH: f64 = 900.0;
const PANEL: f64 = 230.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const GAP: f64 = 70.0;

/// One of a timeline's per-second figures.
type Pick = fn(&Tick) -> f64;

pub fn svg(runs: &[RunReport], title: &str) -> String {
    let height = 50.0 + 3.0 * (PANEL + GAP);
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        out,
        r#"<text x="{LEFT}" y="24" font-size="15" font-weight="bold">{}</text>"#,
        escape(title)
    );
    for (i, run) in runs.iter().enumerate() {
        let x = LEFT + 10.0 + 260.0 * i as f64;
        let _ = writeln!(
            out,
            r#"<rect x="{x}" y="34" width="14" height="4" fill="{}"/><text x="{}" y="40">{} ({:.0} {}s/s, p99 {:.2} ms)</text>"#,
            COLOURS[i % COLOURS.len()],
            x + 18.0,
            escape(&run.meta.label),
            run.throughput_per_s,
            escape(&run.meta.operation),
            run.latency_ms.p99,
        );
    }
    let max_t = runs
        .iter()
        .flat_map(|r| r.timeline.iter().map(|t| t.t))
        .max()
        .unwrap_or(1)
        .max(1) as f64;

    // Panel 1: latency per second, log scale.
    let top = 70.0;
    let lat: Vec<f64> = runs
        .iter()
        .flat_map(|r| {
            r.timeline.iter().flat_map(|t| {
                // The probe's sub-millisecond wake-ups are noise: drawn at the axis's
                // floor, they do not stretch it.
                let late = (t.wake_late_ms >= 1.0).then_some(t.wake_late_ms);
                [Some(t.p50_ms), Some(t.p99_ms), late].into_iter().flatten()
            })
        })
        .filter(|v| *v > 0.0)
        .collect();
    let (lo, hi) = log_range(&lat);
    axes(
        &mut out,
        top,
        "latency per second (ms, log): solid p99, dashed p50, dotted how late the machine probe woke",
        "seconds",
    );
    log_ticks(&mut out, top, lo, hi);
    time_ticks(&mut out, top, max_t);
    for (i, run) in runs.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let series: [(&str, Pick); 3] = [
            ("", |t| t.p99_ms),
            ("5,4", |t| t.p50_ms),
            ("1,3", |t| t.wake_late_ms),
        ];
        for (dash, pick) in series {
            let points: Vec<(f64, f64)> = run
                .timeline
                .iter()
                .map(|t| (t.t as f64, pick(t)))
                .filter(|(_, v)| *v > 0.0)
                .map(|(t, v)| (x_of(t, max_t), y_log(v.max(lo), lo, hi, top)))
                .collect();
            polyline(&mut out, &points, colour, dash);
        }
    }

    // Panel 2: throughput per second.
    let top = top + PANEL + GAP;
    let peak = runs
        .iter()
        .flat_map(|r| r.timeline.iter().map(|t| t.ok as f64))
        .fold(1.0, f64::max);
    let label = format!(
        "throughput ({}s per second)",
        runs.first()
            .map_or("request", |r| r.meta.operation.as_str())
    );
    axes(&mut out, top, &label, "seconds");
    linear_ticks(&mut out, top, peak * 1.1);
    time_ticks(&mut out, top, max_t);
    for (i, run) in runs.iter().enumerate() {
        let points: Vec<(f64, f64)> = run
            .timeline
            .iter()
            .map(|t| {
                (
                    x_of(t.t as f64, max_t),
                    top + PANEL - t.ok as f64 / (peak * 1.1) * PANEL,
                )
            })
            .collect();
        polyline(&mut out, &points, COLOURS[i % COLOURS.len()], "");
    }

    // Panel 3: latency histogram, log-spaced buckets, share of operations per bucket.
    let top = top + PANEL + GAP;
    let edges: Vec<f64> = runs
        .iter()
        .flat_map(|r| r.histogram.iter().flat_map(|b| [b.from_ms, b.to_ms]))
        .filter(|v| *v > 0.0)
        .collect();
    let (lo, hi) = log_range(&edges);
    let share_max = runs
        .iter()
        .flat_map(|r| {
            let total = r.ok.max(1) as f64;
            r.histogram.iter().map(move |b| b.count as f64 / total)
        })
        .fold(0.01, f64::max);
    axes(
        &mut out,
        top,
        "latency histogram (share of operations)",
        "latency (ms, log)",
    );
    linear_ticks(&mut out, top, share_max * 1.1);
    for decade in decades(lo, hi) {
        let x = LEFT + (decade.ln() - lo.ln()) / (hi.ln() - lo.ln()) * plot_width();
        let _ = writeln!(
            out,
            r##"<line x1="{x:.1}" y1="{top}" x2="{x:.1}" y2="{}" stroke="#ddd"/><text x="{x:.1}" y="{}" text-anchor="middle">{}</text>"##,
            top + PANEL,
            top + PANEL + 16.0,
            number(decade)
        );
    }
    for (i, run) in runs.iter().enumerate() {
        let total = run.ok.max(1) as f64;
        let colour = COLOURS[i % COLOURS.len()];
        for bucket in &run.histogram {
            let x0 =
                LEFT + (bucket.from_ms.max(lo).ln() - lo.ln()) / (hi.ln() - lo.ln()) * plot_width();
            let x1 =
                LEFT + (bucket.to_ms.min(hi).ln() - lo.ln()) / (hi.ln() - lo.ln()) * plot_width();
            let h = bucket.count as f64 / total / (share_max * 1.1) * PANEL;
            let _ = writeln!(
                out,
                r#"<rect x="{x0:.1}" y="{:.1}" width="{:.1}" height="{h:.1}" fill="{colour}" fill-opacity="0.45"/>"#,
                top + PANEL - h,
                (x1 - x0).max(0.5)
            );
        }
    }
    out.push_str("</svg>\n");
    out
}

fn plot_width() -> f64 {
    WIDTH - LEFT - RIGHT
}

fn x_of(t: f64, max_t: f64) -> f64 {
    LEFT + t / max_t * plot_width()
}

fn y_log(v: f64, lo: f64, hi: f64, top: f64) -> f64 {
    top + PANEL - (v.ln() - lo.ln()) / (hi.ln() - lo.ln()) * PANEL
}

/// A power-of-ten range around the values.
fn log_range(values: &[f64]) -> (f64, f64) {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(0.0, f64::max);
    if !min.is_finite() || max <= 0.0 {
        return (0.01, 10.0);
    }
    let lo = 10f64.powf(min.log10().floor());
    let hi = 10f64.powf(max.log10().ceil()).max(lo * 10.0);
    (lo, hi)
}

fn decades(lo: f64, hi: f64) -> Vec<f64> {
    let mut out = Vec::new();
    let mut d = lo;
    while d <= hi * 1.0001 {
        out.push(d);
        d *= 10.0;
    }
    out
}

fn axes(out: &mut String, top: f64, title: &str, x_label: &str) {
    let bottom = top + PANEL;
    let right = WIDTH - RIGHT;
    let _ = writeln!(
        out,
        r#"<text x="{LEFT}" y="{}" font-weight="bold">{}</text><line x1="{LEFT}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="black"/><line x1="{LEFT}" y1="{top}" x2="{LEFT}" y2="{bottom}" stroke="black"/><text x="{}" y="{}" text-anchor="end">{}</text>"#,
        top - 8.0,
        escape(title),
        right,
        bottom + 32.0,
        escape(x_label)
    );
}

fn log_ticks(out: &mut String, top: f64, lo: f64, hi: f64) {
    for decade in decades(lo, hi) {
        let y = y_log(decade, lo, hi, top);
        tick_y(out, y, &number(decade));
    }
}

fn linear_ticks(out: &mut String, top: f64, max: f64) {
    for i in 0..=4 {
        let v = max * f64::from(i) / 4.0;
        tick_y(out, top + PANEL - PANEL * f64::from(i) / 4.0, &number(v));
    }
}

fn tick_y(out: &mut String, y: f64, label: &str) {
    let _ = writeln!(
        out,
        r##"<line x1="{LEFT}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{label}</text>"##,
        WIDTH - RIGHT,
        LEFT - 6.0,
        y + 4.0
    );
}

fn time_ticks(out: &mut String, top: f64, max_t: f64) {
    let step = (max_t / 10.0).ceil().max(1.0);
    let mut t = 0.0;
    while t <= max_t {
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{t}</text>"#,
            x_of(t, max_t),
            top + PANEL + 16.0
        );
        t += step;
    }
}

fn polyline(out: &mut String, points: &[(f64, f64)], colour: &str, dash: &str) {
    if points.is_empty() {
        return;
    }
    let mut coords = String::new();
    for (x, y) in points {
        let _ = write!(coords, "{x:.1},{y:.1} ");
    }
    let _ = writeln!(
        out,
        r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="1.6" stroke-dasharray="{dash}"/>"#,
        coords.trim_end()
    );
}

/// 0.01, 0.5, 12, 3.4k: short tick labels.
fn number(v: f64) -> String {
    if v >= 10_000.0 {
        format!("{:.0}k", v / 1000.0)
    } else if v >= 1000.0 {
        format!("{:.1}k", v / 1000.0)
    } else if v >= 1.0 || v == 0.0 {
        format!("{v:.0}")
    } else if v >= 0.1 {
        format!("{v:.1}")
    } else if v >= 0.01 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Recorder, RunMeta};
    use std::collections::BTreeMap;
    use std::time::Duration;

    #[test]
    fn plots_are_well_formed_svg_with_one_series_per_run() {
        let run = |label: &str, scale: u64| {
            let recorder = Recorder::new(Duration::ZERO);
            let start = recorder.measure_from();
            for s in 0..5u64 {
                for i in 1..200u64 {
                    recorder.ok(
                        start + Duration::from_secs(s),
                        Duration::from_micros(i * scale),
                        1,
                    );
                }
            }
            let meta = RunMeta {
                scenario: "redirect".into(),
                label: label.into(),
                target: "x".into(),
                operation: "request".into(),
                unit: "request".into(),
                settings: BTreeMap::new(),
            };
            recorder.finish(meta, Duration::from_secs(5))
        };
        let svg = svg(&[run("signpost", 10), run("nginx <&>", 7)], "redirect");
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert!(svg.contains("nginx &lt;&amp;&gt;"));
        // p99 and p50 per run, and the throughput line per run.
        assert_eq!(svg.matches("<polyline").count(), 6);
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
    }
}
