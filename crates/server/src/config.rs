//! Configuration: built-in defaults, then an optional TOML file, then `SIGNPOST_*`
//! environment variables. Every key has the same name in both places (the variable is the
//! key in upper case behind `SIGNPOST_`); unknown keys are refused, so a typo never silently
//! falls back to a default.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Serialize;

mod auth;
mod phone;
mod secrets;

pub use auth::AuthSettings;
pub use phone::{PhoneSettings, TlsSettings};
pub use secrets::{Hidden, Secret};

/// Every configuration key, its kind and what it does (also the README's reference table).
pub const KEYS: &[(&str, Kind, &str)] = &[
    (
        "listen",
        Kind::Text,
        "address and port to serve on (default 127.0.0.1:8080)",
    ),
    (
        "data_dir",
        Kind::Text,
        "directory for embedded state (default ./signpost-data)",
    ),
    (
        "database_url",
        Kind::Text,
        "postgres://… or sqlite:… (default: sqlite file in data_dir)",
    ),
    (
        "database_max_connections",
        Kind::Integer,
        "registry connection pool size (default 10)",
    ),
    (
        "redis_url",
        Kind::Text,
        "redis://… (unset: in-process cache only)",
    ),
    (
        "redis_prefix",
        Kind::Text,
        "prefix of every Redis key and channel (default signpost:)",
    ),
    (
        "s3_bucket",
        Kind::Text,
        "bucket for files (unset: files in data_dir/blobs)",
    ),
    (
        "s3_endpoint",
        Kind::Text,
        "S3 endpoint URL for S3-compatible stores (unset: AWS)",
    ),
    (
        "s3_region",
        Kind::Text,
        "S3 region (unset: from the AWS chain, else us-east-1)",
    ),
    (
        "s3_path_style",
        Kind::Bool,
        "path-style bucket addressing (default false)",
    ),
    ("log_format", Kind::Text, "text or json (default text)"),
    (
        "worker_threads",
        Kind::Integer,
        "threads serving connections, a runtime each, 1..=1024 (default: one per CPU)",
    ),
    (
        "max_body_bytes",
        Kind::Integer,
        "largest accepted API request body (default 4 MiB)",
    ),
    (
        "jwt_secret",
        Kind::Text,
        "HS256 token signing secret, 32+ bytes (unset: generated once into data_dir/jwt-secret)",
    ),
    (
        "jwt_previous_secrets",
        Kind::Text,
        "comma-separated earlier signing secrets whose tokens are still accepted",
    ),
    (
        "token_lifetime_seconds",
        Kind::Integer,
        "bearer token lifetime, 60..=86400 (default 900)",
    ),
];

/// Variables with the `SIGNPOST_` prefix that are not configuration keys.
const NOT_KEYS: &[&str] = &["SIGNPOST_CONFIG"];
/// Reserved for the test suite (see crates/testkit).
const TEST_PREFIX: &str = "SIGNPOST_TEST_";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Integer,
    Bool,
}

/// One line naming the bad key and where it came from.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {origin}: {reason}")]
pub struct ConfigError {
    origin: String,
    reason: String,
}

impl ConfigError {
    fn new(origin: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            origin: origin.into(),
            reason: reason.into(),
        }
    }
}

/// The validated configuration.
#[derive(Debug, Clone, Serialize)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub log_format: LogFormat,
    /// Largest API request body; larger ones get 413 `body_too_large`.
    pub max_body_bytes: usize,
    /// Workers serving connections (serve/workers.rs). `None`: one per CPU.
    pub worker_threads: Option<usize>,
    pub registry: RegistryBackend,
    pub blobs: BlobBackend,
    pub cache: CacheBackend,
    pub auth: AuthSettings,
    /// `Some`: serve HTTPS instead of HTTP.
    pub tls: Option<TlsSettings>,
    pub phone: PhoneSettings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// Which registry adapter runs; matched once, in the wiring.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum RegistryBackend {
    Sqlite { url: String, max_connections: u32 },
    Postgres { url: Secret, max_connections: u32 },
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum BlobBackend {
    Fs {
        root: PathBuf,
    },
    S3 {
        bucket: String,
        endpoint: Option<String>,
        region: Option<String>,
        path_style: bool,
    },
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum CacheBackend {
    Memory,
    Redis { url: Secret, prefix: String },
}

/// Raw values by key, with where each came from (for error messages).
#[derive(Debug, Default)]
struct Layers {
    values: BTreeMap<&'static str, (toml::Value, String)>,
}

impl Config {
    /// Loads the configuration from `file` (if given) and the process environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_from(file, std::env::vars())
    }

    pub fn load_from(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut layers = Layers::default();
        if let Some(path) = file {
            layers.read_file(path)?;
        }
        layers.read_env(env)?;
        layers.validate()
    }

    /// The effective configuration as TOML, secrets masked.
    pub fn to_display(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot render: {e}"))
    }
}

