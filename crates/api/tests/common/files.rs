//! Helpers for the hosted-file tests (`tests/files.rs`, `tests/hosted.rs`): requests with
//! headers and raw bodies, bodies that stream in chunks or break off, the blobs a tenant has,
//! the URL a phone is handed by its redirect, and the Range/conditional checks both download
//! paths share.
// Each test file uses its own part of this module.
#![allow(dead_code)]

use std::io;

use bytes::Bytes;
use poem::Body;
use poem::http::{HeaderMap, Method};
use poem::test::TestResponse;
use serde_json::{Value, json};

use crate::common::TestApp;

/// Runs each case as a test on every store: the filesystem store and SQLite (always), S3 (a
/// fresh bucket; skipped with a note when the run gives no S3) and SQLite, and the filesystem
/// store and PostgreSQL (skipped with a note without PostgreSQL).
macro_rules! on_every_store {
    ($($case:ident),* $(,)?) => {
        /// Filesystem blobs, SQLite registry.
        mod fs {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let app = super::TestApp::sqlite().await;
                    super::$case(&app).await;
                    app.finish().await;
                }
            )*
        }
        /// S3 blobs, SQLite registry; skipped with a note when the run gives no S3.
        mod s3 {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(blobs) = super::common::s3_blobs().await else { return };
                    let app = super::TestApp::sqlite_with_blobs(blobs).await;
                    super::$case(&app).await;
                    app.finish().await;
                }
            )*
        }
        /// Filesystem blobs, PostgreSQL registry; skipped with a note without PostgreSQL.
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(app) = super::TestApp::postgres().await else { return };
                    super::$case(&app).await;
                    app.finish().await;
                }
            )*
        }
    };
}

/// File paths (as sent in the URL) and the code each is refused with. poem percent-decodes
/// the wildcard segment before the handler sees it.
pub const BAD_PATHS: &[(&str, &str)] = &[
    ("..", "path_dot_segment"),
    ("../x", "path_dot_segment"),
    ("a/../x", "path_dot_segment"),
    ("a/..", "path_dot_segment"),
    ("./x", "path_dot_segment"),
    ("a/./b", "path_dot_segment"),
    ("%2e%2e/x", "path_dot_segment"),
    ("..%2Fx", "path_dot_segment"),
    ("a//b", "path_empty_segment"),
    ("a/", "path_empty_segment"),
    ("/x", "path_absolute"),
    ("a%5Cb", "path_backslash"),
    ("..%5Cx", "path_backslash"),
    ("a%01b", "path_control_character"),
    ("a%00b", "path_control_character"),
    ("a%0Ab", "path_control_character"),
    ("a%25b", "path_percent"),
    ("%252e%252e/x", "path_percent"),
];

pub const D785_UA: &str = "Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33 2010.12-00004-g9ba52f5 000413922D24 SXM:0 UXM:0)";
pub const KIB: usize = 1024;
pub const OCTETS: &str = "application/octet-stream";
pub const FORM: &str = "application/x-www-form-urlencoded";
pub const HTML: &str = "text/html; charset=utf-8";
/// The firmware file the hosted tests upload; its name carries the version `D785_UA` reports.
pub const FIRMWARE: &str = "firmware/snomD785-10.1.33.33.bin";
/// The MAC in `D785_UA`.
pub const D24: &str = "000413922D24";

/// A response read whole.
#[derive(Debug)]
pub struct Got {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Got {
    pub async fn read(response: TestResponse) -> Self {
        let status = response.0.status().as_u16();
        let headers = response.0.headers().clone();
        let body = response.0.into_body().into_vec().await.expect("body");
        Self {
            status,
            headers,
            body,
        }
    }

    /// Fails the test, showing the body, unless the status is `status`.
    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(self.status, status, "{}", self.text());
        self
    }

