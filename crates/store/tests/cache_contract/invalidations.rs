//! Invalidation streams: resync first, then every message; their end, and falling behind.

use std::time::{Duration, Instant};

use bytes::Bytes;
use signpost_store::cache::{Cache, Invalidation, MemoryCache};
use signpost_testkit::{Backend, backend_url};

use super::{DELIVERY, bytes, next, prefix, shared_redis_cache};

pub(super) async fn a_subscriber_gets_resync_then_what_is_published(cache: &dyn Cache) {
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
