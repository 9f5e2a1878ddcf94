//! API key material: how ids and secrets are made, and how a presented secret is checked.

use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

const ID_PREFIX: &str = "spk_";
const SECRET_PREFIX: &str = "sps_";
/// 10 random bytes, 20 hex digits: ids only need to be unique, not secret.
const ID_BYTES: usize = 10;
/// 256 bits of entropy: what makes a plain hash safe to store (see [`secret_hash`]).
const SECRET_BYTES: usize = 32;

/// A new key's id and secret. The secret exists only here and in the creator's hands: the
/// registry keeps its hash.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyMaterial {
    pub id: String,
    pub secret: String,
}

impl std::fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyMaterial")
            .field("id", &self.id)
            .field("secret", &"****")
            .finish()
    }
}

impl KeyMaterial {
    pub fn generate() -> Self {
        Self {
            id: format!("{ID_PREFIX}{}", random_hex(ID_BYTES)),
            secret: format!("{SECRET_PREFIX}{}", random_hex(SECRET_BYTES)),
        }
    }
}

/// A fresh HS256 signing secret: 32 random bytes, hex (64 characters).
pub fn random_signing_secret() -> String {
    random_hex(SECRET_BYTES)
}

fn random_hex(len: usize) -> String {
    let mut bytes = vec![0u8; len];
    // ThreadRng is a CSPRNG seeded from the operating system.
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// What the registry stores for a secret: SHA-256, hex. A slow password hash (argon2,
/// bcrypt) protects guessable secrets; ours are 256 random bits, which no offline search can
/// reach, so a fast hash is as safe and keeps the token exchange cheap.
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Whether `secret` hashes to `stored`, compared in constant time so that the comparison
/// does not reveal how much of the hash matched.
pub fn secret_matches(secret: &str, stored: &str) -> bool {
    let presented = secret_hash(secret);
    presented.len() == stored.len() && bool::from(presented.as_bytes().ct_eq(stored.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn material_has_the_documented_shape() {
        let key = KeyMaterial::generate();
        let id = key.id.strip_prefix("spk_").unwrap();
        assert_eq!(id.len(), 20);
        assert!(
            id.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        let secret = key.secret.strip_prefix("sps_").unwrap();
        assert_eq!(secret.len(), 64);
        assert_ne!(KeyMaterial::generate(), key);
        assert!(!format!("{key:?}").contains(secret));
    }

    #[test]
    fn only_the_right_secret_matches() {
        let key = KeyMaterial::generate();
        let stored = secret_hash(&key.secret);
        assert_eq!(stored.len(), 64);
        assert!(!stored.contains(&key.secret));
        assert!(secret_matches(&key.secret, &stored));
        assert!(!secret_matches(&KeyMaterial::generate().secret, &stored));
        assert!(!secret_matches("", &stored));
        assert!(!secret_matches(&key.secret, ""));
    }
}
