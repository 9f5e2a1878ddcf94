//! The composition root: the one place that turns configuration into adapters. Everything
//! past this file sees only ports (`Arc<dyn …>`).

use std::sync::Arc;

use anyhow::Context;
use signpost_api::AppState;
use signpost_service::auth::{Authenticator, SigningKeys};
use signpost_service::{ApiKeys, Devices, Events, Profiles, Readiness, Tenants, probe};
use signpost_store::blobs::{BlobStore, FsBlobStore, S3BlobStore, S3Options};
use signpost_store::cache::{Cache, MemoryCache, RedisCache, RedisOptions};
use signpost_store::registry::{
    DeviceRepo, EventRepo, KeyRepo, ProfileRepo, RegistryAdmin, SqlRegistry, TenantRepo,
};

use crate::config::{BlobBackend, CacheBackend, Config, RegistryBackend};

mod signing_secret;

/// How long a Redis command may take before the caller falls through to the registry.
const REDIS_COMMAND_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(250);
/// Entries the in-process cache holds at most.
const MEMORY_CACHE_ENTRIES: u64 = 1_000_000;

#[derive(Debug, Clone)]
pub struct Registry {
    /// `postgres` or `sqlite`, as readiness reports it.
    pub name: &'static str,
    pub admin: Arc<dyn RegistryAdmin>,
    pub keys: Arc<dyn KeyRepo>,
    pub tenants: Arc<dyn TenantRepo>,
    pub profiles: Arc<dyn ProfileRepo>,
    pub devices: Arc<dyn DeviceRepo>,
    pub events: Arc<dyn EventRepo>,
}

#[derive(Debug, Clone)]
pub struct Backends {
    pub registry: Registry,
    pub blobs: (&'static str, Arc<dyn BlobStore>),
    pub cache: (&'static str, Arc<dyn Cache>),
}

impl Backends {
    /// What the HTTP handlers share: the use cases over these backends.
    pub fn app_state(&self, auth: Authenticator) -> AppState {
        let registry = &self.registry;
        let auth = Arc::new(auth);
        AppState {
            readiness: Arc::new(self.readiness()),
            keys: ApiKeys::new(auth.clone()),
            auth,
            tenants: Tenants::new(registry.tenants.clone()),
            profiles: Profiles::new(registry.profiles.clone()),
            devices: Devices::new(registry.devices.clone()),
            events: Events::new(registry.events.clone()),
        }
    }

    pub fn readiness(&self) -> Readiness {
        Readiness::default()
            .with(self.registry.name, probe(self.registry.admin.clone()))
            .with(self.blobs.0, probe(self.blobs.1.clone()))
            .with(self.cache.0, probe(self.cache.1.clone()))
    }
}

pub async fn registry(config: &Config) -> anyhow::Result<Registry> {
    let (name, url, max_connections) = match &config.registry {
        RegistryBackend::Sqlite {
            url,
            max_connections,
        } => {
            std::fs::create_dir_all(&config.data_dir).with_context(|| {
                format!("cannot create data directory {}", config.data_dir.display())
            })?;
            ("sqlite", url.as_str(), *max_connections)
        }
        RegistryBackend::Postgres {
            url,
            max_connections,
        } => ("postgres", url.expose(), *max_connections),
    };
    let sql = Arc::new(
        SqlRegistry::connect(url, max_connections)
            .await
            .with_context(|| format!("cannot connect to the {name} registry"))?,
    );
    Ok(Registry {
        name,
        admin: sql.clone(),
        keys: sql.clone(),
        tenants: sql.clone(),
        profiles: sql.clone(),
        devices: sql.clone(),
        events: sql,
    })
}

/// The token issuer and checker, signing with `jwt_secret` (or the secret kept in the data
/// directory when it is unset).
pub fn authenticator(config: &Config, registry: &Registry) -> anyhow::Result<Authenticator> {
    let current = match &config.auth.jwt_secret {
        Some(secret) => secret.expose().to_owned(),
        None => signing_secret::load_or_create(&config.data_dir)?,
    };
    let previous = config.auth.jwt_previous_secrets.iter().map(|s| s.expose());
    let signing =
        SigningKeys::new(current, previous).context("cannot use the JWT signing secret")?;
    let lifetime = std::time::Duration::from_secs(config.auth.token_lifetime_seconds);
    Ok(Authenticator::new(registry.keys.clone(), signing, lifetime))
}

pub async fn backends(config: &Config) -> anyhow::Result<Backends> {
    let registry = registry(config).await?;
    let blobs: (&'static str, Arc<dyn BlobStore>) = match &config.blobs {
        BlobBackend::Fs { root } => (
            "fs",
            Arc::new(
                FsBlobStore::new(root)
                    .with_context(|| format!("cannot use {} for files", root.display()))?,
            ),
        ),
        BlobBackend::S3 {
            bucket,
            endpoint,
            region,
            path_style,
        } => {
            let options = S3Options {
                bucket: bucket.clone(),
                endpoint: endpoint.clone(),
                region: region.clone(),
                force_path_style: *path_style,
                // Credentials come from the standard AWS variables and chain.
                access_key_id: None,
                secret_access_key: None,
            };
            (
                "s3",
                Arc::new(
                    S3BlobStore::new(options)
                        .await
                        .context("cannot set up S3")?,
                ),
            )
        }
    };
    let cache: (&'static str, Arc<dyn Cache>) = match &config.cache {
        CacheBackend::Memory => (
            "memory",
            Arc::new(MemoryCache::new("", MEMORY_CACHE_ENTRIES)),
        ),
        CacheBackend::Redis { url, prefix } => {
            let options = RedisOptions {
                url: url.expose().to_owned(),
                prefix: prefix.clone(),
                command_timeout: REDIS_COMMAND_TIMEOUT,
            };
            (
                "redis",
                Arc::new(
                    RedisCache::new(options)
                        .await
                        .context("cannot set up Redis")?,
                ),
            )
        }
    };
    Ok(Backends {
        registry,
        blobs,
        cache,
    })
}
