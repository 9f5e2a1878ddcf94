//! What a run measured: an HDR histogram of latencies, errors by kind, and a per-second
//! timeline, printed as a table and written as JSON (which `plot` also reads).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::machine::{MachineProbe, MachineSummary};
use crate::watch::{ServerUsage, Watch};

/// Latencies are recorded in microseconds, from 1 µs to 100 s, at 3 significant digits.
const HIGHEST_MICROS: u64 = 100_000_000;

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIGHEST_MICROS, 3).expect("valid histogram bounds")
}

/// Collects samples from every task of a run. Samples before `measure_from` (the warm-up)
/// are dropped. The timeline buckets samples by the second they started in; one that
/// finishes after that second was closed counts in the second still open.
#[derive(Debug, Clone)]
pub struct Recorder {
    inner: Arc<Mutex<Samples>>,
    measure_from: Instant,
    machine: Arc<MachineProbe>,
}

#[derive(Debug)]
struct Samples {
    all: Histogram<u64>,
    second: Histogram<u64>,
    second_errors: u64,
    second_index: u64,
    errors: BTreeMap<String, u64>,
    timeline: Vec<Tick>,
    /// Work units per sample (devices per batch), for the throughput figure.
    units: u64,
}

/// One second of a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tick {
    /// Seconds since measurement started (the end of this second).
    pub t: u64,
    pub ok: u64,
    pub errors: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// How late the generator's machine probe woke in this second (see `machine.rs`).
    #[serde(default)]
    pub wake_late_ms: f64,
    /// CPU time the hypervisor stole in this second, when /proc/stat tells.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steal_ms: Option<u64>,
    /// The machine probe's fixed work at its fastest in this second, in µs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_work_us: Option<f64>,
    /// The machine probe's walk through memory in this second: ns a load, on average.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_ns: Option<f64>,
    /// The watched server's CPU in this second, in % of one core (`--watch-pid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_cpu_pct: Option<f64>,
}

impl Recorder {
    pub fn new(warmup: Duration) -> Self {
        let measure_from = Instant::now() + warmup;
        Self {
            inner: Arc::new(Mutex::new(Samples {
                all: histogram(),
                second: histogram(),
                second_errors: 0,
                second_index: 0,
                errors: BTreeMap::new(),
                timeline: Vec::new(),
                units: 0,
            })),
            measure_from,
            machine: Arc::new(MachineProbe::start(measure_from)),
        }
    }

    pub fn measure_from(&self) -> Instant {
        self.measure_from
    }

    /// A successful operation that started at `started` and took `latency`, worth `units`.
    pub fn ok(&self, started: Instant, latency: Duration, units: u64) {
        let Some(second) = self.second_of(started) else {
            return;
        };
        let micros = u64::try_from(latency.as_micros())
            .unwrap_or(u64::MAX)
            .clamp(1, HIGHEST_MICROS);
        let mut samples = self.inner.lock().expect("recorder poisoned");
        samples.roll_to(second);
        samples.all.saturating_record(micros);
        samples.second.saturating_record(micros);
        samples.units += units;
    }

    /// A failed operation, by kind (`status_503`, `timeout`, `wrong_answer`, …).
    pub fn error(&self, started: Instant, kind: &str) {
        let Some(second) = self.second_of(started) else {
            return;
        };
        let mut samples = self.inner.lock().expect("recorder poisoned");
        samples.roll_to(second);
        samples.second_errors += 1;
        match samples.errors.get_mut(kind) {
            Some(count) => *count += 1,
            None => {
                samples.errors.insert(kind.to_owned(), 1);
            }
        }
    }

    fn second_of(&self, started: Instant) -> Option<u64> {
        started
            .checked_duration_since(self.measure_from)
            .map(|since| since.as_secs())
    }

