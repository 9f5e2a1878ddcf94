//! `TestApp`: the real HTTP application over a fresh registry, on SQLite or on PostgreSQL.

#![allow(dead_code)]

/// Runs each named `async fn(&TestApp)` as two tests: on SQLite, and on PostgreSQL when the
/// run was given one.
#[allow(unused_macros)] // Not every test binary runs on both registries.
macro_rules! on_both_registries {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let app = super::TestApp::sqlite().await;
                    super::$case(&app).await;
                    app.finish().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(app) = super::TestApp::postgres().await else { return };
                    super::$case(&app).await;
                    app.finish().await;
                }
            )*
        }
    };
}

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use poem::EndpointExt;
use poem::endpoint::BoxEndpoint;
use poem::test::{TestClient, TestResponse};
use serde_json::Value;
use signpost_api::{AppPorts, AppSettings, AppState, DEFAULT_BODY_LIMIT, TrustedProxies};
use signpost_domain::Role;
use signpost_service::files::{DeviceTokens, FileLimits, Files};
use signpost_service::phone::{CacheTtl, PhoneOptions, PhoneRedirects};
use signpost_service::{Authenticator, Readiness, SigningKeys};
use signpost_store::blobs::{BlobStore, FsBlobStore, S3BlobStore, S3Options};
use signpost_store::cache::{Cache, MemoryCache};
use signpost_store::ratelimit::{MemoryRateLimiter, RateLimiter};
use signpost_store::registry::{ChangeContext, RegistryAdmin, SqlRegistry};
use signpost_testkit::{TestDatabase, TestS3};

/// The phone path's settings in tests: limits off unless a test sets them.
pub fn phone_options() -> PhoneOptions {
    PhoneOptions {
        ttl: CacheTtl {
            positive: Duration::from_secs(300),
            negative: Duration::from_secs(30),
        },
        max_cached_devices: 10_000,
        rate_limits: None,
        sighting_interval: Duration::from_secs(3600),
    }
}

/// Small enough for tests to reach: 1 MiB per file, 3 MiB per tenant.
pub const FILE_LIMITS: FileLimits = FileLimits {
    max_file_bytes: 1 << 20,
    quota_bytes: Some(3 << 20),
};

pub struct TestApp {
    pub client: TestClient<BoxEndpoint<'static>>,
    pub auth: Arc<Authenticator>,
    pub phone: PhoneRedirects,
    /// The hosted files' use cases (e.g. `sweep`).
    pub files: Files,
    /// Where file bodies are kept.
    pub blobs: Arc<dyn BlobStore>,
    /// The root of the filesystem blob store; `None` when the app was given another store.
    pub blob_root: Option<PathBuf>,
    registry: Arc<SqlRegistry>,
    _dir: Option<tempfile::TempDir>,
    _blob_dir: Option<tempfile::TempDir>,
    database: Option<TestDatabase>,
}

/// A blob store in a fresh bucket on the test S3 server, or `None` (with a note on stderr)
/// when this run did not ask for S3.
///
/// # Panics
/// When S3 was asked for and cannot be reached.
pub async fn s3_blobs() -> Option<Arc<dyn BlobStore>> {
    let s3 = TestS3::from_env()?;
    let bucket = s3.create_bucket().await;
    let store = S3BlobStore::new(S3Options {
        bucket,
        endpoint: Some(s3.endpoint.clone()),
        region: Some(s3.region.clone()),
        force_path_style: true,
        access_key_id: Some(s3.access_key.clone()),
        secret_access_key: Some(s3.secret_key.clone()),
    })
    .await
    .expect("S3 blob store");
    Some(Arc::new(store))
}

