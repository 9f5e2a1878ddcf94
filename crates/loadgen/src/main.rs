//! `signpost-loadgen`: load for Signpost's phone path and batch API, with figures a person
//! can read (a table), a program can compare (JSON) and a plot (SVG). See BENCHMARKS.md.

mod api;
mod boot_storm;
mod fleet;
mod http;
mod machine;
mod plot;
mod redirect;
mod register;
mod report;
mod seed;
mod watch;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::http::Target;
use crate::report::RunReport;

#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Worker threads of the generator (it shares the machine with the server under test).
    #[arg(long, global = true, default_value_t = 1)]
    threads: usize,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Registers a tenant, a profile, hosted files and N devices (idempotent).
    Seed {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        args: seed::SeedArgs,
    },
    /// Keep-alive load on the phone redirect endpoints.
    Redirect {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        args: redirect::RedirectArgs,
    },
    /// N phones each doing a whole boot on new connections.
    BootStorm {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        args: boot_storm::BootStormArgs,
    },
    /// Bulk registration through the batch API.
    Register {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        args: register::RegisterArgs,
    },
    /// How late a sleeping thread wakes on this machine, with no load from the generator:
    /// the noise floor under every latency figure (see BENCHMARKS.md).
    Machine {
        /// Seconds to watch.
        #[arg(long, default_value_t = 20)]
        duration: u64,
    },
    /// Draws runs saved with `--json` into one SVG.
    Plot {
        /// The SVG to write.
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value = "")]
        title: String,
        /// JSON reports (`--json` of earlier runs).
        #[arg(required = true)]
        runs: Vec<PathBuf>,
    },
}

#[derive(Debug, Args)]
struct Common {
    /// The server under test.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    target: String,
    /// This run's name in tables, JSON and plots.
    #[arg(long, default_value = "signpost")]
    label: String,
    /// Also write the report as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Also draw the run as SVG here.
    #[arg(long)]
    plot: Option<PathBuf>,
    /// Server processes to watch (CPU per operation, peak RSS): Signpost's pid, or nginx's
    /// master and workers.
    #[arg(long, value_delimiter = ',')]
    watch_pid: Vec<u32>,
    /// Exit non-zero when any operation failed (for smoke tests).
    #[arg(long)]
    fail_on_error: bool,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.threads.max(1))
        .enable_all()
        .build()?;
    runtime.block_on(run(cli.command))
}

async fn run(command: Command) -> anyhow::Result<()> {
    let (common, report) = match command {
        Command::Seed { common, args } => {
            return seed::run(&Target::parse(&common.target)?, &args).await;
        }
        Command::Machine { duration } => {
            return machine::watch_idle(std::time::Duration::from_secs(duration)).await;
        }
        Command::Plot { out, title, runs } => {
            let reports = runs
                .iter()
                .map(read_report)
                .collect::<anyhow::Result<Vec<_>>>()?;
            return write_plot(&out, &reports, &title);
        }
        Command::Redirect { common, args } => {
            let target = Target::parse(&common.target)?;
            let report = redirect::run(&target, &common.label, &args, &common.watch_pid).await?;
            (common, report)
        }
        Command::BootStorm { common, args } => {
            let target = Target::parse(&common.target)?;
            let watch = watch::Watch::start(&common.watch_pid)?;
            let mut report = boot_storm::run(&target, &common.label, &args).await?;
            report.attach_server(watch)?;
            (common, report)
        }
        Command::Register { common, args } => {
            let target = Target::parse(&common.target)?;
            let watch = watch::Watch::start(&common.watch_pid)?;
            let mut report = register::run(&target, &common.label, &args).await?;
            report.attach_server(watch)?;
            (common, report)
        }
    };
    print!("{}", report.table());
    if let Some(path) = &common.json {
        let json = serde_json::to_vec_pretty(&report)?;
        std::fs::write(path, json).with_context(|| format!("write {}", path.display()))?;
    }
    if let Some(path) = &common.plot {
        let title = format!("{} · {}", report.meta.scenario, report.meta.label);
        write_plot(path, std::slice::from_ref(&report), &title)?;
    }
    if common.fail_on_error && (report.errors > 0 || report.ok == 0) {
        anyhow::bail!(
            "{} of {} operations failed",
            report.errors,
            report.errors + report.ok
        );
    }
    Ok(())
}

fn read_report(path: &PathBuf) -> anyhow::Result<RunReport> {
    let bytes = std::fs::read(path).with_context(|| format!("read {}", path.display()))?;
    serde_json::from_slice(&bytes)
        .with_context(|| format!("{}: not a loadgen report", path.display()))
}

fn write_plot(path: &PathBuf, reports: &[RunReport], title: &str) -> anyhow::Result<()> {
    std::fs::write(path, plot::svg(reports, title))
        .with_context(|| format!("write {}", path.display()))
}
