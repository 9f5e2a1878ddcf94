//! The hosted-file catalogue and the tenant's file-token epoch, run against SQLite and
//! PostgreSQL.

#[macro_use]
mod common;

use std::sync::Arc;

use common::Fixture;
use sha2::{Digest, Sha256};
use signpost_domain::TenantId;
use signpost_store::registry::*;

contract!(
    publish_get_and_list_by_literal_prefix,
    replace_keeps_created_at_and_hands_back_old_blob,
    quota_refuses_and_counts_replacements_once,
    unreferenced_names_blobs_no_row_holds,
    file_events_skip_identical_republish,
    file_token_epoch_rotates_and_survives_tenant_put,
    tenant_delete_removes_its_files,
    concurrent_publishes_never_exceed_quota,
    usage_follows_publishes_replacements_and_deletes,
    get_many_finds_the_tenants_files_among_the_paths,
);

fn ctx() -> ChangeContext {
    ChangeContext {
        actor: "k1".into(),
        request_id: Some("req-1".into()),
    }
}

fn tid(s: &str) -> TenantId {
    s.parse().unwrap()
}

async fn tenant(r: &SqlRegistry, id: &str) -> TenantId {
    let spec = TenantSpec {
        id: tid(id),
        display_name: format!("{id} Ltd"),
        default_setting_server: None,
        status: TenantStatus::Active,
    };
    TenantRepo::put(r, &ctx(), spec).await.unwrap();
    tid(id)
}

fn file(path: &str, body: &str, key: &str) -> FileSpec {
    FileSpec {
        path: path.into(),
        size: body.len() as u64,
        sha256: Sha256::digest(body.as_bytes()).into(),
        content_type: "text/plain".into(),
        blob_key: key.into(),
        template: false,
    }
}

fn sized(path: &str, size: usize, key: &str) -> FileSpec {
    file(path, &"x".repeat(size), key)
}

async fn publish(r: &SqlRegistry, t: &TenantId, spec: FileSpec) -> Published {
    r.publish(&ctx(), t, spec, None).await.unwrap()
}

async fn paths(r: &SqlRegistry, t: &TenantId, prefix: &str, after: Option<&str>) -> Vec<String> {
    let found = FileRepo::list(r, t, prefix, after, 100).await.unwrap();
    found.into_iter().map(|f| f.path).collect()
}

