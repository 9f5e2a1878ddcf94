//! The cache port's contract, run against the in-process cache and against Redis.
//!
//! Each case is an async fn over `&dyn Cache`; the macro at the bottom runs every case once
//! per adapter. The Redis cases need `SIGNPOST_TEST_REDIS_URL`; the cases about a Redis that
//! dies and comes back start a private `redis-server` child instead, so they need only the
//! binary on `PATH`.

use std::future::Future;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use signpost_store::cache::{
    Cache, Invalidation, InvalidationStream, MemoryCache, RedisCache, RedisOptions,
};
use signpost_testkit::{Backend, backend_url, unique_name};

/// Long enough that nothing a case sets expires under it, short enough that nothing is left
/// behind in a shared Redis.
const TTL: Duration = Duration::from_secs(60);
/// How long a subscriber may take to see a message: generous, these machines are noisy.
const DELIVERY: Duration = Duration::from_secs(10);

fn bytes(value: &'static str) -> Bytes {
    Bytes::from_static(value.as_bytes())
}

fn prefix() -> String {
    format!("{}:", unique_name("signpost_cache"))
}

fn memory_cache(prefix: &str) -> Arc<dyn Cache> {
    Arc::new(MemoryCache::new(prefix, 10_000))
}

async fn redis_cache(url: &str, prefix: &str, command_timeout: Duration) -> RedisCache {
    RedisCache::new(RedisOptions {
        url: url.to_owned(),
        prefix: prefix.to_owned(),
        command_timeout,
    })
    .await
    .expect("a RedisCache is created without connecting")
}

async fn shared_redis_cache(url: &str, prefix: &str) -> Arc<dyn Cache> {
    Arc::new(redis_cache(url, prefix, Duration::from_secs(2)).await)
}

async fn next(stream: &mut InvalidationStream) -> Invalidation {
    tokio::time::timeout(DELIVERY, stream.next())
        .await
        .unwrap_or_else(|_| panic!("no invalidation within {DELIVERY:?}"))
        .expect("the invalidation stream ended")
}

