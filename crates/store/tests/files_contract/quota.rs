//! The tenant's storage quota and the usage total it is held against.

use std::sync::Arc;

use signpost_domain::TenantId;
use signpost_store::registry::*;

use super::{ctx, paths, publish, sized, tenant, tid};

pub(super) async fn quota_refuses_and_counts_replacements_once(r: Arc<SqlRegistry>) {
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

pub(super) async fn concurrent_publishes_never_exceed_quota(r: Arc<SqlRegistry>) {
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

pub(super) async fn usage_follows_publishes_replacements_and_deletes(r: Arc<SqlRegistry>) {
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
