//! `GET /p/{tenant}/{device token}/{path}`: a hosted tenant's files, served to the phone the
//! redirect gave that URL to. Every refusal is the same bare 404.

use bytes::Bytes;
use poem::http::{HeaderValue, StatusCode, header};
use poem::web::{Data, Path};
use poem::{Body, Request, Response, handler};
use signpost_service::ServiceError;
use signpost_service::files::{Catalogue, HostedFile, HostedRequest};
use signpost_store::blobs::ByteRange;

use crate::AppState;
use crate::conditional::{self, Validators};

#[handler]
pub async fn hosted_file(
    req: &Request,
    Path((tenant, token, path)): Path<(String, String, String)>,
    state: Data<&AppState>,
) -> Response {
    let request = HostedRequest {
        tenant: &tenant,
        token: &token,
        path: &path,
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok()),
        public_base: crate::phone::public_base(req, &state),
    };
    let mut response = match state.hosted.find(request, Catalogue::Cached).await {
        Ok(found) => match respond(req, &state, found).await {
            // The version found was replaced (and its blob deleted) before it could be
            // opened: the registry has the new one.
            Err(ServiceError::NotFound) => match state.hosted.find(request, Catalogue::Fresh).await
            {
                Ok(found) => respond(req, &state, found)
                    .await
                    .unwrap_or_else(|e| refusal(&e)),
                Err(err) => refusal(&err),
            },
            Ok(response) => response,
            Err(err) => refusal(&err),
        },
        Err(err) => refusal(&err),
    };
    // Phones may keep a copy but must revalidate it: the file can change at any time.
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    response
}

async fn respond(
    req: &Request,
    state: &AppState,
    found: HostedFile,
) -> Result<Response, ServiceError> {
    let (validators, total) = match &found {
        HostedFile::Stored(file) => (Validators::new(&file.sha256, file.updated_at), file.size),
        HostedFile::Rendered { body, sha256, .. } => {
            (Validators::rendered(sha256), body.len() as u64)
        }
    };
    if validators.not_modified(req.headers()) {
        return Ok(conditional::not_modified(&validators));
    }
    let Ok(range) = validators.range(req.headers(), total) else {
        return Ok(conditional::range_not_satisfiable(total));
    };
    let mut response = match found {
        HostedFile::Rendered { file, body, .. } => rendered(&file.content_type, body, range),
        HostedFile::Stored(file) => match state.hosted.open(&file, range).await {
            Ok(object) => {
                let partial = range.map(|_| {
                    let last = object.last.unwrap_or(object.first);
                    (object.first, last, object.total_size)
                });
                let length = match partial {
                    Some((first, last, _)) => last - first + 1,
                    None => object.total_size,
                };
                conditional::body_response(
                    &file.content_type,
                    Body::from_bytes_stream(object.body),
                    partial,
                    length,
                )
            }
            Err(err) => return Err(err),
        },
    };
    validators.apply(&mut response);
    Ok(response)
}

/// A rendered template, whole or the requested slice of it.
fn rendered(content_type: &str, body: Bytes, range: Option<ByteRange>) -> Response {
    let total = body.len() as u64;
    match range {
        None => conditional::body_response(content_type, Body::from_bytes(body), None, total),
        Some(range) => {
            let last = range
                .end_inclusive
                .map_or(total - 1, |end| end.min(total - 1));
            let slice = body.slice(range.start as usize..=last as usize);
            let length = slice.len() as u64;
            conditional::body_response(
                content_type,
                Body::from_bytes(slice),
                Some((range.start, last, total)),
                length,
            )
        }
    }
}

/// 404 for anything the phone may not have (it must not learn which); 503 when a backend
/// is down, so the phone retries.
fn refusal(err: &ServiceError) -> Response {
    match err {
        ServiceError::Unavailable(reason) | ServiceError::BodyInterrupted(reason) => {
            tracing::warn!(%reason, "cannot serve a hosted file");
            Response::builder()
                .status(StatusCode::SERVICE_UNAVAILABLE)
                .header(header::RETRY_AFTER, "30")
                .body(Body::empty())
        }
        _ => Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Body::empty()),
    }
}