    /// The figures of a run that measured for `elapsed`.
    pub fn finish(&self, meta: RunMeta, elapsed: Duration) -> RunReport {
        let mut samples = self.inner.lock().expect("recorder poisoned");
        let last = elapsed.as_secs().max(1);
        samples.roll_to(last);
        let ok = samples.all.len();
        let error_count: u64 = samples.errors.values().sum();
        let seconds = elapsed.as_secs_f64().max(1e-9);
        let machine = self.machine.finish();
        for tick in &mut samples.timeline {
            if let Some(seen) = machine.get(tick.t as usize - 1) {
                tick.wake_late_ms = round3(seen.late.as_secs_f64() * 1000.0);
                tick.steal_ms = seen.steal_ms;
                tick.fixed_work_us = seen.work.map(crate::machine::micros);
                tick.memory_ns = seen.memory.get().map(crate::machine::nanos);
            }
        }
        let all = &samples.all;
        RunReport {
            meta,
            elapsed_s: round3(elapsed.as_secs_f64()),
            ok,
            errors: error_count,
            errors_by_kind: samples.errors.clone(),
            throughput_per_s: round3(ok as f64 / seconds),
            units_per_s: round3(samples.units as f64 / seconds),
            latency_ms: Percentiles {
                p50: ms(all.value_at_quantile(0.50)),
                p90: ms(all.value_at_quantile(0.90)),
                p99: ms(all.value_at_quantile(0.99)),
                p999: ms(all.value_at_quantile(0.999)),
                max: ms(all.max()),
                mean: round3(all.mean() / 1000.0),
            },
            histogram: buckets(all),
            timeline: samples.timeline.clone(),
            server: None,
            machine: Some(crate::machine::summarise(&machine, samples.timeline.len())),
        }
    }
}

impl Samples {
    /// Closes the seconds before `second` into the timeline.
    fn roll_to(&mut self, second: u64) {
        while self.second_index < second {
            let h = &self.second;
            let tick = Tick {
                t: self.second_index + 1,
                ok: h.len(),
                errors: self.second_errors,
                p50_ms: if h.is_empty() {
                    0.0
                } else {
                    ms(h.value_at_quantile(0.5))
                },
                p99_ms: if h.is_empty() {
                    0.0
                } else {
                    ms(h.value_at_quantile(0.99))
                },
                max_ms: ms(h.max()),
                wake_late_ms: 0.0,
                steal_ms: None,
                fixed_work_us: None,
                memory_ns: None,
                server_cpu_pct: None,
            };
            self.timeline.push(tick);
            self.second.reset();
            self.second_errors = 0;
            self.second_index += 1;
        }
    }
}

/// Latencies of successful operations split by kind (the steps of a boot; known and
/// unknown MACs), for the per-kind p99s a report's settings carry.
#[derive(Debug)]
pub struct SplitTimes<const N: usize>(Mutex<[Histogram<u64>; N]>);

impl<const N: usize> SplitTimes<N> {
    pub fn new() -> Self {
        Self(Mutex::new(std::array::from_fn(|_| histogram())))
    }

    pub fn record(&self, kind: usize, latency: Duration) {
        let micros = u64::try_from(latency.as_micros())
            .unwrap_or(u64::MAX)
            .clamp(1, HIGHEST_MICROS);
        self.0.lock().expect("split times poisoned")[kind].saturating_record(micros);
    }

    /// `p99 {name}` for each kind that has samples.
    pub fn add_p99s(&self, names: [&str; N], settings: &mut BTreeMap<String, String>) {
        let times = self.0.lock().expect("split times poisoned");
        for (name, hist) in names.iter().zip(times.iter()) {
            if !hist.is_empty() {
                settings.insert(
                    format!("p99 {name}"),
                    format!("{:.3} ms", ms(hist.value_at_quantile(0.99))),
                );
            }
        }
    }
}

