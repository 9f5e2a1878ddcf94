//! Conditional and ranged GETs of files: `ETag`/`If-None-Match`, `Last-Modified`/
//! `If-Modified-Since` (304), and single byte ranges (206/416), as phones resuming a
//! firmware download and caches revalidating a setting file expect.

use std::time::{Duration, SystemTime};

use poem::http::{HeaderMap, HeaderValue, StatusCode, header};
use poem::web::headers::{HeaderMapExt, IfModifiedSince, LastModified};
use poem::{Body, Response};
use signpost_domain::Timestamp;
use signpost_store::blobs::ByteRange;

/// What identifies one version of a file.
#[derive(Debug, Clone)]
pub struct Validators {
    /// Quoted, strong: the body's SHA-256.
    pub etag: String,
    /// `None` for rendered templates: their bytes change with the phone asking (its
    /// firmware version), not only with the file, so only the ETag can tell.
    pub last_modified: Option<SystemTime>,
}

/// `"<hex of the hash>"`, written bytewise: `hex::encode` collects a `String` one `char`
/// at a time, 1.7k instructions for every file a booting phone fetches.
fn strong_etag(sha256: &[u8; 32]) -> String {
    let mut quoted = [b'"'; 66];
    hex::encode_to_slice(sha256, &mut quoted[1..65]).expect("64 bytes hold 32 in hex");
    String::from_utf8(quoted.to_vec()).expect("hex digits and quotes are ASCII")
}

impl Validators {
    pub fn new(sha256: &[u8; 32], updated_at: Timestamp) -> Self {
        let millis = u64::try_from(updated_at.unix_millis()).unwrap_or(0);
        Self {
            etag: strong_etag(sha256),
            last_modified: Some(SystemTime::UNIX_EPOCH + Duration::from_millis(millis)),
        }
    }

    /// Validators of a body rendered per request: its hash only.
    pub fn rendered(sha256: &[u8; 32]) -> Self {
        Self {
            etag: strong_etag(sha256),
            last_modified: None,
        }
    }

    /// Adds `ETag`, `Last-Modified` and `Accept-Ranges` to a response.
    pub fn apply(&self, response: &mut Response) {
        if let Ok(etag) = HeaderValue::from_str(&self.etag) {
            response.headers_mut().insert(header::ETAG, etag);
        }
        if let Some(at) = self.last_modified {
            response.headers_mut().typed_insert(LastModified::from(at));
        }
        response
            .headers_mut()
            .insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    }

    /// Whether the client already has this version (answer 304). `If-None-Match` wins over
    /// `If-Modified-Since` when both are sent, as HTTP says.
    pub fn not_modified(&self, headers: &HeaderMap) -> bool {
        if let Some(tags) = headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
        {
            return tags
                .split(',')
                .map(str::trim)
                .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == self.etag);
        }
        match (headers.typed_get::<IfModifiedSince>(), self.last_modified) {
            (Some(since), Some(at)) => !since.is_modified(at),
            _ => false,
        }
    }

    /// The range to send: `Ok(None)` for the whole body (no `Range`, an `If-Range` that no
    /// longer matches, or several ranges, which are answered whole), `Err` for a range
    /// outside a body of `total` bytes (416).
    pub fn range(&self, headers: &HeaderMap, total: u64) -> Result<Option<ByteRange>, ()> {
        let Some(value) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
            return Ok(None);
        };
        if let Some(if_range) = headers.get(header::IF_RANGE).and_then(|v| v.to_str().ok())
            && if_range.trim() != self.etag
        {
            return Ok(None);
        }
        parse_range(value, total)
    }
}

fn parse_range(value: &str, total: u64) -> Result<Option<ByteRange>, ()> {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let (start, end) = spec.split_once('-').ok_or(())?;
    let number = |s: &str| s.trim().parse::<u64>().map_err(|_| ());
    let range = match (start.trim().is_empty(), end.trim().is_empty()) {
        // `bytes=-n`: the last n bytes.
        (true, false) => {
            let n = number(end)?;
            if n == 0 || total == 0 {
                return Err(());
            }
            ByteRange {
                start: total.saturating_sub(n),
                end_inclusive: Some(total - 1),
            }
        }
        (false, true) => ByteRange {
            start: number(start)?,
            end_inclusive: None,
        },
        (false, false) => {
            let (start, end) = (number(start)?, number(end)?);
            if end < start {
                return Err(());
            }
            ByteRange {
                start,
                end_inclusive: Some(end.min(total.saturating_sub(1))),
            }
        }
        (true, true) => return Err(()),
    };
    if range.start >= total {
        return Err(());
    }
    Ok(Some(range))
}

