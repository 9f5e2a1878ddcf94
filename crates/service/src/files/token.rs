//! Device tokens: the opaque path segment in a hosted phone's file URL,
//! `https://{host}/p/{tenant}/{token}/`.
//!
//! A phone fetches its files without credentials, so the URL itself must prove which phone it
//! was handed to: the token carries the MAC and an HMAC tag binding that MAC to the tenant and
//! to the tenant's current token epoch. Bumping the epoch revokes every URL a tenant's phones
//! were given at once, without any per-device state. The MAC inside is not secret (the phone
//! sends it in its User-Agent anyway); only the tag is what an outsider cannot forge.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac as _};
use sha2::Sha256;
use signpost_domain::{Mac, TenantId};

type HmacSha256 = Hmac<Sha256>;

/// Separates the token key from any other key derived from the same server secret.
const KEY_LABEL: &[u8] = b"signpost/device-token-key/v1";
/// Separates token tags from any other MAC computed under the token key.
const TAG_LABEL: &[u8] = b"signpost-device-token\0";
const MAC_BYTES: usize = 6;
/// 128 bits: far beyond online guessing, and it keeps URLs short for phones' limited buffers.
const TAG_BYTES: usize = 16;
const RAW_BYTES: usize = MAC_BYTES + TAG_BYTES;
/// Unpadded base64 of 22 bytes: every genuine token is exactly this long.
const TOKEN_CHARS: usize = (RAW_BYTES * 4).div_ceil(3);

/// Issues and checks device tokens for hosted file URLs.
#[derive(Clone)]
pub struct DeviceTokens {
    /// HMAC already keyed with the token key: every redirect of a hosted phone issues a
    /// token, and cloning the keyed state skips hashing the key pads each time.
    key: HmacSha256,
    /// Keys of earlier server secrets: their tokens stay valid while a rotation of the
    /// secret settles, as `jwt_previous_secrets` does for bearer tokens.
    previous: Vec<HmacSha256>,
}

impl std::fmt::Debug for DeviceTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key forges tokens for every tenant; it never reaches a log.
        f.debug_struct("DeviceTokens")
            .field("key", &"****")
            .finish()
    }
}

impl DeviceTokens {
    /// Derives the token key from a server secret (the same secret on every replica), with a
    /// domain-separation label so it never equals a key used for anything else.
    ///
    /// The secret's strength is the caller's to ensure; the derivation adds none.
    pub fn new(secret: &[u8]) -> Self {
        Self {
            key: new_hmac(&hmac_sha256(secret, &[KEY_LABEL])),
            previous: Vec::new(),
        }
    }

    /// Also accepts tokens issued under earlier secrets (new ones use the current secret).
    pub fn with_previous<'a>(mut self, secrets: impl IntoIterator<Item = &'a [u8]>) -> Self {
        self.previous = secrets
            .into_iter()
            .map(|secret| new_hmac(&hmac_sha256(secret, &[KEY_LABEL])))
            .collect();
        self
    }

    /// The token for `mac`'s URLs under `tenant` at token epoch `epoch`: 30 characters from
    /// `[A-Za-z0-9_-]`, safe as a URL path segment without escaping.
    pub fn issue(&self, tenant: &TenantId, mac: Mac, epoch: u32) -> String {
        let mut raw = [0u8; RAW_BYTES];
        raw[..MAC_BYTES].copy_from_slice(&mac.bytes());
        raw[MAC_BYTES..].copy_from_slice(&self.tag(tenant, mac, epoch)[..TAG_BYTES]);
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// The MAC the token was issued for, if it is genuine for this tenant and epoch.
    ///
    /// Never panics: the length is checked before decoding, so arbitrary request input is
    /// fine here. The tag comparison is constant-time.
    pub fn verify(&self, tenant: &TenantId, token: &str, epoch: u32) -> Option<Mac> {
        if token.len() != TOKEN_CHARS {
            return None;
        }
        // The decoder refuses non-zero trailing bits, so each token has exactly one spelling.
        let raw = URL_SAFE_NO_PAD.decode(token).ok()?;
        let (mac_bytes, tag) = raw.split_first_chunk::<MAC_BYTES>()?;
        if tag.len() != TAG_BYTES {
            return None;
        }
        let mac = Mac::from_bytes(*mac_bytes);
        std::iter::once(&self.key)
            .chain(&self.previous)
            .any(|key| {
                hmac(key, tenant, mac, epoch)
                    .verify_truncated_left(tag)
                    .is_ok()
            })
            .then_some(mac)
    }

    fn tag(&self, tenant: &TenantId, mac: Mac, epoch: u32) -> [u8; 32] {
        hmac(&self.key, tenant, mac, epoch)
            .finalize()
            .into_bytes()
            .into()
    }
}