impl TestApp {
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("registry.db").display()
        );
        Self::build(&url, Some(dir), None, phone_options(), None).await
    }

    /// On SQLite, keeping file bodies in `blobs` instead of a temporary directory.
    pub async fn sqlite_with_blobs(blobs: Arc<dyn BlobStore>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("registry.db").display()
        );
        Self::build(&url, Some(dir), None, phone_options(), Some(blobs)).await
    }

    /// On SQLite, with these phone-path settings.
    pub async fn sqlite_with(phone: PhoneOptions) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("registry.db").display()
        );
        Self::build(&url, Some(dir), None, phone, None).await
    }

    /// `None` when this run did not ask for PostgreSQL.
    pub async fn postgres() -> Option<Self> {
        let database = TestDatabase::create().await?;
        let url = database.url.clone();
        Some(Self::build(&url, None, Some(database), phone_options(), None).await)
    }

    async fn build(
        url: &str,
        dir: Option<tempfile::TempDir>,
        database: Option<TestDatabase>,
        phone: PhoneOptions,
        blobs: Option<Arc<dyn BlobStore>>,
    ) -> Self {
        let registry = Arc::new(SqlRegistry::connect(url, 5).await.unwrap());
        registry.migrate().await.unwrap();
        let signing = SigningKeys::new(
            b"a test signing secret that is long enough",
            Vec::<Vec<u8>>::new(),
        )
        .unwrap();
        let auth = Arc::new(Authenticator::new(
            registry.clone(),
            signing,
            Duration::from_secs(900),
        ));
        let (blobs, blob_dir) = match blobs {
            Some(blobs) => (blobs, None),
            None => {
                let dir = tempfile::tempdir().unwrap();
                let store: Arc<dyn BlobStore> = Arc::new(FsBlobStore::new(dir.path()).unwrap());
                (store, Some(dir))
            }
        };
        let blob_root = blob_dir.as_ref().map(|d| d.path().to_owned());
        let cache: Arc<dyn Cache> = Arc::new(MemoryCache::new("", 100_000));
        let rate_limiter: Arc<dyn RateLimiter> = Arc::new(MemoryRateLimiter::new(10_000));
        let state = AppState::new(
            AppPorts {
                tenants: registry.clone(),
                profiles: registry.clone(),
                devices: registry.clone(),
                events: registry.clone(),
                files: registry.clone(),
                blobs: blobs.clone(),
                cache,
                rate_limiter,
            },
            auth.clone(),
            Readiness::default(),
            AppSettings {
                phone,
                trusted_proxies: TrustedProxies::default(),
                files: FILE_LIMITS,
                device_tokens: DeviceTokens::new(b"a test server secret that is long enough"),
                public_url: None,
                tls: false,
            },
        );
        let phone = state.phone.clone();
        let files = state.files.clone();
        phone.spawn_background();
        let client = TestClient::new(
            signpost_api::app(state, DEFAULT_BODY_LIMIT)
                .map_to_response()
                .boxed(),
        );
        Self {
            client,
            auth,
            phone,
            files,
            blobs,
            blob_root,
            registry,
            _dir: dir,
            _blob_dir: blob_dir,
            database,
        }
    }

    pub async fn finish(self) {
        self.registry.close().await;
        if let Some(database) = self.database {
            database.drop_database().await;
        }
    }

    /// A new API key's id and secret.
    pub async fn key(&self, tenant: Option<&str>, role: Role) -> (String, String) {
        let change = ChangeContext {
            actor: "test".into(),
            request_id: None,
        };
        let (_, material) = self
            .auth
            .create_key(&change, tenant.map(|t| t.parse().unwrap()), role, None)
            .await
            .unwrap();
        (material.id, material.secret)
    }

    /// A bearer token for a new key, obtained over HTTP.
    pub async fn token(&self, tenant: Option<&str>, role: Role) -> String {
        let (id, secret) = self.key(tenant, role).await;
        let response = self
            .client
            .post("/v1/auth/token")
            .content_type("application/x-www-form-urlencoded")
            .body(format!(
                "grant_type=client_credentials&client_id={id}&client_secret={secret}"
            ))
            .send()
            .await;
        let status = response.0.status();
        let body = json(response).await;
        assert_eq!(status, 200, "token exchange: {body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn platform_token(&self) -> String {
        self.token(None, Role::PlatformAdmin).await
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let request = match method {
            "GET" => self.client.get(path),
            "PUT" => self.client.put(path),
            "POST" => self.client.post(path),
            "DELETE" => self.client.delete(path),
            other => panic!("unsupported method {other}"),
        }
        .header("authorization", format!("Bearer {token}"));
        let response = match body {
            Some(body) => request.body_json(&body).send().await,
            None => request.send().await,
        };
        let status = response.0.status().as_u16();
        (status, json(response).await)
    }

    /// Creates a tenant with a profile `desk` as the platform admin.
    pub async fn tenant(&self, admin: &str, tenant: &str) {
        let (status, body) = self
            .call(
                "PUT",
                &format!("/v1/tenants/{tenant}"),
                admin,
                Some(serde_json::json!({"display_name": format!("{tenant} Ltd")})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let (status, body) = self
            .call(
                "PUT",
                &format!("/v1/tenants/{tenant}/profiles/desk"),
                admin,
                Some(serde_json::json!({"setting_server": format!("https://{tenant}.example.com/{{mac}}")})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
}

pub async fn json(response: TestResponse) -> Value {
    let text = response.0.into_body().into_string().await.unwrap();
    if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    }
}