/// Polls `condition` until it holds, failing the test after `limit`.
async fn eventually<F, Fut>(limit: Duration, what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    while !condition().await {
        assert!(started.elapsed() < limit, "{what} within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---- the contract, one async fn per case ----

async fn set_then_get(cache: &dyn Cache) {
    cache.set("profile:1", bytes("one"), TTL).await.unwrap();
    assert_eq!(cache.get("profile:1").await.unwrap(), Some(bytes("one")));
}

async fn get_of_a_missing_key_is_none(cache: &dyn Cache) {
    assert_eq!(cache.get("never-set").await.unwrap(), None);
}

async fn set_overwrites(cache: &dyn Cache) {
    cache.set("k", bytes("first"), TTL).await.unwrap();
    cache.set("k", bytes("second"), TTL).await.unwrap();
    assert_eq!(cache.get("k").await.unwrap(), Some(bytes("second")));
}

async fn delete_removes_several_keys_and_ignores_missing_ones(cache: &dyn Cache) {
    for key in ["a", "b", "c"] {
        cache.set(key, bytes(key), TTL).await.unwrap();
    }
    cache.delete(&["a", "c", "missing"]).await.unwrap();
    cache.delete(&[]).await.unwrap();
    cache.delete(&["never-there"]).await.unwrap();
    assert_eq!(cache.get("a").await.unwrap(), None);
    assert_eq!(cache.get("b").await.unwrap(), Some(bytes("b")));
    assert_eq!(cache.get("c").await.unwrap(), None);
}

async fn get_many_answers_in_order(cache: &dyn Cache) {
    cache.set("x", bytes("X"), TTL).await.unwrap();
    cache.set("z", bytes("Z"), TTL).await.unwrap();
    let values = cache.get_many(&["z", "missing", "x", "z"]).await.unwrap();
    assert_eq!(
        values,
        vec![Some(bytes("Z")), None, Some(bytes("X")), Some(bytes("Z"))]
    );
    assert_eq!(
        cache.get_many(&["x"]).await.unwrap(),
        vec![Some(bytes("X"))]
    );
    assert_eq!(
        cache.get_many(&[]).await.unwrap(),
        Vec::<Option<Bytes>>::new()
    );
}

async fn entries_expire_after_their_ttl(cache: &dyn Cache) {
    let short = Duration::from_millis(300);
    let set_at = Instant::now();
    cache.set("short", bytes("s"), short).await.unwrap();
    cache.set("long", bytes("l"), TTL).await.unwrap();
    // Setting again with a long TTL replaces the short one.
    cache.set("renewed", bytes("r"), short).await.unwrap();
    cache.set("renewed", bytes("r"), TTL).await.unwrap();
    let first_read = cache.get("short").await.unwrap();
    if set_at.elapsed() < short {
        assert_eq!(first_read, Some(bytes("s")));
    }
    eventually(
        Duration::from_secs(5),
        "the short entry expires",
        || async { cache.get("short").await.unwrap().is_none() },
    )
    .await;
    assert_eq!(cache.get("long").await.unwrap(), Some(bytes("l")));
    assert_eq!(cache.get("renewed").await.unwrap(), Some(bytes("r")));
}

async fn a_zero_ttl_keeps_nothing(cache: &dyn Cache) {
    cache.set("k", bytes("old"), TTL).await.unwrap();
    cache.set("k", bytes("new"), Duration::ZERO).await.unwrap();
    eventually(
        Duration::from_secs(5),
        "a zero-TTL entry is gone",
        || async { cache.get("k").await.unwrap().is_none() },
    )
    .await;
}

async fn binary_values_round_trip(cache: &dyn Cache) {
    let binary = Bytes::from_static(&[0x00, 0xff, 0xfe, 0x80, b'\r', b'\n', 0xc3, 0x28]);
    cache.set("bin", binary.clone(), TTL).await.unwrap();
    cache.set("empty", Bytes::new(), TTL).await.unwrap();
    assert_eq!(cache.get("bin").await.unwrap(), Some(binary.clone()));
    // An empty value is a hit, not a miss.
    assert_eq!(
        cache.get_many(&["empty", "bin"]).await.unwrap(),
        vec![Some(Bytes::new()), Some(binary)]
    );
}

async fn a_subscriber_gets_resync_then_what_is_published(cache: &dyn Cache) {
    let mut first = cache.subscribe().await.unwrap();
    let mut second = cache.subscribe().await.unwrap();
    assert_eq!(next(&mut first).await, Invalidation::Resync);
    assert_eq!(next(&mut second).await, Invalidation::Resync);
    let binary = Bytes::from_static(&[0xff, 0x00, 0x81]);
    cache.publish(bytes("tenant:7")).await.unwrap();
    cache.publish(binary.clone()).await.unwrap();
    for stream in [&mut first, &mut second] {
        assert_eq!(next(stream).await, Invalidation::Message(bytes("tenant:7")));
        assert_eq!(next(stream).await, Invalidation::Message(binary.clone()));
    }
}

async fn check_answers(cache: &dyn Cache) {
    cache.check().await.unwrap();
}

/// `a` and `b` have different prefixes.
async fn prefixes_isolate_keys_and_messages(a: &dyn Cache, b: &dyn Cache) {
    a.set("shared-name", bytes("a's"), TTL).await.unwrap();
    assert_eq!(b.get("shared-name").await.unwrap(), None);
    b.set("shared-name", bytes("b's"), TTL).await.unwrap();
    b.delete(&["shared-name"]).await.unwrap();
    assert_eq!(a.get("shared-name").await.unwrap(), Some(bytes("a's")));

    let mut b_stream = b.subscribe().await.unwrap();
    assert_eq!(next(&mut b_stream).await, Invalidation::Resync);
    a.publish(bytes("for a only")).await.unwrap();
    b.publish(bytes("for b")).await.unwrap();
    // Had a's message crossed over, it would arrive first.
    assert_eq!(
        next(&mut b_stream).await,
        Invalidation::Message(bytes("for b"))
    );
}

// ---- running the contract against each adapter ----

macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $case() {
                    let cache = super::memory_cache(&super::prefix());
                    super::$case(&*cache).await;
                }
            )*
        }

        mod redis {
            $(
                #[tokio::test]
                async fn $case() {
                    let Some(url) = super::backend_url(super::Backend::Redis) else {
                        return;
                    };
                    let cache = super::shared_redis_cache(&url, &super::prefix()).await;
                    super::$case(&*cache).await;
                }
            )*
        }
    };
}

contract!(
    set_then_get,
    get_of_a_missing_key_is_none,
    set_overwrites,
    delete_removes_several_keys_and_ignores_missing_ones,
    get_many_answers_in_order,
    entries_expire_after_their_ttl,
    a_zero_ttl_keeps_nothing,
    binary_values_round_trip,
    a_subscriber_gets_resync_then_what_is_published,
    check_answers,
);

