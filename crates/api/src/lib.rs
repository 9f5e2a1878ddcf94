//! Signpost's HTTP surface. Handlers parse, call a use case from `signpost-service` and
//! render; nothing here talks to a database, a bucket or Redis.

mod allow;
mod body_limit;
mod client_address;
mod conditional;
mod health;
mod hosted;
mod phone;
pub mod problem;
mod request_log;
mod v1;
mod xmlrpc;

use std::sync::Arc;

use poem::{Endpoint, EndpointExt, Route};
use signpost_service::files::{DeviceTokens, FileLimits, Files, HostedFiles};
use signpost_service::phone::{PhoneOptions, PhonePorts, PhoneRedirects};
use signpost_service::{
    ApiKeys, Authenticator, Devices, Events, Profiles, Readiness, SnomRedirect, Tenants,
};
use signpost_store::blobs::BlobStore;
use signpost_store::cache::Cache;
use signpost_store::ratelimit::RateLimiter;
use signpost_store::registry::{DeviceRepo, EventRepo, FileRepo, ProfileRepo, TenantRepo};

pub use client_address::TrustedProxies;

pub use request_log::{REQUEST_ID_HEADER, RequestId};

/// Request bodies larger than this are refused with 413 `body_too_large` (a 10,000-device
/// batch is about 1.5 MB).
pub const DEFAULT_BODY_LIMIT: usize = 4 * 1024 * 1024;

/// What the handlers share. Cloned into every request (poem's `data`), so it is one `Arc`:
/// a clone is one reference count, not one per use case.
#[derive(Clone)]
pub struct AppState(Arc<AppServices>);

impl std::ops::Deref for AppState {
    type Target = AppServices;

    fn deref(&self) -> &AppServices {
        &self.0
    }
}

/// The use cases and settings behind [`AppState`].
pub struct AppServices {
    pub readiness: Arc<Readiness>,
    pub auth: Arc<Authenticator>,
    pub tenants: Tenants,
    pub profiles: Profiles,
    pub devices: Devices,
    pub events: Events,
    pub keys: ApiKeys,
    pub phone: PhoneRedirects,
    pub snom: SnomRedirect,
    pub files: Files,
    pub hosted: HostedFiles,
    pub trusted_proxies: TrustedProxies,
    /// `scheme://host[:port]` for the hosted-file URLs phones are given; `None`: from each
    /// request's `Host`.
    pub public_url: Option<String>,
    /// Whether `serve` speaks HTTPS itself (the scheme of URLs made from `Host`).
    pub tls: bool,
}

/// The ports the use cases run on.
#[derive(Debug, Clone)]
pub struct AppPorts {
    pub tenants: Arc<dyn TenantRepo>,
    pub profiles: Arc<dyn ProfileRepo>,
    pub devices: Arc<dyn DeviceRepo>,
    pub events: Arc<dyn EventRepo>,
    pub files: Arc<dyn FileRepo>,
    pub blobs: Arc<dyn BlobStore>,
    pub cache: Arc<dyn Cache>,
    pub rate_limiter: Arc<dyn RateLimiter>,
}

/// How the HTTP surface is set up besides its ports.
#[derive(Debug, Clone)]
pub struct AppSettings {
    pub phone: PhoneOptions,
    pub trusted_proxies: TrustedProxies,
    pub files: FileLimits,
    /// Signs hosted-file device tokens; the same on every replica.
    pub device_tokens: DeviceTokens,
    pub public_url: Option<String>,
    pub tls: bool,
}

