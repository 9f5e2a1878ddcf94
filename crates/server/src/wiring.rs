//! The composition root: the one place that turns configuration into adapters. Everything
//! past this file sees only ports (`Arc<dyn …>`).

use std::sync::Arc;

use anyhow::Context;
use signpost_api::{AppPorts, AppSettings, AppState, TrustedProxies};
use signpost_service::auth::{Authenticator, SigningKeys};
use signpost_service::files::{DeviceTokens, FileLimits};
use signpost_service::phone::{CacheTtl, PhoneOptions, PhoneRateLimits};
use signpost_service::{Readiness, probe};
use signpost_store::blobs::{BlobStore, FsBlobStore, S3BlobStore, S3Options};
use signpost_store::cache::{Cache, MemoryCache, RedisCache, RedisOptions};
use signpost_store::ratelimit::{BucketRule, MemoryRateLimiter, RateLimiter, RedisRateLimiter};
use signpost_store::registry::{
    DeviceRepo, EventRepo, FileRepo, KeyRepo, ProfileRepo, RegistryAdmin, SqlRegistry, TenantRepo,
};

use crate::config::{BlobBackend, CacheBackend, Config, PhoneSettings, RegistryBackend};

mod signing_secret;

/// How long a Redis command may take before the caller falls through to the registry.
const REDIS_COMMAND_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(250);
/// Entries the in-process shared cache holds: none. In one process the phone path's own
/// memory tier (`cache_max_devices` entries) already is the cache; a second, serialised copy
/// of every entry here only doubled the memory (over 500 MiB with a million devices). Its
/// invalidation channel still runs.
const MEMORY_CACHE_ENTRIES: u64 = 0;
/// Source addresses whose rate-limit buckets the in-process limiter keeps at most.
const MEMORY_RATE_LIMIT_KEYS: u64 = 1_000_000;

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
    pub files: Arc<dyn FileRepo>,
}

#[derive(Debug, Clone)]
pub struct Backends {
    pub registry: Registry,
    pub blobs: (&'static str, Arc<dyn BlobStore>),
    pub cache: (&'static str, Arc<dyn Cache>),
    /// Shares the cache's backend: in-process, or Redis for limits across replicas.
    pub rate_limiter: Arc<dyn RateLimiter>,
}

impl Backends {
    /// What the HTTP handlers share: the use cases over these backends.
    pub fn app_state(&self, config: &Config, auth: Authenticator, secret: &str) -> AppState {
        let registry = &self.registry;
        let phone = &config.phone;
        AppState::new(
            AppPorts {
                tenants: registry.tenants.clone(),
                profiles: registry.profiles.clone(),
                devices: registry.devices.clone(),
                events: registry.events.clone(),
                files: registry.files.clone(),
                blobs: self.blobs.1.clone(),
                cache: self.cache.1.clone(),
                rate_limiter: self.rate_limiter.clone(),
            },
            Arc::new(auth),
            self.readiness(),
            AppSettings {
                phone: phone_options(phone),
                trusted_proxies: TrustedProxies::new(phone.trusted_proxies.clone()),
                files: FileLimits {
                    max_file_bytes: phone.max_file_bytes,
                    quota_bytes: phone.file_quota_bytes,
                },
                device_tokens: DeviceTokens::new(secret.as_bytes()).with_previous(
                    config
                        .auth
                        .jwt_previous_secrets
                        .iter()
                        .map(|s| s.expose().as_bytes()),
                ),
                public_url: phone.public_url.clone(),
                tls: config.tls.is_some(),
            },
        )
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
        files: sql.clone(),
        events: sql,
    })
}

/// The server secret: `jwt_secret`, or the secret kept in the data directory when it is
/// unset. It signs bearer tokens and (through a derived key) hosted-file device tokens.
pub fn server_secret(config: &Config) -> anyhow::Result<String> {
    Ok(match &config.auth.jwt_secret {
        Some(secret) => secret.expose().to_owned(),
        None => signing_secret::load_or_create(&config.data_dir)?,
    })
}

/// The token issuer and checker, signing with the server secret.
pub fn authenticator(
    config: &Config,
    registry: &Registry,
    current: String,
) -> anyhow::Result<Authenticator> {
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
    let (cache, rate_limiter) = cache_and_limiter(&config.cache).await?;
    Ok(Backends {
        registry,
        blobs,
        cache,
        rate_limiter,
    })
}

/// A port with the name readiness reports it under.
type Named<T> = (&'static str, Arc<T>);

/// The cache and the rate limiter share a backend: in-process, or one Redis for both.
async fn cache_and_limiter(
    backend: &CacheBackend,
) -> anyhow::Result<(Named<dyn Cache>, Arc<dyn RateLimiter>)> {
    Ok(match backend {
        CacheBackend::Memory => (
            (
                "memory",
                Arc::new(MemoryCache::new("", MEMORY_CACHE_ENTRIES)),
            ),
            Arc::new(MemoryRateLimiter::new(MEMORY_RATE_LIMIT_KEYS)),
        ),
        CacheBackend::Redis { url, prefix } => {
            let options = RedisOptions {
                url: url.expose().to_owned(),
                prefix: prefix.clone(),
                command_timeout: REDIS_COMMAND_TIMEOUT,
            };
            let limiter = RedisRateLimiter::new(options.clone())
                .context("cannot set up Redis for rate limits")?;
            let cache = RedisCache::new(options)
                .await
                .context("cannot set up Redis")?;
            (("redis", Arc::new(cache)), Arc::new(limiter))
        }
    })
}

fn phone_options(phone: &PhoneSettings) -> PhoneOptions {
    let seconds = std::time::Duration::from_secs;
    PhoneOptions {
        ttl: CacheTtl {
            positive: seconds(phone.cache_ttl_seconds),
            negative: seconds(phone.cache_negative_ttl_seconds),
        },
        max_cached_devices: phone.cache_max_devices,
        rate_limits: phone.rate_limit.map(|limits| PhoneRateLimits {
            requests: BucketRule {
                burst: limits.burst,
                per_second: f64::from(limits.per_second),
            },
            misses: BucketRule {
                burst: limits.miss_burst,
                per_second: f64::from(limits.miss_per_minute) / 60.0,
            },
        }),
        sighting_interval: seconds(phone.last_seen_interval_seconds),
    }
}
