//! What the end-to-end tests of the `signpost` binary share: the binary on a free port, a
//! small blocking HTTP client (plain, or TLS trusting exactly one certificate), REST set-up
//! calls, a private redis-server to stop and start, and a throwaway PostgreSQL database.
// Each test file uses its own part of this module.
#![allow(dead_code)]

pub mod phone;

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::{CertificateDer, ServerName};

pub const BIN: &str = env!("CARGO_BIN_EXE_signpost");
/// How long a starting process may take on a loaded machine.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long one HTTP exchange may take.
const HTTP_TIMEOUT: Duration = Duration::from_secs(30);

pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Runs a future to completion (the testkit's database helpers are async).
pub fn block_on<F: Future>(future: F) -> F::Output {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    runtime.unwrap().block_on(future)
}

/// One HTTP answer; header names in lower case.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        let mut found = self.headers.iter().filter(|(n, _)| n == name);
        found.next().map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::String(self.body.clone()))
    }
}

/// A blocking HTTP/1.0 client (no chunked bodies; the server closes after each answer):
/// one connection per request, plain or over TLS.
#[derive(Clone, Debug, Default)]
pub struct Http {
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl Http {
    pub fn plain() -> Self {
        Self::default()
    }

    /// HTTPS to `localhost`, trusting exactly `certificate` (DER), on the aws-lc-rs provider
    /// that the server's rustls uses too.
    pub fn trusting(certificate: &[u8]) -> Self {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from(certificate.to_vec()))
            .unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        Self {
            tls: Some(Arc::new(config)),
        }
    }

