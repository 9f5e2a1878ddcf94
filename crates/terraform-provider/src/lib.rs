//! Terraform provider for Signpost, on plugin protocol 6 (Terraform 1.0 and later) through the
//! `tf-provider` crate. See the crate's README.md for the resources and their import ids.

pub mod client;
pub mod data_sources;
pub mod delta;
pub mod ids;
pub mod mac;
pub mod problem;
pub mod provider;
pub mod resources;
mod util;

/// Serves the provider to the Terraform process that started it.
pub async fn run() -> anyhow::Result<()> {
    // The plugin's gRPC server (tonic, inside tf-provider) takes rustls' process-wide
    // provider, and it must be ring. Terraform's go-plugin client authenticates with a
    // self-signed P-521 *CA* certificate, which webpki refuses as an end-entity certificate
    // (`CaUsedAsEndEntity`), failing every handshake. With ring the server cannot verify
    // P-521 signatures, so it does not ask for them, the client sends no certificate, and
    // tf-provider's optional client authentication lets it in (the connection is still TLS
    // with the server certificate Terraform pinned from the handshake line). The HTTP
    // client to Signpost names aws-lc-rs explicitly (see client.rs).
    let _ = rustls::crypto::ring::default_provider().install_default();
    tf_provider::serve("signpost", provider::SignpostProvider::default()).await
}
