//! `signpost_devices`: MACs (a list used as a set) that share a profile and/or a setting server (and a
//! label). Create, update and destroy are each ONE `POST …/devices/batch` call carrying the
//! delta (all or nothing on the server); a read lists the tenant's devices and keeps in the
//! state only the MACs that still exist with the group's values, so a device changed or
//! deleted out of band shows as a MAC to add back. Import id: `acme/<profile>` (every device
//! of the profile).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use hyper::Method;
use serde::{Deserialize, Serialize};
use tf_provider::schema::{AttributeConstraint, AttributeType, Schema};
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{AttributePath, Diagnostics, Resource};

use crate::client::{Client, encode};
use crate::delta::{self, Batch, Target, canonical_set};
use crate::problem::{ApiError, ErrorContext, report};
use crate::provider::Shared;
use crate::resources::device::{DeviceView, validate_label};
use crate::util::{
    at, attr, check_attr, computed, error, optional, required, s, schema, val, warning,
};
use crate::{ids, mac};

const FIELDS: &[(&str, &str)] = &[
    ("tenant", "tenant"),
    ("mac", "macs"),
    ("operations", "macs"),
    ("profile", "profile"),
    ("setting_server", "setting_server"),
    ("label", "label"),
];

/// The API's limit on one batch.
pub const MAX_BATCH: usize = 10_000;

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct State {
    pub id: Value<String>,
    pub tenant: Value<String>,
    pub name: Value<String>,
    pub profile: Value<String>,
    pub setting_server: Value<String>,
    pub label: Value<String>,
    pub macs: Value<Vec<Value<String>>>,
}

impl State {
    fn target(&self) -> Target {
        Target {
            profile: s(&self.profile).map(str::to_owned),
            setting_server: s(&self.setting_server).map(str::to_owned),
            label: s(&self.label).map(str::to_owned),
        }
    }

    /// The known MAC spellings.
    fn mac_list(&self) -> Vec<&str> {
        self.macs
            .as_ref_option()
            .map(|l| l.iter().filter_map(|m| s(m)).collect())
            .unwrap_or_default()
    }

    fn all_macs_known(&self) -> bool {
        self.macs
            .as_ref_option()
            .is_some_and(|l| l.iter().all(|m| !m.is_unknown()))
    }

    fn set_macs(&mut self, macs: impl IntoIterator<Item = String>) {
        self.macs = Value::Value(macs.into_iter().map(Value::Value).collect());
    }
}

/// `<tenant>/<name>`, or `<tenant>/<profile>` without a name.
fn group_id(state: &State) -> Value<String> {
    let group = match (&state.name, &state.profile) {
        (Value::Value(name), _) => name,
        (Value::Null, Value::Value(profile)) => profile,
        _ => return Value::Unknown,
    };
    match s(&state.tenant) {
        Some(t) => Value::Value(ids::join(t, group)),
        None => Value::Unknown,
    }
}

/// The MACs (as spelled in `macs`) whose device still exists with the group's values.
pub fn still_managed<'a>(
    macs: &[&'a str],
    target: &Target,
    remote: &HashMap<String, DeviceView>,
) -> Vec<&'a str> {
    macs.iter()
        .copied()
        .filter(|spelling| {
            let Ok(canonical) = mac::canonical(spelling) else {
                return false;
            };
            remote.get(&canonical).is_some_and(|d| {
                d.profile == target.profile
                    && d.setting_server == target.setting_server
                    && d.label == target.label
            })
        })
        .collect()
}

/// The value every device has, if they all have the same one.
fn common<'a>(values: impl Iterator<Item = &'a Option<String>>) -> Option<String> {
    let mut values = values;
    let first = values.next()?.clone();
    values.all(|v| *v == first).then_some(first).flatten()
}

#[derive(Debug)]
pub struct Devices {
    pub shared: Arc<Shared>,
}

