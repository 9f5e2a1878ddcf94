//! The catalogue itself: publish, replace, look up, list and delete files, and the events
//! and blob references that follow.

use std::sync::Arc;

use sha2::{Digest, Sha256};
use signpost_store::registry::*;

use super::{ctx, file, paths, publish, tenant, tid};

pub(super) async fn publish_get_and_list_by_literal_prefix(r: Arc<SqlRegistry>) {
    let acme = tenant(&r, "acme").await;
    let rival = tenant(&r, "rival").await;
    let all = [
        "a/1.cfg",
        "a-b.cfg",
        "a.b.cfg",
        "a/2.cfg",
        "a/3.cfg",
        "Z.cfg",
        "c%d_e/f.cfg",
        "cXdYe/f.cfg",
    ];
    for (n, path) in all.iter().enumerate() {
        let published = publish(&r, &acme, file(path, path, &format!("k{n}"))).await;
        assert!(published.created && published.replaced_blob.is_none());
    }
    let got = FileRepo::get(&*r, &acme, "a/2.cfg").await.unwrap().unwrap();
    let expected = file("a/2.cfg", "a/2.cfg", "k3");
    assert_eq!(
        (got.size, got.sha256, got.blob_key.as_str(), got.template),
        (7, expected.sha256, "k3", false)
    );
    assert_eq!(
        (got.tenant, got.content_type.as_str()),
        (acme.clone(), "text/plain")
    );

    // Byte order in both engines, whatever PostgreSQL's default collation.
    let listed = paths(&r, &acme, "", None).await;
    let expected = [
        "Z.cfg",
        "a-b.cfg",
        "a.b.cfg",
        "a/1.cfg",
        "a/2.cfg",
        "a/3.cfg",
        "c%d_e/f.cfg",
        "cXdYe/f.cfg",
    ];
    assert_eq!(listed, expected);
    assert_eq!(
        paths(&r, &acme, "a/", None).await,
        ["a/1.cfg", "a/2.cfg", "a/3.cfg"]
    );
    assert_eq!(paths(&r, &acme, "c%d_e/", None).await, ["c%d_e/f.cfg"]);
    assert_eq!(paths(&r, &acme, "c_", None).await, Vec::<String>::new());
    assert_eq!(paths(&r, &acme, "A", None).await, Vec::<String>::new());

    let page = FileRepo::list(&*r, &acme, "a/", None, 2).await.unwrap();
    assert_eq!(page.len(), 2);
    let rest = paths(&r, &acme, "a/", Some(&page[1].path)).await;
    assert_eq!(rest, ["a/3.cfg"]);

    // Another tenant sees none of it and may use the same path.
    assert!(
        FileRepo::get(&*r, &rival, "a/2.cfg")
            .await
            .unwrap()
            .is_none()
    );
    assert!(paths(&r, &rival, "", None).await.is_empty());
    assert!(
        FileRepo::delete(&*r, &ctx(), &rival, "a/2.cfg")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        publish(&r, &rival, file("a/2.cfg", "theirs", "r1"))
            .await
            .created
    );
    let ours = FileRepo::get(&*r, &acme, "a/2.cfg").await.unwrap().unwrap();
    assert_eq!(ours.blob_key, "k3");
}

pub(super) async fn replace_keeps_created_at_and_hands_back_old_blob(r: Arc<SqlRegistry>) {
    let acme = tenant(&r, "acme").await;
    let missing = r
        .publish(&ctx(), &tid("ghost"), file("a", "1", "g1"), None)
        .await;
    assert!(
        matches!(missing, Err(RegistryError::TenantNotFound)),
        "{missing:?}"
    );

    let first = publish(&r, &acme, file("snom.htm", "one", "b1")).await.file;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let mut next = file("snom.htm", "two!", "b2");
    next.template = true;
    let replaced = publish(&r, &acme, next).await;
    assert!(!replaced.created);
    assert_eq!(replaced.replaced_blob.as_deref(), Some("b1"));
    assert_eq!(replaced.file.created_at, first.created_at);
    assert!(replaced.file.updated_at > first.updated_at);
    let stored = FileRepo::get(&*r, &acme, "snom.htm")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored, replaced.file);
    assert!(stored.template && stored.size == 4);

    let removed = FileRepo::delete(&*r, &ctx(), &acme, "snom.htm")
        .await
        .unwrap();
    assert_eq!(removed, Some(stored));
    assert!(
        FileRepo::get(&*r, &acme, "snom.htm")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        FileRepo::delete(&*r, &ctx(), &acme, "snom.htm")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        FileRepo::delete(&*r, &ctx(), &tid("ghost"), "x")
            .await
            .unwrap()
            .is_none()
    );
}

