//! Entries: set, get, get many, delete, expiry, binary values, and the health check.

use std::time::{Duration, Instant};

use bytes::Bytes;
use signpost_store::cache::Cache;

use super::{TTL, bytes, eventually};

pub(super) async fn set_then_get(cache: &dyn Cache) {
    cache.set("profile:1", bytes("one"), TTL).await.unwrap();
    assert_eq!(cache.get("profile:1").await.unwrap(), Some(bytes("one")));
}

pub(super) async fn get_of_a_missing_key_is_none(cache: &dyn Cache) {
    assert_eq!(cache.get("never-set").await.unwrap(), None);
}

pub(super) async fn set_overwrites(cache: &dyn Cache) {
    cache.set("k", bytes("first"), TTL).await.unwrap();
    cache.set("k", bytes("second"), TTL).await.unwrap();
    assert_eq!(cache.get("k").await.unwrap(), Some(bytes("second")));
}

pub(super) async fn delete_removes_several_keys_and_ignores_missing_ones(cache: &dyn Cache) {
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

pub(super) async fn get_many_answers_in_order(cache: &dyn Cache) {
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

pub(super) async fn entries_expire_after_their_ttl(cache: &dyn Cache) {
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

pub(super) async fn a_zero_ttl_keeps_nothing(cache: &dyn Cache) {
    cache.set("k", bytes("old"), TTL).await.unwrap();
    cache.set("k", bytes("new"), Duration::ZERO).await.unwrap();
    eventually(
        Duration::from_secs(5),
        "a zero-TTL entry is gone",
        || async { cache.get("k").await.unwrap().is_none() },
    )
    .await;
}

pub(super) async fn binary_values_round_trip(cache: &dyn Cache) {
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

pub(super) async fn check_answers(cache: &dyn Cache) {
    cache.check().await.unwrap();
}
