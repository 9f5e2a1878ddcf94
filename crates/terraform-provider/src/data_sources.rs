//! Data sources: `signpost_tenant` (by id) and `signpost_device` (tenant + MAC).

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tf_provider::schema::Schema;
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{DataSource, Diagnostics, DynamicDataSource};

use crate::problem::{ErrorContext, report};
use crate::provider::Shared;
use crate::resources::device::DeviceView;
use crate::resources::tenant::TenantView;
use crate::util::{at, check_attr, computed, error, required, s, schema, val};
use crate::{ids, mac};

pub fn all(shared: &Arc<Shared>) -> HashMap<String, Box<dyn DynamicDataSource>> {
    let mut map: HashMap<String, Box<dyn DynamicDataSource>> = HashMap::new();
    map.insert(
        "tenant".into(),
        Box::new(TenantData {
            shared: Arc::clone(shared),
        }),
    );
    map.insert(
        "device".into(),
        Box::new(DeviceData {
            shared: Arc::clone(shared),
        }),
    );
    map
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct TenantDataState {
    pub id: Value<String>,
    pub display_name: Value<String>,
    pub status: Value<String>,
    pub default_setting_server: Value<String>,
}

#[derive(Debug)]
pub struct TenantData {
    shared: Arc<Shared>,
}

#[async_trait]
impl DataSource for TenantData {
    type State<'a> = TenantDataState;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(schema(
            "Reads a tenant by id.",
            vec![
                ("id", required("The tenant's id.")),
                ("display_name", computed("The company name.")),
                ("status", computed("`active` or `suspended`.")),
                (
                    "default_setting_server",
                    computed("The tenant's default setting server, if any."),
                ),
            ],
        ))
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: TenantDataState) -> Option<()> {
        check_attr(diags, &config.id, "id", ids::tenant);
        Some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        config: TenantDataState,
        _meta: ValueEmpty,
    ) -> Option<TenantDataState> {
        let client = self.shared.client(diags)?;
        let id = s(&config.id)?.to_owned();
        match client
            .get_opt::<TenantView>(&format!("/v1/tenants/{id}"))
            .await
        {
            Ok(Some(view)) => Some(TenantDataState {
                id: config.id,
                display_name: Value::Value(view.display_name),
                status: Value::Value(view.status),
                default_setting_server: val(view.default_setting_server),
            }),
            Ok(None) => {
                error(
                    diags,
                    "No such tenant",
                    format!("Signpost has no tenant {id} (or this key cannot see it)."),
                    at("id"),
                );
                None
            }
            Err(e) => {
                report(
                    diags,
                    &e,
                    &ErrorContext::new(&format!("read tenant {id}"), &[("tenant", "id")]),
                );
                None
            }
        }
    }
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct DeviceDataState {
    pub id: Value<String>,
    pub tenant: Value<String>,
    pub mac: Value<String>,
    pub profile: Value<String>,
    pub setting_server: Value<String>,
    pub label: Value<String>,
    pub phone_type: Value<String>,
    pub last_seen_at: Value<String>,
}

#[derive(Debug)]
pub struct DeviceData {
    shared: Arc<Shared>,
}

#[async_trait]
impl DataSource for DeviceData {
    type State<'a> = DeviceDataState;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(schema(
            "Reads a device by tenant and MAC, with what the phone reported at its last boot.",
            vec![
                ("id", computed("`<tenant>/<MAC>`, the MAC canonical.")),
                ("tenant", required("The tenant's id.")),
                (
                    "mac",
                    required("The MAC, in any spelling Signpost accepts."),
                ),
                ("profile", computed("The device's profile, if any.")),
                (
                    "setting_server",
                    computed("The device's own setting server, if any."),
                ),
                ("label", computed("The device's label, if any.")),
                (
                    "phone_type",
                    computed("The phone type learned at boot, e.g. `snomD785`."),
                ),
                (
                    "last_seen_at",
                    computed("When the phone last asked for its redirect (RFC 3339), if ever."),
                ),
            ],
        ))
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: DeviceDataState) -> Option<()> {
        check_attr(diags, &config.tenant, "tenant", ids::tenant);
        check_attr(diags, &config.mac, "mac", mac::canonical);
        Some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        config: DeviceDataState,
        _meta: ValueEmpty,
    ) -> Option<DeviceDataState> {
        let client = self.shared.client(diags)?;
        let tenant = s(&config.tenant)?.to_owned();
        let canonical = match mac::canonical(s(&config.mac)?) {
            Ok(c) => c,
            Err(e) => {
                error(diags, "Invalid mac", e, at("mac"));
                return None;
            }
        };
        let path = format!("/v1/tenants/{tenant}/devices/{canonical}");
        match client.get_opt::<DeviceView>(&path).await {
            Ok(Some(view)) => Some(DeviceDataState {
                id: Value::Value(ids::join(&tenant, &view.mac)),
                tenant: config.tenant,
                mac: config.mac,
                profile: val(view.profile),
                setting_server: val(view.setting_server),
                label: val(view.label),
                phone_type: val(view.phone_type),
                last_seen_at: val(view.last_seen.map(|l| l.at)),
            }),
            Ok(None) => {
                error(
                    diags,
                    "No such device",
                    format!(
                        "Tenant {tenant} has no device {canonical} (or this key cannot see it)."
                    ),
                    at("mac"),
                );
                None
            }
            Err(e) => {
                report(
                    diags,
                    &e,
                    &ErrorContext::new(
                        &format!("read device {tenant}/{canonical}"),
                        &[("tenant", "tenant"), ("mac", "mac")],
                    ),
                );
                None
            }
        }
    }
}