pub(super) async fn unreferenced_names_blobs_no_row_holds(r: Arc<SqlRegistry>) {
    let acme = tenant(&r, "acme").await;
    publish(&r, &acme, file("one", "1", "k-1")).await;
    publish(&r, &acme, file("two", "2", "k-2")).await;
    let asked: Vec<String> = ["k-1", "gone", "k-2", "never"].map(String::from).into();
    assert_eq!(r.unreferenced(&asked).await.unwrap(), ["gone", "never"]);
    assert!(r.unreferenced(&[]).await.unwrap().is_empty());
    // More keys than one statement holds.
    let many: Vec<String> = (0..1_200).map(|n| format!("k-{n}")).collect();
    let free = r.unreferenced(&many).await.unwrap();
    assert_eq!(free.len(), 1_198);
    assert!(!free.contains(&"k-1".to_owned()) && !free.contains(&"k-2".to_owned()));
}

pub(super) async fn file_events_skip_identical_republish(r: Arc<SqlRegistry>) {
    let acme = tenant(&r, "acme").await;
    publish(&r, &acme, file("p.cfg", "body", "e1")).await;
    let same = publish(&r, &acme, file("p.cfg", "body", "e2")).await;
    assert_eq!(same.replaced_blob.as_deref(), Some("e1"), "still switched");
    let mut retyped = file("p.cfg", "body", "e3");
    retyped.content_type = "application/xml".into();
    publish(&r, &acme, retyped).await;
    FileRepo::delete(&*r, &ctx(), &acme, "p.cfg").await.unwrap();

    let filter = EventFilter {
        target: Some("file/p.cfg".into()),
        ..Default::default()
    };
    let events = EventRepo::list(&*r, &acme, &filter, None, 100)
        .await
        .unwrap();
    let actions: Vec<_> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["file.put", "file.put", "file.delete"]);
    let created = events[0].after.as_ref().unwrap();
    assert_eq!(created["sha256"], hex::encode(Sha256::digest(b"body")));
    assert_eq!(
        (created["size"].as_u64(), created["path"].as_str()),
        (Some(4), Some("p.cfg"))
    );
    assert!(events[0].before.is_none());
    assert_eq!(
        events[1].before.as_ref().unwrap()["content_type"],
        "text/plain"
    );
    assert_eq!(
        events[1].after.as_ref().unwrap()["content_type"],
        "application/xml"
    );
    assert!(events[2].after.is_none());
    for event in &events {
        for json in [&event.before, &event.after].into_iter().flatten() {
            assert!(
                json.get("blob_key").is_none(),
                "blob keys stay internal: {json}"
            );
        }
        assert_eq!(
            (event.actor.as_str(), event.request_id.as_deref()),
            ("k1", Some("req-1"))
        );
    }
}

/// Many lookups in one query: only the files that exist, only the tenant's own, paths
/// compared exactly (no case folding, no wildcards).
pub(super) async fn get_many_finds_the_tenants_files_among_the_paths(r: Arc<SqlRegistry>) {
    let t = tenant(&r, "acme").await;
    let other = tenant(&r, "other").await;
    publish(&r, &t, file("snomD785-000413000001.htm", "a", "k-a")).await;
    publish(&r, &t, file("firmware/fw.xml", "b", "k-b")).await;
    publish(&r, &other, file("only-theirs.htm", "c", "k-c")).await;
    let wanted = [
        "snomD785-000413000001.htm",
        "SNOMD785-000413000001.htm",
        "snomD785-%.htm",
        "firmware/fw.xml",
        "firmware/fw.xml",
        "only-theirs.htm",
        "missing.htm",
        "it's \"quoted\".htm",
    ];
    let mut found: Vec<_> = FileRepo::get_many(&*r, &t, &wanted)
        .await
        .unwrap()
        .into_iter()
        .map(|f| (f.path, f.blob_key))
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            ("firmware/fw.xml".to_owned(), "k-b".to_owned()),
            ("snomD785-000413000001.htm".to_owned(), "k-a".to_owned()),
        ]
    );
    let theirs = FileRepo::get_many(&*r, &other, &wanted).await.unwrap();
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0].path, "only-theirs.htm");
    assert!(FileRepo::get_many(&*r, &t, &[]).await.unwrap().is_empty());
}
