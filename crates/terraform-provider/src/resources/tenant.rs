//! `signpost_tenant`: one MSP or customer (`PUT /v1/tenants/{tenant}`). Needs a
//! platform-admin key. Import id: the tenant id, e.g. `acme`.

use std::sync::Arc;

use async_trait::async_trait;
use hyper::Method;
use serde::{Deserialize, Serialize};
use tf_provider::schema::{AttributeConstraint, AttributeType, Schema};
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{AttributePath, Diagnostics, Resource};

use crate::ids;
use crate::problem::{ErrorContext, report, reported};
use crate::provider::Shared;
use crate::util::{
    at, attr, check_attr, error, optional, optional_computed, required, s, schema, val,
};

const FIELDS: &[(&str, &str)] = &[
    ("tenant", "id"),
    ("display_name", "display_name"),
    ("status", "status"),
    ("default_setting_server", "default_setting_server"),
];

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct State {
    pub id: Value<String>,
    pub display_name: Value<String>,
    pub status: Value<String>,
    pub default_setting_server: Value<String>,
    pub force_destroy: Value<bool>,
}

#[derive(Debug, Deserialize)]
pub struct TenantView {
    pub id: String,
    pub display_name: String,
    pub default_setting_server: Option<String>,
    pub status: String,
}

#[derive(Debug, Serialize)]
struct Body<'a> {
    display_name: &'a str,
    status: &'a str,
    default_setting_server: Option<&'a str>,
}

impl State {
    fn from_view(view: TenantView, force_destroy: Value<bool>) -> Self {
        Self {
            id: Value::Value(view.id),
            display_name: Value::Value(view.display_name),
            status: Value::Value(view.status),
            default_setting_server: val(view.default_setting_server),
            force_destroy,
        }
    }
}

#[derive(Debug)]
pub struct Tenant {
    pub shared: Arc<Shared>,
}

impl Tenant {
    async fn put(&self, diags: &mut Diagnostics, planned: State, action: &str) -> Option<State> {
        let client = self.shared.client(diags)?;
        let id = s(&planned.id)?.to_owned();
        let body = Body {
            display_name: s(&planned.display_name).unwrap_or_default(),
            status: s(&planned.status).unwrap_or("active"),
            default_setting_server: s(&planned.default_setting_server),
        };
        let path = format!("/v1/tenants/{id}");
        match client
            .json::<_, TenantView>(Method::PUT, &path, &body)
            .await
        {
            Ok(view) => Some(State::from_view(view, planned.force_destroy)),
            Err(e) => {
                let action = format!("{action} tenant {id}");
                report(diags, &e, &ErrorContext::new(&action, FIELDS));
                None
            }
        }
    }
}

pub fn validate_status(status: &str) -> Result<String, String> {
    match status {
        "active" | "suspended" => Ok(status.to_owned()),
        other => Err(format!("status is active or suspended, not {other:?}")),
    }
}

#[async_trait]
impl Resource for Tenant {
    type State<'a> = State;
    type PrivateState<'a> = ValueEmpty;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(schema(
            "A tenant: one MSP or customer, with its profiles, devices, API keys and files. Managing tenants needs a `platform-admin` key. Import with the tenant id: `terraform import signpost_tenant.acme acme`.",
            vec![
                (
                    "id",
                    required(
                        "Tenant id, chosen by you: lower-case letters, digits and `-`, 1 to 63 characters. Changing it replaces the tenant.",
                    ),
                ),
                (
                    "display_name",
                    required("The company name (Snom's XML-RPC `getPhoneRedirection` reports it)."),
                ),
                (
                    "status",
                    optional_computed(
                        "`active` (default) or `suspended`: a suspended tenant's phones get no redirect.",
                    ),
                ),
                (
                    "default_setting_server",
                    optional(
                        "Where a device goes when neither it nor its profile names a setting server.",
                    ),
                ),
                (
                    "force_destroy",
                    attr(
                        AttributeType::Bool,
                        AttributeConstraint::Optional,
                        "Destroy the tenant even while it still has devices (they are deleted with it). Default false: Signpost refuses with `tenant_not_empty`. Profiles, API keys and files are always deleted with the tenant.",
                    ),
                ),
            ],
        ))
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: State) -> Option<()> {
        check_attr(diags, &config.id, "id", ids::tenant);
        check_attr(diags, &config.status, "status", validate_status);
        check_attr(
            diags,
            &config.default_setting_server,
            "default_setting_server",
            ids::setting_server,
        );
        if s(&config.display_name).is_some_and(|n| n.is_empty() || n.chars().count() > 200) {
            error(
                diags,
                "Invalid display_name",
                "display_name is 1 to 200 characters",
                at("display_name"),
            );
        }
        Some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        state: State,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(State, ValueEmpty)> {
        let (Some(client), Some(id)) = (self.shared.client(diags), s(&state.id).map(str::to_owned))
        else {
            return Some((state, private));
        };
        match client
            .get_opt::<TenantView>(&format!("/v1/tenants/{id}"))
            .await
        {
            Ok(Some(view)) => Some((State::from_view(view, state.force_destroy), private)),
            Ok(None) => None,
            Err(e) => {
                report(
                    diags,
                    &e,
                    &ErrorContext::new(&format!("read tenant {id}"), FIELDS),
                );
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
        if proposed.status.is_null() {
            proposed.status = Value::Value("active".into());
        }
        Some((proposed, ValueEmpty::default()))
    }

    async fn plan_update<'a>(
        &self,
        _diags: &mut Diagnostics,
        prior: State,
        mut proposed: State,
        config: State,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(State, ValueEmpty, Vec<AttributePath>)> {
        // An optional+computed attribute keeps its prior value when the configuration drops
        // it; without a status the default applies again.
        if config.status.is_null() {
            proposed.status = Value::Value("active".into());
        }
        let mut replace = Vec::new();
        if proposed.id != prior.id {
            replace.push(at("id"));
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
        let id = s(&state.id)?.to_owned();
        let force = state
            .force_destroy
            .as_ref_option()
            .copied()
            .unwrap_or(false);
        let path = format!("/v1/tenants/{id}{}", if force { "?force=true" } else { "" });
        let deleted = client.delete(&path).await;
        let action = format!("delete tenant {id}");
        reported(diags, deleted, &ErrorContext::new(&action, FIELDS)).map(|_| ())
    }

    async fn import<'a>(&self, diags: &mut Diagnostics, id: String) -> Option<(State, ValueEmpty)> {
        let id = match ids::tenant(&id) {
            Ok(id) => id,
            Err(e) => {
                error(diags, "Invalid import id", e, AttributePath::root());
                return None;
            }
        };
        let client = self.shared.client(diags)?;
        match client
            .get_opt::<TenantView>(&format!("/v1/tenants/{id}"))
            .await
        {
            Ok(Some(view)) => Some((State::from_view(view, Value::Null), ValueEmpty::default())),
            Ok(None) => {
                error(
                    diags,
                    "Cannot import a tenant that does not exist",
                    format!("Signpost has no tenant {id} (or this key cannot see it)."),
                    AttributePath::root(),
                );
                None
            }
            Err(e) => {
                report(
                    diags,
                    &e,
                    &ErrorContext::new(&format!("import tenant {id}"), FIELDS),
                );
                None
            }
        }
    }
}
