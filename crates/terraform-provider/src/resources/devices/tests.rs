//! Tests of the group's state: the devices still managed, the id, the shared values.

use std::collections::HashMap;

use super::*;
use crate::delta::Target;
use crate::resources::device::DeviceView;

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
