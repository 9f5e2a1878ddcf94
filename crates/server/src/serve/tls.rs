//! Native HTTPS: the certificate and key, read and checked once at start, and the rustls
//! settings the connection loop ([`super::connections`]) does its handshakes with.

use std::sync::Arc;

use anyhow::Context;
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::TlsSettings;

/// What a client may ask for in the handshake (ALPN), in our order of preference: HTTP/2
/// for API clients that speak it, HTTP/1.1 for phones and everything else. A client that
/// names neither gets HTTP/1.1.
const PROTOCOLS: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// The protocol name ALPN settles on for HTTP/2.
pub const HTTP2: &[u8] = b"h2";

/// A missing or unreadable file, a file without a certificate or key, or a key that does
/// not belong to the certificate fails the start with one line naming the problem, instead
/// of every handshake failing later.
pub fn server_config(tls: &TlsSettings) -> anyhow::Result<Arc<ServerConfig>> {
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
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
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
    config.alpn_protocols = PROTOCOLS.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}
