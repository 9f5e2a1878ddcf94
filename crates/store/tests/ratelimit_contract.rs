//! The rate-limiter port's contract, run against the in-process limiter and against Redis.
//!
//! The macro below runs every case once per adapter; the Redis cases need
//! `SIGNPOST_TEST_REDIS_URL`. Timing is asserted only as bounds the arithmetic guarantees, and
//! most cases use a rule under which nothing refills even on a loaded machine.

use std::sync::Arc;
use std::time::{Duration, Instant};

use signpost_store::cache::RedisOptions;
use signpost_store::ratelimit::{
    BucketRule, Decision, MAX_WAIT, MemoryRateLimiter, RateLimiter, RedisRateLimiter, Take,
};
use signpost_testkit::{Backend, backend_url, unique_name};

/// Refills too slowly to matter within a case.
const SLOW: BucketRule = BucketRule {
    burst: 3,
    per_second: 0.1,
};
/// Refills a token every 50 ms, for the cases that wait for one.
const FAST: BucketRule = BucketRule {
    burst: 3,
    per_second: 20.0,
};

type Limiter = Arc<dyn RateLimiter>;

fn memory_limiter() -> Limiter {
    Arc::new(MemoryRateLimiter::new(10_000))
}

fn redis_limiter(url: &str, prefix: &str, command_timeout: Duration) -> Limiter {
    Arc::new(
        RedisRateLimiter::new(RedisOptions {
            url: url.to_owned(),
            prefix: prefix.to_owned(),
            command_timeout,
        })
        .expect("a RedisRateLimiter is created without connecting"),
    )
}

fn prefix() -> String {
    format!("{}:", unique_name("signpost_ratelimit"))
}

/// Deletes a case's buckets: one under a slow rule would otherwise outlive the run by hours.
async fn forget(url: &str, prefix: &str) {
    let client = ::redis::Client::open(url).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = ::redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut connection)
        .await
        .unwrap();
    if !keys.is_empty() {
        let () = ::redis::cmd("DEL")
            .arg(&keys)
            .query_async(&mut connection)
            .await
            .unwrap();
    }
}

async fn take(limiter: &Limiter, key: &str, rule: BucketRule, cost: u32) -> Decision {
    limiter.take(key, rule, cost).await.unwrap()
}

fn retry_after(decision: Decision) -> Duration {
    match decision {
        Decision::Limited { retry_after } => retry_after,
        Decision::Allowed => panic!("expected Limited, got Allowed"),
    }
}

/// A refusal's wait: at least the promised millisecond, at most `limit`.
fn assert_at_most(wait: Duration, limit: Duration) {
    assert!(
        wait >= Duration::from_millis(1) && wait <= limit,
        "{wait:?}"
    );
}

/// Empties `key`'s bucket (whatever refilled meanwhile included) and returns the wait.
async fn drain(limiter: &Limiter, key: &str, rule: BucketRule) -> Duration {
    for _ in 0..100 {
        if let Decision::Limited { retry_after } = take(limiter, key, rule, 1).await {
            return retry_after;
        }
    }
    panic!("the bucket never ran dry");
}

// ---- the contract, one async fn per case ----

async fn a_fresh_key_allows_burst_then_limits(limiter: Limiter) {
    for _ in 0..SLOW.burst {
        assert_eq!(take(&limiter, "k", SLOW, 1).await, Decision::Allowed);
    }
    let first = retry_after(take(&limiter, "k", SLOW, 1).await);
    assert_at_most(first, Duration::from_secs(10));
    // A refused take takes nothing: the wait only shrinks.
    let second = retry_after(take(&limiter, "k", SLOW, 1).await);
    assert!(second <= first, "{second:?} after {first:?}");
}

async fn after_retry_after_a_take_is_allowed_again(limiter: Limiter) {
    let wait = drain(&limiter, "k", FAST).await;
    // One token at 20 per second is at most 50 ms away.
    assert_at_most(wait, Duration::from_millis(50));
    tokio::time::sleep(wait).await;
    assert_eq!(take(&limiter, "k", FAST, 1).await, Decision::Allowed);
}

