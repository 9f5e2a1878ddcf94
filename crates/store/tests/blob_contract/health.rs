//! The health check, and (S3 only) how the store fails: fast, and without credentials.

use std::time::Duration;

use signpost_store::blobs::{BlobStore, S3BlobStore, S3Options};
use signpost_testkit::unique_name;

use super::{Harness, Kind, body, key, s3_harness, s3_options, s3_settings};

pub(super) async fn check(h: &Harness) {
    h.store.check().await.expect("check");
}

#[tokio::test]
async fn s3_check_fails_fast_when_the_endpoint_is_unreachable() {
    let store = S3BlobStore::new(S3Options {
        bucket: "signpost".into(),
        endpoint: Some("http://127.0.0.1:1".into()),
        region: Some("us-east-1".into()),
        force_path_style: true,
        access_key_id: Some("AKIDUNREACHABLE".into()),
        secret_access_key: Some("unreachable-secret".into()),
    })
    .await
    .expect("s3 store");
    let result = tokio::time::timeout(Duration::from_secs(20), store.check())
        .await
        .expect("check must give up, not hang");
    let error = result.expect_err("nothing listens on port 1").to_string();
    eprintln!("{error}");
    assert!(!error.contains("unreachable-secret"), "{error}");
}

#[tokio::test]
async fn s3_check_fails_for_a_missing_bucket() {
    let Some(settings) = s3_settings() else {
        return;
    };
    let bucket = unique_name("signpost-missing")
        .to_lowercase()
        .replace('_', "-");
    let store = S3BlobStore::new(s3_options(&settings, &bucket))
        .await
        .expect("s3 store");
    assert!(store.check().await.is_err());
}

#[tokio::test]
async fn s3_errors_do_not_reveal_credentials() {
    let Some(harness) = s3_harness().await else {
        return;
    };
    let Some(settings) = s3_settings() else {
        return;
    };
    let Kind::S3 { bucket, .. } = &harness.backend else {
        unreachable!()
    };
    let wrong_secret = "wrong-secret-0123456789abcdef";
    let store = S3BlobStore::new(S3Options {
        secret_access_key: Some(wrong_secret.into()),
        ..s3_options(&settings, bucket)
    })
    .await
    .expect("s3 store");
    let errors = [
        store.check().await.expect_err("wrong secret").to_string(),
        store
            .put(&key("x"), body(b"x"), None)
            .await
            .expect_err("wrong secret")
            .to_string(),
        store
            .list("", None, 10)
            .await
            .expect_err("wrong secret")
            .to_string(),
    ];
    for error in errors {
        eprintln!("{error}");
        assert!(!error.contains(wrong_secret), "{error}");
        if let Some(id) = &settings.access_key_id {
            assert!(!error.contains(id.as_str()), "{error}");
        }
    }
}
