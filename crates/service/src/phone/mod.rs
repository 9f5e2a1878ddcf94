//! The phone path: what a booting phone is told, as fast as the caches allow, and the
//! bookkeeping around it (rate limits, last-seen) kept off its critical path.

mod batched;
mod device_routes;
mod entries;
mod file_lookups;
mod invalidation;
mod leases;
mod limits;
mod resolver;
mod shared;
mod sightings;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use signpost_domain::{
    FilePath, Mac, SettingsFormat, TenantId, Timestamp, UserAgentInfo, parse_user_agent,
    render_settings,
};
use signpost_store::cache::Cache;
use signpost_store::ratelimit::RateLimiter;
use signpost_store::registry::{DeviceRepo, ProfileRepo, RegistryResult, Sighting, TenantRepo};

use crate::files::DeviceTokens;

pub use entries::{CacheTtl, Cached, EntryKey, FileEntry, TenantEntry};
pub use file_lookups::FileLookups;
pub use invalidation::Invalidator;
pub use limits::PhoneRateLimits;
pub use resolver::{Lookup, Redirect};

use entries::LocalEntries;
use limits::SourceLimits;
use resolver::Resolver;
use shared::SharedCache;
use sightings::{NotedUntil, SightingLog};

/// A phone's request, as the HTTP layer parsed it.
#[derive(Debug, Clone, Copy)]
pub struct PhoneRequest<'a> {
    pub format: SettingsFormat,
    /// The MAC from the path or query, when it carried one.
    pub mac: Option<Mac>,
    pub user_agent: Option<&'a str>,
    /// The client's address (after trusted proxies).
    pub source: IpAddr,
    /// Where this service is reached, for hosted-file URLs.
    pub public_base: PublicBase<'a>,
}

/// `scheme://host[:port]` this service is reached at, borrowed from the configuration or the
/// request and written out only when a phone is actually sent to hosted files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicBase<'a> {
    /// `public_url` from the configuration.
    Configured(&'a str),
    /// The scheme and `Host` the request came in with.
    Request { scheme: &'static str, host: &'a str },
}

