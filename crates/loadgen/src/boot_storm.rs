//! `boot-storm`: N phones boot as after a power cut, each on new connections from its own
//! address, and each does the whole sequence: the redirect, then at the setting server it
//! was sent to `{type}.htm`, `{type}-{MAC}.htm` and the firmware file that `firmware_status`
//! names. One operation is one whole boot; its latency runs from the phone's arrival to its
//! last answer, so phones kept waiting by a full `--concurrency` count that wait.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use tokio::sync::Semaphore;

use crate::fleet::{FleetArgs, source_address};
use crate::http::{Connection, Target};
use crate::report::{Recorder, RunMeta, RunReport, SplitTimes};

#[derive(Debug, Clone, Args)]
pub struct BootStormArgs {
    #[command(flatten)]
    pub fleet: FleetArgs,
    /// Phones that boot (each a registered MAC, in order); default: every device.
    #[arg(long)]
    pub phones: Option<u64>,
    /// Phones arriving per second; 0 lets them all arrive at once (bounded by
    /// `--concurrency`).
    #[arg(long, default_value_t = 0.0)]
    pub arrival_rate: f64,
    /// Phones booting at the same moment.
    #[arg(long, default_value_t = 128)]
    pub concurrency: usize,
    /// Seconds before one request counts as timed out.
    #[arg(long, default_value_t = 30.0)]
    pub timeout: f64,
}

/// The steps of one boot, for the per-step figures.
const STEPS: [&str; 4] = ["redirect", "general", "phone", "firmware"];

pub async fn run(target: &Target, label: &str, args: &BootStormArgs) -> anyhow::Result<RunReport> {
    let phones = args.phones.unwrap_or(args.fleet.devices);
    anyhow::ensure!(args.concurrency > 0, "--concurrency must be at least 1");
    let recorder = Recorder::new(Duration::ZERO);
    let steps = Arc::new(SplitTimes::new());
    let permits = Arc::new(Semaphore::new(args.concurrency));
    let shared = Arc::new((target.clone(), args.clone()));
    let started = recorder.measure_from();
    let mut tasks = Vec::new();
    for phone in 0..phones {
        let arrival = if args.arrival_rate > 0.0 {
            let due = started + Duration::from_secs_f64(phone as f64 / args.arrival_rate);
            tokio::time::sleep_until(due.into()).await;
            due
        } else {
            Instant::now()
        };
        let permit = permits.clone().acquire_owned().await?;
        let (shared, recorder, steps) = (shared.clone(), recorder.clone(), steps.clone());
        tasks.push(tokio::spawn(async move {
            let outcome = boot(&shared.0, &shared.1, phone, &steps).await;
            match outcome {
                Ok(()) => recorder.ok(arrival, arrival.elapsed(), 1),
                Err(kind) => recorder.error(arrival, &kind),
            }
            drop(permit);
        }));
        // Keep the task list short: finished boots need no handle.
        if tasks.len() >= 4096 {
            tasks.retain(|task: &tokio::task::JoinHandle<()>| !task.is_finished());
        }
    }
    for task in tasks {
        task.await?;
    }
    let elapsed = started.elapsed();
    let mut settings = BTreeMap::new();
    settings.insert("phones".into(), phones.to_string());
    settings.insert("concurrency".into(), args.concurrency.to_string());
    settings.insert(
        "arrival".into(),
        if args.arrival_rate > 0.0 {
            format!("{}/s", args.arrival_rate)
        } else {
            "all at once".into()
        },
    );
    steps.add_p99s(STEPS, &mut settings);
    let meta = RunMeta {
        scenario: "boot-storm".into(),
        label: label.into(),
        target: target.host.clone(),
        operation: "boot".into(),
        unit: "boot".into(),
        settings,
    };
    Ok(recorder.finish(meta, elapsed))
}

