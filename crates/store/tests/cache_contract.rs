//! The cache port's contract, run against the in-process cache and against Redis.
//!
//! Each case is an async fn over `&dyn Cache`; the macro at the bottom runs every case once
//! per adapter. The Redis cases need `SIGNPOST_TEST_REDIS_URL`; the cases about a Redis that
//! dies and comes back start a private `redis-server` child instead, so they need only the
//! binary on `PATH`.

#[path = "cache_contract/entries.rs"]
mod entries;
#[path = "cache_contract/instances.rs"]
mod instances;
#[path = "cache_contract/invalidations.rs"]
mod invalidations;
#[path = "cache_contract/outages.rs"]
mod outages;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use signpost_store::cache::{
    Cache, Invalidation, InvalidationStream, MemoryCache, RedisCache, RedisOptions,
};
use signpost_testkit::{Backend, backend_url, unique_name};

use entries::{
    a_zero_ttl_keeps_nothing, binary_values_round_trip, check_answers,
    delete_removes_several_keys_and_ignores_missing_ones, entries_expire_after_their_ttl,
    get_many_answers_in_order, get_of_a_missing_key_is_none, set_overwrites, set_then_get,
};
use invalidations::a_subscriber_gets_resync_then_what_is_published;

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

// ---- running the contract (its cases: `entries`, `invalidations`) against each adapter;
// the tests in `instances`, `invalidations` and `outages` run once each ----

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