impl std::fmt::Display for PublicBase<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PublicBase::Configured(url) => f.write_str(url),
            PublicBase::Request { scheme, host } => write!(f, "{scheme}://{host}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhoneAnswer {
    /// 200 with this settings document (possibly the empty one).
    Document(std::borrow::Cow<'static, str>),
    /// 429: this source asked too much.
    Limited { retry_after: Duration },
    /// 503: the MAC is in no cache and the registry cannot be reached.
    Unavailable,
}

/// How the phone path is tuned.
#[derive(Debug, Clone, Copy)]
pub struct PhoneOptions {
    pub ttl: CacheTtl,
    /// Device entries this process keeps in memory.
    pub max_cached_devices: u64,
    pub rate_limits: Option<PhoneRateLimits>,
    /// How long a MAC's last-seen is left alone after it was noted.
    pub sighting_interval: Duration,
}

/// The registry, cache and limiter ports the phone path runs on.
#[derive(Debug, Clone)]
pub struct PhonePorts {
    pub devices: Arc<dyn DeviceRepo>,
    pub profiles: Arc<dyn ProfileRepo>,
    pub tenants: Arc<dyn TenantRepo>,
    pub cache: Arc<dyn Cache>,
    pub rate_limiter: Arc<dyn RateLimiter>,
}

#[derive(Debug, Clone)]
pub struct PhoneRedirects {
    resolver: Resolver,
    invalidator: Invalidator,
    limits: SourceLimits,
    sightings: Arc<SightingLog>,
    devices: Arc<dyn DeviceRepo>,
    tokens: DeviceTokens,
}

impl PhoneRedirects {
    /// `tokens` sign the per-device URLs of tenants whose setting server is hosted.
    pub fn new(ports: PhonePorts, options: PhoneOptions, tokens: DeviceTokens) -> Self {
        let local = Arc::new(LocalEntries::new(options.max_cached_devices, options.ttl));
        let shared = SharedCache::new(ports.cache);
        Self {
            resolver: Resolver::new(
                local.clone(),
                shared.clone(),
                ports.devices.clone(),
                ports.profiles,
                ports.tenants,
            ),
            invalidator: Invalidator::new(local, shared),
            limits: SourceLimits::new(options.rate_limits, ports.rate_limiter),
            sightings: Arc::new(SightingLog::new(options.sighting_interval)),
            devices: ports.devices,
            tokens,
        }
    }

    /// Whether a MAC is registered to `tenant`, through the same cache tiers as a redirect.
    pub async fn device_is_in(&self, mac: Mac, tenant: &TenantId) -> RegistryResult<bool> {
        let route = self.resolver.device(mac).await?;
        Ok(route.is_some_and(|route| route.tenant == *tenant))
    }

    /// A tenant's cached status, default and file-token epoch.
    pub async fn tenant_entry(&self, tenant: &TenantId) -> RegistryResult<Cached<TenantEntry>> {
        self.resolver.tenant(tenant).await
    }

    /// A hosted file's current version, cached like the phone entries (and invalidated by
    /// the file use cases through [`PhoneRedirects::invalidator`]).
    pub async fn file_entry(
        &self,
        tenant: &TenantId,
        path: &FilePath,
        catalogue: &FileLookups,
    ) -> RegistryResult<Cached<FileEntry>> {
        self.resolver.file(tenant, path, catalogue).await
    }

    /// Drops this process's copy of a file entry, to read it afresh.
    pub async fn forget_file(&self, tenant: &TenantId, path: &FilePath) {
        self.invalidator
            .forget_locally(&EntryKey::File(tenant.clone(), path.clone()))
            .await;
    }

    /// What every write use case calls after it commits.
    pub fn invalidator(&self) -> Invalidator {
        self.invalidator.clone()
    }

    /// Starts the invalidation listener and the last-seen flusher; they run until the
    /// runtime stops. Call once per process.
    pub fn spawn_background(&self) -> Vec<tokio::task::JoinHandle<()>> {
        vec![
            self.invalidator.spawn_background(),
            self.sightings.spawn_flusher(self.devices.clone()),
        ]
    }

    /// Writes pending last-seen notes now (at shutdown, and in tests).
    pub async fn flush_sightings(&self) -> usize {
        self.sightings.flush(self.devices.as_ref()).await
    }

    /// The answer for one phone request.
    pub async fn answer(&self, request: PhoneRequest<'_>) -> PhoneAnswer {
        if let Some(retry_after) = self.limits.admit(request.source).await {
            return PhoneAnswer::Limited { retry_after };
        }
        // The User-Agent is parsed only when it is needed: for the MAC when the path has
        // none, and for a sighting (once per MAC per interval), not on every request.
        let mut agent = None;
        let mac = match request.mac {
            Some(mac) => mac,
            None => {
                agent = request.user_agent.and_then(parse_user_agent);
                match agent.as_ref().and_then(|a| a.mac) {
                    Some(mac) => mac,
                    None => {
                        self.limits.note_miss(request.source).await;
                        return empty(request.format);
                    }
                }
            }
        };
        let lookup = match self.resolver.lookup(mac).await {
            Ok(lookup) => lookup,
            Err(err) => {
                tracing::warn!(%err, %mac, "cannot resolve a phone: registry unavailable");
                return PhoneAnswer::Unavailable;
            }
        };
        if let Some(device) = &lookup.device {
            self.note_sighting(mac, &device.noted_until, &request, agent);
        }
        match lookup.redirect {
            Some(redirect) => {
                let server = redirect.setting_server();
                let hosted;
                let url = if server.is_hosted() {
                    hosted = self.hosted_url(request.public_base, &redirect, mac);
                    hosted.as_str()
                } else {
                    server.as_str()
                };
                PhoneAnswer::Document(
                    render_settings(request.format, url, redirect.extra_settings()).into(),
                )
            }
            None => {
                self.limits.note_miss(request.source).await;
                empty(request.format)
            }
        }
    }

    /// The per-device URL under which a hosted tenant's files are served to this phone.
    fn hosted_url(&self, public_base: PublicBase<'_>, redirect: &Redirect, mac: Mac) -> String {
        let token = self
            .tokens
            .issue(redirect.tenant(), mac, redirect.file_token_epoch());
        format!("{public_base}/p/{}/{token}/", redirect.tenant())
    }

    fn note_sighting(
        &self,
        mac: Mac,
        memo: &NotedUntil,
        request: &PhoneRequest<'_>,
        agent: Option<UserAgentInfo>,
    ) {
        self.sightings.note(mac, memo, || {
            let agent = agent.or_else(|| request.user_agent.and_then(parse_user_agent));
            let (phone_type, firmware_version) =
                agent.map_or((None, None), |a| (Some(a.phone_type), a.firmware_version));
            Sighting {
                mac,
                at: Timestamp::now(),
                source_address: request.source.to_string(),
                user_agent: request.user_agent.map(|ua| truncate(ua, 512).to_owned()),
                firmware_version,
                phone_type,
            }
        });
    }
}

fn empty(format: SettingsFormat) -> PhoneAnswer {
    PhoneAnswer::Document(format.empty_document().into())
}

/// At most `max` bytes of `s`, cut at a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
