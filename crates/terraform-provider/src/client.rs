//! A small client for Signpost's REST API: HTTP/1.1 over hyper, https via rustls with the
//! aws-lc-rs provider the rest of the workspace uses (plain http:// works too). It exchanges
//! the API key for a bearer token (`POST /v1/auth/token`, client credentials), reuses the
//! token, fetches a new one a minute before it expires (or at half its lifetime, whichever
//! is sooner), and once more if a request is answered 401.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::{Method, StatusCode, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;

use crate::problem::{ApiError, Problem};

mod transport;

use transport::{Body, connector};

/// Idle connections are dropped before Signpost would close them (30 s without a request),
/// so a request is never sent on a connection the server is closing at that moment.
const POOL_IDLE: Duration = Duration::from_secs(20);
/// Page size for lists (the API's maximum).
const PAGE: u32 = 1000;

/// A request body that can be built again for a retry.
#[derive(Clone, Debug)]
pub enum ReqBody {
    Empty,
    Bytes(Bytes),
    /// A local file, streamed (never held in memory whole).
    File(PathBuf),
}

#[derive(Debug)]
struct Token {
    bearer: String,
    refresh_after: Instant,
}

/// A configured connection to one Signpost.
pub struct Client {
    http: HyperClient<HttpsConnector<HttpConnector>, Body>,
    base: String,
    key_id: String,
    key_secret: String,
    token: Mutex<Option<Token>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret or the token.
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// Checks an endpoint and returns it without a trailing `/`.
pub fn normalise_endpoint(endpoint: &str) -> Result<String, String> {
    let trimmed = endpoint.trim().trim_end_matches('/');
    let uri: Uri = trimmed
        .parse()
        .map_err(|e| format!("{endpoint:?} is not a URL: {e}"))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => return Err(format!("{endpoint:?} must start with http:// or https://")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(format!("{endpoint:?} has no host"));
    }
    if uri.query().is_some() {
        return Err(format!("{endpoint:?} must not have a query"));
    }
    Ok(trimmed.to_owned())
}

/// Percent-encodes a path segment (`keep_slash`: a path of segments) or a query value.
pub fn encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || (keep_slash && b == b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The parts of an answer the resources use.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Bytes,
}

impl Client {
    pub fn new(endpoint: &str, key_id: &str, key_secret: &str) -> Result<Self, String> {
        let base = normalise_endpoint(endpoint)?;
        let http = HyperClient::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(POOL_IDLE)
            .build(connector(base.starts_with("https://"))?);
        Ok(Self {
            http,
            base,
            key_id: key_id.to_owned(),
            key_secret: key_secret.to_owned(),
            token: Mutex::new(None),
        })
    }

    pub fn endpoint(&self) -> &str {
        &self.base
    }

    async fn bearer(&self, renew: bool) -> Result<String, ApiError> {
        let mut token = self.token.lock().await;
        if !renew
            && let Some(t) = token.as_ref()
            && Instant::now() < t.refresh_after
        {
            return Ok(t.bearer.clone());
        }
        let form = format!(
            "grant_type=client_credentials&client_id={}&client_secret={}",
            encode(&self.key_id, false),
            encode(&self.key_secret, false)
        );
        let (status, headers, body) = self
            .exchange_retrying(
                &Method::POST,
                "/v1/auth/token",
                &ReqBody::Bytes(Bytes::from(form)),
                Some("application/x-www-form-urlencoded"),
                None,
            )
            .await?;
        if !status.is_success() {
            let mut problem = problem_from(status, &headers, &body);
            let hint = format!(
                "exchanging API key {} for a token at {}/v1/auth/token",
                self.key_id, self.base
            );
            problem.detail = Some(match problem.detail.take() {
                Some(d) => format!("{d} ({hint})"),
                None => hint,
            });
            return Err(ApiError::from(problem));
        }
        #[derive(serde::Deserialize)]
        struct TokenAnswer {
            access_token: String,
            expires_in: u64,
        }
        let answer: TokenAnswer = parse(&body)?;
        *token = Some(Token {
            bearer: answer.access_token.clone(),
            refresh_after: Instant::now() + renew_after(answer.expires_in),
        });
        Ok(answer.access_token)
    }

