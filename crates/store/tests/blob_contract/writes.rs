//! Putting blobs: round trips, replacing, empty and large bodies, and bodies that fail.

use futures::{StreamExt, TryStreamExt};
use sha2::{Digest, Sha256};
use signpost_store::blobs::{BlobError, ByteRange};

use super::{Harness, MIB, body, generated, get_all, key, pattern, put, read_all, sha256};

pub(super) async fn round_trip(h: &Harness) {
    let data = pattern(1, 100_000);
    let outcome = h
        .store
        .put(
            &key("tenants/acme/files/a.bin"),
            body(&data),
            Some("text/plain"),
        )
        .await
        .expect("put");
    assert_eq!(outcome.size, 100_000);
    assert_eq!(outcome.sha256, sha256(&data));

    let object = h
        .store
        .get(&key("tenants/acme/files/a.bin"), None)
        .await
        .expect("get");
    assert_eq!(
        (object.total_size, object.first, object.last),
        (100_000, 0, Some(99_999))
    );
    assert_eq!(read_all(object.body).await, data);
}

pub(super) async fn replacing_a_blob(h: &Harness) {
    put(&*h.store, "f/x", &pattern(1, 5000)).await;
    let newer = pattern(2, 3000);
    put(&*h.store, "f/x", &newer).await;
    assert_eq!(get_all(&*h.store, "f/x").await, newer);
    assert_eq!(h.store.head(&key("f/x")).await.expect("head").size, 3000);
}

pub(super) async fn empty_blob(h: &Harness) {
    let outcome = h
        .store
        .put(&key("f/empty"), futures::stream::empty().boxed(), None)
        .await
        .expect("put");
    assert_eq!(outcome.size, 0);
    assert_eq!(outcome.sha256, sha256(b""));

    let object = h.store.get(&key("f/empty"), None).await.expect("get");
    assert_eq!((object.total_size, object.first, object.last), (0, 0, None));
    assert!(read_all(object.body).await.is_empty());
    assert_eq!(h.store.head(&key("f/empty")).await.expect("head").size, 0);

    // No range of an empty blob is satisfiable; the port hands out the (empty) blob instead.
    for range in [(0, None), (0, Some(10)), (5, None)] {
        let range = ByteRange {
            start: range.0,
            end_inclusive: range.1,
        };
        let object = h
            .store
            .get(&key("f/empty"), Some(range))
            .await
            .expect("ranged get");
        assert_eq!((object.total_size, object.last), (0, None), "{range:?}");
        assert!(read_all(object.body).await.is_empty());
    }

    let listed = h.store.list("f/", None, 10).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].size, 0);
}

pub(super) async fn large_body_in_small_chunks(h: &Harness) {
    // Crosses the S3 store's multipart threshold (8 MiB) twice, with parts that do not line
    // up with the chunks.
    let len = 20 * MIB + 12_345;
    let expected: [u8; 32] = {
        let mut hasher = Sha256::new();
        let mut stream = generated(3, len, 64 * 1024, None);
        while let Some(chunk) = stream.try_next().await.expect("generator") {
            hasher.update(&chunk);
        }
        hasher.finalize().into()
    };
    let outcome = h
        .store
        .put(
            &key("firmware/big.bin"),
            generated(3, len, 4001, None),
            None,
        )
        .await
        .expect("put");
    assert_eq!(outcome.size, len as u64);
    assert_eq!(outcome.sha256, expected);

    let object = h
        .store
        .get(&key("firmware/big.bin"), None)
        .await
        .expect("get");
    assert_eq!(object.total_size, len as u64);
    let mut hasher = Sha256::new();
    let mut downloaded = 0usize;
    let mut body = object.body;
    while let Some(chunk) = body.try_next().await.expect("download") {
        downloaded += chunk.len();
        hasher.update(&chunk);
    }
    assert_eq!(downloaded, len);
    assert_eq!(<[u8; 32]>::from(hasher.finalize()), expected);
    h.assert_no_leftovers(&["firmware/big.bin"]).await;
}

pub(super) async fn failing_body_keeps_the_previous_blob(h: &Harness) {
    let original = pattern(4, 10_000);
    put(&*h.store, "f/kept", &original).await;
    // Fails inside the first part, and after a part has gone up (S3: a multipart upload).
    for fail_after in [3000, 9 * MIB + 17] {
        let failing = generated(5, 20 * MIB, 32 * 1024, Some(fail_after));
        let result = h.store.put(&key("f/kept"), failing, None).await;
        assert!(
            matches!(result, Err(BlobError::Body(_))),
            "{fail_after}: {result:?}"
        );
        assert_eq!(get_all(&*h.store, "f/kept").await, original);

        let failing = generated(5, 20 * MIB, 32 * 1024, Some(fail_after));
        let result = h.store.put(&key("f/never"), failing, None).await;
        assert!(matches!(result, Err(BlobError::Body(_))), "{result:?}");
        assert!(matches!(
            h.store.head(&key("f/never")).await,
            Err(BlobError::NotFound)
        ));
    }
    h.assert_no_leftovers(&["f/kept"]).await;
}
