//! Signpost's HTTP surface. Handlers parse, call a use case from `signpost-service` and
//! render; nothing here talks to a database, a bucket or Redis.

mod allow;
mod body_limit;
mod health;
pub mod problem;
mod request_log;
mod v1;

use std::sync::Arc;

use poem::{Endpoint, EndpointExt, Route};
use signpost_service::{ApiKeys, Authenticator, Devices, Events, Profiles, Readiness, Tenants};

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
        .data(state)
        .around(request_log::log_request)
}