/// Log-spaced buckets (10 per decade) of the histogram, for plotting. Each recorded value
/// lands in exactly one bucket, so the counts add up to the histogram's.
fn buckets(h: &Histogram<u64>) -> Vec<Bucket> {
    let mut counts: BTreeMap<i64, u64> = BTreeMap::new();
    for value in h.iter_recorded() {
        let micros = value.value_iterated_to().max(1) as f64;
        let index = (micros.log10() * 10.0).floor() as i64;
        *counts.entry(index).or_default() += value.count_at_value();
    }
    let edge_ms = |index: i64| round3(10f64.powf(index as f64 / 10.0) / 1000.0);
    counts
        .into_iter()
        .map(|(index, count)| Bucket {
            from_ms: edge_ms(index),
            to_ms: edge_ms(index + 1),
            count,
        })
        .collect()
}

fn ms(micros: u64) -> f64 {
    round3(micros as f64 / 1000.0)
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// What was run, for the report's header.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunMeta {
    pub scenario: String,
    /// A name for this run in tables and plots (`signpost`, `nginx`, …).
    pub label: String,
    pub target: String,
    /// What one operation is (`request`, `boot`, `batch`), and what a unit is.
    pub operation: String,
    pub unit: String,
    pub settings: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub mean: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Bucket {
    pub from_ms: f64,
    pub to_ms: f64,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunReport {
    #[serde(flatten)]
    pub meta: RunMeta,
    pub elapsed_s: f64,
    /// Successful operations measured.
    pub ok: u64,
    pub errors: u64,
    pub errors_by_kind: BTreeMap<String, u64>,
    /// Successful operations per second.
    pub throughput_per_s: f64,
    /// Units (devices registered, …) per second.
    pub units_per_s: f64,
    pub latency_ms: Percentiles,
    pub histogram: Vec<Bucket>,
    pub timeline: Vec<Tick>,
    /// The watched server processes (`--watch-pid`), when any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<ServerUsage>,
    /// The machine as the generator's probe saw it over the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine: Option<MachineSummary>,
}

impl RunReport {
    /// Ends `watch` (the server's side of the run, when one was watched) into the report:
    /// the window's usage, and the CPU of each second in the timeline.
    pub fn attach_server(&mut self, watch: Option<Watch>) -> anyhow::Result<()> {
        let Some(watch) = watch else {
            return Ok(());
        };
        let (usage, per_second) = watch.finish(self.ok)?;
        for (tick, pct) in self.timeline.iter_mut().zip(per_second) {
            tick.server_cpu_pct = Some(pct);
        }
        self.server = Some(usage);
        Ok(())
    }

    /// The human-readable summary.
    pub fn table(&self) -> String {
        let m = &self.meta;
        let l = &self.latency_ms;
        let mut out = format!("{} · {} · {}\n", m.scenario, m.label, m.target);
        for (key, value) in &m.settings {
            out.push_str(&format!("  {key:<14} {value}\n"));
        }
        out.push_str(&format!(
            "  {:<14} {:.1} s\n  {:<14} {} ok, {} errors\n  {:<14} {:.1} {}s/s",
            "measured",
            self.elapsed_s,
            "operations",
            self.ok,
            self.errors,
            "throughput",
            self.throughput_per_s,
            m.operation,
        ));
        if m.unit != m.operation {
            out.push_str(&format!(" ({:.1} {}s/s)", self.units_per_s, m.unit));
        }
        out.push_str(&format!(
            "\n  latency ms     p50 {:.3}  p90 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3}  mean {:.3}\n",
            l.p50, l.p90, l.p99, l.p999, l.max, l.mean
        ));
        if let Some(server) = &self.server {
            out.push_str(&format!(
                "  server         {:.1} µs CPU per {}, {:.2} s CPU in all, peak RSS {:.1} MiB\n",
                server.cpu_us_per_op, m.operation, server.cpu_seconds, server.peak_rss_mib
            ));
        }
        if let Some(machine) = &self.machine {
            let steal = machine.steal_ms.map_or(String::new(), |ms| {
                format!(", {ms} ms stolen by the hypervisor")
            });
            let work = machine
                .fixed_work_us
                .map_or(String::new(), crate::machine::fixed_work_text);
            let memory = machine
                .memory_ns
                .map_or(String::new(), crate::machine::memory_text);
            out.push_str(&format!(
                "  machine        probe woke at worst {:.1} ms late; {} s with a stall over {} ms{steal}{work}{memory}\n",
                machine.worst_wake_ms,
                machine.stalled_seconds,
                crate::machine::STALL.as_millis(),
            ));
        }
        for (kind, count) in &self.errors_by_kind {
            out.push_str(&format!("  error          {kind}: {count}\n"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> RunMeta {
        RunMeta {
            scenario: "redirect".into(),
            label: "test".into(),
            target: "http://x".into(),
            operation: "request".into(),
            unit: "request".into(),
            settings: BTreeMap::new(),
        }
    }

    #[test]
    fn split_times_give_a_p99_per_kind_that_has_samples() {
        let split = SplitTimes::new();
        for ms in 1..=100 {
            split.record(0, Duration::from_millis(ms));
        }
        let mut settings = BTreeMap::new();
        split.add_p99s(["known", "unknown"], &mut settings);
        assert_eq!(
            settings.get("p99 known").map(String::as_str),
            Some("99.007 ms")
        );
        assert!(
            !settings.contains_key("p99 unknown"),
            "no samples, no figure"
        );
    }

    #[test]
    fn percentiles_errors_and_timeline() {
        let recorder = Recorder::new(Duration::ZERO);
        let start = recorder.measure_from();
        for i in 1..=1000u64 {
            recorder.ok(start, Duration::from_micros(i * 10), 1);
        }
        recorder.error(start, "timeout");
        recorder.ok(
            start + Duration::from_millis(1500),
            Duration::from_millis(50),
            1,
        );
        recorder.error(start + Duration::from_millis(1500), "status_503");
        let report = recorder.finish(meta(), Duration::from_secs(2));
        assert_eq!(report.ok, 1001);
        assert_eq!(report.errors, 2);
        assert_eq!(report.errors_by_kind["status_503"], 1);
        assert!(
            (report.latency_ms.p50 - 5.0).abs() < 0.05,
            "{:?}",
            report.latency_ms
        );
        assert!((report.latency_ms.max - 50.0).abs() < 0.1);
        assert_eq!(report.timeline.len(), 2);
        assert_eq!(
            (report.timeline[0].ok, report.timeline[0].errors),
            (1000, 1)
        );
        assert_eq!((report.timeline[1].ok, report.timeline[1].errors), (1, 1));
        let total: u64 = report.histogram.iter().map(|b| b.count).sum();
        assert_eq!(total, 1001);
        let machine = report.machine.as_ref().expect("the probe watched the run");
        assert!(machine.worst_wake_ms >= 0.0);
        let json = serde_json::to_string(&report).unwrap();
        let back: RunReport = serde_json::from_str(&json).unwrap();
        assert_eq!(back.ok, 1001);
        assert_eq!(back.machine.as_ref(), Some(machine));
        assert!(report.table().contains("status_503: 1"));
    }

    #[test]
    fn reports_written_before_the_machine_probe_still_read() {
        let tick: Tick = serde_json::from_str(
            r#"{"t":1,"ok":5,"errors":0,"p50_ms":1.0,"p99_ms":2.0,"max_ms":3.0}"#,
        )
        .unwrap();
        assert_eq!(
            (
                tick.wake_late_ms,
                tick.steal_ms,
                tick.fixed_work_us,
                tick.memory_ns
            ),
            (0.0, None, None, None)
        );
    }

    #[test]
    fn warm_up_samples_are_dropped() {
        let recorder = Recorder::new(Duration::from_secs(60));
        recorder.ok(Instant::now(), Duration::from_millis(1), 1);
        recorder.error(Instant::now(), "io");
        let report = recorder.finish(meta(), Duration::from_secs(1));
        assert_eq!((report.ok, report.errors), (0, 0));
    }
}
