//! Tests of the client's helpers: endpoints, encoding, token lifetimes, error answers.

use super::*;

#[test]
fn endpoints() {
    assert_eq!(
        normalise_endpoint("http://127.0.0.1:8080/").unwrap(),
        "http://127.0.0.1:8080"
    );
    assert_eq!(
        normalise_endpoint("https://signpost.example.com").unwrap(),
        "https://signpost.example.com"
    );
    assert!(normalise_endpoint("ftp://x").is_err());
    assert!(normalise_endpoint("signpost.example.com").is_err());
    assert!(normalise_endpoint("http://x/?a=b").is_err());
}

#[test]
fn tokens_are_renewed_before_they_expire() {
    assert_eq!(renew_after(900), Duration::from_secs(840));
    assert_eq!(renew_after(60), Duration::from_secs(30));
    assert_eq!(renew_after(0), Duration::ZERO);
}

#[test]
fn encoding() {
    assert_eq!(encode("cfg/a b.htm", true), "cfg/a%20b.htm");
    assert_eq!(encode("cfg/a", false), "cfg%2Fa");
    assert_eq!(encode("sps_x+y=", false), "sps_x%2By%3D");
}

#[test]
fn problems_from_answers() {
    let mut headers = hyper::HeaderMap::new();
    headers.insert("x-request-id", "abc".parse().unwrap());
    let p = problem_from(
        StatusCode::CONFLICT,
        &headers,
        br#"{"code":"tenant_not_empty","title":"t","status":409,"items":[]}"#,
    );
    assert_eq!(p.code, "tenant_not_empty");
    assert_eq!(p.request_id.as_deref(), Some("abc"));
    let p = problem_from(StatusCode::BAD_GATEWAY, &headers, b"upstream down");
    assert_eq!(p.code, "http_502");
    assert_eq!(p.status, 502);
    assert_eq!(p.detail.as_deref(), Some("upstream down"));
}
