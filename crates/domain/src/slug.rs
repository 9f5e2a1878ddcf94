use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a tenant or profile id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlugError {
    #[error("must be 1 to 63 characters")]
    Length,
    #[error("may hold only lower-case letters, digits and '-'")]
    Character,
    #[error("must not start or end with '-'")]
    Hyphen,
}

/// Operators choose ids for tenants and profiles themselves (so Terraform and scripts can
/// converge on them); a DNS-label-like slug keeps them safe in URLs, cache keys and object keys.
fn check_slug(s: &str) -> Result<(), SlugError> {
    if s.is_empty() || s.len() > 63 {
        return Err(SlugError::Length);
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(SlugError::Character);
    }
    if s.starts_with('-') || s.ends_with('-') {
        return Err(SlugError::Hyphen);
    }
    Ok(())
}

macro_rules! slug_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = SlugError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                check_slug(s)?;
                Ok(Self(s.to_owned()))
            }
        }

        impl TryFrom<String> for $name {
            type Error = SlugError;

            fn try_from(s: String) -> Result<Self, Self::Error> {
                check_slug(&s)?;
                Ok(Self(s))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                String::deserialize(deserializer)?
                    .try_into()
                    .map_err(serde::de::Error::custom)
            }
        }
    };
}

slug_type!(
    /// A tenant's id: the slug an operator chose, stable for the tenant's life.
    TenantId
);
slug_type!(
    /// A profile's id within its tenant.
    ProfileId
);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_dns_label_slugs() {
        for ok in ["a", "acme", "acme-voip", "msp-2", "9", &"a".repeat(63)] {
            assert_eq!(ok.parse::<TenantId>().unwrap().as_str(), ok);
            assert!(ok.parse::<ProfileId>().is_ok());
        }
    }

    #[test]
    fn refuses_bad_slugs_with_a_reason() {
        assert_eq!("".parse::<TenantId>(), Err(SlugError::Length));
        assert_eq!("a".repeat(64).parse::<TenantId>(), Err(SlugError::Length));
        assert_eq!("Acme".parse::<TenantId>(), Err(SlugError::Character));
        assert_eq!("acme_voip".parse::<TenantId>(), Err(SlugError::Character));
        assert_eq!("acme/x".parse::<TenantId>(), Err(SlugError::Character));
        assert_eq!("-acme".parse::<TenantId>(), Err(SlugError::Hyphen));
        assert_eq!("acme-".parse::<ProfileId>(), Err(SlugError::Hyphen));
    }

    proptest! {
        #[test]
        fn valid_slugs_round_trip(s in "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?") {
            let id: TenantId = s.parse().unwrap();
            prop_assert_eq!(id.to_string(), s.clone());
            let json = serde_json::to_string(&id).unwrap();
            prop_assert_eq!(serde_json::from_str::<TenantId>(&json).unwrap(), id);
        }

        #[test]
        fn arbitrary_input_never_panics(s in "\\PC{0,80}") {
            if let Ok(id) = s.parse::<ProfileId>() {
                prop_assert_eq!(id.as_str(), s.as_str());
            }
        }
    }
}