async fn cost_zero_peeks_without_consuming(limiter: Limiter) {
    assert_eq!(take(&limiter, "k", SLOW, 2).await, Decision::Allowed);
    for _ in 0..5 {
        assert_eq!(take(&limiter, "k", SLOW, 0).await, Decision::Allowed);
    }
    assert_eq!(take(&limiter, "k", SLOW, 1).await, Decision::Allowed);
    assert!(retry_after(take(&limiter, "k", SLOW, 0).await) > Duration::ZERO);
    assert!(retry_after(take(&limiter, "k", SLOW, 1).await) > Duration::ZERO);
    // Peeking at a key never seen neither fails nor starts it below full.
    assert_eq!(take(&limiter, "fresh", SLOW, 0).await, Decision::Allowed);
    assert_eq!(take(&limiter, "fresh", SLOW, 3).await, Decision::Allowed);
}

async fn a_cost_is_paid_whole_or_not_at_all(limiter: Limiter) {
    assert_eq!(take(&limiter, "k", SLOW, 2).await, Decision::Allowed);
    // One token left: a cost of 2 waits for one more (ten seconds at most) and takes none.
    assert_at_most(
        retry_after(take(&limiter, "k", SLOW, 2).await),
        Duration::from_secs(10),
    );
    assert_eq!(take(&limiter, "k", SLOW, 1).await, Decision::Allowed);
    // More than a full bucket holds is never allowed, however long the bucket idled.
    assert!(retry_after(take(&limiter, "big", FAST, 4).await) > Duration::ZERO);
}

async fn keys_are_independent(limiter: Limiter) {
    drain(&limiter, "a", SLOW).await;
    for _ in 0..SLOW.burst {
        assert_eq!(take(&limiter, "b", SLOW, 1).await, Decision::Allowed);
    }
}

/// An empty rule that never refills: the wait is the longest there is, not infinite.
async fn a_rule_that_never_refills_waits_the_longest(limiter: Limiter) {
    let never = BucketRule {
        burst: 0,
        per_second: 0.0,
    };
    for cost in [1, 0] {
        assert_eq!(
            retry_after(take(&limiter, "k", never, cost).await),
            MAX_WAIT
        );
    }
}

async fn concurrent_takes_never_overspend(limiter: Limiter) {
    let rule = BucketRule {
        burst: 10,
        per_second: 0.1,
    };
    let takes: Vec<_> = (0..40)
        .map(|_| {
            let limiter = limiter.clone();
            tokio::spawn(async move { limiter.take("k", rule, 1).await.unwrap() })
        })
        .collect();
    let mut allowed = 0;
    for take in takes {
        if take.await.unwrap() == Decision::Allowed {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 10);
}

/// `take_all` decides each take as `take` would, in order: a later take sees what an
/// earlier one took from the same bucket.
async fn several_takes_are_decided_in_order(limiter: Limiter) {
    let never = BucketRule {
        burst: 2,
        per_second: 0.0,
    };
    let a = |cost| Take {
        key: "a",
        rule: SLOW,
        cost,
    };
    let b = |cost| Take {
        key: "b",
        rule: never,
        cost,
    };
    // "a" holds 3: 2 are taken, the peek sees the one left, 2 more are refused (and take
    // nothing), the last one is taken, and the peek after it finds none.
    let takes = [a(2), b(2), a(0), a(2), a(1), a(0), b(1)];
    let decisions = limiter.take_all(&takes).await.unwrap();
    assert_eq!(decisions.len(), takes.len());
    assert_eq!(decisions[..3], [Decision::Allowed; 3]);
    assert!(retry_after(decisions[3]) > Duration::ZERO);
    assert_eq!(decisions[4], Decision::Allowed);
    assert!(retry_after(decisions[5]) > Duration::ZERO);
    assert_eq!(retry_after(decisions[6]), MAX_WAIT);
    // What the takes took stays taken; no takes ask nothing.
    assert!(retry_after(take(&limiter, "a", SLOW, 1).await) > Duration::ZERO);
    assert!(limiter.take_all(&[]).await.unwrap().is_empty());
}

// ---- running the contract against each adapter ----

macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::memory_limiter()).await;
                }
            )*
        }

        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(url) = super::backend_url(super::Backend::Redis) else {
                        return;
                    };
                    let timeout = std::time::Duration::from_secs(2);
                    let prefix = super::prefix();
                    super::$case(super::redis_limiter(&url, &prefix, timeout)).await;
                    super::forget(&url, &prefix).await;
                }
            )*
        }
    };
}

