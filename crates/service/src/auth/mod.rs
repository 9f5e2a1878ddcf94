//! Authentication: API keys, their exchange for bearer tokens (OAuth 2.0 client
//! credentials), and what a verified token allows ([`AuthCtx`]).

mod ctx;
mod error;
mod keys;
mod tokens;

use std::sync::Arc;
use std::time::Duration;

use signpost_domain::{Role, TenantId, Timestamp};
use signpost_store::registry::{ApiKey, ChangeContext, KeyRepo, NewApiKey};

pub use ctx::{AuthCtx, Denied};
pub use error::AuthError;
pub use keys::{KeyMaterial, random_signing_secret, secret_hash};
pub use tokens::{MIN_SECRET_BYTES, SecretTooShort, SigningKeys, kid};

use tokens::Claims;

/// The answer to a successful token exchange, shaped like OAuth 2.0's.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedToken {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the token expires.
    pub expires_in: u64,
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken")
            .field("access_token", &"****")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// Whether a key of `role` may have (or lack) `tenant`: platform admins are platform-wide,
/// the tenant roles belong to exactly one tenant.
pub fn check_key_scope(role: Role, tenant: Option<&TenantId>) -> Result<(), AuthError> {
    match (role, tenant) {
        (Role::PlatformAdmin, Some(_)) => Err(AuthError::TenantNotAllowed),
        (Role::TenantAdmin | Role::TenantReader, None) => {
            Err(AuthError::TenantRequired(role.as_str()))
        }
        _ => Ok(()),
    }
}

/// Issues API keys and bearer tokens, and turns a bearer token back into an [`AuthCtx`].
#[derive(Debug, Clone)]
pub struct Authenticator {
    keys: Arc<dyn KeyRepo>,
    signing: Arc<SigningKeys>,
    token_lifetime: Duration,
}

impl Authenticator {
    pub fn new(keys: Arc<dyn KeyRepo>, signing: SigningKeys, token_lifetime: Duration) -> Self {
        Self {
            keys,
            signing: Arc::new(signing),
            token_lifetime,
        }
    }

    /// Creates a key and answers its secret, which is not stored and cannot be shown again.
    ///
    /// Who may create which key is the caller's check: [`AuthCtx::write`] for the tenant's
    /// keys, [`AuthCtx::platform`] for platform-wide ones.
    pub async fn create_key(
        &self,
        change: &ChangeContext,
        tenant: Option<TenantId>,
        role: Role,
        description: Option<String>,
    ) -> Result<(ApiKey, KeyMaterial), AuthError> {
        check_key_scope(role, tenant.as_ref())?;
        let material = KeyMaterial::generate();
        let new = NewApiKey {
            id: material.id.clone(),
            tenant,
            role,
            description,
            secret_hash: secret_hash(&material.secret),
        };
        let key = self.keys.create(change, new).await?;
        Ok((key, material))
    }

    /// Exchanges a key id and secret for a bearer token. An unknown id, a wrong secret and
    /// a revoked key all answer [`AuthError::InvalidClient`].
    pub async fn exchange(
        &self,
        client_id: &str,
        client_secret: &str,
    ) -> Result<IssuedToken, AuthError> {
        let key = self.verify_key(client_id, client_secret).await?;
        let now = Timestamp::now();
        let iat = u64::try_from(now.unix_millis() / 1000).unwrap_or(0);
        let lifetime = self.token_lifetime.as_secs();
        let claims = Claims {
            sub: key.id,
            tenant: key.tenant,
            role: key.role,
            iat,
            exp: iat + lifetime,
        };
        Ok(IssuedToken {
            access_token: self.signing.sign(&claims)?,
            token_type: "Bearer",
            expires_in: lifetime,
        })
    }

    /// Verifies a key id and secret sent with every call (HTTP Basic, as the Snom XML-RPC
    /// API does) and answers who is calling.
    pub async fn authenticate_key(
        &self,
        client_id: &str,
        client_secret: &str,
    ) -> Result<AuthCtx, AuthError> {
        let key = self.verify_key(client_id, client_secret).await?;
        Ok(AuthCtx {
            key_id: key.id,
            tenant: key.tenant,
            role: key.role,
        })
    }

    async fn verify_key(&self, client_id: &str, client_secret: &str) -> Result<ApiKey, AuthError> {
        let key = self.keys.get(client_id).await?;
        // The secret is hashed whether or not the key exists, so that an unknown id does
        // not answer measurably faster than a wrong secret.
        let stored = key.as_ref().map_or("", |k| k.secret_hash.as_str());
        let secret_ok = keys::secret_matches(client_secret, stored);
        let key = match key {
            Some(key) if secret_ok && !key.is_revoked() => key,
            _ => return Err(AuthError::InvalidClient),
        };
        if let Err(e) = self.keys.touch(&key.id, Timestamp::now()).await {
            // Only bookkeeping: a failed note of the last use must not refuse a valid key.
            tracing::warn!(error = %e, key = %key.id, "cannot note the key's last use");
        }
        Ok(key)
    }

    /// Verifies a bearer token and answers who is calling.
    ///
    /// Revocation is immediate: after the signature and expiry checks the key is looked up
    /// in the registry on every call, so a revoked or deleted key's tokens fail at once
    /// ([`AuthError::KeyRevoked`]) rather than at their expiry. The tenant and role come
    /// from that registry row, which is authoritative, not from the token's claims.
    pub async fn authenticate(&self, bearer_token: &str) -> Result<AuthCtx, AuthError> {
        let claims = self.signing.verify(bearer_token)?;
        match self.keys.get(&claims.sub).await? {
            Some(key) if !key.is_revoked() => Ok(AuthCtx {
                key_id: key.id,
                tenant: key.tenant,
                role: key.role,
            }),
            _ => Err(AuthError::KeyRevoked),
        }
    }

    /// The keys of a tenant, or with `None` the platform-wide keys; revoked ones included.
    pub async fn list_keys(
        &self,
        tenant: Option<&TenantId>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<ApiKey>, AuthError> {
        Ok(self.keys.list(tenant, after, limit).await?)
    }

    /// Revokes a key of that tenant scope; false when there is none (or it was revoked).
    pub async fn revoke_key(
        &self,
        change: &ChangeContext,
        tenant: Option<&TenantId>,
        id: &str,
    ) -> Result<bool, AuthError> {
        Ok(self.keys.revoke(change, tenant, id).await?)
    }

    pub fn token_lifetime(&self) -> Duration {
        self.token_lifetime
    }
}