/// Every key, the phone path's included.
pub fn all_keys() -> impl Iterator<Item = &'static (&'static str, Kind, &'static str)> {
    KEYS.iter().chain(phone::KEYS)
}

fn key(name: &str) -> Option<(&'static str, Kind)> {
    all_keys()
        .find(|(k, _, _)| *k == name)
        .map(|(k, kind, _)| (*k, *kind))
}

impl Layers {
    fn read_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::new(&origin, format!("cannot read: {e}")))?;
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| ConfigError::new(&origin, e.message().to_owned()))?;
        for (name, value) in table {
            let Some((name, kind)) = key(&name) else {
                return Err(ConfigError::new(&origin, format!("unknown key `{name}`")));
            };
            let fits = matches!(
                (kind, &value),
                (Kind::Text, toml::Value::String(_))
                    | (Kind::Integer, toml::Value::Integer(_))
                    | (Kind::Bool, toml::Value::Boolean(_))
            );
            let origin = format!("{name} in {origin}");
            if !fits {
                return Err(ConfigError::new(
                    origin,
                    format!("must be {}", kind_name(kind)),
                ));
            }
            self.values.insert(name, (value, origin));
        }
        Ok(())
    }

    fn read_env(
        &mut self,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(), ConfigError> {
        for (variable, raw) in env {
            let Some(name) = variable.strip_prefix("SIGNPOST_") else {
                continue;
            };
            if variable.starts_with(TEST_PREFIX) || NOT_KEYS.contains(&variable.as_str()) {
                continue;
            }
            let Some((name, kind)) = key(&name.to_ascii_lowercase()) else {
                return Err(ConfigError::new(
                    &variable,
                    "unknown configuration variable",
                ));
            };
            let value = match kind {
                Kind::Text => toml::Value::String(raw),
                Kind::Integer => raw
                    .parse()
                    .map(toml::Value::Integer)
                    .map_err(|_| ConfigError::new(&variable, "must be an integer"))?,
                Kind::Bool => match raw.as_str() {
                    "true" | "1" => toml::Value::Boolean(true),
                    "false" | "0" => toml::Value::Boolean(false),
                    _ => return Err(ConfigError::new(&variable, "must be true or false")),
                },
            };
            self.values.insert(name, (value, variable));
        }
        Ok(())
    }

    fn text(&self, name: &str) -> Option<(&str, &str)> {
        match self.values.get(name) {
            Some((toml::Value::String(s), origin)) if !s.is_empty() => Some((s, origin)),
            _ => None,
        }
    }

    /// A comma-separated setting, each non-empty entry parsed by `parse(entry, origin)`;
    /// unset, it is an empty list.
    fn list<T>(
        &self,
        name: &str,
        parse: impl Fn(&str, &str) -> Result<T, ConfigError>,
    ) -> Result<Vec<T>, ConfigError> {
        let Some((list, origin)) = self.text(name) else {
            return Ok(Vec::new());
        };
        list.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| parse(entry, origin))
            .collect()
    }

    fn integer(&self, name: &str) -> Option<(i64, &str)> {
        match self.values.get(name) {
            Some((toml::Value::Integer(i), origin)) => Some((*i, origin)),
            _ => None,
        }
    }

    /// An integer key within `range`, `default` when unset.
    fn bounded(
        &self,
        name: &str,
        default: u64,
        range: std::ops::RangeInclusive<u64>,
    ) -> Result<u64, ConfigError> {
        Ok(self.bounded_if_set(name, range)?.unwrap_or(default))
    }

    /// An integer key within `range`, `None` when unset.
    fn bounded_if_set(
        &self,
        name: &str,
        range: std::ops::RangeInclusive<u64>,
    ) -> Result<Option<u64>, ConfigError> {
        let Some((n, origin)) = self.integer(name) else {
            return Ok(None);
        };
        u64::try_from(n)
            .ok()
            .filter(|n| range.contains(n))
            .map(Some)
            .ok_or_else(|| {
                ConfigError::new(
                    origin,
                    format!("must be between {} and {}", range.start(), range.end()),
                )
            })
    }

    fn bool(&self, name: &str) -> Option<bool> {
        match self.values.get(name) {
            Some((toml::Value::Boolean(b), _)) => Some(*b),
            _ => None,
        }
    }

    fn validate(self) -> Result<Config, ConfigError> {
        let listen = match self.text("listen") {
            Some((value, origin)) => value.parse().map_err(|_| {
                ConfigError::new(origin, format!("`{value}` is not an address:port"))
            })?,
            None => SocketAddr::from(([127, 0, 0, 1], 8080)),
        };
        let data_dir = PathBuf::from(self.text("data_dir").map_or("./signpost-data", |(v, _)| v));
        let log_format = match self.text("log_format") {
            None | Some(("text", _)) => LogFormat::Text,
            Some(("json", _)) => LogFormat::Json,
            Some((_, origin)) => return Err(ConfigError::new(origin, "must be text or json")),
        };
        let max_body_bytes = match self.bounded_if_set("max_body_bytes", 1024..=1 << 30)? {
            None => signpost_api::DEFAULT_BODY_LIMIT,
            Some(n) => n as usize,
        };
        let worker_threads = self
            .bounded_if_set("worker_threads", 1..=1024)?
            .map(|n| n as usize);
        let max_connections = self.bounded("database_max_connections", 10, 1..=1000)? as u32;
        let registry = match self.text("database_url") {
            None => RegistryBackend::Sqlite {
                url: format!(
                    "sqlite://{}?mode=rwc",
                    data_dir.join("registry.db").display()
                ),
                max_connections,
            },
            Some((url, origin)) => {
                let parsed = url::Url::parse(url).map_err(|_| {
                    ConfigError::new(origin, "is not a URL (postgres://… or sqlite:…)")
                })?;
                match parsed.scheme() {
                    "postgres" | "postgresql"
                        if parsed.host_str().is_some_and(|h| !h.is_empty()) =>
                    {
                        RegistryBackend::Postgres {
                            url: Secret(url.to_owned()),
                            max_connections,
                        }
                    }
                    "sqlite" => RegistryBackend::Sqlite {
                        url: url.to_owned(),
                        max_connections,
                    },
                    _ => {
                        return Err(ConfigError::new(
                            origin,
                            "must be postgres://user@host/db or sqlite:path",
                        ));
                    }
                }
            }
        };
        let cache = match self.text("redis_url") {
            None => CacheBackend::Memory,
            Some((url, origin)) => {
                let parsed = url::Url::parse(url)
                    .map_err(|_| ConfigError::new(origin, "is not a URL (redis://host:port)"))?;
                if !matches!(parsed.scheme(), "redis" | "rediss")
                    || parsed.host_str().is_none_or(str::is_empty)
                {
                    return Err(ConfigError::new(
                        origin,
                        "must be redis://host[:port][/db] or rediss://…",
                    ));
                }
                let prefix = self
                    .text("redis_prefix")
                    .map_or("signpost:", |(v, _)| v)
                    .to_owned();
                CacheBackend::Redis {
                    url: Secret(url.to_owned()),
                    prefix,
                }
            }
        };
        let blobs = match self.text("s3_bucket") {
            None => BlobBackend::Fs {
                root: data_dir.join("blobs"),
            },
            Some((bucket, _)) => {
                let endpoint = match self.text("s3_endpoint") {
                    None => None,
                    Some((endpoint, origin)) => {
                        let ok = url::Url::parse(endpoint).is_ok_and(|u| {
                            matches!(u.scheme(), "http" | "https") && u.host_str().is_some()
                        });
                        if !ok {
                            return Err(ConfigError::new(origin, "must be an http(s):// URL"));
                        }
                        Some(endpoint.to_owned())
                    }
                };
                BlobBackend::S3 {
                    bucket: bucket.to_owned(),
                    endpoint,
                    region: self.text("s3_region").map(|(v, _)| v.to_owned()),
                    path_style: self.bool("s3_path_style").unwrap_or(false),
                }
            }
        };
        if self.text("s3_bucket").is_none() {
            for name in ["s3_endpoint", "s3_region"] {
                if let Some((_, origin)) = self.text(name) {
                    return Err(ConfigError::new(origin, "is set but s3_bucket is not"));
                }
            }
        }
        let auth = self.auth()?;
        let tls = self.tls()?;
        let phone = self.phone()?;
        Ok(Config {
            listen,
            data_dir,
            log_format,
            max_body_bytes,
            worker_threads,
            registry,
            blobs,
            cache,
            auth,
            tls,
            phone,
        })
    }
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Text => "a string",
        Kind::Integer => "an integer",
        Kind::Bool => "true or false",
    }
}

#[cfg(test)]
mod tests;
