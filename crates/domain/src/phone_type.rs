use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A vendor's identifier for a phone model, as it appears in provisioning file names and
/// User-Agents: `snomD785`, `snom710`, `snomM900`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhoneType(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneTypeError {
    #[error("a phone type is 1 to 32 ASCII letters, digits or '_'")]
    Malformed,
}

impl PhoneType {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `s` would parse, without making a `PhoneType` of it.
    pub fn is_valid(s: &str) -> bool {
        is_phone_type(s)
    }
}

fn is_phone_type(s: &str) -> bool {
    (1..=32).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl FromStr for PhoneType {
    type Err = PhoneTypeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if is_phone_type(s) {
            Ok(Self(s.to_owned()))
        } else {
            Err(PhoneTypeError::Malformed)
        }
    }
}

/// A firmware version as a phone reports it in its User-Agent, e.g. `10.1.33.33` or
/// `05.20.0001`: digits separated by single dots, at most 32 characters.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct FirmwareVersion(String);

impl FirmwareVersion {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for FirmwareVersion {
    type Err = PhoneTypeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let well_formed = (1..=32).contains(&s.len())
            && s.split('.')
                .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()));
        if well_formed {
            Ok(Self(s.to_owned()))
        } else {
            Err(PhoneTypeError::Malformed)
        }
    }
}

macro_rules! string_newtype_traits {
    ($name:ident) => {
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

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

string_newtype_traits!(PhoneType);
string_newtype_traits!(FirmwareVersion);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn phone_types() {
        for ok in ["snomD785", "snom710", "snomM900", "snom_PA1", "x"] {
            assert_eq!(ok.parse::<PhoneType>().unwrap().as_str(), ok);
        }
        for bad in [
            "",
            "snom-D785",
            "snom D785",
            "snomD785.htm",
            &"a".repeat(33),
            "snöm",
        ] {
            assert!(bad.parse::<PhoneType>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn firmware_versions() {
        for ok in ["10.1.33.33", "05.20.0001", "8", "8.7.5.35"] {
            assert!(ok.parse::<FirmwareVersion>().is_ok(), "{ok}");
        }
        for bad in ["", "10..1", ".1", "1.", "10.1a", "v10"] {
            assert!(bad.parse::<FirmwareVersion>().is_err(), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn phone_type_round_trip(s in "[A-Za-z0-9_]{1,32}") {
            let t: PhoneType = s.parse().unwrap();
            prop_assert_eq!(t.to_string(), s);
        }

        #[test]
        fn firmware_round_trip(parts in prop::collection::vec("[0-9]{1,4}", 1..6)) {
            let s = parts.join(".");
            let v: FirmwareVersion = s.parse().unwrap();
            prop_assert_eq!(v.as_str(), s.as_str());
        }

        #[test]
        fn arbitrary_input_never_panics(s in "\\PC{0,40}") {
            let _ = s.parse::<PhoneType>();
            let _ = s.parse::<FirmwareVersion>();
        }
    }
}