    /// The header's value, or "" when absent; a header sent twice fails the test.
    pub fn header(&self, name: &str) -> &str {
        let values: Vec<_> = self.headers.get_all(name).iter().collect();
        assert!(
            values.len() <= 1,
            "{name} sent {} times: {values:?}",
            values.len()
        );
        values.first().map_or("", |v| v.to_str().expect("ASCII"))
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// Fails the test unless this is a problem document with `status` and `code`.
    #[track_caller]
    pub fn refused(&self, status: u16, code: &str) {
        assert_eq!(self.problem(), (status, code.to_owned()), "{}", self.text());
    }

    /// The status and the problem document's `code`.
    pub fn problem(&self) -> (u16, String) {
        let code = self.json()["code"].as_str().unwrap_or_default().to_owned();
        (self.status, code)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Everything but the request id: two refusals alike in this are indistinguishable.
    pub fn shape(&self) -> (u16, Vec<(String, String)>, Vec<u8>) {
        let mut headers: Vec<(String, String)> = self
            .headers
            .iter()
            .filter(|(name, _)| name.as_str() != "x-request-id")
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("?").to_owned()))
            .collect();
        headers.sort();
        (self.status, headers, self.body.clone())
    }
}

/// One tenant's files, worked on with a bearer token (a platform admin's unless given).
pub struct Api<'a> {
    pub app: &'a TestApp,
    pub tenant: &'a str,
    token: String,
}

impl<'a> Api<'a> {
    /// Creates `tenant` with the setting server `hosted`: its phones fetch files from us.
    pub async fn hosted_tenant(app: &'a TestApp, tenant: &'a str) -> Self {
        let token = app.platform_token().await;
        let api = Self::with_token(app, tenant, &token);
        let (status, body) = api.put_tenant(json!({})).await;
        assert_eq!(status, 201, "{body}");
        api
    }

