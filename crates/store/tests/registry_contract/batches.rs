//! Device batches: all or nothing, and larger than one SQL statement holds.

use std::sync::Arc;

use crate::common::registry::*;

use signpost_store::registry::*;

pub(super) async fn batch_is_all_or_nothing(r: Arc<SqlRegistry>) {
    tenant_with_profile(&r, "acme", "desk").await;
    tenant_with_profile(&r, "rival", "desk").await;
    let acme = tid("acme");
    DeviceRepo::put(&*r, &ctx("k"), &tid("rival"), device(50, None))
        .await
        .unwrap();
    DeviceRepo::put(&*r, &ctx("k"), &acme, device(9, Some("desk")))
        .await
        .unwrap();

    let ops = vec![
        DeviceOp::Upsert(device(1, Some("desk"))),
        DeviceOp::Upsert(device(50, Some("desk"))),
        DeviceOp::Upsert(device(2, Some("missing"))),
        DeviceOp::Delete(mac(9)),
        DeviceOp::Upsert(device(1, None)),
    ];
    let refused = r.apply_batch(&ctx("k"), &acme, ops).await;
    let Err(RegistryError::BatchRefused(items)) = refused else {
        panic!("{refused:?}")
    };
    let reasons: Vec<_> = items.iter().map(|i| (i.index, i.reason.clone())).collect();
    assert_eq!(
        reasons,
        [
            (1, BatchItemReason::MacOwnedByOtherTenant),
            (2, BatchItemReason::ProfileNotFound(pid("missing"))),
            (4, BatchItemReason::DuplicateMac),
        ]
    );
    // Nothing of the refused batch was written.
    assert!(DeviceRepo::get(&*r, &acme, mac(1)).await.unwrap().is_none());
    assert!(DeviceRepo::get(&*r, &acme, mac(9)).await.unwrap().is_some());

    let ops = vec![
        DeviceOp::Upsert(device(1, Some("desk"))),
        DeviceOp::Upsert(device(9, Some("desk"))),
        DeviceOp::Delete(mac(50)),
        DeviceOp::Delete(mac(77)),
    ];
    let summary = r.apply_batch(&ctx("k"), &acme, ops).await.unwrap();
    assert_eq!(
        summary,
        BatchSummary {
            created: 1,
            updated: 0,
            unchanged: 1,
            deleted: 0,
            absent: 2
        }
    );
    assert!(
        DeviceRepo::get(&*r, &tid("rival"), mac(50))
            .await
            .unwrap()
            .is_some()
    );
}

pub(super) async fn large_batch_crosses_statement_chunks(r: Arc<SqlRegistry>) {
    tenant_with_profile(&r, "acme", "desk").await;
    let acme = tid("acme");
    let ops: Vec<_> = (0..2_345)
        .map(|n| DeviceOp::Upsert(device(n, Some("desk"))))
        .collect();
    let summary = r.apply_batch(&ctx("k"), &acme, ops).await.unwrap();
    assert_eq!(summary.created, 2_345);
    let listed = DeviceRepo::list(&*r, &acme, &DeviceFilter::default(), None, 10_000)
        .await
        .unwrap();
    assert_eq!(listed.len(), 2_345);
    let events = EventRepo::list(
        &*r,
        &acme,
        &EventFilter {
            action: Some("device.create".into()),
            ..Default::default()
        },
        None,
        10_000,
    )
    .await
    .unwrap();
    assert_eq!(events.len(), 2_345);
    let deletes: Vec<_> = (0..2_345).map(|n| DeviceOp::Delete(mac(n))).collect();
    assert_eq!(
        r.apply_batch(&ctx("k"), &acme, deletes)
            .await
            .unwrap()
            .deleted,
        2_345
    );
    let left = DeviceRepo::list(&*r, &acme, &DeviceFilter::default(), None, 10)
        .await
        .unwrap();
    assert!(left.is_empty(), "{} devices left", left.len());
}
