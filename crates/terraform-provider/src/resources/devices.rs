//! `signpost_devices`: MACs (a list used as a set) that share a profile and/or a setting server (and a
//! label). Create, update and destroy are each ONE `POST …/devices/batch` call carrying the
//! delta (all or nothing on the server); a read lists the tenant's devices and keeps in the
//! state only the MACs that still exist with the group's values, so a device changed or
//! deleted out of band shows as a MAC to add back. Import id: `acme/<profile>` (every device
//! of the profile).

use std::sync::Arc;

use async_trait::async_trait;
use tf_provider::schema::{AttributeConstraint, AttributeType, Schema};
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{AttributePath, Diagnostics, Resource};

use crate::delta::{self, canonical_set};
use crate::ids;
use crate::problem::{ErrorContext, report};
use crate::provider::Shared;
use crate::resources::device::validate_label;
use crate::util::{at, attr, check_attr, computed, error, optional, required, s, schema, val};

mod remote;
mod state;

use remote::remote_devices;
pub use state::{State, still_managed};
use state::{common, desired, group_id, owned};

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

#[derive(Debug)]
pub struct Devices {
    pub shared: Arc<Shared>,
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
mod tests;
