//! The committed `openapi/openapi.yaml` is what the code generates. To rewrite it after an
//! API change: `SIGNPOST_TEST_UPDATE_OPENAPI=1 cargo test -p signpost-api --test openapi`.

use std::path::PathBuf;

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../openapi/openapi.yaml")
}

#[test]
fn committed_spec_matches_the_code() {
    let generated = signpost_api::openapi_yaml();
    let path = committed_path();
    if std::env::var("SIGNPOST_TEST_UPDATE_OPENAPI").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi/openapi.yaml differs from the code; regenerate it with \
         SIGNPOST_TEST_UPDATE_OPENAPI=1 cargo test -p signpost-api --test openapi"
    );
}

#[test]
fn every_operation_is_documented() {
    let spec: serde_json::Value = serde_json::from_str(&signpost_api::openapi_json()).unwrap();
    let paths = spec["paths"].as_object().unwrap();
    assert!(
        paths.keys().all(|p| p.starts_with("/v1/")),
        "{:?}",
        paths.keys()
    );
    let mut seen = std::collections::HashSet::new();
    for (path, operations) in paths {
        for (method, op) in operations.as_object().unwrap() {
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path}: no operationId"));
            assert!(seen.insert(id.to_owned()), "operationId {id} used twice");
            assert!(
                op["summary"].as_str().is_some_and(|s| !s.is_empty()),
                "{id}: no summary"
            );
            assert!(
                op["description"].as_str().is_some_and(|s| !s.is_empty()),
                "{id}: no description"
            );
            let responses = op["responses"].as_object().unwrap();
            if path != "/v1/auth/token" {
                assert!(responses.contains_key("401"), "{id}: errors not documented");
            }
        }
    }
}
