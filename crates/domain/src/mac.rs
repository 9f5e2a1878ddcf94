use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A device's Ethernet MAC address: the key a phone is known by everywhere in Signpost.
///
/// Parsing accepts the spellings operators paste from labels and spreadsheets (bare, colon,
/// dash and dotted groups, any case); display is always the canonical 12 upper-case hex digits
/// that Snom phones use in file names and URLs.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mac([u8; 6]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MacError {
    #[error(
        "a MAC address is 12 hex digits, optionally grouped as 00:04:13:AA:BB:CC, 00-04-13-AA-BB-CC or 0004.13AA.BBCC"
    )]
    Malformed,
}

impl Mac {
    pub const fn from_bytes(bytes: [u8; 6]) -> Self {
        Self(bytes)
    }

    pub const fn bytes(&self) -> [u8; 6] {
        self.0
    }

    /// The canonical spelling without allocating: 12 upper-case hex digits.
    pub fn to_canonical(&self) -> [u8; 12] {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        let mut out = [0u8; 12];
        for (i, byte) in self.0.iter().enumerate() {
            out[2 * i] = HEX[usize::from(byte >> 4)];
            out[2 * i + 1] = HEX[usize::from(byte & 0x0f)];
        }
        out
    }

    /// Parses exactly 12 hex digits with no separators (the form inside Snom file names and
    /// User-Agents), which is stricter than [`FromStr`].
    pub fn parse_compact(s: &str) -> Result<Self, MacError> {
        let digits = s.as_bytes();
        if digits.len() != 12 {
            return Err(MacError::Malformed);
        }
        let mut bytes = [0u8; 6];
        for (i, pair) in digits.chunks_exact(2).enumerate() {
            bytes[i] = (hex_value(pair[0])? << 4) | hex_value(pair[1])?;
        }
        Ok(Self(bytes))
    }
}

fn hex_value(digit: u8) -> Result<u8, MacError> {
    match digit {
        b'0'..=b'9' => Ok(digit - b'0'),
        b'a'..=b'f' => Ok(digit - b'a' + 10),
        b'A'..=b'F' => Ok(digit - b'A' + 10),
        _ => Err(MacError::Malformed),
    }
}

impl FromStr for Mac {
    type Err = MacError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.len() {
            12 => Self::parse_compact(s),
            // 00:04:13:AA:BB:CC or 00-04-13-AA-BB-CC: one separator used consistently.
            17 => {
                let sep = s.as_bytes()[2];
                if sep != b':' && sep != b'-' {
                    return Err(MacError::Malformed);
                }
                let mut compact = String::with_capacity(12);
                for (i, group) in s.split(char::from(sep)).enumerate() {
                    if i >= 6 || group.len() != 2 {
                        return Err(MacError::Malformed);
                    }
                    compact.push_str(group);
                }
                Self::parse_compact(&compact)
            }
            // 0004.13AA.BBCC (Cisco-style groups of four).
            14 => {
                let mut compact = String::with_capacity(12);
                for (i, group) in s.split('.').enumerate() {
                    if i >= 3 || group.len() != 4 {
                        return Err(MacError::Malformed);
                    }
                    compact.push_str(group);
                }
                Self::parse_compact(&compact)
            }
            _ => Err(MacError::Malformed),
        }
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let canonical = self.to_canonical();
        // The buffer holds ASCII hex digits only.
        f.write_str(std::str::from_utf8(&canonical).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mac({self})")
    }
}

impl Serialize for Mac {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Mac {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_every_documented_spelling() {
        for spelling in [
            "00:04:13:aa:bb:cc",
            "00-04-13-AA-BB-CC",
            "0004.13aa.bbcc",
            "000413aabbcc",
            "000413AABBCC",
        ] {
            let mac: Mac = spelling
                .parse()
                .unwrap_or_else(|e| panic!("{spelling}: {e}"));
            assert_eq!(mac.to_string(), "000413AABBCC");
        }
    }

    #[test]
    fn accepts_any_oui() {
        assert_eq!(
            "00087b0a0b0c".parse::<Mac>().unwrap().to_string(),
            "00087B0A0B0C"
        );
        assert_eq!(
            "ffffffffffff".parse::<Mac>().unwrap().to_string(),
            "FFFFFFFFFFFF"
        );
    }

    #[test]
    fn refuses_malformed_spellings() {
        for bad in [
            "",
            "000413aabbc",
            "000413aabbccd",
            "00:04:13-aa:bb:cc",
            "00:04:13:aa:bb:cg",
            "0004:13aa:bbcc",
            "000.413.aab.bcc",
            "00:04:13:aa:bb:c:",
            "+00413aabbcc",
            " 000413aabbcc",
            "0x0413aabbcc",
            "00::4:13:aa:bb:c",
            "ää0413aabbcc",
        ] {
            assert_eq!(bad.parse::<Mac>(), Err(MacError::Malformed), "{bad:?}");
        }
    }

    #[test]
    fn compact_parse_refuses_separators() {
        assert!(Mac::parse_compact("00:04:13:aa:bb:cc").is_err());
        assert!(Mac::parse_compact("000413aabbcc").is_ok());
    }

    #[test]
    fn serde_uses_the_canonical_form() {
        let mac: Mac = serde_json::from_str("\"00-04-13-aa-bb-cc\"").unwrap();
        assert_eq!(serde_json::to_string(&mac).unwrap(), "\"000413AABBCC\"");
    }

    proptest! {
        #[test]
        fn canonical_round_trip(bytes in any::<[u8; 6]>()) {
            let mac = Mac::from_bytes(bytes);
            let text = mac.to_string();
            prop_assert_eq!(text.len(), 12);
            prop_assert_eq!(text.parse::<Mac>(), Ok(mac));
            prop_assert_eq!(text.to_lowercase().parse::<Mac>(), Ok(mac));
        }

        #[test]
        fn grouped_spellings_round_trip(bytes in any::<[u8; 6]>(), sep in prop::sample::select(vec![":", "-"])) {
            let mac = Mac::from_bytes(bytes);
            let grouped = bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(sep);
            prop_assert_eq!(grouped.parse::<Mac>(), Ok(mac));
            let t = mac.to_string();
            let dotted = format!("{}.{}.{}", &t[0..4], &t[4..8], &t[8..12]);
            prop_assert_eq!(dotted.parse::<Mac>(), Ok(mac));
        }

        #[test]
        fn arbitrary_input_never_panics(s in "\\PC{0,40}") {
            let _ = s.parse::<Mac>();
            let _ = Mac::parse_compact(&s);
        }
    }
}
