//! The change trail: one event per change, filtered and paged per tenant.

use std::sync::Arc;

use crate::common::registry::*;

use signpost_domain::Timestamp;
use signpost_store::registry::*;

pub(super) async fn events_record_every_change(r: Arc<SqlRegistry>) {
    let acme = tid("acme");
    TenantRepo::put(&*r, &ctx("k1"), tenant_spec("acme"))
        .await
        .unwrap();
    TenantRepo::put(&*r, &ctx("k1"), tenant_spec("acme"))
        .await
        .unwrap(); // unchanged: no event
    TenantRepo::put(&*r, &ctx("k2"), tenant_spec("rival"))
        .await
        .unwrap();
    DeviceRepo::put(&*r, &ctx("k1"), &acme, device(1, None))
        .await
        .unwrap();
    DeviceRepo::put(&*r, &ctx("k1"), &acme, device(1, None))
        .await
        .unwrap(); // unchanged
    let mut relabelled = device(1, None);
    relabelled.label = Some("reception".into());
    DeviceRepo::put(&*r, &ctx("k3"), &acme, relabelled)
        .await
        .unwrap();
    DeviceRepo::delete(&*r, &ctx("k3"), &acme, mac(1))
        .await
        .unwrap();

    let events = EventRepo::list(&*r, &acme, &EventFilter::default(), None, 100)
        .await
        .unwrap();
    let summary: Vec<_> = events
        .iter()
        .map(|e| (e.action.as_str(), e.actor.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            ("tenant.create", "k1"),
            ("device.create", "k1"),
            ("device.update", "k3"),
            ("device.delete", "k3")
        ]
    );
    let update = &events[2];
    assert_eq!(update.target, format!("device/{}", mac(1)));
    assert_eq!(update.request_id.as_deref(), Some("req-k3"));
    assert_eq!(update.before.as_ref().unwrap()["label"], "desk 1");
    assert_eq!(update.after.as_ref().unwrap()["label"], "reception");
    assert!(events[3].after.is_none());

    let page = EventRepo::list(&*r, &acme, &EventFilter::default(), Some(events[1].id), 1)
        .await
        .unwrap();
    assert_eq!(page[0].id, events[2].id);
    let targeted = EventRepo::list(
        &*r,
        &acme,
        &EventFilter {
            target: Some("tenant/acme".into()),
            ..Default::default()
        },
        None,
        100,
    )
    .await
    .unwrap();
    assert_eq!(targeted.len(), 1);
    let future = EventFilter {
        since: Some(Timestamp::from_unix_millis(i64::MAX / 2)),
        ..Default::default()
    };
    assert!(
        EventRepo::list(&*r, &acme, &future, None, 100)
            .await
            .unwrap()
            .is_empty()
    );
    let rival = EventRepo::list(&*r, &tid("rival"), &EventFilter::default(), None, 100)
        .await
        .unwrap();
    assert_eq!(rival.len(), 1, "each tenant sees its own trail only");
}
