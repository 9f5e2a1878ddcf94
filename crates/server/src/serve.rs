use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use poem::EndpointExt;
use tokio_rustls::TlsAcceptor;

use crate::config::Config;
use crate::wiring;

mod connections;
mod tls;
mod workers;

/// How often blobs that no file refers to are looked for, and how long after the start
/// the first time.
const SWEEP_INTERVAL: Duration = Duration::from_secs(3600);
const FIRST_SWEEP_AFTER: Duration = Duration::from_secs(600);
/// How long clients and the server may take; see [`connections::Timeouts`].
const TIMEOUTS: connections::Timeouts = connections::Timeouts {
    // As long as hyper's own default: far more than a phone on a poor link needs for a TLS
    // handshake and a few hundred bytes, and it closes idle keep-alive connections well
    // before nginx's 75 s.
    header_read: Duration::from_secs(30),
    // In-flight requests after SIGTERM/SIGINT.
    grace: Duration::from_secs(10),
};

pub async fn run(config: Config) -> anyhow::Result<()> {
    let backends = wiring::backends(&config).await?;
    backends
        .registry
        .admin
        .migrate()
        .await
        .context("cannot bring the registry schema up to date")?;
    let secret = wiring::server_secret(&config)?;
    let auth = wiring::authenticator(&config, &backends.registry, secret.clone())?;
    let state = backends.app_state(&config, auth, &secret);
    let phone = state.phone.clone();
    let mut background = phone.spawn_background();
    background.push(state.files.spawn_sweeper(FIRST_SWEEP_AFTER, SWEEP_INTERVAL));

    // Read before anything is announced: a bad certificate must fail the start.
    let tls = config
        .tls
        .as_ref()
        .map(tls::server_config)
        .transpose()?
        .map(TlsAcceptor::from);
    let cannot_serve = || format!("cannot serve on {}", config.listen);
    let worker_count = config.worker_threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    // Bound here, so that a taken port fails the start before it is announced.
    let listeners =
        workers::Listeners::bind(config.listen, worker_count).with_context(cannot_serve)?;
    tracing::info!(
        listen = %listeners.local_addr().with_context(cannot_serve)?,
        workers = worker_count,
        tls = tls.is_some(),
        registry = backends.registry.name,
        blobs = backends.blobs.0,
        cache = backends.cache.0,
        "signpost is serving"
    );
    let app = Arc::new(signpost_api::app(state, config.max_body_bytes).map_to_response());
    let (workers, served) = workers::serve(listeners, tls, app, shutdown_signal(), TIMEOUTS).await;
    served.with_context(cannot_serve)?;
    // Last-seen noted since the last flush would otherwise be lost.
    phone.flush_sightings().await;
    workers.release().await;
    for task in background {
        task.abort();
    }
    tracing::info!("signpost stopped");
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        _ = terminate => {}
    }
    tracing::info!("shutting down");
}
