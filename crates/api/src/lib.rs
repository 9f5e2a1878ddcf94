//! Signpost's HTTP surface. Handlers parse, call a use case from `signpost-service` and
//! render; nothing here talks to a database, a bucket or Redis.

mod health;
mod request_log;

use std::sync::Arc;

use poem::{Endpoint, EndpointExt, Route};
use signpost_service::Readiness;

pub use request_log::REQUEST_ID_HEADER;

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    pub readiness: Arc<Readiness>,
}

/// The whole HTTP application.
pub fn app(state: AppState) -> impl Endpoint {
    Route::new()
        .at("/healthz", poem::get(health::healthz))
        .at("/readyz", poem::get(health::readyz))
        .data(state)
        .around(request_log::log_request)
}
