//! `signpost_api_key`: a tenant's API key (`POST /v1/tenants/{tenant}/keys`). Keys cannot be
//! changed, so any change replaces the key. The secret is known only when Terraform creates
//! the key: an imported key's `secret` stays null. Import id: `acme/spk_…`.

use std::sync::Arc;

use async_trait::async_trait;
use hyper::Method;
use serde::{Deserialize, Serialize};
use tf_provider::schema::{AttributeConstraint, AttributeType, Schema};
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{AttributePath, Diagnostics, Resource};

use crate::client::Client;
use crate::ids;
use crate::problem::{ApiError, ErrorContext, report, reported};
use crate::provider::Shared;
use crate::resources::device::validate_label;
use crate::util::{
    at, attr, check_attr, computed, error, optional, required, s, schema, val, warning,
};

const FIELDS: &[(&str, &str)] = &[
    ("tenant", "tenant"),
    ("role", "role"),
    ("description", "description"),
];

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct State {
    pub id: Value<String>,
    pub key_id: Value<String>,
    pub tenant: Value<String>,
    pub role: Value<String>,
    pub description: Value<String>,
    pub secret: Value<String>,
    pub created_at: Value<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct KeyView {
    pub id: String,
    pub role: String,
    pub description: Option<String>,
    pub created_at: String,
    #[serde(default)]
    pub revoked_at: Option<String>,
    #[serde(default)]
    pub secret: Option<String>,
}

impl State {
    fn from_view(view: KeyView, tenant: &str, secret: Value<String>) -> Self {
        Self {
            id: Value::Value(ids::join(tenant, &view.id)),
            key_id: Value::Value(view.id),
            tenant: Value::Value(tenant.to_owned()),
            role: Value::Value(view.role),
            description: val(view.description),
            secret,
            created_at: Value::Value(view.created_at),
        }
    }
}

pub fn validate_role(role: &str) -> Result<String, String> {
    match role {
        "tenant-admin" | "tenant-reader" => Ok(role.to_owned()),
        other => Err(format!(
            "role is tenant-admin or tenant-reader, not {other:?}"
        )),
    }
}

/// The key, unless it is gone or revoked (`Ok(None)`).
async fn find(client: &Client, tenant: &str, key: &str) -> Result<Option<KeyView>, ApiError> {
    match client
        .list::<KeyView>(&format!("/v1/tenants/{tenant}/keys"))
        .await
    {
        Ok(keys) => Ok(keys
            .into_iter()
            .find(|k| k.id == key && k.revoked_at.is_none())),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

#[derive(Debug)]
pub struct ApiKey {
    pub shared: Arc<Shared>,
}

#[async_trait]
impl Resource for ApiKey {
    type State<'a> = State;
    type PrivateState<'a> = ValueEmpty;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        let mut secret = attr(
            AttributeType::String,
            AttributeConstraint::Computed,
            "The key's secret (`sps_…`), known only to the apply that created the key. Signpost stores only a hash of it, so an imported key's secret is null.",
        );
        secret.sensitive = true;
        Some(schema(
            "An API key of a tenant (`tenant-admin` or `tenant-reader`), e.g. for a PBX integration or a tenant's own Terraform. Any change replaces the key (a new id and secret); destroying it revokes it at once. Import: `terraform import signpost_api_key.pbx acme/spk_…` — the secret cannot be recovered and stays null.",
            vec![
                ("id", computed("`<tenant>/<key_id>`.")),
                (
                    "key_id",
                    computed("The key's id (`spk_…`), the `client_id` of the token request."),
                ),
                ("tenant", required("The tenant's id.")),
                (
                    "role",
                    required(
                        "`tenant-admin` (everything in the tenant) or `tenant-reader` (read only).",
                    ),
                ),
                (
                    "description",
                    optional("What the key is for, e.g. `pbx-sync` (at most 200 characters)."),
                ),
                ("secret", secret),
                ("created_at", computed("When the key was made (RFC 3339).")),
            ],
        ))
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: State) -> Option<()> {
        check_attr(diags, &config.tenant, "tenant", ids::tenant);
        check_attr(diags, &config.role, "role", validate_role);
        check_attr(diags, &config.description, "description", validate_label);
        Some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        state: State,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(State, ValueEmpty)> {
        let (Some(client), Some(tenant), Some(key)) = (
            self.shared.client(diags),
            s(&state.tenant).map(str::to_owned),
            s(&state.key_id).map(str::to_owned),
        ) else {
            return Some((state, private));
        };
        match find(&client, &tenant, &key).await {
            Ok(Some(view)) => Some((State::from_view(view, &tenant, state.secret), private)),
            Ok(None) => None,
            Err(e) => {
                report(
                    diags,
                    &e,
                    &ErrorContext::new(&format!("read key {tenant}/{key}"), FIELDS),
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
        proposed.id = Value::Unknown;
        proposed.key_id = Value::Unknown;
        proposed.secret = Value::Unknown;
        proposed.created_at = Value::Unknown;
        Some((proposed, ValueEmpty::default()))
    }

    async fn plan_update<'a>(
        &self,
        _diags: &mut Diagnostics,
        prior: State,
        proposed: State,
        _config: State,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(State, ValueEmpty, Vec<AttributePath>)> {
        let mut replace = Vec::new();
        for (name, before, after) in [
            ("tenant", &prior.tenant, &proposed.tenant),
            ("role", &prior.role, &proposed.role),
            ("description", &prior.description, &proposed.description),
        ] {
            if before != after {
                replace.push(at(name));
            }
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
        let client = self.shared.client(diags)?;
        let tenant = s(&planned.tenant)?.to_owned();
        #[derive(Serialize)]
        struct Body<'a> {
            role: &'a str,
            description: Option<&'a str>,
        }
        let body = Body {
            role: s(&planned.role).unwrap_or_default(),
            description: s(&planned.description),
        };
        let path = format!("/v1/tenants/{tenant}/keys");
        match client.json::<_, KeyView>(Method::POST, &path, &body).await {
            Ok(mut view) => {
                let secret = val(view.secret.take());
                Some((State::from_view(view, &tenant, secret), private))
            }
            Err(e) => {
                let action = format!("create a key of {tenant}");
                report(
                    diags,
                    &e,
                    &ErrorContext::new(&action, FIELDS).writing_child(),
                );
                None
            }
        }
    }

    async fn update<'a>(
        &self,
        _diags: &mut Diagnostics,
        _prior: State,
        planned: State,
        _config: State,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(State, ValueEmpty)> {
        // Every attribute forces a replacement: nothing is updated in place.
        Some((planned, private))
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
        let key = s(&state.key_id)?.to_owned();
        let revoked = client
            .delete(&format!("/v1/tenants/{tenant}/keys/{key}"))
            .await;
        let action = format!("revoke key {tenant}/{key}");
        reported(diags, revoked, &ErrorContext::new(&action, FIELDS)).map(|_| ())
    }

    async fn import<'a>(&self, diags: &mut Diagnostics, id: String) -> Option<(State, ValueEmpty)> {
        let (tenant, key) = match ids::parse_api_key(&id) {
            Ok(parts) => parts,
            Err(e) => {
                error(diags, "Invalid import id", e, AttributePath::root());
                return None;
            }
        };
        let client = self.shared.client(diags)?;
        match find(&client, &tenant, &key).await {
            Ok(Some(view)) => {
                warning(
                    diags,
                    "The key's secret cannot be imported",
                    "Signpost stores only a hash of a key's secret; the imported key's `secret` attribute is null. Replace the key (terraform apply -replace=…) if the secret is needed.",
                    at("secret"),
                );
                Some((
                    State::from_view(view, &tenant, Value::Null),
                    ValueEmpty::default(),
                ))
            }
            Ok(None) => {
                error(
                    diags,
                    "Cannot import a key that does not exist",
                    format!("Tenant {tenant} has no active key {key} (or this key cannot see it)."),
                    AttributePath::root(),
                );
                None
            }
            Err(e) => {
                report(
                    diags,
                    &e,
                    &ErrorContext::new(&format!("import key {id}"), FIELDS),
                );
                None
            }
        }
    }
}
