//! What one `signpost_devices` change sends: the delta between the devices in the state and
//! the ones in the configuration, as the operations of ONE `POST …/devices/batch` call (all or
//! nothing on the server). Upserts for MACs that are new, or all of them when the group's
//! profile, setting server or label changed; deletes for MACs that left the set.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::mac;

/// What every device of a `signpost_devices` group is set to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Target {
    pub profile: Option<String>,
    pub setting_server: Option<String>,
    pub label: Option<String>,
}

/// One batch operation, as `POST /v1/tenants/{t}/devices/batch` takes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Op {
    pub action: &'static str,
    pub mac: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub setting_server: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

impl Op {
    fn upsert(mac: &str, target: &Target) -> Self {
        Self {
            action: "upsert",
            mac: mac.to_owned(),
            profile: target.profile.clone(),
            setting_server: target.setting_server.clone(),
            label: target.label.clone(),
        }
    }

    fn delete(mac: &str) -> Self {
        Self {
            action: "delete",
            mac: mac.to_owned(),
            profile: None,
            setting_server: None,
            label: None,
        }
    }
}

/// A batch and, per operation (same index), the MAC as the configuration or state spells it,
/// so a refused item can be reported on that element of `macs`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Batch {
    pub ops: Vec<Op>,
    pub spellings: Vec<String>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    fn push(&mut self, op: Op, spelling: &str) {
        self.ops.push(op);
        self.spellings.push(spelling.to_owned());
    }
}

/// A MAC set keyed by canonical MAC (value: the spelling used). Invalid MACs and two
/// spellings of the same MAC are errors, each naming the offending spelling.
pub fn canonical_set<'a, I>(macs: I) -> Result<BTreeMap<String, String>, Vec<(String, String)>>
where
    I: IntoIterator<Item = &'a str>,
{
    let mut set = BTreeMap::new();
    let mut errors = Vec::new();
    for spelling in macs {
        match mac::canonical(spelling) {
            Ok(canonical) => {
                if let Some(first) = set.get(&canonical) {
                    errors.push((
                        spelling.to_owned(),
                        format!("{spelling:?} and {first:?} are the same MAC ({canonical})"),
                    ));
                } else {
                    set.insert(canonical, spelling.to_owned());
                }
            }
            Err(e) => errors.push((spelling.to_owned(), e)),
        }
    }
    if errors.is_empty() {
        Ok(set)
    } else {
        Err(errors)
    }
}

/// The batch that takes the remote devices from `prior` (None: nothing exists yet) to
/// `desired`. Both sets are keyed by canonical MAC (see [`canonical_set`]).
pub fn delta(
    prior: Option<(&Target, &BTreeMap<String, String>)>,
    desired: (&Target, &BTreeMap<String, String>),
) -> Batch {
    let (target, want) = desired;
    let mut batch = Batch::default();
    let retarget = prior.is_none_or(|(before, _)| before != target);
    for (canonical, spelling) in want {
        let known = prior.is_some_and(|(_, have)| have.contains_key(canonical));
        if retarget || !known {
            batch.push(Op::upsert(canonical, target), spelling);
        }
    }
    if let Some((_, have)) = prior {
        for (canonical, spelling) in have {
            if !want.contains_key(canonical) {
                batch.push(Op::delete(canonical), spelling);
            }
        }
    }
    batch
}

/// The batch that deletes every device of the group (destroy).
pub fn delete_all(have: &BTreeMap<String, String>) -> Batch {
    let mut batch = Batch::default();
    for (canonical, spelling) in have {
        batch.push(Op::delete(canonical), spelling);
    }
    batch
}

