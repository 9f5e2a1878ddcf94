//! The group's state and what follows from it: its id, its MACs as a canonical set, and
//! which devices it still manages.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use tf_provider::value::Value;
use tf_provider::{AttributePath, Diagnostics};

use crate::delta::{Target, canonical_set};
use crate::resources::device::DeviceView;
use crate::util::{error, s};
use crate::{ids, mac};

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
    pub(super) fn target(&self) -> Target {
        Target {
            profile: s(&self.profile).map(str::to_owned),
            setting_server: s(&self.setting_server).map(str::to_owned),
            label: s(&self.label).map(str::to_owned),
        }
    }

    /// The known MAC spellings.
    pub(super) fn mac_list(&self) -> Vec<&str> {
        self.macs
            .as_ref_option()
            .map(|l| l.iter().filter_map(|m| s(m)).collect())
            .unwrap_or_default()
    }

    pub(super) fn all_macs_known(&self) -> bool {
        self.macs
            .as_ref_option()
            .is_some_and(|l| l.iter().all(|m| !m.is_unknown()))
    }

    pub(super) fn set_macs(&mut self, macs: impl IntoIterator<Item = String>) {
        self.macs = Value::Value(macs.into_iter().map(Value::Value).collect());
    }
}

/// `<tenant>/<name>`, or `<tenant>/<profile>` without a name.
pub(super) fn group_id(state: &State) -> Value<String> {
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
pub(super) fn common<'a>(values: impl Iterator<Item = &'a Option<String>>) -> Option<String> {
    let mut values = values;
    let first = values.next()?.clone();
    values.all(|v| *v == first).then_some(first).flatten()
}

pub(super) fn desired(diags: &mut Diagnostics, state: &State) -> Option<BTreeMap<String, String>> {
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

pub(super) fn owned(state: &State) -> Vec<String> {
    state.mac_list().into_iter().map(str::to_owned).collect()
}
