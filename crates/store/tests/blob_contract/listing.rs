//! Deleting blobs and listing keys: prefixes, byte order and paging.

use signpost_store::blobs::{BlobError, BlobKey};

use super::{Harness, get_all, key, pattern, put};

pub(super) async fn delete(h: &Harness) {
    put(&*h.store, "d/a/b/c", b"nested").await;
    put(&*h.store, "d/a/d", b"sibling").await;
    h.store.delete(&key("d/a/b/c")).await.expect("delete");
    assert!(matches!(
        h.store.get(&key("d/a/b/c"), None).await,
        Err(BlobError::NotFound)
    ));
    h.store.delete(&key("d/a/b/c")).await.expect("delete again");
    assert_eq!(get_all(&*h.store, "d/a/d").await, b"sibling");
    let listed = h.store.list("d/", None, 10).await.expect("list");
    let keys: Vec<&str> = listed.iter().map(|m| m.key.as_str()).collect();
    assert_eq!(keys, ["d/a/d"]);
    // The emptied "directory" is no obstacle to putting the blob again.
    put(&*h.store, "d/a/b/c", b"again").await;
    assert_eq!(get_all(&*h.store, "d/a/b/c").await, b"again");
}

pub(super) async fn list(h: &Harness) {
    let blobs = [
        "t/acme/1",
        "t/acme/2",
        "t/acme/10",
        "t/acme-x/1",
        "t/acmf",
        "t/b/1",
        "u/1",
    ];
    for (i, blob) in blobs.iter().enumerate() {
        put(&*h.store, blob, &pattern(8, i * 10)).await;
    }
    let keys = |found: Vec<signpost_store::blobs::BlobMeta>| -> Vec<String> {
        found.into_iter().map(|m| m.key.to_string()).collect()
    };
    let store = &*h.store;

    // Byte order across "directories": '-' sorts before '/'.
    let all = store.list("", None, 100).await.expect("list all");
    assert_eq!(
        all.iter()
            .map(|m| (m.key.as_str(), m.size))
            .collect::<Vec<_>>(),
        [
            ("t/acme-x/1", 30),
            ("t/acme/1", 0),
            ("t/acme/10", 20),
            ("t/acme/2", 10),
            ("t/acmf", 40),
            ("t/b/1", 50),
            ("u/1", 60),
        ]
    );
    assert_eq!(
        keys(store.list("t/acme/", None, 100).await.expect("list")),
        ["t/acme/1", "t/acme/10", "t/acme/2"]
    );
    assert_eq!(
        keys(store.list("t/acme", None, 100).await.expect("list")),
        ["t/acme-x/1", "t/acme/1", "t/acme/10", "t/acme/2"]
    );
    assert_eq!(
        keys(
            store
                .list("t/acme/", Some(&key("t/acme/1")), 100)
                .await
                .expect("list")
        ),
        ["t/acme/10", "t/acme/2"]
    );

    // Paging with limit and start_after walks every key once, in order.
    let mut paged = Vec::new();
    let mut after: Option<BlobKey> = None;
    loop {
        let page = keys(store.list("t/", after.as_ref(), 2).await.expect("page"));
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        after = Some(key(last));
        paged.extend(page);
    }
    assert_eq!(
        paged,
        [
            "t/acme-x/1",
            "t/acme/1",
            "t/acme/10",
            "t/acme/2",
            "t/acmf",
            "t/b/1"
        ]
    );

    assert!(store.list("t/", None, 0).await.expect("list").is_empty());
    assert!(
        store
            .list("nothing/", None, 10)
            .await
            .expect("list")
            .is_empty()
    );
    assert!(store.list("../", None, 10).await.expect("list").is_empty());
}