pub fn not_modified(validators: &Validators) -> Response {
    let mut response = Response::builder()
        .status(StatusCode::NOT_MODIFIED)
        .finish();
    validators.apply(&mut response);
    response
}

pub fn range_not_satisfiable(total: u64) -> Response {
    Response::builder()
        .status(StatusCode::RANGE_NOT_SATISFIABLE)
        .header(header::CONTENT_RANGE, format!("bytes */{total}"))
        .body(Body::empty())
}

/// `200` with the whole body, or `206` with `Content-Range` for `first..=last` of `total`.
pub fn body_response(
    content_type: &str,
    body: Body,
    partial: Option<(u64, u64, u64)>,
    length: u64,
) -> Response {
    let mut builder = Response::builder()
        .content_type(content_type)
        .header(header::CONTENT_LENGTH, length);
    builder = match partial {
        Some((first, last, total)) => builder.status(StatusCode::PARTIAL_CONTENT).header(
            header::CONTENT_RANGE,
            format!("bytes {first}-{last}/{total}"),
        ),
        None => builder.status(StatusCode::OK),
    };
    builder.body(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validators() -> Validators {
        Validators::new(&[0xab; 32], Timestamp::from_unix_millis(1_700_000_000_500))
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn the_etag_is_the_quoted_hex_of_the_hash() {
        let mut sha256 = [0u8; 32];
        sha256[0] = 0x0f;
        sha256[31] = 0xa0;
        let etag = Validators::rendered(&sha256).etag;
        assert_eq!(etag, format!("\"0f{}a0\"", "00".repeat(30)));
        assert_eq!(validators().etag, format!("\"{}\"", "ab".repeat(32)));
    }

    #[test]
    fn ranges() {
        let r = |v: &str| parse_range(v, 100);
        let range = |start, end| {
            Ok(Some(ByteRange {
                start,
                end_inclusive: end,
            }))
        };
        assert_eq!(r("bytes=0-9"), range(0, Some(9)));
        assert_eq!(r("bytes=90-"), range(90, None));
        assert_eq!(r("bytes=-10"), range(90, Some(99)));
        assert_eq!(r("bytes=-1000"), range(0, Some(99)));
        assert_eq!(r("bytes=50-1000"), range(50, Some(99)));
        assert_eq!(r("bytes=0-1,5-6"), Ok(None));
        assert_eq!(r("items=0-1"), Ok(None));
        assert_eq!(r("bytes=100-"), Err(()));
        assert_eq!(r("bytes=9-3"), Err(()));
        assert_eq!(r("bytes=-0"), Err(()));
        assert_eq!(r("bytes=x-1"), Err(()));
    }

    #[test]
    fn if_none_match_and_if_modified_since() {
        let v = validators();
        assert!(v.not_modified(&headers(&[("if-none-match", &v.etag)])));
        assert!(v.not_modified(&headers(&[(
            "if-none-match",
            &format!("\"x\", W/{}", v.etag)
        )])));
        assert!(!v.not_modified(&headers(&[("if-none-match", "\"other\"")])));
        assert!(v.not_modified(&headers(&[(
            "if-modified-since",
            "Tue, 14 Nov 2023 22:13:20 GMT"
        )])));
        assert!(!v.not_modified(&headers(&[(
            "if-modified-since",
            "Tue, 14 Nov 2023 22:13:19 GMT"
        )])));
        // If-None-Match decides when both are sent.
        assert!(!v.not_modified(&headers(&[
            ("if-none-match", "\"other\""),
            ("if-modified-since", "Tue, 14 Nov 2023 22:13:20 GMT"),
        ])));
    }

    #[test]
    fn if_range_that_no_longer_matches_sends_everything() {
        let v = validators();
        let stale = headers(&[("range", "bytes=0-9"), ("if-range", "\"old\"")]);
        assert_eq!(v.range(&stale, 100), Ok(None));
        let current = headers(&[("range", "bytes=0-9"), ("if-range", &v.etag)]);
        assert_eq!(
            v.range(&current, 100),
            Ok(Some(ByteRange {
                start: 0,
                end_inclusive: Some(9)
            }))
        );
    }
}
