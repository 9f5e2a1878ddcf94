//! Tests of the mapping of problems to diagnostics.

use tf_provider::AttributePathStep;

use super::*;
use crate::delta::{Target, canonical_set, delta};

const DEVICE: &[(&str, &str)] = &[
    ("tenant", "tenant"),
    ("mac", "mac"),
    ("profile", "profile"),
    ("setting_server", "setting_server"),
    ("label", "label"),
];
const DEVICES: &[(&str, &str)] = &[
    ("tenant", "tenant"),
    ("mac", "macs"),
    ("profile", "profile"),
    ("setting_server", "setting_server"),
    ("label", "label"),
];

fn problem(code: &str, status: u16, detail: Option<&str>) -> Problem {
    Problem {
        code: code.into(),
        title: "a value in the request is invalid".into(),
        status,
        detail: detail.map(Into::into),
        request_id: Some("req-1".into()),
        items: vec![],
    }
}

fn path(p: &AttributePath) -> String {
    p.to_string()
}

#[test]
fn owned_mac_goes_on_mac() {
    let err = ApiError::from(problem(
        "mac_owned_by_other_tenant",
        409,
        Some("000413AABBCC is registered to another tenant"),
    ));
    let d = diagnostics(&err, &ErrorContext::new("create device", DEVICE));
    assert_eq!(d.len(), 1);
    assert_eq!(path(&d[0].attribute), "mac");
    assert!(
        d[0].detail
            .contains("000413AABBCC is registered to another tenant")
    );
    assert!(d[0].detail.contains("request id req-1"));
    assert!(d[0].detail.contains("409 mac_owned_by_other_tenant"));
}

#[test]
fn validation_detail_names_the_attribute() {
    let err = ApiError::from(problem(
        "invalid_url",
        422,
        Some("setting_server: not an http(s) URL"),
    ));
    let d = diagnostics(&err, &ErrorContext::new("update device", DEVICE));
    assert_eq!(path(&d[0].attribute), "setting_server");

    let tenant = &[
        ("tenant", "id"),
        ("default_setting_server", "default_setting_server"),
    ];
    let err = ApiError::from(problem(
        "invalid_url",
        422,
        Some("default_setting_server: bad"),
    ));
    let d = diagnostics(&err, &ErrorContext::new("create tenant", tenant));
    assert_eq!(path(&d[0].attribute), "default_setting_server");
}

#[test]
fn nested_fields_keep_their_index() {
    let profile = &[
        ("profile", "profile_id"),
        ("extra_settings", "extra_settings"),
    ];
    let err = ApiError::from(problem(
        "invalid_setting",
        422,
        Some("extra_settings[2].name: only [A-Za-z0-9_]"),
    ));
    let d = diagnostics(&err, &ErrorContext::new("create profile", profile));
    assert_eq!(
        d[0].attribute.steps,
        vec![
            AttributePathStep::Attribute("extra_settings".into()),
            AttributePathStep::Index(2),
            AttributePathStep::Attribute("name".into()),
        ]
    );
    // The path parameter `profile` is the resource's profile_id.
    let err = ApiError::from(problem("invalid_profile_id", 422, Some("profile: x")));
    let d = diagnostics(&err, &ErrorContext::new("create profile", profile));
    assert_eq!(path(&d[0].attribute), "profile_id");
}

#[test]
fn unknown_profile_goes_on_profile() {
    let err = ApiError::from(problem(
        "unknown_profile",
        422,
        Some("profile: no profile desk in this tenant"),
    ));
    let d = diagnostics(&err, &ErrorContext::new("create device", DEVICE));
    assert_eq!(path(&d[0].attribute), "profile");
}

