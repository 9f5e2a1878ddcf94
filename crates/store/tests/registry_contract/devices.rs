//! Devices: lifecycle, one owning tenant per MAC, filtered listing and racing claims.

use std::sync::Arc;

use crate::common::registry::*;

use signpost_domain::Timestamp;
use signpost_store::registry::*;

pub(super) async fn device_lifecycle_and_isolation(r: Arc<SqlRegistry>) {
    tenant_with_profile(&r, "acme", "desk").await;
    tenant_with_profile(&r, "rival", "desk").await;
    let acme = tid("acme");

    let created = DeviceRepo::put(&*r, &ctx("k"), &acme, device(1, Some("desk")))
        .await
        .unwrap();
    assert!(matches!(created, Written::Created(_)));
    let unchanged = DeviceRepo::put(&*r, &ctx("k"), &acme, device(1, Some("desk")))
        .await
        .unwrap();
    assert!(matches!(unchanged, Written::Unchanged(_)));
    let mut moved = device(1, None);
    moved.setting_server = Some(url("https://elsewhere.example.com/"));
    let updated = DeviceRepo::put(&*r, &ctx("k"), &acme, moved.clone())
        .await
        .unwrap();
    assert!(matches!(updated, Written::Updated(ref d) if d.spec == moved));

    // One owner per MAC: the rival cannot claim, see or delete it.
    let claim = DeviceRepo::put(&*r, &ctx("k"), &tid("rival"), device(1, None)).await;
    assert!(
        matches!(claim, Err(RegistryError::MacOwnedByOtherTenant(m)) if m == mac(1)),
        "{claim:?}"
    );
    assert!(
        DeviceRepo::get(&*r, &tid("rival"), mac(1))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        !DeviceRepo::delete(&*r, &ctx("k"), &tid("rival"), mac(1))
            .await
            .unwrap()
    );
    assert!(DeviceRepo::get(&*r, &acme, mac(1)).await.unwrap().is_some());

    let bad_profile = DeviceRepo::put(&*r, &ctx("k"), &acme, device(2, Some("nope"))).await;
    assert!(
        matches!(bad_profile, Err(RegistryError::ProfileNotFound(ref p)) if p.as_str() == "nope")
    );
    let no_tenant = DeviceRepo::put(&*r, &ctx("k"), &tid("ghost"), device(3, None)).await;
    assert!(matches!(no_tenant, Err(RegistryError::TenantNotFound)));

    assert!(
        DeviceRepo::delete(&*r, &ctx("k"), &acme, mac(1))
            .await
            .unwrap()
    );
    assert!(DeviceRepo::get(&*r, &acme, mac(1)).await.unwrap().is_none());
}

pub(super) async fn device_list_filters_and_pages(r: Arc<SqlRegistry>) {
    tenant_with_profile(&r, "acme", "desk").await;
    tenant_with_profile(&r, "acme", "dect").await;
    tenant_with_profile(&r, "rival", "desk").await;
    let acme = tid("acme");
    let ops = (1..=10)
        .map(|n| DeviceOp::Upsert(device(n, Some(if n % 2 == 0 { "desk" } else { "dect" }))))
        .collect();
    r.apply_batch(&ctx("k"), &acme, ops).await.unwrap();
    r.apply_batch(
        &ctx("k"),
        &tid("rival"),
        vec![DeviceOp::Upsert(device(100, Some("desk")))],
    )
    .await
    .unwrap();
    let seen_at = Timestamp::from_unix_millis(1_700_000_000_000);
    let sighting = |n: u32| Sighting {
        mac: mac(n),
        at: seen_at,
        source_address: "192.0.2.1".into(),
        user_agent: Some("Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33)".into()),
        firmware_version: Some("10.1.33.33".parse().unwrap()),
        phone_type: Some("snomD785".parse().unwrap()),
    };
    r.record_sightings(&[sighting(2), sighting(3)])
        .await
        .unwrap();

    let all = |filter: DeviceFilter| {
        let r = r.clone();
        let acme = acme.clone();
        async move {
            let found = DeviceRepo::list(&*r, &acme, &filter, None, 100)
                .await
                .unwrap();
            found.iter().map(|d| d.spec.mac).collect::<Vec<_>>()
        }
    };
    assert_eq!(all(DeviceFilter::default()).await.len(), 10);
    let desk = all(DeviceFilter {
        profile: Some(pid("desk")),
        ..Default::default()
    })
    .await;
    assert_eq!(desk, [mac(2), mac(4), mac(6), mac(8), mac(10)]);
    let labelled = all(DeviceFilter {
        label_prefix: Some("desk 1".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(labelled, [mac(1), mac(10)]);
    let upper = all(DeviceFilter {
        label_prefix: Some("DESK".into()),
        ..Default::default()
    })
    .await;
    assert!(upper.is_empty(), "label prefixes compare exactly");
    let seen = all(DeviceFilter {
        seen_since: Some(seen_at),
        ..Default::default()
    })
    .await;
    assert_eq!(seen, [mac(2), mac(3)]);
    let typed = all(DeviceFilter {
        phone_type: Some("snomD785".parse().unwrap()),
        ..Default::default()
    })
    .await;
    assert_eq!(typed, [mac(2), mac(3)]);
    let never = all(DeviceFilter {
        never_seen: true,
        ..Default::default()
    })
    .await;
    assert_eq!(never.len(), 8);

    let page1 = DeviceRepo::list(&*r, &acme, &DeviceFilter::default(), None, 4)
        .await
        .unwrap();
    let page2 = DeviceRepo::list(
        &*r,
        &acme,
        &DeviceFilter::default(),
        Some(page1[3].spec.mac),
        4,
    )
    .await
    .unwrap();
    assert_eq!(
        page1
            .iter()
            .chain(&page2)
            .map(|d| d.spec.mac)
            .collect::<Vec<_>>(),
        (1..=8).map(mac).collect::<Vec<_>>()
    );
}

pub(super) async fn concurrent_claims_of_one_mac_have_one_winner(r: Arc<SqlRegistry>) {
    TenantRepo::put(&*r, &ctx("k"), tenant_spec("left"))
        .await
        .unwrap();
    TenantRepo::put(&*r, &ctx("k"), tenant_spec("right"))
        .await
        .unwrap();
    let claims = (0..20)
        .flat_map(|n| ["left", "right"].map(|t| (n, t)))
        .map(|(n, tenant)| {
            let r = r.clone();
            tokio::spawn(async move {
                (
                    n,
                    DeviceRepo::put(&*r, &ctx("k"), &tid(tenant), device(n, None)).await,
                )
            })
        });
    let results = futures::future::join_all(claims).await;
    for n in 0..20 {
        let outcomes: Vec<_> = results
            .iter()
            .map(|r| r.as_ref().unwrap())
            .filter(|(m, _)| *m == n)
            .collect();
        let winners = outcomes.iter().filter(|(_, r)| r.is_ok()).count();
        let refused = outcomes
            .iter()
            .filter(|(_, r)| matches!(r, Err(RegistryError::MacOwnedByOtherTenant(_))))
            .count();
        assert_eq!((winners, refused), (1, 1), "MAC {n}: {outcomes:?}");
    }
}
