use std::time::Duration;

use anyhow::Context;
use poem::Server;
use poem::listener::TcpListener;

use crate::config::Config;
use crate::wiring;

/// How long in-flight requests may finish after SIGTERM/SIGINT.
const GRACE_PERIOD: Duration = Duration::from_secs(10);

pub async fn run(config: Config) -> anyhow::Result<()> {
    let backends = wiring::backends(&config).await?;
    backends
        .registry
        .admin
        .migrate()
        .await
        .context("cannot bring the registry schema up to date")?;
    let auth = wiring::authenticator(&config, &backends.registry)?;
    let state = backends.app_state(auth);

    let listener = TcpListener::bind(config.listen);
    tracing::info!(
        listen = %config.listen,
        registry = backends.registry.name,
        blobs = backends.blobs.0,
        cache = backends.cache.0,
        "signpost is serving"
    );
    Server::new(listener)
        .run_with_graceful_shutdown(
            signpost_api::app(state, config.max_body_bytes),
            shutdown_signal(),
            Some(GRACE_PERIOD),
        )
        .await
        .with_context(|| format!("cannot serve on {}", config.listen))?;
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
