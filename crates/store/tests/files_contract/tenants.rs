//! What files mean for their tenant: the file-token epoch, and deleting the tenant.

use std::sync::Arc;

use signpost_store::registry::*;

use super::{ctx, file, paths, publish, tenant, tid};

pub(super) async fn file_token_epoch_rotates_and_survives_tenant_put(r: Arc<SqlRegistry>) {
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

pub(super) async fn tenant_delete_removes_its_files(r: Arc<SqlRegistry>) {
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