contract!(
    a_fresh_key_allows_burst_then_limits,
    after_retry_after_a_take_is_allowed_again,
    cost_zero_peeks_without_consuming,
    a_cost_is_paid_whole_or_not_at_all,
    keys_are_independent,
    a_rule_that_never_refills_waits_the_longest,
    concurrent_takes_never_overspend,
    several_takes_are_decided_in_order,
);

/// Two limiters on one prefix are two replicas: they enforce one limit. Another prefix is
/// another deployment.
#[tokio::test]
async fn redis_replicas_share_buckets_and_prefixes_separate_them() {
    let Some(url) = backend_url(Backend::Redis) else {
        return;
    };
    let timeout = Duration::from_secs(2);
    let shared = prefix();
    let one = redis_limiter(&url, &shared, timeout);
    let other = redis_limiter(&url, &shared, timeout);
    let another = prefix();
    let elsewhere = redis_limiter(&url, &another, timeout);
    assert_eq!(take(&one, "k", SLOW, 2).await, Decision::Allowed);
    assert_eq!(take(&other, "k", SLOW, 1).await, Decision::Allowed);
    assert!(retry_after(take(&one, "k", SLOW, 1).await) > Duration::ZERO);
    assert_eq!(take(&elsewhere, "k", SLOW, 3).await, Decision::Allowed);
    forget(&url, &shared).await;
    forget(&url, &another).await;
}

/// Buckets live at `{prefix}rl:{key}` and expire once they would be full again; a peek
/// stores nothing. A server that lost its scripts (a restart, `SCRIPT FLUSH`) gets it again.
#[tokio::test]
async fn redis_buckets_expire_when_full_and_survive_a_script_flush() {
    let Some(url) = backend_url(Backend::Redis) else {
        return;
    };
    let prefix = prefix();
    let limiter = redis_limiter(&url, &prefix, Duration::from_secs(2));
    let client = ::redis::Client::open(url.as_str()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    assert_eq!(take(&limiter, "peeked", FAST, 0).await, Decision::Allowed);
    assert_eq!(take(&limiter, "taken", SLOW, 2).await, Decision::Allowed);
    let mut pttl = ::redis::pipe();
    pttl.cmd("PTTL").arg(format!("{prefix}rl:peeked"));
    pttl.cmd("PTTL").arg(format!("{prefix}rl:taken"));
    let (peeked, taken): (i64, i64) = pttl.query_async(&mut connection).await.unwrap();
    assert_eq!(peeked, -2, "a peek stores no bucket");
    // Two tokens at one per ten seconds are back within 20 s.
    assert!((1..=20_000).contains(&taken), "PTTL {taken}");

    let () = ::redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(take(&limiter, "taken", SLOW, 1).await, Decision::Allowed);
    assert!(retry_after(take(&limiter, "taken", SLOW, 1).await) > Duration::ZERO);
    forget(&url, &prefix).await;
}

/// Separate in-process limiters are separate processes; clones are one.
#[tokio::test]
async fn memory_instances_do_not_share_and_clones_do() {
    let limiter = MemoryRateLimiter::new(100);
    let clone: Limiter = Arc::new(limiter.clone());
    let limiter: Limiter = Arc::new(limiter);
    let stranger = memory_limiter();
    assert_eq!(take(&limiter, "k", SLOW, 3).await, Decision::Allowed);
    assert!(retry_after(take(&clone, "k", SLOW, 1).await) > Duration::ZERO);
    assert_eq!(take(&stranger, "k", SLOW, 3).await, Decision::Allowed);
}

/// Whether nothing listens (port 1) or a server accepts and never answers, a take fails
/// within about the command timeout instead of hanging, and so does the next one.
#[tokio::test]
async fn redis_unreachable_or_silent_fails_fast() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_url = format!("redis://{}", listener.local_addr().unwrap());
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    for url in ["redis://127.0.0.1:1", silent_url.as_str()] {
        let limiter = redis_limiter(url, &prefix(), Duration::from_millis(200));
        for _ in 0..2 {
            let started = Instant::now();
            assert!(limiter.take("k", FAST, 1).await.is_err(), "{url}");
            let took = started.elapsed();
            assert!(took < Duration::from_secs(2), "{url} took {took:?}");
        }
    }
    silent.abort();
}
