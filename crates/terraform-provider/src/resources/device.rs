//! `signpost_device`: one phone, by MAC (`PUT /v1/tenants/{tenant}/devices/{mac}`). The MAC
//! may be spelled any way Signpost accepts; a different spelling of the same MAC is never a
//! change (the plan keeps the prior spelling). Import id: `acme/000413AABBCC`.

use std::sync::Arc;

use async_trait::async_trait;
use hyper::Method;
use serde::{Deserialize, Serialize};
use tf_provider::schema::Schema;
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{AttributePath, Diagnostics, Resource};

use crate::problem::{ErrorContext, report, reported};
use crate::provider::Shared;
use crate::util::{at, check_attr, computed, error, optional, required, s, schema, val};
use crate::{ids, mac};

const FIELDS: &[(&str, &str)] = &[
    ("tenant", "tenant"),
    ("mac", "mac"),
    ("profile", "profile"),
    ("setting_server", "setting_server"),
    ("label", "label"),
];

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct State {
    pub id: Value<String>,
    pub tenant: Value<String>,
    pub mac: Value<String>,
    pub profile: Value<String>,
    pub setting_server: Value<String>,
    pub label: Value<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LastSeenView {
    pub at: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DeviceView {
    pub mac: String,
    pub profile: Option<String>,
    pub setting_server: Option<String>,
    pub label: Option<String>,
    #[serde(default)]
    pub phone_type: Option<String>,
    #[serde(default)]
    pub last_seen: Option<LastSeenView>,
}

#[derive(Debug, Serialize)]
struct Body<'a> {
    profile: Option<&'a str>,
    setting_server: Option<&'a str>,
    label: Option<&'a str>,
}

pub fn validate_label(label: &str) -> Result<String, String> {
    if label.chars().count() > 200 {
        Err("a label is at most 200 characters".into())
    } else if label.chars().any(char::is_control) {
        Err("a label holds no control characters".into())
    } else {
        Ok(label.to_owned())
    }
}

impl State {
    /// The state for a remote device; `spelling` is the MAC as the configuration writes it.
    fn from_view(view: DeviceView, tenant: &str, spelling: Option<&str>) -> Self {
        let spelling = spelling
            .filter(|s| mac::same(s, &view.mac))
            .map_or_else(|| view.mac.clone(), str::to_owned);
        Self {
            id: Value::Value(ids::join(tenant, &view.mac)),
            tenant: Value::Value(tenant.to_owned()),
            mac: Value::Value(spelling),
            profile: val(view.profile),
            setting_server: val(view.setting_server),
            label: val(view.label),
        }
    }
}

#[derive(Debug)]
pub struct Device {
    pub shared: Arc<Shared>,
}

impl Device {
    async fn put(&self, diags: &mut Diagnostics, planned: State, action: &str) -> Option<State> {
        let client = self.shared.client(diags)?;
        let tenant = s(&planned.tenant)?.to_owned();
        let spelling = s(&planned.mac)?.to_owned();
        let canonical = match mac::canonical(&spelling) {
            Ok(c) => c,
            Err(e) => {
                error(diags, "Invalid mac", e, at("mac"));
                return None;
            }
        };
        let body = Body {
            profile: s(&planned.profile),
            setting_server: s(&planned.setting_server),
            label: s(&planned.label),
        };
        let path = format!("/v1/tenants/{tenant}/devices/{canonical}");
        match client
            .json::<_, DeviceView>(Method::PUT, &path, &body)
            .await
        {
            Ok(view) => Some(State::from_view(view, &tenant, Some(&spelling))),
            Err(e) => {
                let action = format!("{action} device {tenant}/{canonical}");
                report(
                    diags,
                    &e,
                    &ErrorContext::new(&action, FIELDS).writing_child(),
                );
                None
            }
        }
    }
}

#[async_trait]
impl Resource for Device {
    type State<'a> = State;
    type PrivateState<'a> = ValueEmpty;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(schema(
            "One phone, by MAC. A MAC has one owner across all tenants: one registered to another tenant is refused (`mac_owned_by_other_tenant`). For many devices that share a profile use `signpost_devices`. Import: `terraform import signpost_device.reception acme/000413AABBCC`.",
            vec![
                (
                    "id",
                    computed(
                        "`<tenant>/<MAC>`, the MAC in canonical form (12 upper-case hex digits).",
                    ),
                ),
                (
                    "tenant",
                    required("The tenant's id. Changing it replaces the device."),
                ),
                (
                    "mac",
                    required(
                        "The MAC in any spelling Signpost accepts (`000413AABBCC`, `00:04:13:aa:bb:cc`, `00-04-13-AA-BB-CC`, `0004.13AA.BBCC`); another spelling of the same MAC is not a change. A different MAC replaces the device.",
                    ),
                ),
                (
                    "profile",
                    optional("The profile whose setting server the device follows."),
                ),
                (
                    "setting_server",
                    optional(
                        "An explicit setting server URL template for this device; wins over its profile's.",
                    ),
                ),
                (
                    "label",
                    optional(
                        "Free text for people, e.g. where the phone is (at most 200 characters).",
                    ),
                ),
            ],
        ))
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: State) -> Option<()> {
        check_attr(diags, &config.tenant, "tenant", ids::tenant);
        check_attr(diags, &config.mac, "mac", mac::canonical);
        check_attr(diags, &config.profile, "profile", ids::profile);
        check_attr(
            diags,
            &config.setting_server,
            "setting_server",
            ids::setting_server,
        );
        check_attr(diags, &config.label, "label", validate_label);
        Some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        state: State,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(State, ValueEmpty)> {
        let (Some(client), Some(tenant), Some(spelling)) = (
            self.shared.client(diags),
            s(&state.tenant).map(str::to_owned),
            s(&state.mac).map(str::to_owned),
        ) else {
            return Some((state, private));
        };
        let Ok(canonical) = mac::canonical(&spelling) else {
            return Some((state, private));
        };
        let path = format!("/v1/tenants/{tenant}/devices/{canonical}");
        match client.get_opt::<DeviceView>(&path).await {
            Ok(Some(view)) => Some((State::from_view(view, &tenant, Some(&spelling)), private)),
            Ok(None) => None,
            Err(e) => {
                let action = format!("read device {tenant}/{canonical}");
                report(diags, &e, &ErrorContext::new(&action, FIELDS));
                Some((state, private))
            }
        }
    }

    async fn plan_create<'a>(
        &self,
        _diags: &mut Diagnostics,
        mut proposed: State,
        _config: State,
        _meta: ValueEmpty,
    ) -> Option<(State, ValueEmpty)> {
        proposed.id = match (s(&proposed.tenant), s(&proposed.mac).map(mac::canonical)) {
            (Some(t), Some(Ok(m))) => Value::Value(ids::join(t, &m)),
            _ => Value::Unknown,
        };
        Some((proposed, ValueEmpty::default()))
    }

    async fn plan_update<'a>(
        &self,
        _diags: &mut Diagnostics,
        prior: State,
        mut proposed: State,
        _config: State,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(State, ValueEmpty, Vec<AttributePath>)> {
        let mut replace = Vec::new();
        match (s(&prior.mac), s(&proposed.mac)) {
            // The same MAC spelled differently: keep the prior spelling (Terraform accepts a
            // planned value equal to the prior one as "functionally equivalent").
            (Some(before), Some(after)) if mac::same(before, after) => {
                proposed.mac = prior.mac.clone();
            }
            _ if proposed.mac != prior.mac => replace.push(at("mac")),
            _ => {}
        }
        if proposed.tenant != prior.tenant {
            replace.push(at("tenant"));
        }
        if !replace.is_empty() {
            proposed.id = Value::Unknown;
        }
        Some((proposed, private, replace))
    }

    async fn plan_destroy<'a>(
        &self,
        _diags: &mut Diagnostics,
        _prior: State,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<ValueEmpty> {
        Some(private)
    }

    async fn create<'a>(
        &self,
        diags: &mut Diagnostics,
        planned: State,
        _config: State,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(State, ValueEmpty)> {
        Some((self.put(diags, planned, "create").await?, private))
    }

    async fn update<'a>(
        &self,
        diags: &mut Diagnostics,
        _prior: State,
        planned: State,
        _config: State,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(State, ValueEmpty)> {
        Some((self.put(diags, planned, "update").await?, private))
    }

    async fn destroy<'a>(
        &self,
        diags: &mut Diagnostics,
        state: State,
        _private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<()> {
        let client = self.shared.client(diags)?;
        let tenant = s(&state.tenant)?.to_owned();
        let canonical = mac::canonical(s(&state.mac)?).ok()?;
        let deleted = client
            .delete(&format!("/v1/tenants/{tenant}/devices/{canonical}"))
            .await;
        let action = format!("delete device {tenant}/{canonical}");
        reported(diags, deleted, &ErrorContext::new(&action, FIELDS)).map(|_| ())
    }

    async fn import<'a>(&self, diags: &mut Diagnostics, id: String) -> Option<(State, ValueEmpty)> {
        let (tenant, canonical) = match ids::parse_device(&id) {
            Ok(parts) => parts,
            Err(e) => {
                error(diags, "Invalid import id", e, AttributePath::root());
                return None;
            }
        };
        let client = self.shared.client(diags)?;
        let path = format!("/v1/tenants/{tenant}/devices/{canonical}");
        match client.get_opt::<DeviceView>(&path).await {
            Ok(Some(view)) => Some((State::from_view(view, &tenant, None), ValueEmpty::default())),
            Ok(None) => {
                error(
                    diags,
                    "Cannot import a device that does not exist",
                    format!(
                        "Signpost has no device {tenant}/{canonical} (or this key cannot see it)."
                    ),
                    AttributePath::root(),
                );
                None
            }
            Err(e) => {
                let action = format!("import device {tenant}/{canonical}");
                report(diags, &e, &ErrorContext::new(&action, FIELDS));
                None
            }
        }
    }
}
