//! The `signpost` binary end to end: it starts on embedded defaults and on the real backends,
//! reports readiness per backend, and refuses bad configuration with one clear line.

mod common;

use std::time::{Duration, Instant};

use common::{PrivateRedis, Server, await_readiness, free_port, one_line_failure, signpost};
use signpost_testkit::{TestDatabase, TestS3, unique_name};

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

    // A taken port fails the start before it is announced.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let listen = taken.local_addr().unwrap().to_string();
    let output = signpost(dir.path(), &[("SIGNPOST_LISTEN", listen.clone())])
        .arg("serve")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    let last = stderr.trim().lines().last().unwrap_or_default();
    assert!(
        last.starts_with(&format!("signpost: cannot serve on {listen}")),
        "{stderr}"
    );
    assert!(!stderr.contains("signpost is serving"), "{stderr}");
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
