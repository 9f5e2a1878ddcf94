//! Which real backends a test run was given.
//!
//! The test command (`tests/run.sh`) starts PostgreSQL, Redis and an S3-compatible server and
//! passes their addresses in `SIGNPOST_TEST_*` variables together with
//! `SIGNPOST_TEST_REQUIRE_BACKENDS=1`. A plain `cargo test` sets none of them: the real-backend
//! suites then say that they were not asked for and pass without running, while a run that
//! asked for them and cannot reach one fails.

use std::env;

/// A real backend the tests can be pointed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `SIGNPOST_TEST_POSTGRES_URL`: a server URL whose user may create databases.
    Postgres,
    /// `SIGNPOST_TEST_REDIS_URL`.
    Redis,
    /// `SIGNPOST_TEST_S3_ENDPOINT`, with `SIGNPOST_TEST_S3_ACCESS_KEY`, `SIGNPOST_TEST_S3_SECRET_KEY`
    /// and `SIGNPOST_TEST_S3_REGION`.
    S3,
}

impl Backend {
    pub fn variable(self) -> &'static str {
        match self {
            Backend::Postgres => "SIGNPOST_TEST_POSTGRES_URL",
            Backend::Redis => "SIGNPOST_TEST_REDIS_URL",
            Backend::S3 => "SIGNPOST_TEST_S3_ENDPOINT",
        }
    }
}

/// True when the run asked for every real backend (the test command sets this).
pub fn backends_required() -> bool {
    env::var("SIGNPOST_TEST_REQUIRE_BACKENDS").is_ok_and(|v| v == "1")
}

/// The backend's address, or `None` (with a line on stderr) when this run did not ask for it.
///
/// # Panics
/// When the run requires real backends and this one is not configured: a required suite must
/// fail rather than skip.
pub fn backend_url(backend: Backend) -> Option<String> {
    match env::var(backend.variable()) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if backends_required() => panic!(
            "{} is not set, but SIGNPOST_TEST_REQUIRE_BACKENDS=1 asks for every real backend",
            backend.variable()
        ),
        _ => {
            eprintln!(
                "not run: {:?} suite needs {} (tests/run.sh sets it)",
                backend,
                backend.variable()
            );
            None
        }
    }
}

/// Another `SIGNPOST_TEST_*` setting, e.g. the S3 credentials.
pub fn setting(name: &str) -> Option<String> {
    env::var(format!("SIGNPOST_TEST_{name}")).ok()
}

/// A name no other test (in this run or a concurrent one) uses: for databases, key prefixes
/// and buckets.
pub fn unique_name(stem: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::{SystemTime, UNIX_EPOCH};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!(
        "{stem}_{}_{}_{}",
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A database of its own on the test PostgreSQL server; [`TestDatabase::drop_database`]
/// removes it.
#[derive(Debug)]
pub struct TestDatabase {
    admin_url: String,
    name: String,
    /// URL of the fresh database.
    pub url: String,
}

impl TestDatabase {
    /// A fresh database, or `None` when this run did not ask for PostgreSQL.
    ///
    /// # Panics
    /// When PostgreSQL was asked for and cannot be reached.
    pub async fn create() -> Option<Self> {
        use sqlx::Connection;
        let admin_url = backend_url(Backend::Postgres)?;
        sqlx::any::install_default_drivers();
        let name = unique_name("signpost_test");
        let mut admin = sqlx::AnyConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "PostgreSQL at {} is unreachable: {e}",
                    Backend::Postgres.variable()
                )
            });
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
        let mut url = url::Url::parse(&admin_url).expect("SIGNPOST_TEST_POSTGRES_URL is a URL");
        url.set_path(&name);
        Some(Self {
            admin_url,
            name,
            url: url.to_string(),
        })
    }

    pub async fn drop_database(self) {
        use sqlx::Connection;
        if let Ok(mut admin) = sqlx::AnyConnection::connect(&self.admin_url).await {
            let _ = sqlx::query(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut admin)
            .await;
        }
    }
}

/// The test S3 server with its credentials.
#[derive(Debug, Clone)]
pub struct TestS3 {
    pub endpoint: String,
    pub access_key: String,
    pub secret_key: String,
    pub region: String,
}

impl TestS3 {
    /// `None` when this run did not ask for S3.
    pub fn from_env() -> Option<Self> {
        Some(Self {
            endpoint: backend_url(Backend::S3)?,
            access_key: setting("S3_ACCESS_KEY").unwrap_or_default(),
            secret_key: setting("S3_SECRET_KEY").unwrap_or_default(),
            region: setting("S3_REGION").unwrap_or_else(|| "us-east-1".into()),
        })
    }

    pub fn client(&self) -> aws_sdk_s3::Client {
        use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
        let credentials = Credentials::new(
            &self.access_key,
            &self.secret_key,
            None,
            None,
            "signpost-tests",
        );
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .endpoint_url(&self.endpoint)
                .region(Region::new(self.region.clone()))
                .credentials_provider(credentials)
                .force_path_style(true)
                .build(),
        )
    }

    /// A fresh, empty bucket.
    ///
    /// # Panics
    /// When the S3 server refuses or cannot be reached.
    pub async fn create_bucket(&self) -> String {
        let bucket = unique_name("signpost").replace('_', "-").to_lowercase();
        self.client()
            .create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!("cannot create bucket {bucket} on {}: {e:?}", self.endpoint)
            });
        bucket
    }
}
