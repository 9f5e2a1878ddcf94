//! The machine's side of a run, seen from the generator: a probe thread that asks to sleep
//! for 1 ms, over and over, and notes how late it woke; how long a fixed piece of arithmetic
//! and a walk through memory take it, ten times a second each; and the CPU time the
//! hypervisor took from this VM (steal, from /proc/stat).
//!
//! A slow second in a report is either the server's or the machine's. On a quiet machine the
//! probe wakes within a fraction of a millisecond even at full load, because the scheduler
//! favours a thread that slept. When it wakes many milliseconds late, nothing in the
//! generator could run either, and requests queued behind the stall whatever server was
//! answering them: that second belongs to the machine. When the fixed work takes longer at
//! its fastest, the CPU itself ran slower (a lower clock, a busy sibling thread on the
//! host), which makes every process slower without any of them stalling; VMs that do not
//! report steal show it only this way. The work stays in registers, so slower memory or
//! caches do not show in it: the memory walk ([`memory`]) is for those.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use self::memory::MemoryWalk;
use crate::watch::TICKS_PER_SECOND;

mod memory;

const NAP: Duration = Duration::from_millis(1);
/// Naps between two timings of the fixed work (ten a second: about 0.1% of a core).
const WORK_EVERY: u32 = 100;
/// Rounds of the fixed work: tens of microseconds on a current x86 core.
const WORK_ROUNDS: u64 = 50_000;
/// A wake-up this late counts as a stalled second in the summary.
pub const STALL: Duration = Duration::from_millis(10);

/// One second as the probe saw it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MachineSecond {
    /// How late the probe's latest wake-up of the second was.
    pub late: Duration,
    /// CPU time stolen by the hypervisor, in ms, when /proc/stat tells.
    pub steal_ms: Option<u64>,
    /// The fixed work's fastest time in this second.
    pub work: Option<Duration>,
    /// The memory walk's time per load, summed over the walks of this second.
    pub memory: Mean,
}

/// A running mean of durations.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Mean {
    sum: Duration,
    count: u32,
}

impl Mean {
    pub fn add(&mut self, sample: Duration) {
        self.sum += sample;
        self.count += 1;
    }

    pub fn get(&self) -> Option<Duration> {
        (self.count > 0).then(|| self.sum / self.count)
    }
}

/// The whole measured window as the probe saw it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MachineSummary {
    /// The latest wake-up of the probe, in ms late.
    pub worst_wake_ms: f64,
    /// Seconds in which the probe woke more than 10 ms late.
    pub stalled_seconds: u64,
    /// CPU time stolen by the hypervisor over the window (both CPUs), when /proc/stat tells.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steal_ms: Option<u64>,
    /// The fixed work's fastest time in the window, and its fastest time in the slowest
    /// second: how much slower the CPU ran at its worst.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_work_us: Option<[f64; 2]>,
    /// A load from memory in the second it was fastest and in the second it was slowest,
    /// in ns: how much slower memory and caches got at their worst.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_ns: Option<[f64; 2]>,
}

/// The probe thread, from [`MachineProbe::start`] until [`MachineProbe::finish`].
#[derive(Debug)]
pub struct MachineProbe {
    seconds: Arc<Mutex<Vec<MachineSecond>>>,
    stop: Arc<AtomicBool>,
}

impl MachineProbe {
    /// Watches from `measure_from` on (earlier wake-ups are the warm-up's).
    pub fn start(measure_from: Instant) -> Self {
        let seconds = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (written, stopped) = (seconds.clone(), stop.clone());
        // A plain thread, not a task: a task would wait for the generator's own runtime and
        // measure that instead of the machine.
        let spawned = std::thread::Builder::new()
            .name("machine-probe".into())
            .spawn(move || probe(measure_from, &written, &stopped));
        if let Err(err) = spawned {
            eprintln!("machine probe not started: {err}");
        }
        Self { seconds, stop }
    }

    /// Stops the probe; the seconds it saw, from the first measured one.
    pub fn finish(&self) -> Vec<MachineSecond> {
        self.stop.store(true, Ordering::Relaxed);
        self.seconds.lock().expect("machine probe poisoned").clone()
    }
}

