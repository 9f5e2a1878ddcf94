use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use signpost_domain::Role;

use super::{Claims, SecretTooShort, SigningKeys, kid};
use crate::auth::AuthError;

const OLD: &[u8] = b"an old signing secret of 32+ bytes....";
const NEW: &[u8] = b"the new signing secret of 32+ bytes...";

fn keys(current: &[u8]) -> SigningKeys {
    SigningKeys::new(current, Vec::<&[u8]>::new()).unwrap()
}

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

fn claims(exp: u64) -> Claims {
    Claims {
        sub: "spk_0123456789abcdef0123".into(),
        tenant: Some("acme".parse().unwrap()),
        role: Role::TenantAdmin,
        iat: now(),
        exp,
    }
}

fn b64(json: &str) -> String {
    URL_SAFE_NO_PAD.encode(json)
}

#[test]
fn round_trip() {
    let keys = keys(NEW);
    let issued = claims(now() + 900);
    let token = keys.sign(&issued).unwrap();
    assert_eq!(keys.verify(&token).unwrap(), issued);

    let platform = Claims {
        tenant: None,
        role: Role::PlatformAdmin,
        ..issued
    };
    let token = keys.sign(&platform).unwrap();
    assert!(!token.contains("tenant"));
    assert_eq!(keys.verify(&token).unwrap(), platform);
}

#[test]
fn the_header_names_the_key_not_the_secret() {
    let keys = keys(NEW);
    let token = keys.sign(&claims(now() + 60)).unwrap();
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::HS256);
    assert_eq!(header.kid.as_deref(), Some(keys.current_kid()));
    assert_eq!(keys.current_kid(), kid(NEW));
    assert_eq!(keys.current_kid().len(), 16);
    assert!(!format!("{keys:?}").contains("signing secret"));
}

#[test]
fn expired_tokens_are_refused() {
    let keys = keys(NEW);
    let token = keys.sign(&claims(now() - 30)).unwrap();
    assert!(matches!(keys.verify(&token), Err(AuthError::TokenExpired)));
}

#[test]
fn a_tampered_token_fails_its_signature() {
    let keys = keys(NEW);
    let token = keys.sign(&claims(now() + 900)).unwrap();
    let (header, rest) = token.split_once('.').unwrap();
    let signature = rest.rsplit_once('.').unwrap().1;
    // Same header and signature, but claims that promote the key.
    let forged = b64(&format!(
        r#"{{"sub":"spk_0123456789abcdef0123","role":"platform-admin","iat":{0},"exp":{1}}}"#,
        now(),
        now() + 900
    ));
    let tampered = format!("{header}.{forged}.{signature}");
    assert!(matches!(
        keys.verify(&tampered),
        Err(AuthError::TokenSignature)
    ));
    // Signed with another secret under the right kid.
    let other = SigningKeys::new(OLD, Vec::<&[u8]>::new()).unwrap();
    let foreign = other.sign(&claims(now() + 900)).unwrap();
    let (_, foreign_rest) = foreign.split_once('.').unwrap();
    let mixed = format!("{header}.{foreign_rest}");
    assert!(matches!(
        keys.verify(&mixed),
        Err(AuthError::TokenSignature)
    ));
}

#[test]
fn alg_none_and_other_algorithms_are_refused() {
    let keys = keys(NEW);
    let payload = b64(&format!(
        r#"{{"sub":"spk_x","role":"platform-admin","iat":{0},"exp":{1}}}"#,
        now(),
        now() + 900
    ));
    let kid = keys.current_kid().to_owned();
    for header in [
        r#"{"alg":"none","typ":"JWT"}"#.to_owned(),
        format!(r#"{{"alg":"none","kid":"{kid}"}}"#),
        format!(r#"{{"alg":"HS512","kid":"{kid}"}}"#),
        format!(r#"{{"alg":"RS256","kid":"{kid}"}}"#),
    ] {
        let token = format!("{}.{payload}.", b64(&header));
        assert!(
            matches!(keys.verify(&token), Err(AuthError::TokenAlgorithm)),
            "{header}"
        );
    }
}

#[test]
fn unknown_or_missing_kid_is_refused() {
    let token = keys(OLD).sign(&claims(now() + 900)).unwrap();
    assert!(matches!(
        keys(NEW).verify(&token),
        Err(AuthError::TokenUnknownKey)
    ));
    let no_kid = format!(
        "{}.{}",
        b64(r#"{"alg":"HS256","typ":"JWT"}"#),
        token.split_once('.').unwrap().1
    );
    assert!(matches!(
        keys(OLD).verify(&no_kid),
        Err(AuthError::TokenUnknownKey)
    ));
}

#[test]
fn a_rotated_secret_still_verifies_its_tokens() {
    let before = keys(OLD).sign(&claims(now() + 900)).unwrap();
    let rotated = SigningKeys::new(NEW, [OLD]).unwrap();
    assert!(rotated.verify(&before).is_ok());
    let after = rotated.sign(&claims(now() + 900)).unwrap();
    assert_eq!(
        jsonwebtoken::decode_header(&after).unwrap().kid.as_deref(),
        Some(kid(NEW).as_str())
    );
    assert!(rotated.verify(&after).is_ok());
}

#[test]
fn malformed_tokens_are_refused() {
    let keys = keys(NEW);
    let kid = keys.current_kid().to_owned();
    let good_header = b64(&format!(r#"{{"alg":"HS256","kid":"{kid}"}}"#));
    for token in [
        String::new(),
        "garbage".into(),
        "a.b".into(),
        "a.b.c.d".into(),
        format!("{}.e30.", b64("not json")),
        format!("{good_header}.not-base64!.sig"),
        format!("{good_header}.{}.sig", b64("[1,2]")),
        "x".repeat(5000),
    ] {
        let refused = keys.verify(&token);
        assert!(
            matches!(
                refused,
                Err(AuthError::TokenMalformed | AuthError::TokenSignature)
            ),
            "{token}: {refused:?}"
        );
    }
    // A correctly signed token whose claims lack `sub`/`role` is malformed, not accepted.
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(kid);
    let token = jsonwebtoken::encode(
        &header,
        &serde_json::json!({"exp": now() + 900}),
        &jsonwebtoken::EncodingKey::from_secret(NEW),
    )
    .unwrap();
    assert!(matches!(
        keys.verify(&token),
        Err(AuthError::TokenMalformed)
    ));
}

#[test]
fn short_secrets_are_refused() {
    assert_eq!(
        SigningKeys::new(b"short", Vec::<&[u8]>::new()).unwrap_err(),
        SecretTooShort
    );
    assert_eq!(
        SigningKeys::new(NEW, [b"short".as_slice()]).unwrap_err(),
        SecretTooShort
    );
}
