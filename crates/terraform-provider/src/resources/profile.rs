//! `signpost_profile`: a setting server URL template shared by many devices
//! (`PUT /v1/tenants/{tenant}/profiles/{profile}`). Import id: `acme/desk`.

use std::sync::Arc;

use async_trait::async_trait;
use hyper::Method;
use serde::{Deserialize, Serialize};
use signpost_domain::{SettingName, SettingValue};
use tf_provider::schema::{
    AttributeConstraint, AttributeType, Block, Description, NestedBlock, Schema,
};
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{AttributePath, Diagnostics, Resource};

use crate::ids;
use crate::problem::{ErrorContext, report, reported};
use crate::provider::Shared;
use crate::util::{
    at, attr, check_attr, computed, error, optional_computed, required, s, schema, val,
};

const FIELDS: &[(&str, &str)] = &[
    ("tenant", "tenant"),
    ("profile", "profile_id"),
    ("setting_server", "setting_server"),
    ("extra_settings", "extra_settings"),
];

pub const DEFAULT_PERM: &str = "read-write";

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Setting {
    pub name: Value<String>,
    pub idx: Value<i64>,
    pub value: Value<String>,
    pub perm: Value<String>,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct State {
    pub id: Value<String>,
    pub tenant: Value<String>,
    pub profile_id: Value<String>,
    pub setting_server: Value<String>,
    pub extra_settings: Value<Vec<Value<Setting>>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingView {
    pub name: String,
    #[serde(default)]
    pub idx: Option<u16>,
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub perm: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ProfileView {
    pub id: String,
    pub setting_server: String,
    #[serde(default)]
    pub extra_settings: Vec<SettingView>,
}

#[derive(Debug, Serialize)]
struct Body<'a> {
    setting_server: &'a str,
    extra_settings: Vec<SettingView>,
}

/// The settings as the state holds them: a list of blocks (empty, never null), with the
/// permission spelled out.
pub fn settings_state(remote: Vec<SettingView>) -> Value<Vec<Value<Setting>>> {
    Value::Value(
        remote
            .into_iter()
            .map(|s| {
                Value::Value(Setting {
                    name: Value::Value(s.name),
                    idx: val(s.idx.map(i64::from)),
                    value: Value::Value(s.value),
                    perm: Value::Value(s.perm.unwrap_or_else(|| DEFAULT_PERM.into())),
                })
            })
            .collect(),
    )
}

/// The settings a request sends.
pub fn settings_body(settings: &Value<Vec<Value<Setting>>>) -> Vec<SettingView> {
    settings
        .as_ref_option()
        .map(|list| {
            list.iter()
                .filter_map(Value::as_ref_option)
                .map(|s| SettingView {
                    name: s.name.as_ref_option().cloned().unwrap_or_default(),
                    idx: s.idx.as_ref_option().and_then(|i| u16::try_from(*i).ok()),
                    value: s.value.as_ref_option().cloned().unwrap_or_default(),
                    perm: Some(
                        s.perm
                            .as_ref_option()
                            .cloned()
                            .unwrap_or_else(|| DEFAULT_PERM.into()),
                    ),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Fills in the default permission of settings that do not set one.
pub fn default_perms(settings: &mut Value<Vec<Value<Setting>>>) {
    if let Some(list) = settings.as_mut_option() {
        for setting in list.iter_mut().filter_map(Value::as_mut_option) {
            if setting.perm.is_null() {
                setting.perm = Value::Value(DEFAULT_PERM.into());
            }
        }
    }
}

impl State {
    fn from_view(view: ProfileView, tenant: &str) -> Self {
        Self {
            id: Value::Value(ids::join(tenant, &view.id)),
            tenant: Value::Value(tenant.to_owned()),
            profile_id: Value::Value(view.id),
            setting_server: Value::Value(view.setting_server),
            extra_settings: settings_state(view.extra_settings),
        }
    }
}

#[derive(Debug)]
pub struct Profile {
    pub shared: Arc<Shared>,
}

impl Profile {
    async fn put(&self, diags: &mut Diagnostics, planned: State, action: &str) -> Option<State> {
        let client = self.shared.client(diags)?;
        let tenant = s(&planned.tenant)?.to_owned();
        let profile = s(&planned.profile_id)?.to_owned();
        let body = Body {
            setting_server: s(&planned.setting_server).unwrap_or_default(),
            extra_settings: settings_body(&planned.extra_settings),
        };
        let path = format!("/v1/tenants/{tenant}/profiles/{profile}");
        match client
            .json::<_, ProfileView>(Method::PUT, &path, &body)
            .await
        {
            Ok(view) => Some(State::from_view(view, &tenant)),
            Err(e) => {
                let action = format!("{action} profile {tenant}/{profile}");
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

fn setting_block() -> Block {
    let attributes = [
        (
            "name",
            required("Setting name, `[A-Za-z0-9_]{1,64}`, e.g. `update_policy`."),
        ),
        (
            "idx",
            attr(
                AttributeType::Number,
                AttributeConstraint::Optional,
                "Index of an indexed setting (e.g. `user_realname` of identity 1).",
            ),
        ),
        ("value", required("The setting's value.")),
        (
            "perm",
            optional_computed("`read-write` (default), `read-only` or `remain`."),
        ),
    ];
    Block {
        version: 1,
        attributes: attributes
            .into_iter()
            .map(|(n, a)| (n.to_owned(), a))
            .collect(),
        description: Description::markdown(
            "A setting the redirect carries besides `setting_server` (one block per setting, in order).",
        ),
        ..Block::default()
    }
}

fn validate_settings(diags: &mut Diagnostics, settings: &Value<Vec<Value<Setting>>>) {
    let Some(list) = settings.as_ref_option() else {
        return;
    };
    for (i, setting) in list.iter().enumerate() {
        let Some(setting) = setting.as_ref_option() else {
            continue;
        };
        let path = |name: &'static str| {
            AttributePath::new("extra_settings")
                .index(i64::try_from(i).unwrap_or(i64::MAX))
                .attribute(name)
        };
        if let Some(name) = s(&setting.name)
            && let Err(e) = SettingName::try_from(name.to_owned())
        {
            error(
                diags,
                "Invalid setting name",
                format!("{name:?}: {e}"),
                path("name"),
            );
        }
        if let Some(value) = s(&setting.value)
            && let Err(e) = SettingValue::try_from(value.to_owned())
        {
            error(diags, "Invalid setting value", e.to_string(), path("value"));
        }
        if let Some(idx) = setting.idx.as_ref_option()
            && u16::try_from(*idx).is_err()
        {
            error(
                diags,
                "Invalid setting index",
                "idx is 0 to 65535",
                path("idx"),
            );
        }
        if let Some(perm) = s(&setting.perm)
            && !matches!(perm, "read-write" | "read-only" | "remain")
        {
            error(
                diags,
                "Invalid setting permission",
                format!("perm is read-write, read-only or remain, not {perm:?}"),
                path("perm"),
            );
        }
    }
}

#[async_trait]
impl Resource for Profile {
    type State<'a> = State;
    type PrivateState<'a> = ValueEmpty;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        let mut schema = schema(
            "A profile: a setting server URL template (and extra settings) shared by many devices, so re-pointing a fleet is one change. Import: `terraform import signpost_profile.desk acme/desk`.",
            vec![
                ("id", computed("`<tenant>/<profile_id>`.")),
                (
                    "tenant",
                    required("The tenant's id. Changing it replaces the profile."),
                ),
                (
                    "profile_id",
                    required(
                        "Profile id, chosen by you: lower-case letters, digits and `-`, 1 to 63 characters. Changing it replaces the profile.",
                    ),
                ),
                (
                    "setting_server",
                    required(
                        "Setting server URL template (`{mac}`, `{phone_type}` and `{firmware_version}` are expanded by the phone), or `hosted` for the tenant's hosted files.",
                    ),
                ),
            ],
        );
        schema
            .block
            .blocks
            .insert("extra_settings".into(), NestedBlock::List(setting_block()));
        Some(schema)
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: State) -> Option<()> {
        check_attr(diags, &config.tenant, "tenant", ids::tenant);
        check_attr(diags, &config.profile_id, "profile_id", ids::profile);
        check_attr(
            diags,
            &config.setting_server,
            "setting_server",
            ids::setting_server,
        );
        validate_settings(diags, &config.extra_settings);
        Some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        state: State,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(State, ValueEmpty)> {
        let (Some(client), Some(tenant), Some(profile)) = (
            self.shared.client(diags),
            s(&state.tenant).map(str::to_owned),
            s(&state.profile_id).map(str::to_owned),
        ) else {
            return Some((state, private));
        };
        let path = format!("/v1/tenants/{tenant}/profiles/{profile}");
        match client.get_opt::<ProfileView>(&path).await {
            Ok(Some(view)) => Some((State::from_view(view, &tenant), private)),
            Ok(None) => None,
            Err(e) => {
                let action = format!("read profile {tenant}/{profile}");
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
        proposed.id = match (s(&proposed.tenant), s(&proposed.profile_id)) {
            (Some(t), Some(p)) => Value::Value(ids::join(t, p)),
            _ => Value::Unknown,
        };
        default_perms(&mut proposed.extra_settings);
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
        // Settings are matched by position; a permission left out is the default, not what
        // the setting at that position had before.
        proposed.extra_settings = config.extra_settings;
        default_perms(&mut proposed.extra_settings);
        let mut replace = Vec::new();
        if proposed.tenant != prior.tenant {
            replace.push(at("tenant"));
        }
        if proposed.profile_id != prior.profile_id {
            replace.push(at("profile_id"));
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
        let profile = s(&state.profile_id)?.to_owned();
        let deleted = client
            .delete(&format!("/v1/tenants/{tenant}/profiles/{profile}"))
            .await;
        let action = format!("delete profile {tenant}/{profile}");
        reported(diags, deleted, &ErrorContext::new(&action, FIELDS)).map(|_| ())
    }

    async fn import<'a>(&self, diags: &mut Diagnostics, id: String) -> Option<(State, ValueEmpty)> {
        let (tenant, profile) = match ids::parse_profile(&id) {
            Ok(parts) => parts,
            Err(e) => {
                error(diags, "Invalid import id", e, AttributePath::root());
                return None;
            }
        };
        let client = self.shared.client(diags)?;
        let path = format!("/v1/tenants/{tenant}/profiles/{profile}");
        match client.get_opt::<ProfileView>(&path).await {
            Ok(Some(view)) => Some((State::from_view(view, &tenant), ValueEmpty::default())),
            Ok(None) => {
                error(
                    diags,
                    "Cannot import a profile that does not exist",
                    format!("Signpost has no profile {id} (or this key cannot see it)."),
                    AttributePath::root(),
                );
                None
            }
            Err(e) => {
                report(
                    diags,
                    &e,
                    &ErrorContext::new(&format!("import profile {id}"), FIELDS),
                );
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_settings_spell_out_the_permission() {
        let state = settings_state(vec![
            SettingView {
                name: "language".into(),
                idx: None,
                value: "Deutsch".into(),
                perm: None,
            },
            SettingView {
                name: "user_realname".into(),
                idx: Some(1),
                value: "Alice".into(),
                perm: Some("remain".into()),
            },
        ]);
        let list = state.as_ref_option().unwrap();
        assert_eq!(
            list[0].as_ref_option().unwrap().perm,
            Value::Value("read-write".into())
        );
        assert_eq!(list[1].as_ref_option().unwrap().idx, Value::Value(1));
        assert!(settings_state(vec![]).as_ref_option().unwrap().is_empty());
    }

    #[test]
    fn body_round_trips_and_defaults() {
        let mut settings = Value::Value(vec![Value::Value(Setting {
            name: Value::Value("update_policy".into()),
            idx: Value::Null,
            value: Value::Value("auto_update".into()),
            perm: Value::Null,
        })]);
        let body = settings_body(&settings);
        assert_eq!(body[0].perm.as_deref(), Some("read-write"));
        assert_eq!(body[0].idx, None);
        default_perms(&mut settings);
        assert_eq!(settings_state(body), settings);
        assert!(settings_body(&Value::Null).is_empty());
    }
}
