//! Builders the registry suites share: ids, specs, and a tenant with one profile.

// Each suite compiles this module on its own and uses only some of it.
#![allow(dead_code)]

use signpost_domain::{Mac, ProfileId, SettingServerUrl, TenantId};
use signpost_store::registry::*;

pub fn ctx(actor: &str) -> ChangeContext {
    ChangeContext {
        actor: actor.into(),
        request_id: Some(format!("req-{actor}")),
    }
}

pub fn tid(s: &str) -> TenantId {
    s.parse().unwrap()
}

pub fn pid(s: &str) -> ProfileId {
    s.parse().unwrap()
}

pub fn url(s: &str) -> SettingServerUrl {
    s.parse().unwrap()
}

pub fn mac(n: u32) -> Mac {
    let b = n.to_be_bytes();
    Mac::from_bytes([0x00, 0x04, 0x13, b[1], b[2], b[3]])
}

pub fn tenant_spec(id: &str) -> TenantSpec {
    TenantSpec {
        id: tid(id),
        display_name: format!("{id} Ltd"),
        default_setting_server: None,
        status: TenantStatus::Active,
    }
}

pub fn device(n: u32, profile: Option<&str>) -> DeviceSpec {
    DeviceSpec {
        mac: mac(n),
        profile: profile.map(pid),
        setting_server: None,
        label: Some(format!("desk {n}")),
    }
}

pub async fn tenant_with_profile(r: &SqlRegistry, tenant: &str, profile: &str) {
    TenantRepo::put(r, &ctx("setup"), tenant_spec(tenant))
        .await
        .unwrap();
    let spec = ProfileSpec {
        id: pid(profile),
        setting_server: url(&format!("https://{tenant}.example.com/{profile}/{{mac}}")),
        extra_settings: vec![],
    };
    ProfileRepo::put(r, &ctx("setup"), &tid(tenant), spec)
        .await
        .unwrap();
}
