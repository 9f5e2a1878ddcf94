use signpost_store::registry::RegistryError;

/// Why authentication or key management failed. Messages are safe to show a caller: they
/// never hold a secret, a token, or anything about another tenant.
///
/// The token and client variants are all "401 Unauthorized" for the API; each has its own
/// variant so that the API can give a stable code and operators can tell them apart in logs.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Unknown key id, wrong secret or revoked key: deliberately one answer, so a caller
    /// cannot probe which key ids exist.
    #[error("invalid client credentials")]
    InvalidClient,
    #[error("the bearer token is malformed")]
    TokenMalformed,
    /// Any `alg` but HS256, including `none`.
    #[error("the bearer token's algorithm is not accepted")]
    TokenAlgorithm,
    /// The `kid` names no current or previous signing key (e.g. one rotated out).
    #[error("the bearer token was signed with an unknown key")]
    TokenUnknownKey,
    #[error("the bearer token's signature is invalid")]
    TokenSignature,
    #[error("the bearer token has expired")]
    TokenExpired,
    /// The token verified, but its API key has since been revoked or deleted.
    #[error("the API key behind the token has been revoked")]
    KeyRevoked,

    // Key management: not authentication failures (the API answers 4xx other than 401).
    /// A tenant-admin or tenant-reader key needs a tenant.
    #[error("a {0} key needs a tenant")]
    TenantRequired(&'static str),
    /// A platform-admin key is platform-wide and cannot belong to a tenant.
    #[error("a platform-admin key cannot belong to a tenant")]
    TenantNotAllowed,
    #[error("no such tenant")]
    TenantNotFound,

    #[error("cannot issue a token")]
    Signing,
    /// The registry could not be asked; the cause is kept for the log, not for the caller.
    #[error("authentication is unavailable")]
    Unavailable(#[source] RegistryError),
}

impl From<RegistryError> for AuthError {
    fn from(e: RegistryError) -> Self {
        match e {
            RegistryError::TenantNotFound => AuthError::TenantNotFound,
            other => AuthError::Unavailable(other),
        }
    }
}
