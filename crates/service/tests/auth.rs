//! The authenticator over a real registry (SQLite in a temporary directory).

use std::sync::Arc;
use std::time::Duration;

use signpost_domain::{Role, TenantId};
use signpost_service::auth::{AuthCtx, AuthError, Authenticator, SigningKeys};
use signpost_store::registry::*;

const SECRET: &[u8] = b"a signing secret of at least 32 bytes!";

struct Fixture {
    registry: Arc<SqlRegistry>,
    auth: Authenticator,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("auth.db").display());
    let registry = Arc::new(SqlRegistry::connect(&url, 5).await.unwrap());
    registry.migrate().await.unwrap();
    let spec = TenantSpec {
        id: tid("acme"),
        display_name: "Acme".into(),
        default_setting_server: None,
        status: TenantStatus::Active,
    };
    TenantRepo::put(&*registry, &cli(), spec).await.unwrap();
    let signing = SigningKeys::new(SECRET, Vec::<&[u8]>::new()).unwrap();
    let auth = Authenticator::new(registry.clone(), signing, Duration::from_secs(900));
    Fixture {
        registry,
        auth,
        _dir: dir,
    }
}

fn cli() -> ChangeContext {
    ChangeContext {
        actor: "cli".into(),
        request_id: None,
    }
}

fn tid(s: &str) -> TenantId {
    s.parse().unwrap()
}

#[tokio::test]
async fn a_key_becomes_a_token_becomes_a_caller() {
    let f = fixture().await;
    let (key, material) = f
        .auth
        .create_key(
            &cli(),
            Some(tid("acme")),
            Role::TenantAdmin,
            Some("ci".into()),
        )
        .await
        .unwrap();
    assert_eq!(key.id, material.id);
    assert_ne!(key.secret_hash, material.secret);
    assert_eq!(key.last_used_at, None);

    let token = f
        .auth
        .exchange(&material.id, &material.secret)
        .await
        .unwrap();
    assert_eq!(token.token_type, "Bearer");
    assert_eq!(token.expires_in, 900);
    let used = KeyRepo::get(&*f.registry, &key.id).await.unwrap().unwrap();
    assert!(used.last_used_at.is_some());

    let caller = f.auth.authenticate(&token.access_token).await.unwrap();
    assert_eq!(
        caller,
        AuthCtx {
            key_id: key.id.clone(),
            tenant: Some(tid("acme")),
            role: Role::TenantAdmin,
        }
    );
}

#[tokio::test]
async fn bad_credentials_all_look_alike() {
    let f = fixture().await;
    let (_, material) = f
        .auth
        .create_key(&cli(), None, Role::PlatformAdmin, None)
        .await
        .unwrap();
    let (_, revoked) = f
        .auth
        .create_key(&cli(), None, Role::PlatformAdmin, None)
        .await
        .unwrap();
    assert!(f.auth.revoke_key(&cli(), None, &revoked.id).await.unwrap());

    let attempts = [
        ("spk_00000000000000000000", material.secret.as_str()),
        (material.id.as_str(), "sps_wrong"),
        (material.id.as_str(), ""),
        (revoked.id.as_str(), revoked.secret.as_str()),
    ];
    for (id, secret) in attempts {
        let refused = f.auth.exchange(id, secret).await.unwrap_err();
        assert!(matches!(refused, AuthError::InvalidClient), "{refused:?}");
        assert_eq!(refused.to_string(), "invalid client credentials");
    }
}

#[tokio::test]
async fn revocation_is_immediate() {
    let f = fixture().await;
    let (key, material) = f
        .auth
        .create_key(&cli(), Some(tid("acme")), Role::TenantReader, None)
        .await
        .unwrap();
    let token = f
        .auth
        .exchange(&material.id, &material.secret)
        .await
        .unwrap();
    f.auth.authenticate(&token.access_token).await.unwrap();

    // Another tenant's scope cannot revoke it.
    let other = Some(tid("other"));
    assert!(
        !f.auth
            .revoke_key(&cli(), other.as_ref(), &key.id)
            .await
            .unwrap()
    );
    assert!(
        f.auth
            .revoke_key(&cli(), Some(&tid("acme")), &key.id)
            .await
            .unwrap()
    );
    let refused = f.auth.authenticate(&token.access_token).await.unwrap_err();
    assert!(matches!(refused, AuthError::KeyRevoked), "{refused:?}");
}

#[tokio::test]
async fn a_deleted_tenants_tokens_fail() {
    let f = fixture().await;
    let (_, material) = f
        .auth
        .create_key(&cli(), Some(tid("acme")), Role::TenantAdmin, None)
        .await
        .unwrap();
    let token = f
        .auth
        .exchange(&material.id, &material.secret)
        .await
        .unwrap();
    TenantRepo::delete(&*f.registry, &cli(), &tid("acme"), true)
        .await
        .unwrap();
    let refused = f.auth.authenticate(&token.access_token).await.unwrap_err();
    assert!(matches!(refused, AuthError::KeyRevoked), "{refused:?}");
}

#[tokio::test]
async fn key_scope_is_validated() {
    let f = fixture().await;
    let cases = [
        (Some(tid("acme")), Role::PlatformAdmin),
        (None, Role::TenantAdmin),
        (None, Role::TenantReader),
        (Some(tid("nosuch")), Role::TenantAdmin),
    ];
    for (tenant, role) in cases {
        let refused = f
            .auth
            .create_key(&cli(), tenant.clone(), role, None)
            .await
            .unwrap_err();
        let expected = match (&tenant, role) {
            (Some(_), Role::PlatformAdmin) => matches!(refused, AuthError::TenantNotAllowed),
            (None, _) => matches!(refused, AuthError::TenantRequired(_)),
            _ => matches!(refused, AuthError::TenantNotFound),
        };
        assert!(expected, "{tenant:?} {role:?}: {refused:?}");
    }
    let keys = f
        .auth
        .list_keys(Some(&tid("acme")), None, 10)
        .await
        .unwrap();
    assert!(keys.is_empty());
}

#[tokio::test]
async fn tokens_from_another_signing_secret_are_refused() {
    let f = fixture().await;
    let (_, material) = f
        .auth
        .create_key(&cli(), None, Role::PlatformAdmin, None)
        .await
        .unwrap();
    let token = f
        .auth
        .exchange(&material.id, &material.secret)
        .await
        .unwrap();
    let other = SigningKeys::new(b"another signing secret, 32 bytes or more", [SECRET]).unwrap();
    // A replica that rotated to a new secret still accepts the previous one's tokens...
    let rotated = Authenticator::new(f.registry.clone(), other, Duration::from_secs(900));
    rotated.authenticate(&token.access_token).await.unwrap();
    // ...and one that never knew it does not.
    let stranger = SigningKeys::new(b"a stranger's signing secret, 32+ bytes", [] as [&[u8]; 0]);
    let stranger = Authenticator::new(f.registry.clone(), stranger.unwrap(), Duration::ZERO);
    let refused = stranger
        .authenticate(&token.access_token)
        .await
        .unwrap_err();
    assert!(matches!(refused, AuthError::TokenUnknownKey), "{refused:?}");
}