#[tokio::test]
async fn memory_prefixes_isolate_keys_and_messages() {
    let (a, b) = (memory_cache(&prefix()), memory_cache(&prefix()));
    prefixes_isolate_keys_and_messages(&*a, &*b).await;
}

#[tokio::test]
async fn redis_prefixes_isolate_keys_and_messages() {
    let Some(url) = backend_url(Backend::Redis) else {
        return;
    };
    let a = shared_redis_cache(&url, &prefix()).await;
    let b = shared_redis_cache(&url, &prefix()).await;
    prefixes_isolate_keys_and_messages(&*a, &*b).await;
}

/// Two `RedisCache`s with one prefix are two replicas of the service.
#[tokio::test]
async fn redis_replicas_share_entries_and_invalidations() {
    let Some(url) = backend_url(Backend::Redis) else {
        return;
    };
    let prefix = prefix();
    let (one, other) = (
        shared_redis_cache(&url, &prefix).await,
        shared_redis_cache(&url, &prefix).await,
    );
    other.set("k", bytes("v"), TTL).await.unwrap();
    assert_eq!(one.get("k").await.unwrap(), Some(bytes("v")));

    let mut stream = one.subscribe().await.unwrap();
    assert_eq!(next(&mut stream).await, Invalidation::Resync);
    other.publish(bytes("forget k")).await.unwrap();
    assert_eq!(
        next(&mut stream).await,
        Invalidation::Message(bytes("forget k"))
    );
}

/// The subscription's connection lives exactly as long as the stream.
#[tokio::test]
async fn redis_dropping_the_stream_ends_the_subscription() {
    let Some(url) = backend_url(Backend::Redis) else {
        return;
    };
    let prefix = prefix();
    let cache = shared_redis_cache(&url, &prefix).await;
    let mut stream = cache.subscribe().await.unwrap();
    assert_eq!(next(&mut stream).await, Invalidation::Resync);
    let channel = format!("{prefix}invalidate");
    let client = ::redis::Client::open(url.as_str()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let mut subscribers = async || -> u64 {
        let counts: Vec<(String, u64)> = ::redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(&channel)
            .query_async(&mut connection)
            .await
            .unwrap();
        counts[0].1
    };
    assert_eq!(subscribers().await, 1);
    drop(stream);
    let started = Instant::now();
    while subscribers().await != 0 {
        assert!(
            started.elapsed() < DELIVERY,
            "the subscription ends with its stream"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Clones of a `MemoryCache` are one process; separate instances are separate processes.
#[tokio::test]
async fn memory_clones_share_and_instances_do_not() {
    let prefix = prefix();
    let cache = MemoryCache::new(prefix.as_str(), 100);
    let clone = cache.clone();
    let stranger = MemoryCache::new(prefix.as_str(), 100);
    let mut own = cache.subscribe().await.unwrap();
    let mut strangers = stranger.subscribe().await.unwrap();
    assert_eq!(next(&mut own).await, Invalidation::Resync);
    assert_eq!(next(&mut strangers).await, Invalidation::Resync);

    clone.set("k", bytes("v"), TTL).await.unwrap();
    clone.publish(bytes("from the clone")).await.unwrap();
    stranger.publish(bytes("from elsewhere")).await.unwrap();
    assert_eq!(cache.get("k").await.unwrap(), Some(bytes("v")));
    assert_eq!(stranger.get("k").await.unwrap(), None);
    assert_eq!(
        next(&mut own).await,
        Invalidation::Message(bytes("from the clone"))
    );
    assert_eq!(
        next(&mut strangers).await,
        Invalidation::Message(bytes("from elsewhere"))
    );
}

#[tokio::test]
async fn memory_subscriber_that_falls_behind_is_told_to_resync() {
    let cache = MemoryCache::new(prefix(), 100);
    let mut stream = cache.subscribe().await.unwrap();
    for n in 0..5_000 {
        cache.publish(Bytes::from(format!("m{n}"))).await.unwrap();
    }
    assert_eq!(next(&mut stream).await, Invalidation::Resync);
    assert_eq!(next(&mut stream).await, Invalidation::Resync);
    assert!(matches!(next(&mut stream).await, Invalidation::Message(_)));
}

// ---- a Redis that dies and comes back: a private redis-server per test ----

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