#[test]
fn batch_items_go_on_the_mac_element_as_spelled() {
    let want = canonical_set(["00:04:13:00:00:01", "000413000002"]).unwrap();
    let target = Target {
        profile: Some("desk".into()),
        ..Target::default()
    };
    let batch = delta(None, (&target, &want));
    let mut p = problem("batch_refused", 409, None);
    p.title = "the batch was refused; nothing was applied".into();
    p.items = vec![
        ItemProblem {
            index: 0,
            mac: "000413000001".into(),
            code: "mac_owned_by_other_tenant".into(),
            detail: None,
        },
        ItemProblem {
            index: 1,
            mac: "000413000002".into(),
            code: "unknown_profile".into(),
            detail: Some("no profile desk".into()),
        },
    ];
    let err = ApiError::from(p);
    let config = ["000413000002".to_owned(), "00:04:13:00:00:01".to_owned()];
    let ctx = ErrorContext::new("update devices", DEVICES).with_batch(&batch, Some(&config));
    let d = diagnostics(&err, &ctx);
    assert_eq!(d.len(), 2);
    assert_eq!(
        d[0].attribute.steps,
        vec![
            AttributePathStep::Attribute("macs".into()),
            AttributePathStep::Index(1),
        ]
    );
    assert_eq!(
        d[0].summary,
        "MAC 00:04:13:00:00:01 is registered to another tenant"
    );
    assert!(d[0].detail.contains("request id req-1"));
    assert_eq!(path(&d[1].attribute), "profile");
    assert!(d[1].detail.contains("no profile desk"));
}

#[test]
fn operation_fields_of_a_batch() {
    let want = canonical_set(["000413000001", "0004.1300.0002"]).unwrap();
    let batch = delta(None, (&Target::default(), &want));
    let config = ["000413000001".to_owned(), "0004.1300.0002".to_owned()];
    let ctx = ErrorContext::new("update devices", DEVICES).with_batch(&batch, Some(&config));
    let err = ApiError::from(problem(
        "invalid_url",
        422,
        Some("operations[1].setting_server: bad"),
    ));
    assert_eq!(
        path(&diagnostics(&err, &ctx)[0].attribute),
        "setting_server"
    );
    let err = ApiError::from(problem("invalid_mac", 422, Some("operations[1].mac: bad")));
    assert_eq!(
        diagnostics(&err, &ctx)[0].attribute.steps,
        vec![
            AttributePathStep::Attribute("macs".into()),
            AttributePathStep::Index(1),
        ]
    );
    // Without the configured list (destroy), the whole attribute.
    let ctx = ErrorContext::new("delete devices", DEVICES).with_batch(&batch, None);
    assert_eq!(path(&diagnostics(&err, &ctx)[0].attribute), "macs");
}

#[test]
fn file_errors() {
    let file = &[("path", "path"), ("body", "source")];
    let err = ApiError::from(problem(
        "path_dot_segment",
        400,
        Some("no . or .. segments"),
    ));
    let d = diagnostics(&err, &ErrorContext::new("upload", file));
    assert_eq!(path(&d[0].attribute), "path");
    let err = ApiError::from(problem(
        "quota_exceeded",
        413,
        Some("9 of 10 bytes are used"),
    ));
    let d = diagnostics(&err, &ErrorContext::new("upload", file));
    assert_eq!(path(&d[0].attribute), "source");
}

#[test]
fn missing_tenant_and_unmapped_codes() {
    let err = ApiError::from(problem("not_found", 404, None));
    let d = diagnostics(
        &err,
        &ErrorContext::new("create device", DEVICE).writing_child(),
    );
    assert_eq!(path(&d[0].attribute), "tenant");
    assert!(d[0].detail.contains("tenant does not exist"));
    let d = diagnostics(&err, &ErrorContext::new("read device", DEVICE));
    assert!(d[0].attribute.steps.is_empty());

    let err = ApiError::from(problem(
        "tenant_not_empty",
        409,
        Some("delete its devices first"),
    ));
    let d = diagnostics(&err, &ErrorContext::new("delete tenant", DEVICE));
    assert!(d[0].attribute.steps.is_empty());
    assert!(d[0].detail.starts_with("delete its devices first"));
    assert_eq!(d[0].summary, "A value in the request is invalid");
}

#[test]
fn transport_errors_are_on_the_resource() {
    let err = ApiError::Transport("connection refused".into());
    let d = diagnostics(&err, &ErrorContext::new("read tenant acme", DEVICE));
    assert!(d[0].attribute.steps.is_empty());
    assert_eq!(d[0].detail, "read tenant acme: connection refused");
}

#[test]
fn detail_field_is_only_a_field() {
    assert_eq!(detail_field("setting_server: bad"), Some("setting_server"));
    assert_eq!(
        detail_field("operations[3].mac: bad"),
        Some("operations[3].mac")
    );
    assert_eq!(detail_field("000413AABBCC is registered"), None);
    assert_eq!(detail_field("9 of 10 bytes: used"), None);
}
