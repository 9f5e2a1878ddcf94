//! The REST API under `/v1`: one `#[OpenApi]` struct per resource, each handler parsing its
//! input, calling one use case and rendering the answer.

mod auth;
mod csv;
mod devices;
mod events;
mod files;
mod keys;
mod profiles;
mod tenants;
mod views;

use poem::Request;
use poem_openapi::{OpenApiService, SecurityScheme};
use signpost_service::AuthCtx;
use signpost_store::registry::ChangeContext;

use crate::AppState;
use crate::problem::ApiError;
use crate::request_log::RequestId;

pub type Api = (
    auth::AuthApi,
    tenants::TenantsApi,
    profiles::ProfilesApi,
    devices::DevicesApi,
    events::EventsApi,
    keys::KeysApi,
    files::FilesApi,
);

pub fn service() -> OpenApiService<Api, ()> {
    OpenApiService::new(
        (
            auth::AuthApi,
            tenants::TenantsApi,
            profiles::ProfilesApi,
            devices::DevicesApi,
            events::EventsApi,
            keys::KeysApi,
            files::FilesApi,
        ),
        "Signpost",
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "Zero-touch redirection for IP phones. Exchange an API key for a token at \
         `POST /v1/auth/token`, then send it as `Authorization: Bearer …`. Errors are \
         `application/problem+json` with a stable `code`.",
    )
}

/// `PUT /v1/tenants/{tenant}/files/{path…}`: streamed past the API's body limit.
pub fn is_file_upload(req: &Request) -> bool {
    req.method() == poem::http::Method::PUT && {
        let mut segments = req.uri().path().split('/');
        // "", "v1", "tenants", tenant, "files", path…
        segments.nth(4) == Some("files") && segments.next().is_some()
    }
}

/// Marks an upload sent without `Content-Type`, so its type is inferred from the path.
#[derive(Debug, Clone, Copy)]
pub struct NoContentType;

/// poem-openapi refuses a body without `Content-Type` (415) before the handler runs, but
/// `curl -T` and many tools send none: give it one, and let the handler know to infer.
pub fn prepare_file_upload(req: &mut Request) {
    if !req.headers().contains_key(poem::http::header::CONTENT_TYPE) {
        req.headers_mut().insert(
            poem::http::header::CONTENT_TYPE,
            poem::http::HeaderValue::from_static("application/octet-stream"),
        );
        req.set_data(NoContentType);
    }
}

/// A bearer JWT from `POST /v1/auth/token`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT", checker = "authenticate")]
pub struct Bearer(AuthCtx);

async fn authenticate(req: &Request, bearer: poem_openapi::auth::Bearer) -> poem::Result<AuthCtx> {
    let state = req.data::<AppState>().ok_or_else(|| {
        ApiError::new(
            poem::http::StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        )
    })?;
    Ok(state
        .auth
        .authenticate(&bearer.token)
        .await
        .map_err(ApiError::from)?)
}

/// Who is changing what, for the audit trail.
fn change(auth: &AuthCtx, request_id: &RequestId) -> ChangeContext {
    ChangeContext {
        actor: auth.key_id.clone(),
        request_id: Some(request_id.0.clone()),
    }
}

/// Page size: default 100, at most 1,000.
fn page_size(limit: Option<u32>) -> u32 {
    limit.unwrap_or(100).clamp(1, 1000)
}

/// Cursors are opaque to clients: the last key of the page, hex-encoded.
fn encode_cursor(last: &str) -> String {
    hex::encode(last)
}

fn decode_cursor(cursor: Option<String>) -> Result<Option<String>, ApiError> {
    cursor
        .map(|c| {
            hex::decode(&c)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .ok_or_else(|| {
                    ApiError::invalid("invalid_cursor", "cursor", "not a cursor this API gave out")
                })
        })
        .transpose()
}

fn next_cursor<T>(items: &[T], limit: u32, key: impl Fn(&T) -> String) -> Option<String> {
    (items.len() == limit as usize)
        .then(|| items.last().map(|last| encode_cursor(&key(last))))
        .flatten()
}
