use std::fmt;

/// An object key inside the blob store: `/`-separated segments of `[A-Za-z0-9._~=+-]`, no
/// empty, `.` or `..` segment, at most 1024 bytes. The filesystem adapter maps keys to paths
/// under its root, so this shape is what keeps every key inside that root.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobKey(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid blob key {0:?}")]
pub struct BlobKeyError(pub String);

impl BlobKey {
    pub fn new(key: impl Into<String>) -> Result<Self, BlobKeyError> {
        let key = key.into();
        let segment_ok = |s: &str| {
            !s.is_empty()
                && s != "."
                && s != ".."
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._~=+-".contains(&b))
        };
        if key.len() <= 1024 && key.split('/').all(segment_ok) {
            Ok(Self(key))
        } else {
            Err(BlobKeyError(key))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BlobKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for BlobKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlobKey({:?})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_stay_inside_the_root() {
        for ok in ["a", "tenants/acme/files/0f3a-b.bin", "x/y.z/w~1"] {
            assert!(BlobKey::new(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "/a", "a/", "a//b", "../a", "a/../b", "./a", "a\\b", "a b", "a\0", "ä",
        ] {
            assert!(BlobKey::new(bad).is_err(), "{bad:?}");
        }
        assert!(BlobKey::new("a".repeat(1025)).is_err());
    }
}
