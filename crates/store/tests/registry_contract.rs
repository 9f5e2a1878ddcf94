//! One contract suite for the registry port, run against SQLite and PostgreSQL.

#[macro_use]
mod common;

use std::sync::Arc;

use common::Fixture;
use common::registry::*;

use signpost_domain::{PhoneSetting, Timestamp};
use signpost_store::registry::*;

contract!(
    migrations_are_idempotent,
    tenant_lifecycle,
    tenant_list_pages_by_id,
    tenant_delete_refuses_while_devices_remain,
    profile_lifecycle,
    device_lifecycle_and_isolation,
    device_list_filters_and_pages,
    batch_is_all_or_nothing,
    large_batch_crosses_statement_chunks,
    resolution_follows_device_profile_tenant,
    events_record_every_change,
    concurrent_claims_of_one_mac_have_one_winner,
);

async fn migrations_are_idempotent(r: Arc<SqlRegistry>) {
    r.migrate().await.unwrap();
    r.check().await.unwrap();
}

async fn tenant_lifecycle(r: Arc<SqlRegistry>) {
    let spec = tenant_spec("acme");
    let created = TenantRepo::put(&*r, &ctx("k1"), spec.clone())
        .await
        .unwrap();
    assert!(matches!(created, Written::Created(_)));
    let again = TenantRepo::put(&*r, &ctx("k1"), spec.clone())
        .await
        .unwrap();
    assert!(matches!(again, Written::Unchanged(_)));

    let mut changed = spec.clone();
    changed.display_name = "Acme Telecom".into();
    changed.default_setting_server = Some(url("https://pbx.acme.example/{mac}"));
    changed.status = TenantStatus::Suspended;
    let updated = TenantRepo::put(&*r, &ctx("k1"), changed.clone())
        .await
        .unwrap();
    let Written::Updated(updated) = updated else {
        panic!("expected an update")
    };
    assert_eq!(updated.spec, changed);
    assert_eq!(updated.created_at, created.value().created_at);

    let fetched = TenantRepo::get(&*r, &tid("acme")).await.unwrap().unwrap();
    assert_eq!(fetched.spec, changed);
    assert!(
        TenantRepo::get(&*r, &tid("nobody"))
            .await
            .unwrap()
            .is_none()
    );

    assert!(
        TenantRepo::delete(&*r, &ctx("k1"), &tid("acme"), false)
            .await
            .unwrap()
    );
    assert!(
        !TenantRepo::delete(&*r, &ctx("k1"), &tid("acme"), false)
            .await
            .unwrap()
    );
    assert!(TenantRepo::get(&*r, &tid("acme")).await.unwrap().is_none());
}

async fn tenant_list_pages_by_id(r: Arc<SqlRegistry>) {
    for id in ["delta", "alpha", "charlie", "bravo", "echo"] {
        TenantRepo::put(&*r, &ctx("k"), tenant_spec(id))
            .await
            .unwrap();
    }
    let first = TenantRepo::list(&*r, None, 2).await.unwrap();
    let ids: Vec<_> = first.iter().map(|t| t.spec.id.to_string()).collect();
    assert_eq!(ids, ["alpha", "bravo"]);
    let rest = TenantRepo::list(&*r, Some(&tid("bravo")), 10)
        .await
        .unwrap();
    let ids: Vec<_> = rest.iter().map(|t| t.spec.id.to_string()).collect();
    assert_eq!(ids, ["charlie", "delta", "echo"]);
}

async fn tenant_delete_refuses_while_devices_remain(r: Arc<SqlRegistry>) {
    tenant_with_profile(&r, "acme", "desk").await;
    DeviceRepo::put(&*r, &ctx("k"), &tid("acme"), device(1, Some("desk")))
        .await
        .unwrap();
    let refused = TenantRepo::delete(&*r, &ctx("k"), &tid("acme"), false).await;
    assert!(
        matches!(refused, Err(RegistryError::TenantNotEmpty)),
        "{refused:?}"
    );
    assert!(
        TenantRepo::delete(&*r, &ctx("k"), &tid("acme"), true)
            .await
            .unwrap()
    );
    assert!(r.resolve(mac(1)).await.unwrap().is_none());
    // The MAC is free for another tenant now.
    TenantRepo::put(&*r, &ctx("k"), tenant_spec("other"))
        .await
        .unwrap();
    DeviceRepo::put(&*r, &ctx("k"), &tid("other"), device(1, None))
        .await
        .unwrap();
}

