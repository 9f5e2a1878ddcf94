//! Several caches at once: prefixes keep them apart, replicas and clones share.

use signpost_store::cache::{Cache, Invalidation, MemoryCache};
use signpost_testkit::{Backend, backend_url};

use super::{TTL, bytes, memory_cache, next, prefix, shared_redis_cache};

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
