//! Signpost's HTTP surface. Handlers parse, call a use case from `signpost-service` and
//! render; nothing here talks to a database, a bucket or Redis.

mod allow;
mod body_limit;
mod client_address;
mod health;
mod phone;
pub mod problem;
mod request_log;
mod v1;
mod xmlrpc;

use std::sync::Arc;

use poem::{Endpoint, EndpointExt, Route};
use signpost_service::phone::{PhoneOptions, PhonePorts, PhoneRedirects};
use signpost_service::{
    ApiKeys, Authenticator, Devices, Events, Profiles, Readiness, SnomRedirect, Tenants,
};
use signpost_store::cache::Cache;
use signpost_store::ratelimit::RateLimiter;
use signpost_store::registry::{DeviceRepo, EventRepo, ProfileRepo, TenantRepo};

pub use client_address::TrustedProxies;

pub use request_log::{REQUEST_ID_HEADER, RequestId};

/// Request bodies larger than this are refused with 413 `body_too_large` (a 10,000-device
/// batch is about 1.5 MB).
pub const DEFAULT_BODY_LIMIT: usize = 4 * 1024 * 1024;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    pub readiness: Arc<Readiness>,
    pub auth: Arc<Authenticator>,
    pub tenants: Tenants,
    pub profiles: Profiles,
    pub devices: Devices,
    pub events: Events,
    pub keys: ApiKeys,
    pub phone: PhoneRedirects,
    pub snom: SnomRedirect,
    pub trusted_proxies: TrustedProxies,
}

/// The ports the use cases run on.
#[derive(Debug, Clone)]
pub struct AppPorts {
    pub tenants: Arc<dyn TenantRepo>,
    pub profiles: Arc<dyn ProfileRepo>,
    pub devices: Arc<dyn DeviceRepo>,
    pub events: Arc<dyn EventRepo>,
    pub cache: Arc<dyn Cache>,
    pub rate_limiter: Arc<dyn RateLimiter>,
}

impl AppState {
    /// The use cases over `ports`, wired so that every write invalidates the phone path's
    /// caches.
    pub fn new(
        ports: AppPorts,
        auth: Arc<Authenticator>,
        readiness: Readiness,
        phone: PhoneOptions,
        trusted_proxies: TrustedProxies,
    ) -> Self {
        let redirects = PhoneRedirects::new(
            PhonePorts {
                devices: ports.devices.clone(),
                profiles: ports.profiles.clone(),
                tenants: ports.tenants.clone(),
                cache: ports.cache,
                rate_limiter: ports.rate_limiter,
            },
            phone,
        );
        let invalidator = redirects.invalidator();
        let devices = Devices::new(ports.devices.clone(), invalidator.clone());
        Self {
            readiness: Arc::new(readiness),
            keys: ApiKeys::new(auth.clone()),
            auth,
            tenants: Tenants::new(ports.tenants.clone(), invalidator.clone()),
            profiles: Profiles::new(ports.profiles.clone(), invalidator),
            snom: SnomRedirect::new(
                devices.clone(),
                ports.devices,
                ports.profiles,
                ports.tenants,
            ),
            devices,
            events: Events::new(ports.events),
            phone: redirects,
            trusted_proxies,
        }
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

/// The OpenAPI document of `/v1`, as committed in `openapi/openapi.yaml`.
pub fn openapi_yaml() -> String {
    v1::service().spec_yaml()
}

/// The same document as JSON (served at `/openapi.json`).
pub fn openapi_json() -> String {
    v1::service().spec()
}

/// The whole HTTP application.
pub fn app(state: AppState, body_limit: usize) -> impl Endpoint {
    let api = v1::service();
    let spec = api.spec_endpoint();
    let docs = api.scalar();
    Route::new()
        .at("/healthz", poem::get(health::healthz))
        .at("/readyz", poem::get(health::readyz))
        .at("/openapi.json", spec)
        .nest("/docs", docs)
        .nest_no_strip(
            "/v1",
            api.around(move |ep, req| body_limit::limit_body(ep, req, body_limit)),
        )
        .at("/xmlrpc", xmlrpc_route(body_limit))
        .at("/xmlrpc/", xmlrpc_route(body_limit))
        // The phone endpoints: `/{type}.htm`, `/{type}-{MAC}.htm`, `/{type}/{type}.php`.
        .at("/:file", poem::get(phone::settings_file))
        .at("/:dir/:file", poem::get(phone::legacy))
        .data(state)
        .around(request_log::log_request)
}

fn xmlrpc_route(body_limit: usize) -> impl Endpoint {
    poem::post(xmlrpc::endpoint).around(move |ep, req| body_limit::limit_body(ep, req, body_limit))
}
