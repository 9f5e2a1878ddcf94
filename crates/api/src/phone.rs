//! The phone endpoints: what a Snom phone fetches at boot. Public, unauthenticated and hot:
//! parse the path, ask the phone service, write the document. Every "no" is the same
//! 200 empty document, so the answers reveal nothing about which MACs exist.
//!
//! They are routed twice over. [`PhoneLane`] answers a plain `GET` of a phone path before
//! the router sees it; everything else (another method, a percent-encoded path, a path that
//! is not a phone's) goes through the router to the handlers below, which give the same
//! answers.

use std::borrow::Cow;
use std::time::Duration;

use bytes::Bytes;

use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::web::{Data, Path};
use poem::{Body, Endpoint, IntoResponse, Request, Response, handler};
use signpost_domain::{Mac, PhoneType, SettingsFormat};
use signpost_service::phone::{PhoneAnswer, PhoneRequest, PublicBase};

use crate::AppState;
use crate::problem::ApiError;

/// How long a phone is asked to wait when the registry is down and nothing is cached.
const UNAVAILABLE_RETRY_AFTER: &str = "30";

/// `GET /{phone_type}/{phone_type}.php?mac={MAC}`: the legacy redirect path, answered in
/// the plain-text settings format.
#[handler]
pub async fn legacy(
    req: &Request,
    Path((dir, file)): Path<(String, String)>,
    state: Data<&AppState>,
) -> poem::Result<Response> {
    if !is_legacy_file(&dir, &file) {
        return Err(ApiError::not_found().into());
    }
    Ok(answer(req, &state, SettingsFormat::Text, legacy_mac(req)).await)
}

/// `snomD785` and `snomD785.php`: the file is named after its directory.
fn is_legacy_file(dir: &str, file: &str) -> bool {
    file.strip_suffix(".php")
        .is_some_and(|stem| stem == dir && PhoneType::is_valid(stem))
}

/// Read by hand rather than with a typed extractor: a repeated or malformed `mac` must get
/// the same answer as none (the User-Agent may still name the phone), not a 400.
fn legacy_mac(req: &Request) -> Option<Mac> {
    req.uri()
        .query()
        .and_then(|query| {
            url::form_urlencoded::parse(query.as_bytes())
                .find_map(|(k, v)| (k == "mac").then_some(v))
        })
        .and_then(|m| m.parse::<Mac>().ok())
}

/// `GET /{phone_type}.htm` and `GET /{phone_type}-{MAC}.htm`: what a phone whose setting
/// server is Signpost's root asks for, answered in the XML settings format.
#[handler]
pub async fn settings_file(
    req: &Request,
    Path(file): Path<String>,
    state: Data<&AppState>,
) -> poem::Result<Response> {
    let Some((_, mac)) = parse_settings_file(&file) else {
        return Err(ApiError::not_found().into());
    };
    Ok(answer(req, &state, SettingsFormat::Xml, mac).await)
}

/// `snomD785.htm` → (type, None); `snomD785-000413AABBCC.htm` → (type, Some(MAC)).
fn parse_settings_file(file: &str) -> Option<(&str, Option<Mac>)> {
    let stem = file.strip_suffix(".htm")?;
    let (phone_type, mac) = match stem.rsplit_once('-') {
        Some((phone_type, mac)) => (phone_type, Some(Mac::parse_compact(mac).ok()?)),
        None => (stem, None),
    };
    PhoneType::is_valid(phone_type).then_some((phone_type, mac))
}

/// The phone endpoints ahead of the router, so that a phone's `GET` skips the route table,
/// its path-parameter copies and the state lookup: a seventh of a phone request's
/// instructions (callgrind). Whatever is not plainly a phone path goes on to `next`, where
/// the same handlers answer it.
pub struct PhoneLane<E> {
    next: E,
    state: AppState,
}

impl<E> PhoneLane<E> {
    pub fn new(next: E, state: AppState) -> Self {
        Self { next, state }
    }
}

/// A phone path as [`PhoneLane`] takes it.
#[derive(Debug, PartialEq)]
enum PhonePath {
    /// `/{type}.htm` or `/{type}-{MAC}.htm`.
    Settings(Option<Mac>),
    /// `/{type}/{type}.php`, the MAC in the query.
    Legacy,
}

/// The REST API's first segment: the router sends `/v1/…` there, whatever follows.
const API_SEGMENT: &str = "v1";

fn phone_path(path: &str) -> Option<PhonePath> {
    let rest = path.strip_prefix('/')?;
    // The router percent-decodes path segments; such paths are left to it.
    if rest.contains('%') {
        return None;
    }
    match rest.split_once('/') {
        None => parse_settings_file(rest).map(|(_, mac)| PhonePath::Settings(mac)),
        Some((dir, file)) if dir != API_SEGMENT && is_legacy_file(dir, file) => {
            Some(PhonePath::Legacy)
        }
        Some(_) => None,
    }
}

