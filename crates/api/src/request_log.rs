//! One log line per request, at the boundary, a request id on every response, and every
//! error rendered as a problem document.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use poem::http::{HeaderName, HeaderValue, StatusCode, header};
use poem::{Endpoint, IntoResponse, Request, Response, Result};

use crate::allow::allowed_methods;
use crate::problem::render_error;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The same name, checked once: a header looked up or set by a `&str` name is parsed and
/// checked again each time, twice a request (540 instructions of a phone request's 33,600
/// under callgrind).
static REQUEST_ID_NAME: HeaderName = HeaderName::from_static(REQUEST_ID_HEADER);

/// The id of the request being handled; handlers record it in audit events.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// A caller's request id is kept when it is short and printable (so it can be correlated
/// across systems); otherwise a fresh one is made.
fn request_id(req: &Request) -> String {
    req.headers()
        .get(&REQUEST_ID_NAME)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            (1..=128).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
        .map_or_else(fresh_request_id, str::to_owned)
}

/// `{process}-{n}`: a random prefix chosen once per process (so ids from different
/// replicas and restarts do not collide) and a counter. A random UUID per request cost a
/// call into the OS random source on every phone request.
fn fresh_request_id() -> String {
    static PROCESS: LazyLock<String> =
        LazyLock::new(|| uuid::Uuid::new_v4().simple().to_string()[..16].to_owned());
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{}-{n:x}", *PROCESS)
}

/// Logs method, path (never the query: it can carry MACs of phones we do not know),
/// status and duration; never headers or bodies.
pub async fn log_request<E: Endpoint>(next: E, mut req: Request) -> Result<Response> {
    let started = Instant::now();
    let id = request_id(&req);
    req.set_data(RequestId(id.clone()));
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let mut response = match next.call(req).await {
        Ok(response) => response.into_response(),
        Err(error) => render_error(&error, &id),
    };
    if let Ok(value) = HeaderValue::from_str(&id) {
        response
            .headers_mut()
            .insert(REQUEST_ID_NAME.clone(), value);
    }
    if response.status() == StatusCode::METHOD_NOT_ALLOWED
        && let Some(allow) = allowed_methods(&path).and_then(|a| HeaderValue::from_str(&a).ok())
    {
        response.headers_mut().insert(header::ALLOW, allow);
    }
    let status = response.status().as_u16();
    let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    tracing::info!(target: "signpost::http", %method, %path, status, micros, request_id = %id, "request");
    Ok(response)
}
