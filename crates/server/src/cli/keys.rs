//! `signpost keys …`: API key bootstrap straight against the registry, for the first
//! platform-admin key (before any API call is possible) and for operators at a shell.

use anyhow::Context;
use clap::Subcommand;
use signpost_domain::{Role, TenantId};
use signpost_service::auth::{AuthError, check_key_scope};
use signpost_store::registry::ChangeContext;

use crate::config::Config;
use crate::wiring;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create an API key and print its id and secret (the secret is shown only this once).
    Create {
        /// platform-admin, tenant-admin or tenant-reader.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// The key's tenant; required for tenant roles, refused for platform-admin.
        #[arg(long)]
        tenant: Option<String>,
        /// A note on what the key is for.
        #[arg(long)]
        description: Option<String>,
        /// Print `{"id": …, "secret": …}` instead of labelled lines.
        #[arg(long)]
        json: bool,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| "must be platform-admin, tenant-admin or tenant-reader".to_owned())
}

pub async fn run(command: KeysCommand, config: Config) -> anyhow::Result<()> {
    match command {
        KeysCommand::Create {
            role,
            tenant,
            description,
            json,
        } => create(&config, role, tenant, description, json).await,
    }
}

async fn create(
    config: &Config,
    role: Role,
    tenant: Option<String>,
    description: Option<String>,
    json: bool,
) -> anyhow::Result<()> {
    let tenant: Option<TenantId> = tenant
        .map(|t| {
            t.parse()
                .map_err(|e| anyhow::anyhow!("--tenant `{t}` is not a tenant id: {e}"))
        })
        .transpose()?;
    // Before any I/O, so that a wrong combination changes nothing.
    check_key_scope(role, tenant.as_ref()).context("cannot create the key")?;
    let registry = wiring::registry(config).await?;
    registry.admin.migrate().await?;
    let authenticator = wiring::authenticator(config, &registry, wiring::server_secret(config)?)?;
    let change = ChangeContext {
        actor: "cli".into(),
        request_id: None,
    };
    let (_, material) = authenticator
        .create_key(&change, tenant.clone(), role, description)
        .await
        .map_err(|e| match (e, &tenant) {
            (AuthError::TenantNotFound, Some(t)) => anyhow::anyhow!("no such tenant `{t}`"),
            (e, _) => anyhow::Error::new(e),
        })
        .context("cannot create the key")?;
    if json {
        let out = serde_json::json!({ "id": material.id, "secret": material.secret });
        println!("{out}");
    } else {
        println!("id:     {}", material.id);
        println!("secret: {}", material.secret);
        eprintln!("The secret is shown only once: store it now.");
    }
    Ok(())
}