    pub fn with_token(app: &'a TestApp, tenant: &'a str, token: &str) -> Self {
        Self {
            app,
            tenant,
            token: token.to_owned(),
        }
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    /// Writes the tenant (hosted) with `extra` fields on top, e.g. a status.
    pub async fn put_tenant(&self, extra: Value) -> (u16, Value) {
        let mut body = json!({"display_name": self.tenant, "default_setting_server": "hosted"});
        let fields = extra.as_object().expect("an object").clone();
        body.as_object_mut().expect("an object").extend(fields);
        let uri = format!("/v1/tenants/{}", self.tenant);
        self.app.call("PUT", &uri, &self.token, Some(body)).await
    }

    /// Registers a device without any URL of its own: it gets the tenant's (hosted).
    pub async fn device(&self, mac: &str) {
        let uri = format!("/v1/tenants/{}/devices/{mac}", self.tenant);
        let (status, body) = self
            .app
            .call("PUT", &uri, &self.token, Some(json!({})))
            .await;
        assert_eq!(status, 201, "{body}");
    }

    pub fn url(&self, path: &str) -> String {
        format!("/v1/tenants/{}/files/{path}", self.tenant)
    }

    /// Sends with the bearer token; the response body is not read yet.
    pub async fn request(
        &self,
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
        body: impl Into<Body>,
    ) -> TestResponse {
        let mut request = self.app.client.request(method, uri);
        request = request.header("authorization", format!("Bearer {}", self.token));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(body).send().await
    }

    pub async fn send(
        &self,
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
        body: impl Into<Body>,
    ) -> Got {
        Got::read(self.request(method, uri, headers, body).await).await
    }

    pub async fn put(&self, path: &str, body: impl Into<Body>, headers: &[(&str, &str)]) -> Got {
        self.send(Method::PUT, &self.url(path), headers, body).await
    }

    /// Uploads `bytes` as `path` twice: with `Content-Length`, and chunked without it.
    pub async fn put_both_ways(&self, path: &str, bytes: &[u8]) -> [Got; 2] {
        let length = bytes.len().to_string();
        let declared = [
            ("content-type", OCTETS),
            ("content-length", length.as_str()),
        ];
        [
            self.put(path, bytes.to_vec(), &declared).await,
            self.put(
                path,
                streamed(bytes, 64 * KIB, false),
                &[("content-type", OCTETS)],
            )
            .await,
        ]
    }

    /// Uploads `body` as `path` (opaque bytes); answers the file's description.
    pub async fn upload(&self, path: &str, body: impl Into<Body>) -> Value {
        let put = self.put(path, body, &[("content-type", OCTETS)]).await;
        assert!(matches!(put.status, 200 | 201), "{path}: {}", put.text());
        put.json()
    }

    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Got {
        let uri = self.url(path);
        self.send(Method::GET, &uri, headers, Body::empty()).await
    }

    pub async fn delete(&self, path: &str) -> Got {
        let uri = self.url(path);
        self.send(Method::DELETE, &uri, &[], Body::empty()).await
    }

    /// `GET /v1/tenants/{t}/files?{query}`.
    pub async fn list(&self, query: &str) -> Got {
        let uri = format!("/v1/tenants/{}/files?{query}", self.tenant);
        self.send(Method::GET, &uri, &[], Body::empty()).await
    }

    /// The paths `list` answers (one page).
    pub async fn paths(&self, query: &str) -> Vec<String> {
        let page = self.list(query).await.expect(200).json();
        page["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|f| f["path"].as_str().expect("a path").to_owned())
            .collect()
    }

    pub async fn post(&self, uri: &str) -> Got {
        self.send(Method::POST, uri, &[], Body::empty()).await
    }

    /// How many blobs the tenant's files take in the store. Also checks that the filesystem
    /// store left no temporary file behind.
    pub async fn blob_count(&self) -> usize {
        let prefix = format!("files/{}/", self.tenant);
        let blobs = self.app.blobs.list(&prefix, None, 100).await.expect("list");
        if let Some(root) = &self.app.blob_root {
            let tmp: Vec<_> = std::fs::read_dir(root.join("_tmp")).unwrap().collect();
            assert!(tmp.is_empty(), "temporary files left over: {tmp:?}");
        }
        blobs.len()
    }
}

/// Makes the filesystem store's blobs of `tenant` two hours old, past the sweep's grace.
pub fn age_blobs(root: &std::path::Path, tenant: &str) {
    let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    for entry in std::fs::read_dir(root.join("files").join(tenant)).unwrap() {
        let file = std::fs::File::options()
            .write(true)
            .open(entry.unwrap().path());
        file.unwrap().set_modified(two_hours_ago).unwrap();
    }
}

/// A phone's GET: no credentials.
pub async fn phone_get(app: &TestApp, uri: &str, headers: &[(&str, &str)]) -> Got {
    let mut request = app.client.get(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    Got::read(request.send().await).await
}

/// The path (`/p/{tenant}/{token}/`) of the setting server the redirect at `uri` names.
pub async fn hosted_base(app: &TestApp, uri: &str, user_agent: Option<&str>) -> String {
    let headers: Vec<(&str, &str)> = user_agent
        .map(|ua| ("user-agent", ua))
        .into_iter()
        .collect();
    let text = phone_get(app, uri, &headers).await.expect(200).text();
    let url = text
        .split_once("<setting_server perm=\"RW\">")
        .and_then(|(_, rest)| rest.split_once("</setting_server>"))
        .map(|(url, _)| url)
        .unwrap_or_else(|| panic!("no setting server in {text}"));
    let path = url
        .strip_prefix("http://localhost")
        .unwrap_or_else(|| panic!("not a URL of ours: {url}"));
    assert!(path.starts_with("/p/") && path.ends_with('/'), "{url}");
    path.to_owned()
}

/// `actual` cut down to the fields `expected` has (in nested objects and arrays too), to
/// compare the two.
pub fn subset(actual: &Value, expected: &Value) -> Value {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => e
            .iter()
            .map(|(k, v)| (k.clone(), subset(a.get(k).unwrap_or(&Value::Null), v)))
            .collect(),
        (Value::Array(a), Value::Array(e)) if a.len() == e.len() => {
            a.iter().zip(e).map(|(a, e)| subset(a, e)).collect()
        }
        _ => actual.clone(),
    }
}

/// `len` bytes that differ from one `seed` to another.
pub fn pattern(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| ((i * 31 + usize::from(seed) * 7 + i / 251) % 251) as u8)
        .collect()
}

/// `bytes` in chunks of `chunk`; with `fail`, the stream then breaks off instead of ending,
/// as when the client goes away mid-upload.
pub fn streamed(bytes: &[u8], chunk: usize, fail: bool) -> Body {
    let mut items: Vec<io::Result<Bytes>> = bytes
        .chunks(chunk)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    if fail {
        let reset = io::Error::new(io::ErrorKind::ConnectionReset, "the client went away");
        items.push(Err(reset));
    }
    Body::from_bytes_stream(futures::stream::iter(items))
}

/// A file read through `/v1` or by a phone.
pub enum Target<'a> {
    Api(&'a Api<'a>, &'a str),
    Phone(&'a TestApp, String),
}

impl Target<'_> {
    pub async fn get(&self, headers: &[(&str, &str)]) -> Got {
        match self {
            Target::Api(api, path) => api.get(path, headers).await,
            Target::Phone(app, uri) => phone_get(app, uri, headers).await,
        }
    }

    pub async fn head(&self) -> Got {
        match self {
            Target::Api(api, path) => {
                let uri = api.url(path);
                api.send(Method::HEAD, &uri, &[], Body::empty()).await
            }
            Target::Phone(app, uri) => Got::read(app.client.head(uri).send().await).await,
        }
    }
}

/// Range requests, `If-Range`, `If-None-Match` and `If-Modified-Since` on a file of 1000
/// bytes holding `body`.
pub async fn check_ranges_and_conditions(target: &Target<'_>, body: &[u8]) {
    assert_eq!(body.len(), 1000);
    let whole = target.get(&[]).await.expect(200);
    assert!(whole.body == body);
    assert_eq!(whole.header("content-type"), OCTETS);
    assert_eq!(whole.header("accept-ranges"), "bytes");
    let (etag, modified) = (whole.header("etag"), whole.header("last-modified"));
    assert!(
        etag.starts_with('"') && modified.ends_with(" GMT"),
        "{whole:?}"
    );
    let head = target.head().await.expect(200);
    assert_eq!((head.header("etag"), head.body.len()), (etag, 0));

    for (range, content_range, slice) in [
        ("bytes=0-9", "bytes 0-9/1000", &body[..10]),
        ("bytes=-5", "bytes 995-999/1000", &body[995..]),
        ("bytes=990-", "bytes 990-999/1000", &body[990..]),
        ("bytes=500-5000", "bytes 500-999/1000", &body[500..]),
    ] {
        let got = target.get(&[("range", range)]).await;
        assert_eq!(got.status, 206, "{range}");
        assert_eq!(got.header("content-range"), content_range, "{range}");
        assert!(got.body == slice, "{range}");
        assert_eq!(got.header("etag"), etag);
    }
    for range in ["bytes=1000-", "bytes=5-2", "bytes=-0"] {
        let got = target.get(&[("range", range)]).await;
        assert_eq!(got.status, 416, "{range}");
        assert_eq!(got.header("content-range"), "bytes */1000", "{range}");
    }
    let answered_whole: [&[(&str, &str)]; 4] = [
        &[("range", "bytes=0-1,5-6")],
        &[("range", "bytes=0-9"), ("if-range", "\"stale\"")],
        &[("if-none-match", "\"other\"")],
        &[("if-modified-since", "Thu, 01 Jan 1970 00:00:00 GMT")],
    ];
    for headers in answered_whole {
        let got = target.get(headers).await;
        assert!(
            got.status == 200 && got.body == body,
            "{headers:?}: {got:?}"
        );
    }
    let current = target
        .get(&[("range", "bytes=0-9"), ("if-range", etag)])
        .await;
    assert_eq!((current.status, current.body.len()), (206, 10));
    for headers in [[("if-none-match", etag)], [("if-modified-since", modified)]] {
        let got = target.get(&headers).await;
        assert_eq!((got.status, got.body.len()), (304, 0), "{headers:?}");
        assert_eq!(got.header("etag"), etag);
    }
}