fn probe(measure_from: Instant, seconds: &Mutex<Vec<MachineSecond>>, stop: &AtomicBool) {
    // 64 MiB, built once (tens of ms), before the measured window on any usual warm-up.
    let mut walk = MemoryWalk::new();
    let mut steal_at_second_start = None;
    let mut current = None;
    let mut naps = 0u32;
    while !stop.load(Ordering::Relaxed) {
        let asleep = Instant::now();
        std::thread::sleep(NAP);
        let late = asleep.elapsed().saturating_sub(NAP);
        naps = naps.wrapping_add(1);
        let work = naps.is_multiple_of(WORK_EVERY).then(fixed_work);
        // Half a period after the fixed work, so that one nap never carries both.
        let memory = (naps % WORK_EVERY == WORK_EVERY / 2).then(|| walk.step_time());
        let Some(since) = asleep.checked_duration_since(measure_from) else {
            continue;
        };
        let second = usize::try_from(since.as_secs()).unwrap_or(usize::MAX);
        let new_second = current != Some(second);
        // Read before locking: `finish` should not wait on a file read.
        let steal_now = new_second.then(steal_ticks).flatten();
        let mut seconds = seconds.lock().expect("machine probe poisoned");
        if new_second {
            // The steal since the last second started belongs to that one.
            if let (Some(previous), Some(before), Some(now)) =
                (current, steal_at_second_start, steal_now)
                && let Some(entry) = seconds.get_mut(previous)
            {
                entry.steal_ms = Some(ticks_to_ms(now.saturating_sub(before)));
            }
            steal_at_second_start = steal_now;
            current = Some(second);
            if seconds.len() <= second {
                seconds.resize(second + 1, MachineSecond::default());
            }
        }
        if let Some(entry) = seconds.get_mut(second) {
            entry.late = entry.late.max(late);
            if let Some(work) = work {
                entry.work = Some(entry.work.map_or(work, |fastest| fastest.min(work)));
            }
            if let Some(memory) = memory {
                entry.memory.add(memory);
            }
        }
    }
}

/// The same arithmetic every time, timed: a chain of dependent multiplications that the
/// compiler cannot skip or reorder.
fn fixed_work() -> Duration {
    let started = Instant::now();
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for round in 0..WORK_ROUNDS {
        x = std::hint::black_box(x.rotate_left(7) ^ round).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    }
    std::hint::black_box(x);
    started.elapsed()
}

/// `machine`: the probe alone for `duration`, printed second by second.
pub async fn watch_idle(duration: Duration) -> anyhow::Result<()> {
    anyhow::ensure!(!duration.is_zero(), "--duration must be at least 1 second");
    let probe = MachineProbe::start(Instant::now());
    tokio::time::sleep(duration).await;
    let seconds = probe.finish();
    let measured = usize::try_from(duration.as_secs()).unwrap_or(usize::MAX);
    for (n, second) in seconds.iter().take(measured).enumerate() {
        let steal = second
            .steal_ms
            .map_or(String::new(), |ms| format!(", steal {ms} ms"));
        let work = second.work.map_or(String::new(), |w| {
            format!(", fixed work {:.1} µs", micros(w))
        });
        let memory = second.memory.get().map_or(String::new(), |m| {
            format!(", memory {:.1} ns a load", nanos(m))
        });
        println!(
            "  second {:>3}: woke at worst {:.2} ms late{steal}{work}{memory}",
            n + 1,
            second.late.as_secs_f64() * 1000.0
        );
    }
    let summary = summarise(&seconds, measured);
    println!(
        "machine: worst wake-up {:.2} ms late; {} of {measured} s with a stall over {} ms{}{}",
        summary.worst_wake_ms,
        summary.stalled_seconds,
        STALL.as_millis(),
        summary.fixed_work_us.map_or(String::new(), fixed_work_text),
        summary.memory_ns.map_or(String::new(), memory_text),
    );
    Ok(())
}

fn ticks_to_ms(ticks: u64) -> u64 {
    (ticks as f64 * 1000.0 / TICKS_PER_SECOND).round() as u64
}

/// Steal ticks summed over the CPUs (the `cpu` line's eighth number).
fn steal_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    parse_steal(stat.lines().next()?)
}

fn parse_steal(cpu_line: &str) -> Option<u64> {
    let mut fields = cpu_line.split_ascii_whitespace();
    (fields.next()? == "cpu").then_some(())?;
    fields.nth(7)?.parse().ok()
}