/// One phone's boot; the error is the report's error kind (`redirect_status_503`, …).
async fn boot(
    target: &Target,
    args: &BootStormArgs,
    phone: u64,
    steps: &SplitTimes<4>,
) -> Result<(), String> {
    let fleet = &args.fleet;
    let mac = fleet.registered(phone).to_string();
    let source = source_address(phone);
    let agent = fleet.user_agent(fleet.registered(phone));
    let timeout = Duration::from_secs_f64(args.timeout);
    let t = &fleet.phone_type;
    let get = |step: usize, url: String| {
        let agent = &agent;
        async move {
            let (addr_target, path) =
                split_url(&url).map_err(|_| format!("{}_bad_url", STEPS[step]))?;
            let request = format!(
                "GET {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: {agent}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
                addr_target.host
            );
            let started = Instant::now();
            let mut conn = Connection::open(addr_target.addr, Some(source))
                .await
                .map_err(|err| format!("{}_{}", STEPS[step], err.kind()))?;
            let response = conn
                .send(request.as_bytes(), timeout)
                .await
                .map_err(|err| format!("{}_{}", STEPS[step], err.kind()))?;
            if response.status != 200 {
                return Err(format!("{}_status_{}", STEPS[step], response.status));
            }
            steps.record(step, started.elapsed());
            Ok(response)
        }
    };
    let redirect_url = format!(
        "http://{}{}{t}/{t}.php?mac={mac}",
        target.host, target.base_path
    );
    let redirect = get(0, redirect_url).await?;
    let base = setting_server(redirect.text()).ok_or("redirect_no_setting_server")?;
    let general = get(1, format!("{base}{t}.htm")).await?;
    let own = get(2, format!("{base}{t}-{mac}.htm")).await?;
    let firmware = element(general.text(), "firmware_status")
        .or_else(|| element(own.text(), "firmware_status"))
        .ok_or("general_no_firmware_status")?
        .to_owned();
    get(3, firmware).await?;
    Ok(())
}

/// `http://host:port/path` → (connection target, path with query).
fn split_url(url: &str) -> anyhow::Result<(Target, String)> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow::anyhow!("not http"))?;
    let path_at = rest.find('/').unwrap_or(rest.len());
    let target = Target::parse(&format!("http://{}", &rest[..path_at]))?;
    let path = if path_at == rest.len() {
        "/"
    } else {
        &rest[path_at..]
    };
    Ok((target, path.to_owned()))
}

/// The URL in a text answer's `setting_server$: URL` line, or an XML answer's element.
fn setting_server(document: &str) -> Option<&str> {
    document
        .lines()
        .find_map(|line| line.trim().strip_prefix("setting_server$:"))
        .map(str::trim)
        .or_else(|| element(document, "setting_server"))
}

/// The text of the first `<name …>text</name>`.
fn element<'a>(document: &'a str, name: &str) -> Option<&'a str> {
    let open = document.find(&format!("<{name}"))?;
    let after = &document[open..];
    let start = after.find('>')? + 1;
    let end = after.find(&format!("</{name}>"))?;
    (start <= end).then(|| after[start..end].trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setting_servers_are_read_from_both_formats() {
        let text = "<html>\n<pre>\n# Signpost\nsetting_server$: http://127.0.0.1:8080/p/acme/tok/\n</pre>\n</html>\n";
        assert_eq!(
            setting_server(text),
            Some("http://127.0.0.1:8080/p/acme/tok/")
        );
        let xml = "<settings><phone-settings><setting_server perm=\"RW\">http://x/y/</setting_server></phone-settings></settings>";
        assert_eq!(setting_server(xml), Some("http://x/y/"));
        assert_eq!(setting_server("<html><pre>\n</pre></html>"), None);
    }

    #[test]
    fn urls_split_into_target_and_path() {
        let (target, path) = split_url("http://127.0.0.1:81/files/snomD785.htm").unwrap();
        assert_eq!(target.addr, "127.0.0.1:81".parse().unwrap());
        assert_eq!(path, "/files/snomD785.htm");
        assert!(split_url("https://x/").is_err());
    }
}
