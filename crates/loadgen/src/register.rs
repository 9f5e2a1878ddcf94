//! `register`: bulk registration through the batch API. Workers each keep one connection
//! and post batches of upserts until every device is registered; one operation is one
//! batch, one unit one device.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Args;

use crate::api::{Api, ApiArgs};
use crate::fleet::FleetArgs;
use crate::http::Target;
use crate::report::{Recorder, RunMeta, RunReport};

/// The batch API's limit.
const MAX_BATCH: u64 = 10_000;

#[derive(Debug, Clone, Args)]
pub struct RegisterArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    #[command(flatten)]
    pub fleet: FleetArgs,
    /// Devices per batch request (at most 10,000).
    #[arg(long, default_value_t = 5_000)]
    pub batch: u64,
    /// Batch requests in flight.
    #[arg(long, default_value_t = 4)]
    pub concurrency: u64,
}

/// Registers `fleet.devices` devices with the profile; reports batches and devices per second.
pub async fn run(target: &Target, label: &str, args: &RegisterArgs) -> anyhow::Result<RunReport> {
    anyhow::ensure!(
        (1..=MAX_BATCH).contains(&args.batch),
        "--batch must be 1 to {MAX_BATCH}"
    );
    let batches = args.fleet.devices.div_ceil(args.batch);
    let next = Arc::new(AtomicU64::new(0));
    let recorder = Recorder::new(Duration::ZERO);
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..args.concurrency.max(1) {
        let mut api = Api::connect(target, &args.api).await?;
        let (next, recorder, args) = (next.clone(), recorder.clone(), args.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= batches {
                    return Ok::<_, anyhow::Error>(());
                }
                let first = index * args.batch;
                let count = args.batch.min(args.fleet.devices - first);
                let body = batch_body(&args, first, count);
                let path = format!("/v1/tenants/{}/devices/batch", args.api.tenant);
                let sent = Instant::now();
                match api
                    .send("POST", &path, Some(("application/json", &body)))
                    .await
                {
                    Ok(response) if response.status == 200 => {
                        recorder.ok(sent, sent.elapsed(), count);
                    }
                    Ok(response) => {
                        recorder.error(sent, &format!("status_{}", response.status));
                        eprintln!(
                            "batch {index}: {} {}",
                            response.status,
                            response.text().chars().take(300).collect::<String>()
                        );
                    }
                    Err(err) => {
                        recorder.error(sent, "io");
                        eprintln!("batch {index}: {err:#}");
                    }
                }
            }
        }));
    }
    for worker in workers {
        worker.await??;
    }
    let elapsed = started.elapsed();
    let mut settings = BTreeMap::new();
    settings.insert("devices".into(), args.fleet.devices.to_string());
    settings.insert("batch".into(), args.batch.to_string());
    settings.insert("concurrency".into(), args.concurrency.to_string());
    let meta = RunMeta {
        scenario: "register".into(),
        label: label.into(),
        target: target.host.clone(),
        operation: "batch".into(),
        unit: "device".into(),
        settings,
    };
    Ok(recorder.finish(meta, elapsed))
}

/// `{"operations":[{"action":"upsert","mac":…,"profile":…},…]}`, written directly: at
/// 10,000 operations per body a `serde_json::Value` tree would cost the generator more
/// than the request.
fn batch_body(args: &RegisterArgs, first: u64, count: u64) -> Vec<u8> {
    use std::io::Write;
    let profile = serde_json::to_string(&args.api.profile).expect("a string serialises");
    let mut body = Vec::with_capacity(20 + 64 * usize::try_from(count).unwrap_or(0));
    body.extend_from_slice(b"{\"operations\":[");
    for i in first..first + count {
        if i > first {
            body.push(b',');
        }
        write!(
            body,
            "{{\"action\":\"upsert\",\"mac\":\"{}\",\"profile\":{profile}}}",
            args.fleet.registered(i)
        )
        .expect("writing to a Vec cannot fail");
    }
    body.extend_from_slice(b"]}");
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: RegisterArgs,
    }

    #[test]
    fn batch_bodies_are_json() {
        let cli = Cli::parse_from([
            "x",
            "--key-id",
            "k",
            "--key-secret",
            "s",
            "--devices",
            "10",
            "--profile",
            "desk \"a\"",
        ]);
        let body = batch_body(&cli.args, 8, 2);
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let ops = value["operations"].as_array().unwrap();
        assert_eq!(ops.len(), 2);
        assert_eq!(ops[0]["mac"], "000413100008");
        assert_eq!(ops[1]["profile"], "desk \"a\"");
    }
}
