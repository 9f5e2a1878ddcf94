//! `terraform-provider-signpost`: started by Terraform, never by hand (it prints the plugin
//! handshake and serves plugin protocol 6 over gRPC until Terraform stops it).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    signpost_terraform_provider::run().await
}
