//! A Redis that dies and comes back, or never answers: calls fail fast, then recover.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use signpost_store::cache::{Cache, Invalidation, RedisCache};

use super::{TTL, bytes, eventually, next, prefix, redis_cache};

/// A `redis-server` child on a free port, killed when dropped.
struct PrivateRedis {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl PrivateRedis {
    /// `None` (with a line on stderr) when `redis-server` is not on `PATH`.
    async fn start(test: &str) -> Option<Self> {
        if Command::new("redis-server")
            .arg("--version")
            .output()
            .is_err()
        {
            // The test command installs redis-server; a run that asked for real backends
            // must not pass without these outage tests.
            assert!(
                !signpost_testkit::backends_required(),
                "{test} needs redis-server on PATH (tests/run.sh installs it)"
            );
            eprintln!("not run: {test} needs redis-server on PATH");
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let mut server = Self {
            port,
            dir: tempfile::tempdir().expect("a temporary directory"),
            child: None,
        };
        server.restart().await;
        Some(server)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server (again) on the same port and waits until it answers.
    async fn restart(&mut self) {
        assert!(self.child.is_none(), "the private redis-server is running");
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        let client = redis_cache(&self.url(), "probe:", Duration::from_millis(500)).await;
        eventually(
            Duration::from_secs(10),
            "the private redis-server answers",
            || {
                let client = client.clone();
                async move { client.check().await.is_ok() }
            },
        )
        .await;
    }

    /// `kill -9`: no goodbye to the clients.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

#[tokio::test]
async fn redis_subscription_survives_a_server_restart() {
    let Some(mut server) =
        PrivateRedis::start("redis_subscription_survives_a_server_restart").await
    else {
        return;
    };
    let cache = redis_cache(&server.url(), &prefix(), Duration::from_secs(1)).await;
    let mut stream = cache.subscribe().await.unwrap();
    assert_eq!(next(&mut stream).await, Invalidation::Resync);
    cache.publish(bytes("before")).await.unwrap();
    assert_eq!(
        next(&mut stream).await,
        Invalidation::Message(bytes("before"))
    );

    server.kill();
    server.restart().await;

    assert_eq!(next(&mut stream).await, Invalidation::Resync);
    eventually(
        Duration::from_secs(10),
        "publishing works again",
        || async { cache.publish(bytes("after")).await.is_ok() },
    )
    .await;
    assert_eq!(
        next(&mut stream).await,
        Invalidation::Message(bytes("after"))
    );
}

#[tokio::test]
async fn redis_down_fails_fast_and_recovers() {
    let Some(mut server) = PrivateRedis::start("redis_down_fails_fast_and_recovers").await else {
        return;
    };
    server.kill();
    let timeout = Duration::from_millis(500);
    let cache = redis_cache(&server.url(), &prefix(), timeout).await;
    assert_calls_fail_fast(&cache, timeout).await;

    server.restart().await;
    eventually(
        Duration::from_secs(10),
        "the cache answers again",
        || async { cache.check().await.is_ok() },
    )
    .await;
    cache.set("k", bytes("v"), TTL).await.unwrap();
    assert_eq!(cache.get("k").await.unwrap(), Some(bytes("v")));

    // Dying under a live connection, then coming back.
    server.kill();
    assert_calls_fail_fast(&cache, timeout).await;
    server.restart().await;
    eventually(
        Duration::from_secs(10),
        "the cache answers again",
        || async { cache.get("k").await.is_ok() },
    )
    .await;
}

/// A server that accepts connections and never answers: every call ends with an error close
/// to the command timeout instead of hanging.
#[tokio::test]
async fn redis_that_never_answers_fails_within_the_command_timeout() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("redis://{}", listener.local_addr().unwrap());
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let timeout = Duration::from_millis(500);
    let cache = redis_cache(&url, &prefix(), timeout).await;
    assert_calls_fail_fast(&cache, timeout).await;
    silent.abort();
}

async fn assert_calls_fail_fast(cache: &RedisCache, timeout: Duration) {
    let limit = timeout + Duration::from_secs(2);
    let timed = |started: Instant, what: &str, failed: bool| {
        assert!(failed, "{what} fails while Redis is unreachable");
        let took = started.elapsed();
        assert!(took < limit, "{what} took {took:?}, more than {limit:?}");
    };
    let started = Instant::now();
    timed(started, "get", cache.get("k").await.is_err());
    let started = Instant::now();
    timed(
        started,
        "get_many",
        cache.get_many(&["k", "l"]).await.is_err(),
    );
    let started = Instant::now();
    timed(
        started,
        "set",
        cache.set("k", bytes("v"), TTL).await.is_err(),
    );
    let started = Instant::now();
    timed(started, "delete", cache.delete(&["k"]).await.is_err());
    let started = Instant::now();
    timed(started, "publish", cache.publish(bytes("m")).await.is_err());
    let started = Instant::now();
    timed(started, "check", cache.check().await.is_err());
}
