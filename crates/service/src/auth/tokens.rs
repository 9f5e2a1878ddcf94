//! Bearer tokens: HS256 JWTs whose `kid` header names the signing secret, so that secrets
//! can rotate while tokens signed with the previous one stay valid until they expire.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use signpost_domain::{Role, TenantId};

use super::AuthError;

/// Shorter secrets make HS256 guessable offline from any one token.
pub const MIN_SECRET_BYTES: usize = 32;
/// Clock skew between replicas that an expiry check forgives.
const LEEWAY_SECONDS: u64 = 5;
/// Far above any token we issue; refuses junk before any parsing.
const MAX_TOKEN_BYTES: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a JWT signing secret must be at least {MIN_SECRET_BYTES} bytes")]
pub struct SecretTooShort;

/// The current HS256 signing secret and the previous ones still accepted.
pub struct SigningKeys {
    current: SigningKey,
    previous: Vec<SigningKey>,
}

struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl SigningKey {
    fn new(secret: &[u8]) -> Result<Self, SecretTooShort> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(SecretTooShort);
        }
        Ok(Self {
            kid: kid(secret),
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        })
    }
}

/// A signing secret's public name: a prefix of its SHA-256, which identifies it without
/// revealing anything usable about it.
pub fn kid(secret: &[u8]) -> String {
    hex::encode(Sha256::digest(secret))[..16].to_owned()
}

impl std::fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeys")
            .field("current", &self.current.kid)
            .field(
                "previous",
                &self.previous.iter().map(|k| &k.kid).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl SigningKeys {
    /// Signs with `current`; also accepts tokens signed with any of `previous`.
    pub fn new<S: AsRef<[u8]>>(
        current: impl AsRef<[u8]>,
        previous: impl IntoIterator<Item = S>,
    ) -> Result<Self, SecretTooShort> {
        Ok(Self {
            current: SigningKey::new(current.as_ref())?,
            previous: previous
                .into_iter()
                .map(|s| SigningKey::new(s.as_ref()))
                .collect::<Result<_, _>>()?,
        })
    }

    /// The `kid` of the secret new tokens are signed with.
    pub fn current_kid(&self) -> &str {
        &self.current.kid
    }

    fn find(&self, kid: &str) -> Option<&SigningKey> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.kid == kid)
    }

    pub(crate) fn sign(&self, claims: &Claims) -> Result<String, AuthError> {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.current.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.current.encoding).map_err(|e| {
            tracing::error!(error = %e, "cannot sign a token");
            AuthError::Signing
        })
    }

    /// Checks shape, algorithm, signing key, signature and expiry, in that order.
    pub(crate) fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::TokenMalformed);
        }
        let header = raw_header(token).ok_or(AuthError::TokenMalformed)?;
        // Checked here, before jsonwebtoken sees the token, so that `none` and every other
        // algorithm get their own answer instead of a generic parse error.
        if header.alg != "HS256" {
            return Err(AuthError::TokenAlgorithm);
        }
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| self.find(kid))
            .ok_or(AuthError::TokenUnknownKey)?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECONDS;
        validation.set_required_spec_claims(&["exp", "sub"]);
        jsonwebtoken::decode::<Claims>(token, &key.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => AuthError::TokenExpired,
                ErrorKind::InvalidSignature => AuthError::TokenSignature,
                ErrorKind::InvalidAlgorithm => AuthError::TokenAlgorithm,
                _ => AuthError::TokenMalformed,
            })
    }
}

/// What a token says about its key. Times are seconds since the Unix epoch, as JWT has them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Claims {
    /// The API key id.
    pub sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<TenantId>,
    pub role: Role,
    pub iat: u64,
    pub exp: u64,
}

#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    kid: Option<String>,
}

fn raw_header(token: &str) -> Option<RawHeader> {
    let mut parts = token.split('.');
    let (header, _claims, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let json = URL_SAFE_NO_PAD.decode(header).ok()?;
    serde_json::from_slice(&json).ok()
}

#[cfg(test)]
#[path = "tokens_tests.rs"]
mod tests;