fn hmac(key: &HmacSha256, tenant: &TenantId, mac: Mac, epoch: u32) -> HmacSha256 {
    let mut hmac = key.clone();
    hmac.update(TAG_LABEL);
    hmac.update(tenant.as_str().as_bytes());
    // Tenant ids are slugs and never contain NUL, so the encoding is unambiguous.
    hmac.update(&[0]);
    hmac.update(&mac.bytes());
    hmac.update(&epoch.to_be_bytes());
    hmac
}

fn new_hmac(key: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length (long ones are hashed, short ones padded).
    HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length")
}

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut hmac = new_hmac(key);
    for part in parts {
        hmac.update(part);
    }
    hmac.finalize().into_bytes().into()
}

#[cfg(test)]
mod rotation_tests {
    use super::*;

    #[test]
    fn tokens_of_a_previous_secret_stay_valid_while_a_rotation_settles() {
        let tenant: TenantId = "acme".parse().unwrap();
        let mac: Mac = "000413AABBCC".parse().unwrap();
        let old = DeviceTokens::new(b"the old server secret, long enough");
        let token = old.issue(&tenant, mac, 0);
        let rotated = DeviceTokens::new(b"the new server secret, long enough")
            .with_previous([b"the old server secret, long enough".as_slice()]);
        assert_eq!(rotated.verify(&tenant, &token, 0), Some(mac));
        assert_ne!(
            rotated.issue(&tenant, mac, 0),
            token,
            "new tokens use the new secret"
        );
        let forgotten = DeviceTokens::new(b"the new server secret, long enough");
        assert_eq!(forgotten.verify(&tenant, &token, 0), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tokens() -> DeviceTokens {
        DeviceTokens::new(b"an example server secret, 32+ bytes long")
    }

    fn tenant(s: &str) -> TenantId {
        s.parse().unwrap()
    }

    fn mac() -> Mac {
        Mac::from_bytes([0x00, 0x04, 0x13, 0xaa, 0xbb, 0xcc])
    }

    #[test]
    fn round_trip() {
        let t = tokens();
        let token = t.issue(&tenant("acme"), mac(), 0);
        assert_eq!(token.len(), TOKEN_CHARS);
        assert_eq!(t.verify(&tenant("acme"), &token, 0), Some(mac()));
        // Deterministic: replicas sharing the secret issue the same URL.
        assert_eq!(token, t.issue(&tenant("acme"), mac(), 0));
        assert_eq!(
            token,
            DeviceTokens::new(b"an example server secret, 32+ bytes long").issue(
                &tenant("acme"),
                mac(),
                0
            )
        );
    }

    #[test]
    fn bound_to_tenant_epoch_and_mac() {
        let t = tokens();
        let token = t.issue(&tenant("acme"), mac(), 7);
        assert_eq!(t.verify(&tenant("other"), &token, 7), None);
        assert_eq!(t.verify(&tenant("acme"), &token, 6), None);
        assert_eq!(t.verify(&tenant("acme"), &token, 8), None);
        // Tenants that are prefixes of one another still get different tags.
        assert_ne!(
            t.issue(&tenant("ab"), mac(), 0),
            t.issue(&tenant("a"), mac(), 0)
        );
        // Swapping in another MAC with the old tag fails.
        let other = t.issue(&tenant("acme"), Mac::from_bytes([1, 2, 3, 4, 5, 6]), 7);
        let forged = format!("{}{}", &other[..8], &token[8..]);
        assert_eq!(t.verify(&tenant("acme"), &forged, 7), None);
    }

    #[test]
    fn every_flipped_bit_is_refused() {
        let t = tokens();
        let token = t.issue(&tenant("acme"), mac(), 1);
        let raw = URL_SAFE_NO_PAD.decode(&token).unwrap();
        for i in 0..raw.len() * 8 {
            let mut bad = raw.clone();
            bad[i / 8] ^= 1 << (i % 8);
            let bad = URL_SAFE_NO_PAD.encode(&bad);
            assert_eq!(t.verify(&tenant("acme"), &bad, 1), None, "bit {i}");
        }
    }

    #[test]
    fn malformed_tokens_are_refused() {
        let t = tokens();
        let token = t.issue(&tenant("acme"), mac(), 0);
        let acme = tenant("acme");
        // The last character carries 2 data bits and 4 bits that must be zero; setting one
        // of those spells the same bytes differently, which the decoder refuses.
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let last = token.as_bytes()[TOKEN_CHARS - 1];
        let index = ALPHABET.iter().position(|&c| c == last).unwrap();
        assert_eq!(index & 0b1111, 0);
        let non_canonical = format!(
            "{}{}",
            &token[..TOKEN_CHARS - 1],
            char::from(ALPHABET[index | 1])
        );
        for bad in [
            String::new(),
            token[..TOKEN_CHARS - 1].to_owned(),
            token[..20].to_owned(),
            format!("{token}A"),
            format!("{token}="),
            token.replace(|_: char| true, "!"),
            format!("{}+", &token[..TOKEN_CHARS - 1]),
            format!("{}/", &token[..TOKEN_CHARS - 1]),
            "A".repeat(TOKEN_CHARS),
            "é".repeat(TOKEN_CHARS / 2),
            non_canonical,
        ] {
            assert_eq!(t.verify(&acme, &bad, 0), None, "{bad:?}");
        }
    }

    #[test]
    fn tokens_are_url_path_safe() {
        let t = tokens();
        for epoch in [0, 1, u32::MAX] {
            for bytes in [[0u8; 6], [0xff; 6], [0xfb, 0xef, 0xbe, 0xfb, 0xef, 0xbe]] {
                let token = t.issue(&tenant("acme"), Mac::from_bytes(bytes), epoch);
                assert!(
                    token
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
                    "{token}"
                );
            }
        }
    }

    #[test]
    fn different_secrets_give_different_tokens() {
        let a = DeviceTokens::new(b"secret one, long enough to be realistic");
        let b = DeviceTokens::new(b"secret two, long enough to be realistic");
        let token = a.issue(&tenant("acme"), mac(), 0);
        assert_ne!(token, b.issue(&tenant("acme"), mac(), 0));
        assert_eq!(b.verify(&tenant("acme"), &token, 0), None);
    }

    #[test]
    fn the_key_is_derived_not_the_secret() {
        let secret = [7u8; 32];
        let tokens = DeviceTokens::new(&secret);
        // Tags made with the secret itself as the key must not be what the tokens carry.
        let with_secret: [u8; 32] = hmac(&new_hmac(&secret), &tenant("acme"), mac(), 0)
            .finalize()
            .into_bytes()
            .into();
        assert_ne!(tokens.tag(&tenant("acme"), mac(), 0), with_secret);
    }

    #[test]
    fn debug_hides_the_key() {
        let t = DeviceTokens::new(&[0xab; 32]);
        let debug = format!("{t:?}");
        assert_eq!(debug, "DeviceTokens { key: \"****\" }");
    }

    proptest! {
        #[test]
        fn any_mac_and_epoch_round_trips(bytes in any::<[u8; 6]>(), epoch in any::<u32>()) {
            let t = tokens();
            let mac = Mac::from_bytes(bytes);
            let token = t.issue(&tenant("acme"), mac, epoch);
            prop_assert_eq!(token.len(), TOKEN_CHARS);
            prop_assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
            prop_assert_eq!(t.verify(&tenant("acme"), &token, epoch), Some(mac));
            prop_assert_eq!(t.verify(&tenant("acme"), &token, epoch.wrapping_add(1)), None);
        }

        #[test]
        fn arbitrary_input_never_panics_or_verifies(
            s in "[A-Za-z0-9_-]{30}|[A-Za-z0-9_=+/-]{0,40}|\\PC{0,40}|.{0,40}",
            epoch in any::<u32>(),
        ) {
            prop_assert_eq!(tokens().verify(&tenant("acme"), &s, epoch), None);
        }
    }
}
