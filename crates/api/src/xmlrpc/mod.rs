//! The Snom-compatible XML-RPC API: `POST /xmlrpc/` (and `/xmlrpc`), HTTP Basic with an API
//! key id and secret, the key's tenant being the Snom "user".
//!
//! Failures of the call itself (bad XML, unknown method, wrong parameters) are XML-RPC
//! faults; refusals in the Snom sense (`Error:malformed_mac`, …) are ordinary responses
//! `[false, text]`, as Snom's clients expect. Bad credentials are HTTP 401, not a fault.

pub mod codec;
#[cfg(test)]
mod codec_tests;
mod methods;

use base64::Engine;
use poem::http::{HeaderValue, StatusCode, header};
use poem::web::Data;
use poem::{Body, Request, Response, handler};
use signpost_service::AuthCtx;

use crate::AppState;
use crate::request_log::RequestId;

/// Fault codes from the de-facto XML-RPC error code convention.
pub(crate) const FAULT_PARSE: i32 = -32700;
pub(crate) const FAULT_NO_METHOD: i32 = -32601;
pub(crate) const FAULT_PARAMS: i32 = -32602;
pub(crate) const FAULT_INTERNAL: i32 = -32603;

const CONTENT_TYPE: &str = "text/xml; charset=utf-8";

#[handler]
pub async fn endpoint(req: &Request, body: Body, state: Data<&AppState>) -> Response {
    let Some(auth) = authenticate(req, &state).await else {
        return unauthorized();
    };
    // The body limit wraps this route, so reading it whole is bounded.
    let body = match body.into_bytes().await {
        Ok(body) => body,
        Err(err) => {
            return xml(codec::encode_fault(
                FAULT_PARSE,
                &format!("cannot read the body: {err}"),
            ));
        }
    };
    let call = match codec::decode_call(&body) {
        Ok(call) => call,
        Err(err) => return xml(codec::encode_fault(FAULT_PARSE, &err.to_string())),
    };
    let request_id = req.data::<RequestId>().map(|id| id.0.clone());
    let change = auth.change(request_id);
    match methods::dispatch(&state, &auth, &change, call).await {
        Ok(value) => xml(codec::encode_response(&value)),
        Err(fault) => xml(codec::encode_fault(fault.code, &fault.message)),
    }
}

/// A tenant key's context, or `None` for anything that must be answered 401.
async fn authenticate(req: &Request, state: &AppState) -> Option<AuthCtx> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    match state.auth.authenticate_key(id, secret).await {
        // The Snom API has no notion of a platform-wide user.
        Ok(auth) if auth.tenant.is_some() => Some(auth),
        Ok(_) => None,
        Err(err) => {
            tracing::info!(%err, "XML-RPC authentication refused");
            None
        }
    }
}

fn unauthorized() -> Response {
    Response::builder()
        .status(StatusCode::UNAUTHORIZED)
        .header(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"signpost\""),
        )
        .content_type("text/plain; charset=utf-8")
        .body("invalid credentials\n")
}

fn xml(body: String) -> Response {
    Response::builder()
        .status(StatusCode::OK)
        .content_type(CONTENT_TYPE)
        .body(body)
}