    pub fn send(
        &self,
        port: u16,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<Response> {
        let mut request = format!("{method} {path} HTTP/1.0\r\nHost: localhost\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        let request = [request.as_bytes(), body].concat();
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(HTTP_TIMEOUT))?;
        stream.set_write_timeout(Some(HTTP_TIMEOUT))?;
        stream.set_nodelay(true)?;
        let raw = match &self.tls {
            None => exchange(stream, &request)?,
            Some(config) => {
                let name = ServerName::try_from("localhost").unwrap();
                let connection = rustls::ClientConnection::new(config.clone(), name)
                    .map_err(io::Error::other)?;
                exchange(rustls::StreamOwned::new(connection, stream), &request)?
            }
        };
        parse_response(&raw)
    }

    pub fn get(&self, port: u16, path: &str) -> io::Result<Response> {
        self.send(port, "GET", path, &[], &[])
    }
}

/// Writes the request and reads until the server closes. A TLS peer that closes without
/// `close_notify` ends the read with `UnexpectedEof`; what arrived is then checked by length.
fn exchange(mut stream: impl Read + Write, request: &[u8]) -> io::Result<Vec<u8>> {
    stream.write_all(request)?;
    stream.flush()?;
    let mut raw = Vec::new();
    match stream.read_to_end(&mut raw) {
        Err(e) if e.kind() != io::ErrorKind::UnexpectedEof || raw.is_empty() => Err(e),
        _ => Ok(raw),
    }
}

fn parse_response(raw: &[u8]) -> io::Result<Response> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_owned());
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n");
    let split = split.ok_or_else(|| bad("no complete HTTP head"))?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut lines = head.split("\r\n");
    let status = match lines.next().unwrap_or_default().split_once(' ') {
        Some((version, rest)) if version.starts_with("HTTP/1.") => rest.get(..3),
        _ => None,
    };
    let status = status.and_then(|s| s.parse().ok());
    let status = status.ok_or_else(|| bad("not an HTTP answer"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let rest = &raw[split + 4..];
    let length = headers.iter().find(|(n, _)| n == "content-length");
    let body = match length.and_then(|(_, v)| v.parse::<usize>().ok()) {
        Some(length) => rest.get(..length).ok_or_else(|| bad("truncated body"))?,
        None => rest,
    };
    let body = String::from_utf8(body.to_vec()).map_err(|_| bad("body is not UTF-8"))?;
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// The binary with a data directory in `dir` and these variables.
pub fn signpost(dir: &Path, env: &[(&str, String)]) -> Command {
    let mut command = Command::new(BIN);
    command
        .current_dir(dir)
        .env("SIGNPOST_DATA_DIR", dir.join("data"));
    for (key, value) in env {
        command.env(key, value);
    }
    command
}

/// The run's output; a run still going after `limit` (say a server that should have refused
/// to start) is killed and fails the test.
pub fn output_within(command: &mut Command, limit: Duration) -> Output {
    let piped = command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = piped.spawn().unwrap();
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let stderr = child.wait_with_output().unwrap().stderr;
            panic!(
                "still running after {limit:?}: {}",
                String::from_utf8_lossy(&stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

pub fn one_line_failure(output: Output) -> String {
    assert!(!output.status.success(), "expected a failure");
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
    assert_eq!(stderr.lines().count(), 1, "one clear line, got: {stderr}");
    stderr
}

/// `signpost keys create … --json` with this environment: (id, secret).
pub fn create_key(dir: &Path, env: &[(&str, String)], args: &[&str]) -> (String, String) {
    let mut command = signpost(dir, env);
    let output = command
        .args(["keys", "create"])
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "keys create: {stderr}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let key: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    let field = |name: &str| key[name].as_str().unwrap().to_owned();
    (field("id"), field("secret"))
}

/// A running `signpost serve`, killed when dropped.
#[derive(Debug)]
pub struct Server {
    child: Child,
    pub port: u16,
    pub http: Http,
}

impl Server {
    pub fn start(dir: &Path, env: &[(&str, String)]) -> Self {
        Self::start_with(dir, env, Http::plain())
    }

    /// Starts and waits until `/healthz` answers through `http`.
    pub fn start_with(dir: &Path, env: &[(&str, String)], http: Http) -> Self {
        let port = free_port();
        let mut command = signpost(dir, env);
        command
            .env("SIGNPOST_LISTEN", format!("127.0.0.1:{port}"))
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        let child = command.spawn().unwrap();
        let mut server = Server { child, port, http };
        let deadline = Instant::now() + START_TIMEOUT;
        while server.try_get("/healthz").is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("signpost serve exited early: {status}");
            }
            assert!(Instant::now() < deadline, "signpost serve did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    pub fn try_get(&self, path: &str) -> io::Result<Response> {
        self.http.get(self.port, path)
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        let response = self.http.send(self.port, method, path, headers, body);
        response.unwrap_or_else(|e| panic!("{method} {path} on port {}: {e}", self.port))
    }

    /// Status and body, the body as JSON when it is JSON.
    pub fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let response = self.request("GET", path, &[], &[]);
        (response.status, response.json())
    }

    /// The body of a GET that must answer 200.
    pub fn body(&self, path: &str) -> String {
        let response = self.request("GET", path, &[], &[]);
        assert_eq!(response.status, 200, "GET {path}: {}", response.body);
        response.body
    }

    /// SIGTERM, then the exit status.
    pub fn stop(mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let status = self.child.wait().unwrap();
        std::mem::forget(self);
        status
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls readiness until it has the expected status (backends take a moment to notice).
pub fn await_readiness(server: &Server, expected: u16) -> serde_json::Value {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        let (status, body) = server.get("/readyz");
        if status == expected {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "readiness stayed {status}: {body}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A platform admin's bearer token on one server, for the REST writes of a test.
#[derive(Debug)]
pub struct Admin<'a> {
    server: &'a Server,
    token: String,
}

impl<'a> Admin<'a> {
    /// Creates a platform-admin key with `signpost keys create` and signs in with it.
    pub fn bootstrap(server: &'a Server, dir: &Path, env: &[(&str, String)]) -> Self {
        let (id, secret) = create_key(dir, env, &["--role", "platform-admin"]);
        let form = format!("grant_type=client_credentials&client_id={id}&client_secret={secret}");
        let form_type = ("Content-Type", "application/x-www-form-urlencoded");
        let response = server.request("POST", "/v1/auth/token", &[form_type], form.as_bytes());
        assert_eq!(response.status, 200, "{}", response.body);
        let token = response.json()["access_token"].as_str().unwrap().to_owned();
        Self { server, token }
    }

    /// PUT of a JSON body, which must answer 200 or 201.
    pub fn put(&self, path: &str, body: serde_json::Value) {
        let authorization = format!("Bearer {}", self.token);
        let headers = [
            ("Authorization", authorization.as_str()),
            ("Content-Type", "application/json"),
        ];
        let response = self
            .server
            .request("PUT", path, &headers, body.to_string().as_bytes());
        let status = response.status;
        assert!(
            matches!(status, 200 | 201),
            "PUT {path}: {status} {}",
            response.body
        );
    }

    pub fn put_device(&self, tenant: &str, mac: &str, url: &str) {
        let path = format!("/v1/tenants/{tenant}/devices/{mac}");
        self.put(&path, serde_json::json!({ "setting_server": url }));
    }
}

/// A throwaway redis-server a test can stop and start (the shared one must stay up).
#[derive(Debug)]
pub struct PrivateRedis {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl PrivateRedis {
    pub fn start() -> Self {
        let mut redis = PrivateRedis {
            port: free_port(),
            dir: tempfile::tempdir().unwrap(),
            child: None,
        };
        redis.restart();
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn restart(&mut self) {
        let port = self.port.to_string();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port,
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .current_dir(self.dir.path())
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server on PATH (tests/run.sh installs it)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "private redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: gone at once, nothing kept.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A fresh PostgreSQL database, dropped with this guard (declare it before the servers that
/// use it, so that they are dropped first).
#[derive(Debug)]
pub struct DatabaseGuard(Option<signpost_testkit::TestDatabase>);

impl DatabaseGuard {
    /// `None` when this run did not ask for PostgreSQL (it panics when it did and cannot).
    pub fn create() -> Option<Self> {
        block_on(signpost_testkit::TestDatabase::create()).map(|db| Self(Some(db)))
    }

    pub fn url(&self) -> String {
        self.0.as_ref().map(|db| db.url.clone()).unwrap_or_default()
    }
}

impl Drop for DatabaseGuard {
    fn drop(&mut self) {
        if let Some(database) = self.0.take() {
            block_on(database.drop_database());
        }
    }
}
