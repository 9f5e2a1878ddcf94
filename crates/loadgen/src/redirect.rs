//! `redirect`: keep-alive connections asking the phone endpoints where registered (and some
//! unknown) MACs should go, closed-loop (as fast as answers come) or open-loop at a fixed
//! rate.
//!
//! The open loop is one schedule shared by all connections, like requests from many phones
//! reaching a pool of connections: each request goes out on the first connection that is
//! free. A request that found every connection busy past its due time is timed from when it
//! was due, so a stalled server is not hidden by the generator waiting for it (coordinated
//! omission). One that went out on time is timed from when it was sent: tokio's timers fire
//! on whole milliseconds, and that slack is the generator's, not the server's.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};

use crate::fleet::{FleetArgs, Mac, source_address};
use crate::http::{HttpError, KeepAlive, Target};
use crate::report::{Recorder, RunMeta, RunReport, SplitTimes};
use crate::watch::Watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PathForm {
    /// `/{type}/{type}.php?mac={MAC}` (text answer).
    Php,
    /// `/{type}-{MAC}.htm` (XML answer).
    Htm,
    /// `/{type}.htm` with the MAC only in the User-Agent (XML answer).
    Agent,
}

#[derive(Debug, Clone, Args)]
pub struct RedirectArgs {
    #[command(flatten)]
    pub fleet: FleetArgs,
    /// Keep-alive connections, each from its own loopback address.
    #[arg(long, default_value_t = 64)]
    pub connections: u64,
    /// Seconds measured (after the warm-up).
    #[arg(long, default_value_t = 20.0)]
    pub duration: f64,
    /// Seconds of load before measuring (fills caches and connection pools).
    #[arg(long, default_value_t = 3.0)]
    pub warmup: f64,
    /// Requests per second in all (open loop); 0 sends as fast as answers come.
    #[arg(long, default_value_t = 0.0)]
    pub rate: f64,
    /// Share of requests for MACs that are not registered (0 to 1).
    #[arg(long, default_value_t = 0.05)]
    pub unknown: f64,
    /// Path forms, used in turn.
    #[arg(long, value_delimiter = ',', default_value = "php,htm")]
    pub paths: Vec<PathForm>,
    /// Seconds before a request counts as timed out.
    #[arg(long, default_value_t = 10.0)]
    pub timeout: f64,
    /// Before the warm-up, ask once for every registered MAC, so that the measured run
    /// finds every answer cached (the "warm cache" figure).
    #[arg(long)]
    pub warm_all: bool,
}

pub async fn run(
    target: &Target,
    label: &str,
    args: &RedirectArgs,
    watch_pids: &[u32],
) -> anyhow::Result<RunReport> {
    anyhow::ensure!(args.connections > 0, "--connections must be at least 1");
    anyhow::ensure!(!args.paths.is_empty(), "--paths needs at least one form");
    anyhow::ensure!(
        (0.0..=1.0).contains(&args.unknown),
        "--unknown is a share from 0 to 1"
    );
    if args.warm_all {
        warm_all(target, args).await?;
    }
    let recorder = Recorder::new(Duration::from_secs_f64(args.warmup));
    let stop = recorder.measure_from() + Duration::from_secs_f64(args.duration);
    let schedule = (args.rate > 0.0).then(|| Arc::new(Schedule::new(args.rate)));
    let shared = Arc::new((target.clone(), args.clone()));
    let by_mac = Arc::new(SplitTimes::new());
    let tasks: Vec<_> = (0..args.connections)
        .map(|index| {
            let (shared, recorder) = (shared.clone(), recorder.clone());
            let (schedule, by_mac) = (schedule.clone(), by_mac.clone());
            tokio::spawn(async move {
                let (target, args) = (&shared.0, &shared.1);
                let measure = Measure {
                    recorder: &recorder,
                    by_mac: &by_mac,
                    stop,
                };
                connection(target, args, index, schedule.as_deref(), measure).await;
            })
        })
        .collect();
    // The server is watched over the measured window only, like the requests.
    tokio::time::sleep_until(recorder.measure_from().into()).await;
    let watch = Watch::start(watch_pids)?;
    for task in tasks {
        task.await?;
    }
    let mut settings = BTreeMap::new();
    settings.insert("devices".into(), args.fleet.devices.to_string());
    settings.insert("connections".into(), args.connections.to_string());
    settings.insert("unknown".into(), args.unknown.to_string());
    let paths: Vec<_> = args
        .paths
        .iter()
        .map(|p| format!("{p:?}").to_lowercase())
        .collect();
    settings.insert("paths".into(), paths.join(","));
    by_mac.add_p99s(MAC_KINDS, &mut settings);
    settings.insert(
        "rate".into(),
        if args.rate > 0.0 {
            format!("{}/s", args.rate)
        } else {
            "closed loop".into()
        },
    );
    let meta = RunMeta {
        scenario: "redirect".into(),
        label: label.into(),
        target: target.host.clone(),
        operation: "request".into(),
        unit: "request".into(),
        settings,
    };
    let mut report = recorder.finish(meta, Duration::from_secs_f64(args.duration));
    report.attach_server(watch)?;
    Ok(report)
}