    /// An authenticated request; a non-2xx answer is an [`ApiError::Problem`].
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: ReqBody,
        content_type: Option<&str>,
    ) -> Result<Answer, ApiError> {
        let mut renewed = false;
        loop {
            let bearer = self.bearer(renewed).await?;
            let (status, headers, answer) = self
                .exchange_retrying(&method, path, &body, content_type, Some(&bearer))
                .await?;
            if status == StatusCode::UNAUTHORIZED && !renewed {
                // Expired (clock skew, long apply) or signed with a rotated secret: once more
                // with a fresh token.
                renewed = true;
                continue;
            }
            if !status.is_success() {
                return Err(ApiError::from(problem_from(status, &headers, &answer)));
            }
            return Ok(Answer {
                status,
                body: answer,
            });
        }
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        let answer = self.send(Method::GET, path, ReqBody::Empty, None).await?;
        parse(&answer.body)
    }

    /// `GET`, with 404 as `None`.
    pub async fn get_opt<T: DeserializeOwned>(&self, path: &str) -> Result<Option<T>, ApiError> {
        match self.get(path).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn json<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> Result<T, ApiError> {
        let bytes = serde_json::to_vec(body)
            .map_err(|e| ApiError::Transport(format!("cannot encode the request: {e}")))?;
        let answer = self
            .send(
                method,
                path,
                ReqBody::Bytes(Bytes::from(bytes)),
                Some("application/json"),
            )
            .await?;
        parse(&answer.body)
    }

    /// `DELETE`; `Ok(false)` when it was already gone (404).
    pub async fn delete(&self, path: &str) -> Result<bool, ApiError> {
        match self.send(Method::DELETE, path, ReqBody::Empty, None).await {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Every item of a paged list (`path` may already have a query).
    pub async fn list<T: DeserializeOwned>(&self, path: &str) -> Result<Vec<T>, ApiError> {
        #[derive(serde::Deserialize)]
        struct Page<T> {
            items: Vec<T>,
            next_cursor: Option<String>,
        }
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut url = format!("{path}{sep}limit={PAGE}");
            if let Some(c) = &cursor {
                url.push_str("&cursor=");
                url.push_str(&encode(c, false));
            }
            let page: Page<T> = self.get(&url).await?;
            items.extend(page.items);
            match page.next_cursor {
                Some(c) if !c.is_empty() => cursor = Some(c),
                _ => return Ok(items),
            }
        }
    }
}

/// How long a token is used: until a minute before it expires, or half its lifetime when
/// that is shorter.
pub fn renew_after(expires_in: u64) -> Duration {
    let lifetime = Duration::from_secs(expires_in);
    lifetime - Duration::from_secs(60).min(lifetime / 2)
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::Transport(format!(
            "unexpected answer from Signpost ({e}): {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        ))
    })
}

/// The problem in an error answer; one is made up when the body is not problem+json.
fn problem_from(status: StatusCode, headers: &hyper::HeaderMap, body: &[u8]) -> Problem {
    let mut problem = serde_json::from_slice::<Problem>(body)
        .ok()
        .filter(|p| !p.code.is_empty())
        .unwrap_or_else(|| Problem {
            code: format!("http_{}", status.as_u16()),
            title: status
                .canonical_reason()
                .unwrap_or("unexpected answer")
                .to_lowercase(),
            detail: (!body.is_empty())
                .then(|| String::from_utf8_lossy(&body[..body.len().min(500)]).into_owned()),
            ..Problem::default()
        });
    problem.status = status.as_u16();
    if problem.request_id.is_none() {
        problem.request_id = headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
    }
    problem
}

#[cfg(test)]
mod tests;