async fn profile_lifecycle(r: Arc<SqlRegistry>) {
    let spec = ProfileSpec {
        id: pid("desk"),
        setting_server: url("https://pbx.example.com/{mac}"),
        extra_settings: serde_json::from_str::<Vec<PhoneSetting>>(
            r#"[{"name":"update_policy","value":"auto_update","perm":"read-only"}]"#,
        )
        .unwrap(),
    };
    let missing = ProfileRepo::put(&*r, &ctx("k"), &tid("acme"), spec.clone()).await;
    assert!(
        matches!(missing, Err(RegistryError::TenantNotFound)),
        "{missing:?}"
    );

    TenantRepo::put(&*r, &ctx("k"), tenant_spec("acme"))
        .await
        .unwrap();
    TenantRepo::put(&*r, &ctx("k"), tenant_spec("other"))
        .await
        .unwrap();
    let created = ProfileRepo::put(&*r, &ctx("k"), &tid("acme"), spec.clone())
        .await
        .unwrap();
    assert!(matches!(created, Written::Created(_)));
    let again = ProfileRepo::put(&*r, &ctx("k"), &tid("acme"), spec.clone())
        .await
        .unwrap();
    assert!(matches!(again, Written::Unchanged(_)));
    let fetched = ProfileRepo::get(&*r, &tid("acme"), &pid("desk"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(fetched.spec, spec);
    assert!(
        ProfileRepo::get(&*r, &tid("other"), &pid("desk"))
            .await
            .unwrap()
            .is_none()
    );

    DeviceRepo::put(&*r, &ctx("k"), &tid("acme"), device(7, Some("desk")))
        .await
        .unwrap();
    let in_use = ProfileRepo::delete(&*r, &ctx("k"), &tid("acme"), &pid("desk")).await;
    assert!(
        matches!(in_use, Err(RegistryError::ProfileInUse { devices: 1 })),
        "{in_use:?}"
    );
    assert!(
        !ProfileRepo::delete(&*r, &ctx("k"), &tid("other"), &pid("desk"))
            .await
            .unwrap()
    );
    DeviceRepo::delete(&*r, &ctx("k"), &tid("acme"), mac(7))
        .await
        .unwrap();
    assert!(
        ProfileRepo::delete(&*r, &ctx("k"), &tid("acme"), &pid("desk"))
            .await
            .unwrap()
    );
    assert!(
        ProfileRepo::list(&*r, &tid("acme"), None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn device_lifecycle_and_isolation(r: Arc<SqlRegistry>) {
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

async fn device_list_filters_and_pages(r: Arc<SqlRegistry>) {
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

async fn batch_is_all_or_nothing(r: Arc<SqlRegistry>) {
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

async fn large_batch_crosses_statement_chunks(r: Arc<SqlRegistry>) {
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

async fn resolution_follows_device_profile_tenant(r: Arc<SqlRegistry>) {
    tenant_with_profile(&r, "acme", "desk").await;
    let acme = tid("acme");
    assert!(r.resolve(mac(1)).await.unwrap().is_none(), "unknown MAC");

    DeviceRepo::put(&*r, &ctx("k"), &acme, device(1, None))
        .await
        .unwrap();
    assert!(
        r.resolve(mac(1)).await.unwrap().is_none(),
        "no URL anywhere: not redirected"
    );

    let mut tenant = tenant_spec("acme");
    tenant.default_setting_server = Some(url("https://default.acme.example/"));
    TenantRepo::put(&*r, &ctx("k"), tenant.clone())
        .await
        .unwrap();
    let resolved = r.resolve(mac(1)).await.unwrap().unwrap();
    assert_eq!(
        (resolved.source, resolved.setting_server.as_str()),
        (ResolutionSource::Tenant, "https://default.acme.example/")
    );

    let settings: Vec<PhoneSetting> =
        serde_json::from_str(r#"[{"name":"update_policy","value":"auto_update"}]"#).unwrap();
    let profile = ProfileSpec {
        id: pid("desk"),
        setting_server: url("https://desk.acme.example/{mac}"),
        extra_settings: settings.clone(),
    };
    ProfileRepo::put(&*r, &ctx("k"), &acme, profile)
        .await
        .unwrap();
    DeviceRepo::put(&*r, &ctx("k"), &acme, device(1, Some("desk")))
        .await
        .unwrap();
    let resolved = r.resolve(mac(1)).await.unwrap().unwrap();
    assert_eq!(resolved.source, ResolutionSource::Profile);
    assert_eq!(
        resolved.setting_server.as_str(),
        "https://desk.acme.example/{mac}"
    );
    assert_eq!(resolved.extra_settings, settings);
    assert_eq!(resolved.profile, Some(pid("desk")));
    assert_eq!(resolved.tenant, acme);

    let mut own = device(1, Some("desk"));
    own.setting_server = Some(url("http://10.0.0.5/snom"));
    DeviceRepo::put(&*r, &ctx("k"), &acme, own).await.unwrap();
    let resolved = r.resolve(mac(1)).await.unwrap().unwrap();
    assert_eq!(
        (resolved.source, resolved.setting_server.as_str()),
        (ResolutionSource::Device, "http://10.0.0.5/snom")
    );

    tenant.status = TenantStatus::Suspended;
    TenantRepo::put(&*r, &ctx("k"), tenant).await.unwrap();
    assert!(
        r.resolve(mac(1)).await.unwrap().is_none(),
        "suspended tenant"
    );
    // The device's own share of a resolution is told whatever the tenant's status.
    assert_eq!(
        r.route(mac(1)).await.unwrap(),
        Some(DeviceRoute {
            tenant: acme,
            profile: Some(pid("desk")),
            setting_server: Some(url("http://10.0.0.5/snom")),
        })
    );
    assert_eq!(r.route(mac(2)).await.unwrap(), None);
}

async fn events_record_every_change(r: Arc<SqlRegistry>) {
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

async fn concurrent_claims_of_one_mac_have_one_winner(r: Arc<SqlRegistry>) {
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