async fn publish_get_and_list_by_literal_prefix(r: Arc<SqlRegistry>) {
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

async fn replace_keeps_created_at_and_hands_back_old_blob(r: Arc<SqlRegistry>) {
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

async fn quota_refuses_and_counts_replacements_once(r: Arc<SqlRegistry>) {
    let acme = tenant(&r, "acme").await;
    let quota = Some(100);
    r.publish(&ctx(), &acme, sized("a", 60, "a1"), quota)
        .await
        .unwrap();
    let refused = r.publish(&ctx(), &acme, sized("b", 50, "b1"), quota).await;
    assert!(
        matches!(
            refused,
            Err(RegistryError::QuotaExceeded {
                used: 60,
                quota: 100,
                needed: 50
            })
        ),
        "{refused:?}"
    );
    assert!(FileRepo::get(&*r, &acme, "b").await.unwrap().is_none());

    // A replacement counts only the new size.
    let grown = r
        .publish(&ctx(), &acme, sized("a", 90, "a2"), quota)
        .await
        .unwrap();
    assert_eq!(grown.replaced_blob.as_deref(), Some("a1"));
    let refused = r.publish(&ctx(), &acme, sized("a", 120, "a3"), quota).await;
    assert!(
        matches!(
            refused,
            Err(RegistryError::QuotaExceeded {
                used: 0,
                quota: 100,
                needed: 120
            })
        ),
        "{refused:?}"
    );
    let kept = FileRepo::get(&*r, &acme, "a").await.unwrap().unwrap();
    assert_eq!((kept.size, kept.blob_key.as_str()), (90, "a2"));
    r.publish(&ctx(), &acme, sized("b", 10, "b2"), quota)
        .await
        .unwrap();
    assert_eq!(r.usage(&acme).await.unwrap(), 100);
    assert_eq!(r.usage(&tid("nobody")).await.unwrap(), 0);
}

async fn unreferenced_names_blobs_no_row_holds(r: Arc<SqlRegistry>) {
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

async fn file_events_skip_identical_republish(r: Arc<SqlRegistry>) {
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

async fn file_token_epoch_rotates_and_survives_tenant_put(r: Arc<SqlRegistry>) {
    let acme = tenant(&r, "acme").await;
    assert_eq!(
        TenantRepo::get(&*r, &acme)
            .await
            .unwrap()
            .unwrap()
            .file_token_epoch,
        0
    );
    assert_eq!(r.rotate_file_tokens(&ctx(), &acme).await.unwrap(), Some(1));
    assert_eq!(r.rotate_file_tokens(&ctx(), &acme).await.unwrap(), Some(2));
    assert_eq!(
        r.rotate_file_tokens(&ctx(), &tid("ghost")).await.unwrap(),
        None
    );

    let mut spec = TenantRepo::get(&*r, &acme).await.unwrap().unwrap().spec;
    spec.display_name = "Acme Telecom".into();
    let updated = TenantRepo::put(&*r, &ctx(), spec).await.unwrap();
    assert!(matches!(updated, Written::Updated(ref t) if t.file_token_epoch == 2));
    let fetched = TenantRepo::get(&*r, &acme).await.unwrap().unwrap();
    assert_eq!(
        (fetched.file_token_epoch, fetched.spec.display_name.as_str()),
        (2, "Acme Telecom")
    );
    let listed = TenantRepo::list(&*r, None, 10).await.unwrap();
    assert_eq!(listed[0].file_token_epoch, 2);

    let filter = EventFilter {
        action: Some("tenant.rotate_file_tokens".into()),
        ..Default::default()
    };
    let events = EventRepo::list(&*r, &acme, &filter, None, 10)
        .await
        .unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].target, "tenant/acme");
    assert_eq!(
        events[1].before,
        Some(serde_json::json!({ "file_token_epoch": 1 }))
    );
    assert_eq!(
        events[1].after,
        Some(serde_json::json!({ "file_token_epoch": 2 }))
    );
}

async fn tenant_delete_removes_its_files(r: Arc<SqlRegistry>) {
    let acme = tenant(&r, "acme").await;
    publish(&r, &acme, file("a", "1", "d1")).await;
    publish(&r, &acme, file("b", "2", "d2")).await;
    assert!(TenantRepo::delete(&*r, &ctx(), &acme, true).await.unwrap());
    let keys = ["d1", "d2"].map(String::from);
    assert_eq!(r.unreferenced(&keys).await.unwrap(), keys);
    let acme = tenant(&r, "acme").await;
    assert!(paths(&r, &acme, "", None).await.is_empty());
    assert_eq!(r.usage(&acme).await.unwrap(), 0);
}

async fn concurrent_publishes_never_exceed_quota(r: Arc<SqlRegistry>) {
    let acme = tenant(&r, "acme").await;
    let attempts = (0..8).map(|n| {
        let (r, acme) = (r.clone(), acme.clone());
        tokio::spawn(async move {
            let spec = sized(&format!("f{n}"), 100, &format!("c{n}"));
            r.publish(&ctx(), &acme, spec, Some(300)).await
        })
    });
    let results = futures::future::join_all(attempts).await;
    let results: Vec<_> = results.into_iter().map(Result::unwrap).collect();
    let won = results.iter().filter(|r| r.is_ok()).count();
    let refused = results
        .iter()
        .filter(|r| matches!(r, Err(RegistryError::QuotaExceeded { used: 300, .. })))
        .count();
    assert_eq!((won, refused), (3, 5), "{results:?}");
    assert_eq!(r.usage(&acme).await.unwrap(), 300);
    assert_eq!(paths(&r, &acme, "", None).await.len(), 3);
}

async fn usage(r: &SqlRegistry, t: &TenantId) -> u64 {
    r.usage(t).await.unwrap()
}

async fn usage_follows_publishes_replacements_and_deletes(r: Arc<SqlRegistry>) {
    let acme = tenant(&r, "acme").await;
    let rival = tenant(&r, "rival").await;
    let before = TenantRepo::get(&*r, &acme).await.unwrap().unwrap();
    let quota = Some(100);
    let put = |spec: FileSpec| {
        let (r, acme) = (r.clone(), acme.clone());
        async move { r.publish(&ctx(), &acme, spec, quota).await }
    };

    put(sized("a", 40, "a1")).await.unwrap();
    put(sized("b", 30, "b1")).await.unwrap();
    assert_eq!(usage(&r, &acme).await, 70);
    put(sized("a", 60, "a2")).await.unwrap();
    assert_eq!(usage(&r, &acme).await, 90, "a bigger replacement");
    put(sized("a", 10, "a3")).await.unwrap();
    assert_eq!(usage(&r, &acme).await, 40, "a smaller replacement");
    put(sized("a", 10, "a4")).await.unwrap();
    assert_eq!(usage(&r, &acme).await, 40, "a same-size replacement");

    // The quota is held against the running total, less the file being replaced.
    let refused = put(sized("c", 61, "c1")).await;
    assert!(
        matches!(
            refused,
            Err(RegistryError::QuotaExceeded {
                used: 40,
                quota: 100,
                needed: 61
            })
        ),
        "{refused:?}"
    );
    let refused = put(sized("b", 91, "b2")).await;
    assert!(
        matches!(
            refused,
            Err(RegistryError::QuotaExceeded {
                used: 10,
                quota: 100,
                needed: 91
            })
        ),
        "{refused:?}"
    );
    assert_eq!(usage(&r, &acme).await, 40, "refusals change nothing");
    put(sized("b", 90, "b3")).await.unwrap();
    assert_eq!(usage(&r, &acme).await, 100, "exactly the quota");

    let removed = FileRepo::delete(&*r, &ctx(), &acme, "b").await.unwrap();
    assert_eq!(removed.map(|f| f.size), Some(90));
    assert_eq!(usage(&r, &acme).await, 10);
    assert!(
        FileRepo::delete(&*r, &ctx(), &acme, "b")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(usage(&r, &acme).await, 10, "deleting nothing frees nothing");
    put(sized("c", 90, "c2")).await.unwrap();
    assert_eq!(usage(&r, &acme).await, 100, "deleted bytes are free again");
    FileRepo::delete(&*r, &ctx(), &acme, "a").await.unwrap();
    FileRepo::delete(&*r, &ctx(), &acme, "c").await.unwrap();
    assert_eq!(usage(&r, &acme).await, 0);

    // One tenant's files never count against another's.
    publish(&r, &rival, sized("a", 25, "r1")).await;
    assert_eq!((usage(&r, &acme).await, usage(&r, &rival).await), (0, 25));

    // The total is bookkeeping, not a change to the tenant: no new updated_at, no event.
    let after = TenantRepo::get(&*r, &acme).await.unwrap().unwrap();
    assert_eq!(after, before);
    let filter = EventFilter {
        target: Some("tenant/acme".into()),
        ..Default::default()
    };
    let events = EventRepo::list(&*r, &acme, &filter, None, 100)
        .await
        .unwrap();
    let actions: Vec<_> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["tenant.create"]);

    // Editing the tenant leaves its total alone.
    publish(&r, &acme, sized("kept", 7, "k1")).await;
    let mut spec = after.spec;
    spec.display_name = "Acme Telecom".into();
    TenantRepo::put(&*r, &ctx(), spec).await.unwrap();
    assert_eq!(usage(&r, &acme).await, 7);
}

/// Many lookups in one query: only the files that exist, only the tenant's own, paths
/// compared exactly (no case folding, no wildcards).
async fn get_many_finds_the_tenants_files_among_the_paths(r: Arc<SqlRegistry>) {
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
