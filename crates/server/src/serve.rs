use std::time::Duration;

use anyhow::Context;
use poem::Server;
use poem::listener::{Listener, RustlsCertificate, RustlsConfig, TcpListener};

use crate::config::{Config, TlsSettings};
use crate::wiring;

/// How often blobs that no file refers to are looked for.
const SWEEP_INTERVAL: Duration = Duration::from_secs(3600);
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
    let secret = wiring::server_secret(&config)?;
    let auth = wiring::authenticator(&config, &backends.registry, secret.clone())?;
    let state = backends.app_state(&config, auth, &secret);
    let phone = state.phone.clone();
    let mut background = phone.spawn_background();
    background.push(state.files.spawn_sweeper(SWEEP_INTERVAL));

    let listener = TcpListener::bind(config.listen);
    tracing::info!(
        listen = %config.listen,
        registry = backends.registry.name,
        blobs = backends.blobs.0,
        cache = backends.cache.0,
        "signpost is serving"
    );
    let app = signpost_api::app(state, config.max_body_bytes);
    let served = match &config.tls {
        None => {
            Server::new(listener)
                .run_with_graceful_shutdown(app, shutdown_signal(), Some(GRACE_PERIOD))
                .await
        }
        Some(tls) => {
            let tls = tls_config(tls)?;
            Server::new(listener.rustls(tls))
                .run_with_graceful_shutdown(app, shutdown_signal(), Some(GRACE_PERIOD))
                .await
        }
    };
    served.with_context(|| format!("cannot serve on {}", config.listen))?;
    // Last-seen noted since the last flush would otherwise be lost.
    phone.flush_sightings().await;
    for task in background {
        task.abort();
    }
    tracing::info!("signpost stopped");
    Ok(())
}

/// The certificate and key, read once at start: a missing or unreadable file fails the
/// start with one line naming it.
fn tls_config(tls: &TlsSettings) -> anyhow::Result<RustlsConfig> {
    let read = |path: &std::path::Path| {
        std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
    };
    let certificate = RustlsCertificate::new()
        .cert(read(&tls.cert)?)
        .key(read(&tls.key)?);
    Ok(RustlsConfig::new().fallback(certificate))
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
