//! Request bodies are size-limited before anything parses them. poem's own `SizeLimit` only
//! trusts `Content-Length` and refuses chunked bodies with 411; this limit applies to both.

use poem::http::StatusCode;
use poem::{Endpoint, Request, Response, Result};
use tokio::io::AsyncReadExt;

use crate::problem::ApiError;

fn too_large(limit: usize) -> poem::Error {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        "the request body is too large",
    )
    .detail(format!("at most {limit} bytes"))
    .into()
}

pub async fn limit_body<E: Endpoint>(next: E, mut req: Request, limit: usize) -> Result<Response> {
    let declared = req
        .headers()
        .get(poem::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(length) if length > limit as u64 => return Err(too_large(limit)),
        Some(_) => {}
        // No length given (chunked): read at most one byte past the limit to tell.
        None => {
            let mut body = Vec::new();
            let read_limit = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
            req.take_body()
                .into_async_read()
                .take(read_limit)
                .read_to_end(&mut body)
                .await
                .map_err(|e| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "invalid_request",
                        "the request body could not be read",
                    )
                    .detail(e.to_string())
                })?;
            if body.len() > limit {
                return Err(too_large(limit));
            }
            req.set_body(body);
        }
    }
    next.call(req).await.map(poem::IntoResponse::into_response)
}
