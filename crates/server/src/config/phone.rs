//! The phone path's settings: rate limits, caching, last-seen, trusted proxies, and the
//! optional native TLS that phones and XML-RPC tools connect to.

use std::path::PathBuf;

use ipnet::IpNet;
use serde::Serialize;

use super::{ConfigError, Kind, Layers};

pub const KEYS: &[(&str, Kind, &str)] = &[
    (
        "tls_cert",
        Kind::Text,
        "PEM certificate chain: serve HTTPS natively (with tls_key)",
    ),
    ("tls_key", Kind::Text, "PEM private key for tls_cert"),
    (
        "trusted_proxies",
        Kind::Text,
        "comma-separated addresses/CIDRs whose X-Forwarded-For is believed (default none)",
    ),
    (
        "phone_rate_limit",
        Kind::Bool,
        "per-source-address limits on the phone endpoints (default true)",
    ),
    (
        "phone_rate_burst",
        Kind::Integer,
        "phone requests per source address in a burst (default 2000)",
    ),
    (
        "phone_rate_per_second",
        Kind::Integer,
        "phone requests per source address per second, sustained (default 200)",
    ),
    (
        "phone_miss_burst",
        Kind::Integer,
        "lookups of unknown/unredirected MACs per source address in a burst (default 60)",
    ),
    (
        "phone_miss_per_minute",
        Kind::Integer,
        "such misses per source address per minute, sustained (default 60)",
    ),
    (
        "cache_ttl_seconds",
        Kind::Integer,
        "how long resolved entries are cached (default 300)",
    ),
    (
        "cache_negative_ttl_seconds",
        Kind::Integer,
        "how long \"no such MAC\" is cached (default 30)",
    ),
    (
        "cache_max_devices",
        Kind::Integer,
        "device entries each replica keeps in memory, about 0.5 KiB each (default 150000)",
    ),
    (
        "public_url",
        Kind::Text,
        "https://host[:port] phones reach this service at, for hosted-file URLs (default: from each request's Host)",
    ),
    (
        "max_file_bytes",
        Kind::Integer,
        "largest hosted file (default 536870912, 512 MiB)",
    ),
    (
        "file_quota_bytes",
        Kind::Integer,
        "bytes of hosted files per tenant, 0 for no limit (default 10737418240, 10 GiB)",
    ),
    (
        "last_seen_interval_seconds",
        Kind::Integer,
        "how often last-seen is written, at most once per MAC (default 60)",
    ),
];

#[derive(Debug, Clone, Serialize)]
pub struct TlsSettings {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct RateLimitSettings {
    pub burst: u32,
    pub per_second: u32,
    pub miss_burst: u32,
    pub miss_per_minute: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct PhoneSettings {
    pub trusted_proxies: Vec<IpNet>,
    /// `None`: limits are off.
    pub rate_limit: Option<RateLimitSettings>,
    pub cache_ttl_seconds: u64,
    pub cache_negative_ttl_seconds: u64,
    pub cache_max_devices: u64,
    pub last_seen_interval_seconds: u64,
    pub public_url: Option<String>,
    pub max_file_bytes: u64,
    /// `None`: no limit.
    pub file_quota_bytes: Option<u64>,
}

impl Layers {
    pub(super) fn tls(&self) -> Result<Option<TlsSettings>, ConfigError> {
        match (self.text("tls_cert"), self.text("tls_key")) {
            (None, None) => Ok(None),
            (Some((cert, _)), Some((key, _))) => Ok(Some(TlsSettings {
                cert: PathBuf::from(cert),
                key: PathBuf::from(key),
            })),
            (Some((_, origin)), None) => Err(ConfigError::new(origin, "is set but tls_key is not")),
            (None, Some((_, origin))) => {
                Err(ConfigError::new(origin, "is set but tls_cert is not"))
            }
        }
    }

    pub(super) fn phone(&self) -> Result<PhoneSettings, ConfigError> {
        let trusted_proxies = self.list("trusted_proxies", |entry, origin| {
            entry
                .parse::<IpNet>()
                .or_else(|_| entry.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    ConfigError::new(origin, format!("`{entry}` is not an address or CIDR range"))
                })
        })?;
        let small = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        let rate_limit = if self.bool("phone_rate_limit").unwrap_or(true) {
            Some(RateLimitSettings {
                burst: small(self.bounded("phone_rate_burst", 2_000, 1..=1_000_000)?),
                per_second: small(self.bounded("phone_rate_per_second", 200, 1..=1_000_000)?),
                miss_burst: small(self.bounded("phone_miss_burst", 60, 1..=1_000_000)?),
                miss_per_minute: small(self.bounded("phone_miss_per_minute", 60, 1..=1_000_000)?),
            })
        } else {
            None
        };
        Ok(PhoneSettings {
            trusted_proxies,
            rate_limit,
            cache_ttl_seconds: self.bounded("cache_ttl_seconds", 300, 1..=86_400)?,
            cache_negative_ttl_seconds: self.bounded(
                "cache_negative_ttl_seconds",
                30,
                1..=86_400,
            )?,
            cache_max_devices: self.bounded("cache_max_devices", 150_000, 1_000..=100_000_000)?,
            last_seen_interval_seconds: self.bounded(
                "last_seen_interval_seconds",
                60,
                1..=86_400,
            )?,
            public_url: self.public_url()?,
            max_file_bytes: self.bounded("max_file_bytes", 512 << 20, 1..=(64 << 30))?,
            file_quota_bytes: Some(self.bounded("file_quota_bytes", 10 << 30, 0..=(1 << 50))?)
                .filter(|quota| *quota > 0),
        })
    }

    fn public_url(&self) -> Result<Option<String>, ConfigError> {
        let Some((value, origin)) = self.text("public_url") else {
            return Ok(None);
        };
        let url = url::Url::parse(value)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
            .filter(|u| u.path() == "/" && u.query().is_none())
            .ok_or_else(|| {
                ConfigError::new(origin, "must be http(s)://host[:port] without a path")
            })?;
        Ok(Some(url.as_str().trim_end_matches('/').to_owned()))
    }
}
