//! Resolving a MAC to its setting server: device, then profile, then tenant.

use std::sync::Arc;

use crate::common::registry::*;

use signpost_domain::PhoneSetting;
use signpost_store::registry::*;

pub(super) async fn resolution_follows_device_profile_tenant(r: Arc<SqlRegistry>) {
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