/// The summary of the first `measured` seconds.
pub fn summarise(seconds: &[MachineSecond], measured: usize) -> MachineSummary {
    let window = &seconds[..measured.min(seconds.len())];
    let worst = window.iter().map(|s| s.late).max().unwrap_or_default();
    let steal: Vec<u64> = window.iter().filter_map(|s| s.steal_ms).collect();
    let work: Vec<Duration> = window.iter().filter_map(|s| s.work).collect();
    let fixed_work_us = best_and_worst(&work).map(|[best, worst]| [micros(best), micros(worst)]);
    let memory: Vec<Duration> = window.iter().filter_map(|s| s.memory.get()).collect();
    let memory_ns = best_and_worst(&memory).map(|[best, worst]| [nanos(best), nanos(worst)]);
    MachineSummary {
        worst_wake_ms: (worst.as_secs_f64() * 1e6).round() / 1e3,
        stalled_seconds: window.iter().filter(|s| s.late > STALL).count() as u64,
        steal_ms: (!steal.is_empty()).then(|| steal.iter().sum()),
        fixed_work_us,
        memory_ns,
    }
}

fn best_and_worst(seconds: &[Duration]) -> Option<[Duration; 2]> {
    Some([*seconds.iter().min()?, *seconds.iter().max()?])
}

/// A duration in µs, to a tenth.
pub fn micros(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e7).round() / 10.0
}

/// A duration in ns, to a tenth.
pub fn nanos(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e10).round() / 10.0
}

/// `; fixed work 84.0 µs at best, 97.5 µs in the slowest second (+16%)`
pub fn fixed_work_text(best_and_worst: [f64; 2]) -> String {
    spread_text("fixed work", "µs", "", best_and_worst)
}

/// `; memory 92.0 ns a load at best, 130.5 ns in the slowest second (+42%)`
pub fn memory_text(best_and_worst: [f64; 2]) -> String {
    spread_text("memory", "ns", " a load", best_and_worst)
}

/// `per` follows the first figure only.
fn spread_text(what: &str, unit: &str, per: &str, [best, worst_second]: [f64; 2]) -> String {
    let slower = if best > 0.0 {
        (worst_second / best - 1.0) * 100.0
    } else {
        0.0
    };
    format!(
        "; {what} {best:.1} {unit}{per} at best, {worst_second:.1} {unit} in the slowest second (+{slower:.0}%)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steal_is_the_eighth_number_of_the_cpu_line() {
        assert_eq!(
            parse_steal("cpu  13694 0 4889 16677 267 0 49 12 0 0"),
            Some(12)
        );
        assert_eq!(parse_steal("cpu0 1 2 3 4 5 6 7 8 9 10"), None);
        assert_eq!(parse_steal("cpu 1 2 3"), None);
    }

    #[test]
    fn the_summary_counts_stalled_seconds_and_steal() {
        let second = |late_ms, steal_ms| {
            let mut memory = Mean::default();
            memory.add(Duration::from_nanos(80 + late_ms));
            memory.add(Duration::from_nanos(120 + late_ms));
            MachineSecond {
                late: Duration::from_millis(late_ms),
                steal_ms,
                work: Some(Duration::from_micros(100 + late_ms)),
                memory,
            }
        };
        let seconds = [
            second(1, Some(0)),
            second(25, Some(30)),
            second(11, None),
            second(90, Some(5)),
        ];
        let summary = summarise(&seconds, 3);
        assert_eq!(
            summary.worst_wake_ms, 25.0,
            "the fourth second is not measured"
        );
        assert_eq!(summary.stalled_seconds, 2);
        assert_eq!(summary.steal_ms, Some(30));
        assert_eq!(summary.fixed_work_us, Some([101.0, 125.0]));
        assert_eq!(
            summary.memory_ns,
            Some([101.0, 125.0]),
            "a second's memory figure is the mean of its walks"
        );
        assert_eq!(
            fixed_work_text([100.0, 125.0]),
            "; fixed work 100.0 µs at best, 125.0 µs in the slowest second (+25%)"
        );
        assert_eq!(
            memory_text([80.0, 120.0]),
            "; memory 80.0 ns a load at best, 120.0 ns in the slowest second (+50%)"
        );
        let empty = summarise(&[], 20);
        assert_eq!((empty.steal_ms, empty.memory_ns), (None, None));
    }

    #[test]
    fn the_probe_sees_the_seconds_it_ran() {
        let probe = MachineProbe::start(Instant::now());
        std::thread::sleep(Duration::from_millis(1_200));
        let seconds = probe.finish();
        assert!(seconds.len() >= 2, "{seconds:?}");
        // How late it woke and how fast it worked depend on the machine; that it timed the
        // fixed work in its first full second is certain.
        assert!(
            seconds[0].work.is_some_and(|w| w > Duration::ZERO),
            "{seconds:?}"
        );
        assert!(seconds[0].memory.get().is_some(), "{seconds:?}");
    }
}
