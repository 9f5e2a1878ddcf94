//! `TestApp`: the real HTTP application over a fresh registry, on SQLite or on PostgreSQL.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use poem::EndpointExt;
use poem::endpoint::BoxEndpoint;
use poem::test::{TestClient, TestResponse};
use serde_json::Value;
use signpost_api::{AppPorts, AppSettings, AppState, DEFAULT_BODY_LIMIT, TrustedProxies};
use signpost_domain::Role;
use signpost_service::files::{DeviceTokens, FileLimits};
use signpost_service::phone::{CacheTtl, PhoneOptions, PhoneRedirects};
use signpost_service::{Authenticator, Readiness, SigningKeys};
use signpost_store::blobs::{BlobStore, FsBlobStore};
use signpost_store::cache::{Cache, MemoryCache};
use signpost_store::ratelimit::{MemoryRateLimiter, RateLimiter};
use signpost_store::registry::{ChangeContext, RegistryAdmin, SqlRegistry};
use signpost_testkit::TestDatabase;

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
    registry: Arc<SqlRegistry>,
    _dir: Option<tempfile::TempDir>,
    _blob_dir: tempfile::TempDir,
    database: Option<TestDatabase>,
}

impl TestApp {
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("registry.db").display()
        );
        Self::build(&url, Some(dir), None, phone_options()).await
    }

    /// On SQLite, with these phone-path settings.
    pub async fn sqlite_with(phone: PhoneOptions) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("registry.db").display()
        );
        Self::build(&url, Some(dir), None, phone).await
    }

    /// `None` when this run did not ask for PostgreSQL.
    pub async fn postgres() -> Option<Self> {
        let database = TestDatabase::create().await?;
        let url = database.url.clone();
        Some(Self::build(&url, None, Some(database), phone_options()).await)
    }

    async fn build(
        url: &str,
        dir: Option<tempfile::TempDir>,
        database: Option<TestDatabase>,
        phone: PhoneOptions,
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
        let blob_dir = tempfile::tempdir().unwrap();
        let blobs: Arc<dyn BlobStore> = Arc::new(FsBlobStore::new(blob_dir.path()).unwrap());
        let cache: Arc<dyn Cache> = Arc::new(MemoryCache::new("", 100_000));
        let rate_limiter: Arc<dyn RateLimiter> = Arc::new(MemoryRateLimiter::new(10_000));
        let state = AppState::new(
            AppPorts {
                tenants: registry.clone(),
                profiles: registry.clone(),
                devices: registry.clone(),
                events: registry.clone(),
                files: registry.clone(),
                blobs,
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
