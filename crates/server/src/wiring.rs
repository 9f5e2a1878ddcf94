//! The composition root: the one place that turns configuration into adapters. Everything
//! past this file sees only ports (`Arc<dyn …>`).

use std::sync::Arc;

use anyhow::Context;
use signpost_service::{Readiness, probe};
use signpost_store::blobs::{BlobStore, FsBlobStore, S3BlobStore, S3Options};
use signpost_store::cache::{Cache, MemoryCache, RedisCache, RedisOptions};
use signpost_store::registry::{RegistryAdmin, SqlRegistry};

use crate::config::{BlobBackend, CacheBackend, Config, RegistryBackend};

/// How long a Redis command may take before the caller falls through to the registry.
const REDIS_COMMAND_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(250);
/// Entries the in-process cache holds at most.
const MEMORY_CACHE_ENTRIES: u64 = 1_000_000;

#[derive(Debug, Clone)]
pub struct Registry {
    /// `postgres` or `sqlite`, as readiness reports it.
    pub name: &'static str,
    pub admin: Arc<dyn RegistryAdmin>,
}

#[derive(Debug, Clone)]
pub struct Backends {
    pub registry: Registry,
    pub blobs: (&'static str, Arc<dyn BlobStore>),
    pub cache: (&'static str, Arc<dyn Cache>),
}

impl Backends {
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
    Ok(Registry { name, admin: sql })
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
