//! Tenants and their profiles: lifecycle, paging, and what deleting either refuses.

use std::sync::Arc;

use crate::common::registry::*;

use signpost_domain::PhoneSetting;
use signpost_store::registry::*;

pub(super) async fn tenant_lifecycle(r: Arc<SqlRegistry>) {
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

pub(super) async fn tenant_list_pages_by_id(r: Arc<SqlRegistry>) {
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

pub(super) async fn tenant_delete_refuses_while_devices_remain(r: Arc<SqlRegistry>) {
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

pub(super) async fn profile_lifecycle(r: Arc<SqlRegistry>) {
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