/// The tenant's devices (of `profile` when given), by canonical MAC; `None` when the tenant
/// is gone.
async fn remote_devices(
    client: &Client,
    tenant: &str,
    profile: Option<&str>,
) -> Result<Option<HashMap<String, DeviceView>>, ApiError> {
    let mut path = format!("/v1/tenants/{tenant}/devices");
    if let Some(p) = profile {
        path.push_str("?profile=");
        path.push_str(&encode(p, false));
    }
    match client.list::<DeviceView>(&path).await {
        Ok(list) => Ok(Some(list.into_iter().map(|d| (d.mac.clone(), d)).collect())),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

impl Devices {
    /// Sends `batch` (one call; split only beyond the API's 10,000 operations).
    async fn send(
        &self,
        diags: &mut Diagnostics,
        tenant: &str,
        batch: &Batch,
        elements: Option<&[String]>,
        action: &str,
    ) -> Option<()> {
        if batch.is_empty() {
            return Some(());
        }
        let client = self.shared.client(diags)?;
        if batch.ops.len() > MAX_BATCH {
            warning(
                diags,
                "More devices than one batch holds",
                format!(
                    "{} operations are sent as {} batches of at most {MAX_BATCH}; each batch is all or nothing, the change as a whole is not.",
                    batch.ops.len(),
                    batch.ops.len().div_ceil(MAX_BATCH)
                ),
                at("macs"),
            );
        }
        let path = format!("/v1/tenants/{tenant}/devices/batch");
        for (n, chunk) in batch.ops.chunks(MAX_BATCH).enumerate() {
            #[derive(Serialize)]
            struct Body<'a> {
                operations: &'a [delta::Op],
            }
            let sent: Result<serde_json::Value, ApiError> = client
                .json(Method::POST, &path, &Body { operations: chunk })
                .await;
            if let Err(e) = sent {
                let first = n * MAX_BATCH;
                let part = Batch {
                    ops: chunk.to_vec(),
                    spellings: batch.spellings[first..first + chunk.len()].to_vec(),
                };
                let action = format!(
                    "{action} devices of {tenant} (batch of {} operations)",
                    chunk.len()
                );
                report(
                    diags,
                    &e,
                    &ErrorContext::new(&action, FIELDS)
                        .with_batch(&part, elements)
                        .writing_child(),
                );
                return None;
            }
        }
        Some(())
    }
}

impl Devices {
    /// `batch` without deletes of devices that are no longer the group's (see
    /// [`delta::keep_own_deletes`]); one list call, only when there are deletes.
    async fn own_deletes(
        &self,
        diags: &mut Diagnostics,
        tenant: &str,
        prior: &Target,
        batch: Batch,
    ) -> Option<Batch> {
        if !batch.ops.iter().any(|op| op.action == "delete") {
            return Some(batch);
        }
        let client = self.shared.client(diags)?;
        match remote_devices(&client, tenant, prior.profile.as_deref()).await {
            Ok(remote) => {
                let remote: HashMap<String, Target> = remote
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(mac, d)| {
                        let target = Target {
                            profile: d.profile,
                            setting_server: d.setting_server,
                            label: d.label,
                        };
                        (mac, target)
                    })
                    .collect();
                Some(delta::keep_own_deletes(batch, prior, &remote))
            }
            Err(e) => {
                let action = format!("read devices of {tenant}");
                report(diags, &e, &ErrorContext::new(&action, FIELDS));
                None
            }
        }
    }
}

fn desired(diags: &mut Diagnostics, state: &State) -> Option<BTreeMap<String, String>> {
    let list = state.mac_list();
    match canonical_set(list.iter().copied()) {
        Ok(set) => Some(set),
        Err(errors) => {
            for (spelling, e) in errors {
                // The last one with that spelling: for a repeated MAC, the repetition.
                let i = list
                    .iter()
                    .rposition(|m| *m == spelling)
                    .unwrap_or_default();
                let path = AttributePath::new("macs").index(i64::try_from(i).unwrap_or(i64::MAX));
                error(diags, "Invalid MAC in macs", e, path);
            }
            None
        }
    }
}

fn owned(state: &State) -> Vec<String> {
    state.mac_list().into_iter().map(str::to_owned).collect()
}

