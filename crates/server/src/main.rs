//! The `signpost` binary: reads configuration, wires the adapters it names to the services
//! and runs a command.

mod cli;
mod config;
mod serve;
mod telemetry;
mod wiring;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc rather than the C library's allocator: the phone path allocates and frees many
/// small buffers, and glibc's malloc took 12% of the server's CPU in a boot storm; mimalloc
/// cut a phone request's instructions by a tenth (BENCHMARKS.md, third round).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let config = match config::Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("signpost: {e}");
            return ExitCode::FAILURE;
        }
    };
    telemetry::init(config.log_format);
    // One TLS crypto provider for every client and server in the process (HTTPS, rediss://,
    // PostgreSQL over TLS), whichever features the dependency tree happens to enable.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = config.worker_threads {
        builder.worker_threads(threads);
    }
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("signpost: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The command runs on one of the runtime's workers rather than on this thread: a task a
    // worker spawns (each connection the server accepts) starts in that worker's own queue,
    // while one spawned from outside the pool goes through the shared queue and wakes a
    // worker, a thread switch per connection (five per booting phone).
    let outcome = runtime.block_on(async {
        tokio::spawn(cli::run(cli.command, config))
            .await
            .unwrap_or_else(|e| Err(anyhow::anyhow!("the command stopped: {e}")))
    });
    telemetry::flush();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the chain of causes joined, no backtrace.
            eprintln!("signpost: {e:#}");
            ExitCode::FAILURE
        }
    }
}
