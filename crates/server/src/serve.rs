use std::time::Duration;

use anyhow::Context;
use poem::Server;
use poem::listener::{Listener, RustlsCertificate, RustlsConfig, RustlsListener, TcpListener};

use crate::config::{Config, TlsSettings};
use crate::wiring;

mod plain;

/// How often blobs that no file refers to are looked for, and how long after the start
/// the first time.
const SWEEP_INTERVAL: Duration = Duration::from_secs(3600);
const FIRST_SWEEP_AFTER: Duration = Duration::from_secs(600);
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
    background.push(state.files.spawn_sweeper(FIRST_SWEEP_AFTER, SWEEP_INTERVAL));

    // Read before anything is announced: a bad certificate must fail the start.
    let tls = config.tls.as_ref().map(tls_config).transpose()?;
    let cannot_serve = || format!("cannot serve on {}", config.listen);
    let listening = match tls {
        // Bound here, so that a taken port fails the start before it is announced.
        None => Listening::Plain(
            tokio::net::TcpListener::bind(config.listen)
                .await
                .with_context(cannot_serve)?,
        ),
        Some(tls) => Listening::Tls(TcpListener::bind(config.listen).rustls(tls)),
    };
    tracing::info!(
        listen = %config.listen,
        registry = backends.registry.name,
        blobs = backends.blobs.0,
        cache = backends.cache.0,
        "signpost is serving"
    );
    let app = signpost_api::app(state, config.max_body_bytes);
    let served = match listening {
        Listening::Plain(listener) => {
            plain::serve(listener, app, shutdown_signal(), GRACE_PERIOD).await
        }
        Listening::Tls(listener) => {
            Server::new(listener)
                .run_with_graceful_shutdown(app, shutdown_signal(), Some(GRACE_PERIOD))
                .await
        }
    };
    served.with_context(cannot_serve)?;
    // Last-seen noted since the last flush would otherwise be lost.
    phone.flush_sightings().await;
    for task in background {
        task.abort();
    }
    tracing::info!("signpost stopped");
    Ok(())
}

/// Plain HTTP is served by our own HTTP/1 loop (see [`plain`]); HTTPS by poem's server,
/// which negotiates HTTP/2 or HTTP/1.1 over ALPN.
enum Listening {
    Plain(tokio::net::TcpListener),
    Tls(RustlsListener<TcpListener<std::net::SocketAddr>, RustlsConfig>),
}

/// The certificate and key, read and checked once at start: a missing or unreadable file,
/// a file without a certificate or key, or a key that does not belong to the certificate
/// fails the start with one line naming the problem, instead of every handshake failing later.
fn tls_config(tls: &TlsSettings) -> anyhow::Result<RustlsConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let read = |path: &std::path::Path| {
        std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
    };
    let (cert_pem, key_pem) = (read(&tls.cert)?, read(&tls.key)?);
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .ok()
        .filter(|chain| !chain.is_empty())
        .with_context(|| format!("{} holds no PEM certificate", tls.cert.display()))?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .ok()
        .with_context(|| format!("{} holds no PEM private key", tls.key.display()))?;
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .with_context(|| {
            format!(
                "{} does not go with {}",
                tls.key.display(),
                tls.cert.display()
            )
        })?;
    let certificate = RustlsCertificate::new().cert(cert_pem).key(key_pem);
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