/// Drops the deletes of MACs whose device no longer has the group's `prior` values: moved to
/// another group (possibly by another resource earlier in the same apply), changed or deleted
/// since the last refresh. A group deletes only devices that are still its own. `remote`: the
/// tenant's devices by canonical MAC.
pub fn keep_own_deletes(batch: Batch, prior: &Target, remote: &HashMap<String, Target>) -> Batch {
    let mut kept = Batch::default();
    for (op, spelling) in batch.ops.into_iter().zip(batch.spellings) {
        if op.action != "delete" || remote.get(&op.mac) == Some(prior) {
            kept.push(op, &spelling);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(macs: &[&str]) -> BTreeMap<String, String> {
        canonical_set(macs.iter().copied()).unwrap()
    }

    fn target(profile: &str) -> Target {
        Target {
            profile: Some(profile.into()),
            ..Target::default()
        }
    }

    fn summary(batch: &Batch) -> Vec<String> {
        batch
            .ops
            .iter()
            .map(|op| format!("{} {}", op.action, op.mac))
            .collect()
    }

    #[test]
    fn create_upserts_everything() {
        let want = set(&["00:04:13:00:00:02", "000413000001"]);
        let batch = delta(None, (&target("desk"), &want));
        assert_eq!(
            summary(&batch),
            ["upsert 000413000001", "upsert 000413000002"]
        );
        assert_eq!(batch.spellings, ["000413000001", "00:04:13:00:00:02"]);
        assert_eq!(batch.ops[0].profile.as_deref(), Some("desk"));
    }

    #[test]
    fn unchanged_group_sends_nothing() {
        let have = set(&["000413000001", "000413000002"]);
        let want = set(&["00:04:13:00:00:01", "00-04-13-00-00-02"]);
        let t = target("desk");
        assert!(delta(Some((&t, &have)), (&t, &want)).is_empty());
    }

    #[test]
    fn added_and_removed_macs_only() {
        let have = set(&["000413000001", "000413000002"]);
        let want = set(&["000413000002", "000413000003"]);
        let t = target("desk");
        let batch = delta(Some((&t, &have)), (&t, &want));
        assert_eq!(
            summary(&batch),
            ["upsert 000413000003", "delete 000413000001"]
        );
        assert_eq!(batch.ops[1].profile, None);
    }

    #[test]
    fn retargeting_upserts_every_mac() {
        let have = set(&["000413000001", "000413000002"]);
        let want = set(&["000413000001", "000413000002"]);
        let batch = delta(Some((&target("desk"), &have)), (&target("lobby"), &want));
        assert_eq!(
            summary(&batch),
            ["upsert 000413000001", "upsert 000413000002"]
        );
        assert!(
            batch
                .ops
                .iter()
                .all(|op| op.profile.as_deref() == Some("lobby"))
        );
    }

    #[test]
    fn destroy_deletes_every_mac() {
        let have = set(&["000413000002", "000413000001"]);
        assert_eq!(
            summary(&delete_all(&have)),
            ["delete 000413000001", "delete 000413000002"]
        );
    }

    #[test]
    fn only_own_devices_are_deleted() {
        let have = set(&["000413000001", "000413000002", "000413000003"]);
        let want = set(&["000413000004"]);
        let desk = target("desk");
        let batch = delta(Some((&desk, &have)), (&desk, &want));
        let remote: HashMap<String, Target> = [
            ("000413000001".to_owned(), target("desk")), // still ours: deleted
            ("000413000002".to_owned(), target("lobby")), // taken by another group: kept
                                                         // 000413000003 already gone: nothing to delete
        ]
        .into_iter()
        .collect();
        let kept = keep_own_deletes(batch, &desk, &remote);
        assert_eq!(
            summary(&kept),
            ["upsert 000413000004", "delete 000413000001"]
        );
        assert_eq!(kept.spellings, ["000413000004", "000413000001"]);
    }

    #[test]
    fn invalid_and_duplicate_macs_name_the_spelling() {
        let errors = canonical_set(["000413000001", "bogus", "00:04:13:00:00:01"]).unwrap_err();
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[0].0, "bogus");
        assert_eq!(errors[1].0, "00:04:13:00:00:01");
        assert!(errors[1].1.contains("same MAC"));
    }

    #[test]
    fn ops_serialise_as_the_api_expects() {
        let want = set(&["000413000001"]);
        let batch = delta(None, (&target("desk"), &want));
        let json = serde_json::to_value(&batch.ops).unwrap();
        assert_eq!(
            json,
            serde_json::json!([{"action": "upsert", "mac": "000413000001", "profile": "desk"}])
        );
    }
}
