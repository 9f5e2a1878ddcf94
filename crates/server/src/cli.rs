use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::{serve, wiring};

mod keys;

/// Signpost: zero-touch redirection and provisioning for IP phones.
#[derive(Debug, Parser)]
#[command(name = "signpost", version)]
pub struct Cli {
    /// TOML configuration file; `SIGNPOST_*` environment variables override it.
    #[arg(long, global = true, env = "SIGNPOST_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service (migrates the registry first).
    Serve,
    /// Bring the registry schema up to date and exit.
    Migrate,
    /// Print the effective configuration, secrets masked.
    Config,
    /// Manage API keys directly in the registry (e.g. the first platform-admin key).
    Keys {
        #[command(subcommand)]
        command: keys::KeysCommand,
    },
}

pub async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Config => {
            print!("{}", config.to_display());
            Ok(())
        }
        Command::Migrate => {
            let registry = wiring::registry(&config).await?;
            registry.admin.migrate().await?;
            tracing::info!("registry schema is up to date");
            Ok(())
        }
        Command::Serve => serve::run(config).await,
        Command::Keys { command } => keys::run(command, config).await,
    }
}
