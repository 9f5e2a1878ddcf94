//! The server's side of a run, read from /proc: CPU time spent and peak resident memory of
//! the watched processes (Signpost, or nginx's master and workers). CPU per operation is
//! steadier than throughput on a shared, noisy machine, and it is what the server would
//! cost on a machine of its own.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Linux reports CPU times in clock ticks of 1/100 s on every architecture we run on.
pub const TICKS_PER_SECOND: f64 = 100.0;
const RSS_SAMPLE: Duration = Duration::from_millis(200);
const CPU_SAMPLE: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerUsage {
    /// CPU seconds (user + system) the watched processes used while measuring.
    pub cpu_seconds: f64,
    /// Server CPU microseconds per successful operation.
    pub cpu_us_per_op: f64,
    /// Largest summed resident set seen, sampled every 200 ms, in MiB.
    pub peak_rss_mib: f64,
}

/// Watches `pids` from now until [`Watch::finish`].
#[derive(Debug)]
pub struct Watch {
    pids: Vec<u32>,
    cpu_at_start: f64,
    peak_kib: Arc<AtomicU64>,
    /// The watched processes' CPU in each second since the start, in % of one core.
    per_second: Arc<Mutex<Vec<f64>>>,
    stop: Arc<AtomicBool>,
}

impl Watch {
    /// `None` when there is nothing to watch.
    pub fn start(pids: &[u32]) -> anyhow::Result<Option<Self>> {
        if pids.is_empty() {
            return Ok(None);
        }
        let cpu_at_start = cpu_seconds(pids)?;
        let peak_kib = Arc::new(AtomicU64::new(rss_kib(pids)));
        let stop = Arc::new(AtomicBool::new(false));
        let (sampled, stopped, watched) = (peak_kib.clone(), stop.clone(), pids.to_vec());
        tokio::spawn(async move {
            while !stopped.load(Ordering::Relaxed) {
                sampled.fetch_max(rss_kib(&watched), Ordering::Relaxed);
                tokio::time::sleep(RSS_SAMPLE).await;
            }
        });
        let per_second = Arc::new(Mutex::new(Vec::new()));
        let (logged, stopped, watched) = (per_second.clone(), stop.clone(), pids.to_vec());
        tokio::spawn(async move {
            let (mut cpu_before, mut at_before) = (cpu_at_start, Instant::now());
            let mut second = tokio::time::interval_at((at_before + CPU_SAMPLE).into(), CPU_SAMPLE);
            // A late tick is measured over the time that really passed, not caught up.
            second.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                second.tick().await;
                let Ok(cpu) = cpu_seconds(&watched) else {
                    return;
                };
                if stopped.load(Ordering::Relaxed) {
                    return;
                }
                let wall = at_before.elapsed().as_secs_f64().max(1e-9);
                let pct = round3(100.0 * (cpu - cpu_before) / wall);
                logged.lock().expect("watch poisoned").push(pct);
                (cpu_before, at_before) = (cpu, Instant::now());
            }
        });
        Ok(Some(Self {
            pids: pids.to_vec(),
            cpu_at_start,
            peak_kib,
            per_second,
            stop,
        }))
    }

    /// The whole window's figures, and the CPU of each second (in % of one core) that ended
    /// before this.
    pub fn finish(self, operations: u64) -> anyhow::Result<(ServerUsage, Vec<f64>)> {
        self.stop.store(true, Ordering::Relaxed);
        let cpu = cpu_seconds(&self.pids)? - self.cpu_at_start;
        let peak = self
            .peak_kib
            .load(Ordering::Relaxed)
            .max(rss_kib(&self.pids));
        let usage = ServerUsage {
            cpu_seconds: round3(cpu),
            cpu_us_per_op: round3(cpu * 1e6 / operations.max(1) as f64),
            peak_rss_mib: round3(peak as f64 / 1024.0),
        };
        let per_second = self.per_second.lock().expect("watch poisoned").clone();
        Ok((usage, per_second))
    }
}

fn cpu_seconds(pids: &[u32]) -> anyhow::Result<f64> {
    let mut total = 0.0;
    for pid in pids {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map_err(|err| anyhow::anyhow!("cannot watch process {pid}: {err}"))?;
        total += parse_cpu_ticks(&stat)
            .ok_or_else(|| anyhow::anyhow!("unreadable /proc/{pid}/stat"))? as f64
            / TICKS_PER_SECOND;
    }
    Ok(total)
}

/// utime + stime from a /proc/PID/stat line (fields 14 and 15, counted after the command
/// name, which may itself hold spaces and parentheses).
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_ascii_whitespace();
    // Fields after the name start at 3 (state); utime is 14, stime 15.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// Summed VmRSS of the processes that still exist, in KiB.
fn rss_kib(pids: &[u32]) -> u64 {
    pids.iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).ok())
        .filter_map(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .sum()
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_parse_even_with_odd_names() {
        let stat =
            "1234 (a) b (c)) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 5 1000 200";
        assert_eq!(parse_cpu_ticks(stat), Some(300));
        assert_eq!(parse_cpu_ticks("garbage"), None);
    }

    #[tokio::test]
    async fn watching_this_process_reads_cpu_and_memory() {
        let watch = Watch::start(&[std::process::id()]).unwrap().unwrap();
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        // Long enough for one whole second of CPU figures.
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        let (usage, per_second) = watch.finish(10).unwrap();
        assert!(usage.cpu_seconds >= 0.0);
        assert!(!per_second.is_empty(), "a figure for the first second");
        assert!(per_second.iter().all(|pct| *pct >= 0.0), "{per_second:?}");
        assert!(usage.peak_rss_mib > 1.0, "{usage:?}");
        assert!(Watch::start(&[]).unwrap().is_none());
    }
}
