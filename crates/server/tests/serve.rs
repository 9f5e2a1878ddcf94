//! The `signpost` binary end to end: it starts on embedded defaults and on the real backends,
//! reports readiness per backend, and refuses bad configuration with one clear line.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use signpost_testkit::{TestDatabase, TestS3, unique_name};

const BIN: &str = env!("CARGO_BIN_EXE_signpost");

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A minimal HTTP/1.0 GET: status code and body.
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Some((status, body))
}

fn signpost(dir: &Path, env: &[(&str, String)]) -> Command {
    let mut command = Command::new(BIN);
    command
        .current_dir(dir)
        .env("SIGNPOST_DATA_DIR", dir.join("data"));
    for (key, value) in env {
        command.env(key, value);
    }
    command
}

/// A running `signpost serve`, stopped with SIGTERM when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(dir: &Path, env: &[(&str, String)]) -> Self {
        let port = free_port();
        let mut command = signpost(dir, env);
        command
            .env("SIGNPOST_LISTEN", format!("127.0.0.1:{port}"))
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        let mut server = Server {
            child: command.spawn().unwrap(),
            port,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while get(port, "/healthz").is_none() {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("signpost serve exited early: {status}");
            }
            assert!(Instant::now() < deadline, "signpost serve did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let (status, body) = get(self.port, path).unwrap();
        (
            status,
            serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body)),
        )
    }

    /// SIGTERM, then the exit status.
    fn stop(mut self) -> std::process::ExitStatus {
        Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
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

fn one_line_failure(output: Output) -> String {
    assert!(!output.status.success(), "expected a failure");
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
    assert_eq!(stderr.lines().count(), 1, "one clear line, got: {stderr}");
    stderr
}

#[test]
fn embedded_defaults_serve_ready_and_stop_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    assert_eq!(
        server.get("/healthz"),
        (200, serde_json::json!({"status": "ok"}))
    );
    let (status, body) = server.get("/readyz");
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["checks"],
        serde_json::json!({"sqlite": "ok", "fs": "ok", "memory": "ok"})
    );
    assert!(server.stop().success(), "SIGTERM is a clean stop");
    assert!(dir.path().join("data/registry.db").exists());
}

#[test]
fn bad_configuration_exits_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("signpost.toml");
    std::fs::write(&file, "listen = \"127.0.0.1:1\"\ncolour = \"red\"\n").unwrap();
    let unknown_key = signpost(dir.path(), &[])
        .arg("--config")
        .arg(&file)
        .arg("config")
        .output()
        .unwrap();
    assert!(one_line_failure(unknown_key).contains("unknown key `colour`"));

    let malformed = signpost(
        dir.path(),
        &[("SIGNPOST_REDIS_URL", "redis//nohost".into())],
    )
    .arg("serve")
    .output()
    .unwrap();
    assert!(one_line_failure(malformed).contains("SIGNPOST_REDIS_URL"));

    let started = Instant::now();
    let unreachable = signpost(
        dir.path(),
        &[(
            "SIGNPOST_DATABASE_URL",
            format!("postgres://signpost@127.0.0.1:{}/signpost", free_port()),
        )],
    )
    .arg("serve")
    .output()
    .unwrap();
    let line = one_line_failure(unreachable);
    assert!(
        line.contains("cannot connect to the postgres registry"),
        "{line}"
    );
    assert!(started.elapsed() < Duration::from_secs(20), "fails fast");
}

#[test]
fn config_command_masks_secrets_and_migrate_runs() {
    let dir = tempfile::tempdir().unwrap();
    let shown = signpost(
        dir.path(),
        &[(
            "SIGNPOST_REDIS_URL",
            "redis://:hunter2@cache.internal:6379".into(),
        )],
    )
    .arg("config")
    .output()
    .unwrap();
    let text = String::from_utf8(shown.stdout).unwrap();
    assert!(
        shown.status.success() && text.contains("redis://:****@cache.internal:6379"),
        "{text}"
    );
    assert!(!text.contains("hunter2"));

    let migrate = signpost(dir.path(), &[]).arg("migrate").output().unwrap();
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
}

/// A throwaway redis-server this test can stop and start (the shared one must stay up).
struct PrivateRedis {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl PrivateRedis {
    fn start() -> Self {
        let mut redis = PrivateRedis {
            port: free_port(),
            dir: tempfile::tempdir().unwrap(),
            child: None,
        };
        redis.restart();
        redis
    }

    fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
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

    fn stop(&mut self) {
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

/// Polls readiness until it has the expected status (backends take a moment to notice).
fn await_readiness(server: &Server, expected: u16) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(20);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_backends_serve_ready_and_name_a_stopped_redis() {
    let (Some(database), Some(s3)) = (TestDatabase::create().await, TestS3::from_env()) else {
        return;
    };
    let bucket = s3.create_bucket().await;

    let mut redis = PrivateRedis::start();
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("SIGNPOST_DATABASE_URL", database.url.clone()),
        (
            "SIGNPOST_REDIS_URL",
            format!("redis://127.0.0.1:{}", redis.port),
        ),
        (
            "SIGNPOST_REDIS_PREFIX",
            format!("{}:", unique_name("serve")),
        ),
        ("SIGNPOST_S3_BUCKET", bucket),
        ("SIGNPOST_S3_ENDPOINT", s3.endpoint.clone()),
        ("SIGNPOST_S3_REGION", s3.region.clone()),
        ("SIGNPOST_S3_PATH_STYLE", "true".into()),
        ("AWS_ACCESS_KEY_ID", s3.access_key.clone()),
        ("AWS_SECRET_ACCESS_KEY", s3.secret_key.clone()),
    ];
    let server = tokio::task::spawn_blocking({
        let path = dir.path().to_owned();
        move || Server::start(&path, &env)
    })
    .await
    .unwrap();

    let body = tokio::task::block_in_place(|| await_readiness(&server, 200));
    assert_eq!(
        body["checks"],
        serde_json::json!({"postgres": "ok", "s3": "ok", "redis": "ok"})
    );

    redis.stop();
    let body = tokio::task::block_in_place(|| await_readiness(&server, 503));
    assert_eq!(body["failing"], serde_json::json!(["redis"]));
    assert_eq!(body["checks"]["postgres"], "ok");

    redis.restart();
    tokio::task::block_in_place(|| await_readiness(&server, 200));
    assert!(server.stop().success());
    database.drop_database().await;
}
