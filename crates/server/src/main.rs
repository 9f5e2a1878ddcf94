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

/// How long mimalloc keeps memory freed to it before handing it back to the system. Its
/// version 3 waits 1 s (and ten times that for its arenas): a PostgreSQL server then still
/// held, under load, the memory a bulk registration of a million devices had used (RSS
/// 188 MiB, against 125 MiB with 100 ms). 100 ms keeps most of that, at a cost on the
/// phone path within the noise of these machines; 10 ms, version 2's default, cost 2-5% more
/// CPU a request (BENCHMARKS.md, fifteenth round).
const ALLOCATOR_PURGE_DELAY_MS: std::ffi::c_long = 100;
/// `mi_option_purge_delay` in mimalloc.h's `mi_option_e` (the Rust bindings lack it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

#[allow(unsafe_code)]
fn set_allocator_purge_delay() {
    // SAFETY: an integer option; mi_option_set is not thread-safe, and main calls this
    // first, before any other thread exists.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, ALLOCATOR_PURGE_DELAY_MS) };
}

/// Workers of the main runtime: commands, and the server's background work.
const BACKGROUND_WORKERS: usize = 2;

fn main() -> ExitCode {
    set_allocator_purge_delay();
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
    // Connections are served by the workers' own runtimes (serve/workers.rs); this one runs
    // commands and the server's background work, which two workers keep up with.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(BACKGROUND_WORKERS)
        .thread_name("background")
        .enable_all()
        .build();
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("signpost: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The command runs as a task on the runtime's workers rather than on this thread: what
    // it spawns starts in a worker's own queue, and a panic in it ends as an error here.
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