#[async_trait]
impl Resource for Devices {
    type State<'a> = State;
    type PrivateState<'a> = ValueEmpty;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(schema(
            "Many devices that share a profile and/or a setting server: a set of MACs managed together, each create, update and destroy ONE batch call (all or nothing) with just the delta. A device changed (profile, setting server or label) or deleted outside Terraform drops out of the state, so the next plan adds it back. Import every device of a profile: `terraform import signpost_devices.desk acme/desk` (a group with a `name` is imported by its profile, then given the name).",
            vec![
                (
                    "id",
                    computed("`<tenant>/<name>`, or `<tenant>/<profile>` without a name."),
                ),
                (
                    "tenant",
                    required("The tenant's id. Changing it replaces the group."),
                ),
                (
                    "name",
                    optional(
                        "Names the group in its id; needed when there is no profile, or when two groups share one. Changing it replaces the group.",
                    ),
                ),
                ("profile", optional("The profile every device follows.")),
                (
                    "setting_server",
                    optional(
                        "An explicit setting server for every device; wins over the profile's.",
                    ),
                ),
                ("label", optional("A label for every device.")),
                (
                    "macs",
                    attr(
                        AttributeType::List(Box::new(AttributeType::String)),
                        AttributeConstraint::Required,
                        "The MACs, in any spelling Signpost accepts, each MAC once. Used as a set: neither the order nor the spelling is a change (`toset(...)` works too). Up to 10,000 changes go in one all-or-nothing batch. (A list rather than a set type: Terraform 1.0 checks sets pairwise, which made a 5,000-MAC apply take minutes.)",
                    ),
                ),
            ],
        ))
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: State) -> Option<()> {
        check_attr(diags, &config.tenant, "tenant", ids::tenant);
        check_attr(diags, &config.name, "name", |n| {
            ids::profile(n).map_err(|_| {
                format!("{n:?}: a name is lower-case letters, digits and '-', 1 to 63 characters")
            })
        });
        check_attr(diags, &config.profile, "profile", ids::profile);
        check_attr(
            diags,
            &config.setting_server,
            "setting_server",
            ids::setting_server,
        );
        check_attr(diags, &config.label, "label", validate_label);
        if config.profile.is_null() && config.setting_server.is_null() {
            error(
                diags,
                "Missing profile or setting_server",
                "signpost_devices sets a profile and/or a setting server on every device.",
                at("profile"),
            );
        }
        if config.profile.is_null() && config.name.is_null() {
            error(
                diags,
                "Missing name",
                "A group without a profile needs a name (it is part of the id).",
                at("name"),
            );
        }
        if config.all_macs_known() {
            desired(diags, &config);
        }
        Some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        mut state: State,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(State, ValueEmpty)> {
        let (Some(client), Some(tenant)) = (
            self.shared.client(diags),
            s(&state.tenant).map(str::to_owned),
        ) else {
            return Some((state, private));
        };
        let target = state.target();
        let remote = match remote_devices(&client, &tenant, target.profile.as_deref()).await {
            Ok(Some(remote)) => remote,
            Ok(None) => return None,
            Err(e) => {
                let action = format!("read devices of {tenant}");
                report(diags, &e, &ErrorContext::new(&action, FIELDS));
                return Some((state, private));
            }
        };
        let kept: Vec<String> = still_managed(&state.mac_list(), &target, &remote)
            .into_iter()
            .map(str::to_owned)
            .collect();
        state.set_macs(kept);
        Some((state, private))
    }

    async fn plan_create<'a>(
        &self,
        _diags: &mut Diagnostics,
        mut proposed: State,
        _config: State,
        _meta: ValueEmpty,
    ) -> Option<(State, ValueEmpty)> {
        proposed.id = group_id(&proposed);
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
        // The same MACs spelled differently are no change: keep the prior spellings.
        if proposed.all_macs_known()
            && let (Ok(before), Ok(after)) = (
                canonical_set(prior.mac_list()),
                canonical_set(proposed.mac_list()),
            )
            && before.keys().eq(after.keys())
        {
            proposed.macs = prior.macs.clone();
        }
        let mut replace = Vec::new();
        if proposed.tenant != prior.tenant {
            replace.push(at("tenant"));
        }
        if proposed.name != prior.name {
            replace.push(at("name"));
        }
        proposed.id = if replace.is_empty() {
            group_id(&proposed)
        } else {
            Value::Unknown
        };
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
        mut planned: State,
        _config: State,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(State, ValueEmpty)> {
        let tenant = s(&planned.tenant)?.to_owned();
        let want = desired(diags, &planned)?;
        let batch = delta::delta(None, (&planned.target(), &want));
        let _serial = self.shared.tenant_batch_lock(&tenant).await;
        let elements = owned(&planned);
        self.send(diags, &tenant, &batch, Some(&elements), "create")
            .await?;
        planned.id = group_id(&planned);
        Some((planned, private))
    }

    async fn update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: State,
        mut planned: State,
        _config: State,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(State, ValueEmpty)> {
        let tenant = s(&planned.tenant)?.to_owned();
        let want = desired(diags, &planned)?;
        let have = canonical_set(prior.mac_list()).unwrap_or_default();
        let batch = delta::delta(Some((&prior.target(), &have)), (&planned.target(), &want));
        let _serial = self.shared.tenant_batch_lock(&tenant).await;
        let batch = self
            .own_deletes(diags, &tenant, &prior.target(), batch)
            .await?;
        let elements = owned(&planned);
        self.send(diags, &tenant, &batch, Some(&elements), "update")
            .await?;
        planned.id = group_id(&planned);
        Some((planned, private))
    }

    async fn destroy<'a>(
        &self,
        diags: &mut Diagnostics,
        state: State,
        _private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<()> {
        let tenant = s(&state.tenant)?.to_owned();
        let have = canonical_set(state.mac_list()).unwrap_or_default();
        let _serial = self.shared.tenant_batch_lock(&tenant).await;
        let batch = self
            .own_deletes(diags, &tenant, &state.target(), delta::delete_all(&have))
            .await?;
        self.send(diags, &tenant, &batch, None, "delete").await
    }

    async fn import<'a>(&self, diags: &mut Diagnostics, id: String) -> Option<(State, ValueEmpty)> {
        let (tenant, profile) = match ids::parse_devices(&id) {
            Ok(parts) => parts,
            Err(e) => {
                error(diags, "Invalid import id", e, AttributePath::root());
                return None;
            }
        };
        let client = self.shared.client(diags)?;
        let profile_path = format!("/v1/tenants/{tenant}/profiles/{profile}");
        match client.get_opt::<serde_json::Value>(&profile_path).await {
            Ok(Some(_)) => {}
            Ok(None) => {
                error(
                    diags,
                    "Cannot import: no such profile",
                    format!(
                        "signpost_devices is imported by profile (<tenant>/<profile>); Signpost has no profile {id} (or this key cannot see it)."
                    ),
                    AttributePath::root(),
                );
                return None;
            }
            Err(e) => {
                report(
                    diags,
                    &e,
                    &ErrorContext::new(&format!("import devices {id}"), FIELDS),
                );
                return None;
            }
        }
        let remote = match remote_devices(&client, &tenant, Some(&profile)).await {
            Ok(remote) => remote.unwrap_or_default(),
            Err(e) => {
                report(
                    diags,
                    &e,
                    &ErrorContext::new(&format!("import devices {id}"), FIELDS),
                );
                return None;
            }
        };
        let mut state = State {
            tenant: Value::Value(tenant),
            profile: Value::Value(profile),
            setting_server: val(common(remote.values().map(|d| &d.setting_server))),
            label: val(common(remote.values().map(|d| &d.label))),
            ..State::default()
        };
        let mut macs: Vec<String> = remote.into_keys().collect();
        macs.sort();
        state.set_macs(macs);
        state.id = group_id(&state);
        Some((state, ValueEmpty::default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(mac: &str, profile: Option<&str>, label: Option<&str>) -> (String, DeviceView) {
        (
            mac.to_owned(),
            DeviceView {
                mac: mac.to_owned(),
                profile: profile.map(Into::into),
                setting_server: None,
                label: label.map(Into::into),
                phone_type: None,
                last_seen: None,
            },
        )
    }

    #[test]
    fn drifted_and_deleted_devices_drop_out() {
        let remote: HashMap<_, _> = [
            device("000413000001", Some("desk"), None),
            device("000413000002", Some("lobby"), None), // moved out of band
            device("000413000003", Some("desk"), Some("x")), // relabelled out of band
            // 000413000004 deleted out of band
            device("000413000005", Some("desk"), None),
        ]
        .into_iter()
        .collect();
        let target = Target {
            profile: Some("desk".into()),
            ..Target::default()
        };
        let macs = [
            "00:04:13:00:00:01",
            "000413000002",
            "000413000003",
            "000413000004",
            "000413000005",
        ];
        assert_eq!(
            still_managed(&macs, &target, &remote),
            ["00:04:13:00:00:01", "000413000005"]
        );
    }

    #[test]
    fn ids_prefer_the_name() {
        let mut state = State {
            tenant: Value::Value("acme".into()),
            profile: Value::Value("desk".into()),
            ..State::default()
        };
        assert_eq!(group_id(&state), Value::Value("acme/desk".into()));
        state.name = Value::Value("floor-1".into());
        assert_eq!(group_id(&state), Value::Value("acme/floor-1".into()));
        state.name = Value::Unknown;
        assert_eq!(group_id(&state), Value::Unknown);
    }

    #[test]
    fn common_values() {
        let a = [Some("x".to_owned()), Some("x".to_owned())];
        assert_eq!(common(a.iter()), Some("x".into()));
        let b = [Some("x".to_owned()), None];
        assert_eq!(common(b.iter()), None);
        assert_eq!(common([].iter()), None);
    }
}