impl AppState {
    /// The use cases over `ports`, wired so that every write invalidates the phone path's
    /// caches.
    pub fn new(
        ports: AppPorts,
        auth: Arc<Authenticator>,
        readiness: Readiness,
        settings: AppSettings,
    ) -> Self {
        let redirects = PhoneRedirects::new(
            PhonePorts {
                devices: ports.devices.clone(),
                profiles: ports.profiles.clone(),
                tenants: ports.tenants.clone(),
                cache: ports.cache,
                rate_limiter: ports.rate_limiter,
            },
            settings.phone,
            settings.device_tokens.clone(),
        );
        let invalidator = redirects.invalidator();
        let devices = Devices::new(
            ports.devices.clone(),
            ports.tenants.clone(),
            invalidator.clone(),
        );
        Self(Arc::new(AppServices {
            readiness: Arc::new(readiness),
            keys: ApiKeys::new(auth.clone(), ports.tenants.clone()),
            auth,
            tenants: Tenants::new(ports.tenants.clone(), invalidator.clone()),
            profiles: Profiles::new(
                ports.profiles.clone(),
                ports.tenants.clone(),
                invalidator.clone(),
            ),
            snom: SnomRedirect::new(
                devices.clone(),
                ports.devices,
                ports.profiles,
                ports.tenants.clone(),
            ),
            devices,
            events: Events::new(ports.events),
            files: Files::new(
                ports.files.clone(),
                ports.tenants,
                ports.blobs.clone(),
                settings.files,
                invalidator,
            ),
            hosted: HostedFiles::new(
                redirects.clone(),
                ports.files,
                ports.blobs,
                settings.device_tokens,
            ),
            phone: redirects,
            trusted_proxies: settings.trusted_proxies,
            public_url: settings.public_url,
            tls: settings.tls,
        }))
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for AppServices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppServices").finish_non_exhaustive()
    }
}

/// The OpenAPI document of `/v1`, as committed in `openapi/openapi.yaml`.
pub fn openapi_yaml() -> String {
    openapi_fixup(&v1::service().spec_yaml())
}

/// The same document as JSON (served at `/openapi.json`).
pub fn openapi_json() -> String {
    openapi_fixup(&v1::service().spec())
}

/// File paths hold `/`, so their routes end in a wildcard segment, which poem-openapi
/// copies into the document as `*param1`; OpenAPI spells a path parameter `{path}`.
fn openapi_fixup(document: &str) -> String {
    document.replace("/*param1", "/{path}")
}

/// The whole HTTP application.
pub fn app(state: AppState, body_limit: usize) -> impl Endpoint {
    let api = v1::service();
    let spec = openapi_json();
    let docs = openapi_fixup(&api.scalar_html());
    let routes = Route::new()
        .at("/healthz", poem::get(health::healthz))
        .at("/readyz", poem::get(health::readyz))
        .at(
            "/openapi.json",
            poem::endpoint::make_sync(move |_| {
                poem::IntoResponse::with_content_type(spec.clone(), "application/json")
            }),
        )
        .at(
            "/docs",
            poem::endpoint::make_sync(move |_| poem::web::Html(docs.clone())),
        )
        .nest_no_strip(
            "/v1",
            api.around(move |ep, mut req| async move {
                // File uploads stream up to `max_file_bytes`, enforced while streaming.
                if v1::is_file_upload(&req) {
                    v1::prepare_file_upload(&mut req);
                    ep.call(req).await.map(poem::IntoResponse::into_response)
                } else {
                    body_limit::limit_body(ep, req, body_limit).await
                }
            }),
        )
        .at("/p/:tenant/:token/*path", poem::get(hosted::hosted_file))
        .at("/xmlrpc", xmlrpc_route(body_limit))
        .at("/xmlrpc/", xmlrpc_route(body_limit))
        // The phone endpoints: `/{type}.htm`, `/{type}-{MAC}.htm`, `/{type}/{type}.php`.
        // Most phone requests are answered by the lane in front before reaching these.
        .at("/:file", poem::get(phone::settings_file))
        .at("/:dir/:file", poem::get(phone::legacy))
        .data(state.clone());
    phone::PhoneLane::new(routes, state).around(request_log::log_request)
}

fn xmlrpc_route(body_limit: usize) -> impl Endpoint {
    poem::post(xmlrpc::endpoint).around(move |ep, req| body_limit::limit_body(ep, req, body_limit))
}
