//! The HTTP exchange under the client: the connector (rustls with aws-lc-rs), request
//! bodies, the time limit, and the retries for 429/503 and lost connections.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::TryStreamExt;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::body::Frame;
use hyper::{Method, StatusCode, header};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;

use super::{Client, ReqBody};
use crate::problem::ApiError;

pub(super) type Body = BoxBody<Bytes, std::io::Error>;

/// One request's time limit (uploads of large firmware files included).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(600);
/// Attempts for answers that say "try again" (429, 503) and for lost connections.
const ATTEMPTS: u32 = 4;

pub(super) fn connector(https: bool) -> Result<HttpsConnector<HttpConnector>, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = match hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(provider.clone())
    {
        Ok(builder) => builder,
        Err(e) if https => {
            return Err(format!("no trusted root certificates for https: {e}"));
        }
        // Plain http needs no roots; a machine without CA certificates can still use it.
        Err(_) => {
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| e.to_string())?
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth();
            hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(config)
        }
    };
    Ok(builder.https_or_http().enable_http1().build())
}

impl Client {
    async fn body(body: &ReqBody) -> Result<(Body, Option<u64>), ApiError> {
        Ok(match body {
            ReqBody::Empty => (Empty::new().map_err(|never| match never {}).boxed(), None),
            ReqBody::Bytes(b) => {
                let len = b.len() as u64;
                (
                    Full::new(b.clone()).map_err(|never| match never {}).boxed(),
                    Some(len),
                )
            }
            ReqBody::File(path) => {
                let file = tokio::fs::File::open(path).await.map_err(|e| {
                    ApiError::Transport(format!("cannot open {}: {e}", path.display()))
                })?;
                let len = file.metadata().await.ok().map(|m| m.len());
                let stream = tokio_util::io::ReaderStream::new(file).map_ok(Frame::data);
                (BodyExt::boxed(StreamBody::new(stream)), len)
            }
        })
    }

    /// One HTTP exchange; any status is returned as is.
    async fn exchange(
        &self,
        method: &Method,
        path: &str,
        body: &ReqBody,
        content_type: Option<&str>,
        bearer: Option<&str>,
    ) -> Result<(StatusCode, hyper::HeaderMap, Bytes), String> {
        let (body, len) = Self::body(body).await.map_err(|e| e.to_string())?;
        let mut req = hyper::Request::builder()
            .method(method.clone())
            .uri(format!("{}{path}", self.base))
            .header(header::ACCEPT, "application/json")
            .header(
                header::USER_AGENT,
                concat!("terraform-provider-signpost/", env!("CARGO_PKG_VERSION")),
            );
        if let Some(ct) = content_type {
            req = req.header(header::CONTENT_TYPE, ct);
        }
        if let Some(len) = len {
            req = req.header(header::CONTENT_LENGTH, len);
        }
        if let Some(token) = bearer {
            req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let req = req.body(body).map_err(|e| format!("bad request: {e}"))?;
        let exchange = async {
            let response = self
                .http
                .request(req)
                .await
                .map_err(|e| format!("{method} {}{path}: {}", self.base, error_chain(&e)))?;
            let (parts, body) = response.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|e| format!("{method} {}{path}: reading the answer: {e}", self.base))?
                .to_bytes();
            Ok((parts.status, parts.headers, body))
        };
        tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| {
                format!(
                    "{method} {}{path}: no answer within {REQUEST_TIMEOUT:?}",
                    self.base
                )
            })?
    }

    /// `exchange` with retries for 429/503 and (except POST) lost connections.
    pub(super) async fn exchange_retrying(
        &self,
        method: &Method,
        path: &str,
        body: &ReqBody,
        content_type: Option<&str>,
        bearer: Option<&str>,
    ) -> Result<(StatusCode, hyper::HeaderMap, Bytes), ApiError> {
        let mut attempt = 1;
        loop {
            match self
                .exchange(method, path, body, content_type, bearer)
                .await
            {
                Ok((status, headers, body))
                    if (status == StatusCode::TOO_MANY_REQUESTS
                        || status == StatusCode::SERVICE_UNAVAILABLE)
                        && attempt < ATTEMPTS =>
                {
                    let wait = headers
                        .get(header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<u64>().ok())
                        .unwrap_or(u64::from(attempt))
                        .min(10);
                    drop(body);
                    tokio::time::sleep(Duration::from_secs(wait)).await;
                }
                Ok(answer) => return Ok(answer),
                Err(e) if *method != Method::POST && attempt < ATTEMPTS => {
                    log_retry(&e);
                    tokio::time::sleep(Duration::from_millis(250 * u64::from(attempt))).await;
                }
                Err(e) => return Err(ApiError::Transport(e)),
            }
            attempt += 1;
        }
    }
}

fn log_retry(e: &str) {
    // Terraform shows a provider's stderr in its debug log (TF_LOG).
    eprintln!("signpost: retrying after: {e}");
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