/// Known and unknown MACs, for their p99s apart (an unknown MAC takes the longer way
/// through the caches and the registry).
const MAC_KINDS: [&str; 2] = ["known", "unknown"];

/// Where one connection's samples go, and when it stops.
struct Measure<'a> {
    recorder: &'a Recorder,
    by_mac: &'a SplitTimes<2>,
    stop: Instant,
}

/// Every registered MAC once, over `--connections` keep-alive connections.
async fn warm_all(target: &Target, args: &RedirectArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let shared = Arc::new((target.clone(), args.clone()));
    let tasks: Vec<_> = (0..args.connections)
        .map(|index| {
            let (shared, next, failed) = (shared.clone(), next.clone(), failed.clone());
            tokio::spawn(async move {
                let (target, args) = (&shared.0, &shared.1);
                let timeout = Duration::from_secs_f64(args.timeout);
                let mut request = Vec::with_capacity(512);
                let mut conn = KeepAlive::new(target.addr, Some(source_address(index)));
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= args.fleet.devices {
                        return;
                    }
                    let mac = args.fleet.registered(i);
                    write_request(&mut request, target, &args.fleet, PathForm::Php, mac);
                    let answered = conn
                        .send(&request, timeout)
                        .await
                        .is_ok_and(|response| response.status == 200 && redirected(&response.body));
                    if !answered {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await?;
    }
    let failed = failed.load(Ordering::Relaxed);
    eprintln!(
        "warm-up: {} MACs asked for in {:.1} s, {failed} without a redirect",
        args.fleet.devices,
        started.elapsed().as_secs_f64()
    );
    anyhow::ensure!(
        failed == 0,
        "{failed} registered MACs were not redirected while warming up"
    );
    Ok(())
}

/// The open loop's timetable: request `k` is due `k / rate` seconds after the start, and
/// goes to whichever connection claims it first.
#[derive(Debug)]
struct Schedule {
    start: Instant,
    period: Duration,
    next: AtomicU64,
}

impl Schedule {
    fn new(rate: f64) -> Self {
        Self {
            start: Instant::now(),
            period: Duration::from_secs_f64(1.0 / rate),
            next: AtomicU64::new(0),
        }
    }

    /// Claims the next request nobody has sent yet: when it is due.
    fn claim(&self) -> Instant {
        let k = self.next.fetch_add(1, Ordering::Relaxed);
        // u32 covers 4 billion requests: hours at any rate a machine like this sustains.
        self.start + self.period * u32::try_from(k).unwrap_or(u32::MAX)
    }
}

async fn connection(
    target: &Target,
    args: &RedirectArgs,
    index: u64,
    schedule: Option<&Schedule>,
    measure: Measure<'_>,
) {
    let Measure {
        recorder,
        by_mac,
        stop,
    } = measure;
    let mut rng = SplitMix(index.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5157);
    let timeout = Duration::from_secs_f64(args.timeout);
    let mut conn = KeepAlive::new(target.addr, Some(source_address(index)));
    let mut request = Vec::with_capacity(512);
    let mut sent = 0u64;
    loop {
        let started = match schedule {
            Some(schedule) => {
                let due = schedule.claim();
                if due >= stop {
                    return;
                }
                if due > Instant::now() {
                    // On time: the clock starts when the request goes out.
                    tokio::time::sleep_until(due.into()).await;
                    Instant::now()
                } else {
                    // Late: every connection was busy; the wait counts.
                    due
                }
            }
            None => Instant::now(),
        };
        if started >= stop {
            return;
        }
        let unknown = rng.chance(args.unknown);
        let mac = if unknown {
            args.fleet.unknown(rng.next())
        } else {
            args.fleet.registered(rng.next())
        };
        let form = args.paths[(sent % args.paths.len() as u64) as usize];
        sent += 1;
        write_request(&mut request, target, &args.fleet, form, mac);
        match conn.send(&request, timeout).await {
            Ok(response) => {
                let latency = started.elapsed();
                if response.status != 200 {
                    recorder.error(started, &format!("status_{}", response.status));
                } else if redirected(&response.body) == unknown {
                    recorder.error(started, "wrong_answer");
                } else {
                    recorder.ok(started, latency, 1);
                    if started >= recorder.measure_from() {
                        by_mac.record(usize::from(unknown), latency);
                    }
                }
            }
            Err(err) => {
                recorder.error(started, err.kind());
                if matches!(err, HttpError::Connect(_)) {
                    // Refused: do not spin on a server that is not there.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    }
}

/// Whether a settings document sends the phone somewhere (the empty one does not).
pub fn redirected(body: &[u8]) -> bool {
    body.windows(14).any(|w| w == b"setting_server")
}

fn write_request(out: &mut Vec<u8>, target: &Target, fleet: &FleetArgs, form: PathForm, mac: Mac) {
    out.clear();
    let t = &fleet.phone_type;
    let base = &target.base_path;
    // Writing into a Vec cannot fail.
    let _ = match form {
        PathForm::Php => write!(out, "GET {base}{t}/{t}.php?mac={mac} HTTP/1.1\r\n"),
        PathForm::Htm => write!(out, "GET {base}{t}-{mac}.htm HTTP/1.1\r\n"),
        PathForm::Agent => write!(out, "GET {base}{t}.htm HTTP/1.1\r\n"),
    };
    let _ = write!(
        out,
        "Host: {}\r\nUser-Agent: {}\r\nAccept: */*\r\n\r\n",
        target.host,
        fleet.user_agent(mac)
    );
}

/// A tiny deterministic generator (SplitMix64): per-connection streams, no shared state.
#[derive(Debug)]
pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_name_the_mac_in_path_and_agent() {
        let target = Target::parse("http://127.0.0.1:8080").unwrap();
        let fleet = FleetArgs {
            devices: 10,
            first_mac: 0x000413100000,
            phone_type: "snomD785".into(),
            firmware: "10.1.54.13".into(),
        };
        let mut out = Vec::new();
        write_request(
            &mut out,
            &target,
            &fleet,
            PathForm::Php,
            fleet.registered(1),
        );
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(text.starts_with("GET /snomD785/snomD785.php?mac=000413100001 HTTP/1.1\r\n"));
        assert!(text.contains("Host: 127.0.0.1:8080\r\n"));
        assert!(text.ends_with("UXMC:0)\r\nAccept: */*\r\n\r\n"));
        write_request(
            &mut out,
            &target,
            &fleet,
            PathForm::Htm,
            fleet.registered(2),
        );
        assert!(out.starts_with(b"GET /snomD785-000413100002.htm HTTP/1.1\r\n"));
    }

    #[test]
    fn the_schedule_hands_out_each_slot_once_in_order() {
        let schedule = Schedule::new(1000.0);
        let first = schedule.claim();
        assert_eq!(first, schedule.start);
        let slots: Vec<_> = (0..5).map(|_| schedule.claim()).collect();
        for (k, due) in slots.iter().enumerate() {
            assert_eq!(*due - first, Duration::from_millis(k as u64 + 1));
        }
    }

    #[test]
    fn chance_follows_the_share() {
        let mut rng = SplitMix(1);
        let hits = (0..100_000).filter(|_| rng.chance(0.05)).count();
        assert!((4_000..6_000).contains(&hits), "{hits}");
        assert!(!(0..1000).any(|_| rng.chance(0.0)));
    }

    #[test]
    fn answers_are_told_apart() {
        assert!(redirected(
            b"<html><pre>\nsetting_server$: http://x/\n</pre></html>"
        ));
        assert!(!redirected(b"<html><pre>\n</pre></html>"));
    }
}