impl<E: Endpoint> Endpoint for PhoneLane<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        // Only GET: the router turns HEAD into a GET without a body, and refuses the rest.
        let lane = (req.method() == Method::GET)
            .then(|| phone_path(req.uri().path()))
            .flatten();
        let (format, mac) = match lane {
            Some(PhonePath::Settings(mac)) => (SettingsFormat::Xml, mac),
            Some(PhonePath::Legacy) => (SettingsFormat::Text, legacy_mac(&req)),
            None => return self.next.call(req).await.map(IntoResponse::into_response),
        };
        Ok(answer(&req, &self.state, format, mac).await)
    }
}

async fn answer(
    req: &Request,
    state: &AppState,
    format: SettingsFormat,
    mac: Option<Mac>,
) -> Response {
    let request = PhoneRequest {
        format,
        mac,
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok()),
        source: state.trusted_proxies.of_request(req),
        public_base: public_base(req, state),
    };
    let response = match state.phone.answer(request).await {
        PhoneAnswer::Document(document) => Response::builder()
            .status(StatusCode::OK)
            .content_type(format.content_type())
            .body(match document {
                // The empty documents are constants: no copy per request.
                Cow::Borrowed(text) => Body::from_bytes(Bytes::from_static(text.as_bytes())),
                Cow::Owned(text) => Body::from_string(text),
            }),
        PhoneAnswer::Limited { retry_after } => Response::builder()
            .status(StatusCode::TOO_MANY_REQUESTS)
            .header(header::RETRY_AFTER, retry_after_seconds(retry_after))
            .content_type("text/plain; charset=utf-8")
            .body("too many requests\n"),
        PhoneAnswer::Unavailable => Response::builder()
            .status(StatusCode::SERVICE_UNAVAILABLE)
            .header(header::RETRY_AFTER, UNAVAILABLE_RETRY_AFTER)
            .content_type("text/plain; charset=utf-8")
            .body("temporarily unavailable\n"),
    };
    let mut response = response;
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Where this service is reached, for the hosted-file URLs: `public_url` when configured,
/// else the scheme and `Host` of the request (the phone reached us there, so it can again).
pub fn public_base<'a>(req: &'a Request, state: &'a AppState) -> PublicBase<'a> {
    if let Some(url) = &state.public_url {
        return PublicBase::Configured(url);
    }
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        })
        .unwrap_or("localhost");
    let scheme = if state.tls { "https" } else { "http" };
    PublicBase::Request { scheme, host }
}

/// Whole seconds, rounded up: `Retry-After` has no fractions, and 0 would invite a retry
/// storm.
fn retry_after_seconds(wait: Duration) -> String {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    seconds.max(1).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_file_names() {
        assert_eq!(
            parse_settings_file("snomD785.htm"),
            Some(("snomD785", None))
        );
        let (phone_type, mac) = parse_settings_file("snomD785-000413AABBCC.htm").unwrap();
        assert_eq!(phone_type, "snomD785");
        assert_eq!(mac.unwrap().to_string(), "000413AABBCC");
        assert_eq!(parse_settings_file("snomD785-0004.htm"), None);
        assert_eq!(parse_settings_file("snomD785.xml"), None);
        assert_eq!(parse_settings_file("a b.htm"), None);
        assert_eq!(parse_settings_file(".htm"), None);
    }

    #[test]
    fn the_lane_takes_plain_phone_paths_only() {
        let mac = "000413AABBCC".parse::<Mac>().ok();
        assert_eq!(
            phone_path("/snomD785-000413AABBCC.htm"),
            Some(PhonePath::Settings(mac))
        );
        assert_eq!(phone_path("/snomD785.htm"), Some(PhonePath::Settings(None)));
        assert_eq!(
            phone_path("/snomD785/snomD785.php"),
            Some(PhonePath::Legacy)
        );
        for routed in [
            "/",
            "/healthz",
            "/docs",
            "/xmlrpc",
            "/v1/v1.php",
            "/v1.htm/x",
            "/snomD785%2D000413AABBCC.htm",
            "/snomD785.htm/",
            "/snom710/snomD785.php",
            "/snomD785/snomD785.php/x",
            "/p/acme/token/snomD785.htm",
            "snomD785.htm",
        ] {
            assert_eq!(phone_path(routed), None, "{routed}");
        }
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_seconds(Duration::from_millis(1)), "1");
        assert_eq!(retry_after_seconds(Duration::from_millis(1500)), "2");
        assert_eq!(retry_after_seconds(Duration::from_secs(3)), "3");
        assert_eq!(retry_after_seconds(Duration::ZERO), "1");
    }
}
