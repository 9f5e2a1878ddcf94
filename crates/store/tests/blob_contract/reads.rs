//! Reading blobs: byte ranges, metadata, missing blobs, and a read across a replace.

use futures::TryStreamExt;
use signpost_store::blobs::{BlobError, ByteRange};

use super::{Harness, MIB, get_all, key, pattern, put, read_all};

pub(super) async fn ranges(h: &Harness) {
    let data = pattern(6, 1000);
    put(&*h.store, "r/blob", &data).await;
    let satisfiable = [
        ((10, Some(19)), (10, 19)),
        ((990, None), (990, 999)),
        ((995, Some(5000)), (995, 999)),
        ((0, Some(0)), (0, 0)),
        ((999, Some(999)), (999, 999)),
        ((0, None), (0, 999)),
    ];
    for ((start, end_inclusive), (first, last)) in satisfiable {
        let range = ByteRange {
            start,
            end_inclusive,
        };
        let object = h
            .store
            .get(&key("r/blob"), Some(range))
            .await
            .unwrap_or_else(|e| panic!("{range:?}: {e}"));
        assert_eq!(
            (object.total_size, object.first, object.last),
            (1000, first, Some(last)),
            "{range:?}"
        );
        let expected = &data[first as usize..=last as usize];
        assert_eq!(read_all(object.body).await, expected, "{range:?}");
    }
    for (start, end_inclusive) in [(1000, None), (5000, Some(6000)), (20, Some(10))] {
        let range = ByteRange {
            start,
            end_inclusive,
        };
        let result = h.store.get(&key("r/blob"), Some(range)).await;
        assert!(
            matches!(
                result,
                Err(BlobError::RangeNotSatisfiable { total_size: 1000 })
            ),
            "{range:?}: {result:?}"
        );
    }
}

pub(super) async fn head(h: &Harness) {
    put(&*h.store, "h/one", &pattern(7, 1234)).await;
    let meta = h.store.head(&key("h/one")).await.expect("head");
    assert_eq!(meta.key, key("h/one"));
    assert_eq!(meta.size, 1234);
    assert!(meta.last_modified.is_some());
}

pub(super) async fn missing_blob(h: &Harness) {
    let missing = key("nothing/here");
    assert!(matches!(
        h.store.get(&missing, None).await,
        Err(BlobError::NotFound)
    ));
    let range = ByteRange {
        start: 5,
        end_inclusive: Some(10),
    };
    assert!(matches!(
        h.store.get(&missing, Some(range)).await,
        Err(BlobError::NotFound)
    ));
    assert!(matches!(
        h.store.head(&missing).await,
        Err(BlobError::NotFound)
    ));
    h.store
        .delete(&missing)
        .await
        .expect("deleting a missing blob");
}

pub(super) async fn reader_sees_one_version_across_a_replace(h: &Harness) {
    let old = pattern(9, 6 * MIB);
    let new = pattern(10, 6 * MIB + 7);
    put(&*h.store, "v/blob", &old).await;

    let object = h.store.get(&key("v/blob"), None).await.expect("get");
    let mut body = object.body;
    let mut read = body
        .try_next()
        .await
        .expect("first chunk")
        .expect("not empty")
        .to_vec();
    put(&*h.store, "v/blob", &new).await;
    read.extend(read_all(body).await);

    assert!(
        read == old || read == new,
        "read {} bytes that are neither version (old: {}, new: {})",
        read.len(),
        old.len(),
        new.len()
    );
    assert_eq!(get_all(&*h.store, "v/blob").await, new);
}
