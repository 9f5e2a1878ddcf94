use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The URL a phone is sent to for its settings, or the word `hosted`: then Signpost serves
/// the tenant's own files to the phone, at a per-device URL made when the phone asks.
///
/// A URL is a template: `{mac}`, `{phone_type}` and `{firmware_version}` are kept verbatim,
/// because the phone expands them itself. Validation checks that the URL is an absolute
/// http(s) URL once each placeholder is filled in, so the stored text is never rewritten.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SettingServerUrl(String);

pub const MAX_SETTING_SERVER_URL_LEN: usize = 2048;

/// The replacement variables a phone expands in its setting server URL, with a sample value
/// of the right shape for validating the URL around them.
const PLACEHOLDERS: [(&str, &str); 3] = [
    ("{mac}", "000413AABBCC"),
    ("{phone_type}", "snomD785"),
    ("{firmware_version}", "10.1.33.33"),
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingServerUrlError {
    #[error("a setting server URL is at most 2048 bytes")]
    TooLong,
    #[error("a setting server URL must start with http:// or https:// (or be the word hosted)")]
    Scheme,
    #[error(
        "unknown placeholder: only {{mac}}, {{phone_type}} and {{firmware_version}} are expanded"
    )]
    Placeholder,
    #[error("not an absolute URL with a host, or it holds spaces or control characters")]
    Malformed,
}

/// The setting server value that means "the tenant's files, hosted by Signpost".
pub const HOSTED: &str = "hosted";

impl SettingServerUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is [`HOSTED`] rather than a URL.
    pub fn is_hosted(&self) -> bool {
        self.0 == HOSTED
    }
}

fn check(s: &str) -> Result<(), SettingServerUrlError> {
    if s == HOSTED {
        return Ok(());
    }
    if s.len() > MAX_SETTING_SERVER_URL_LEN {
        return Err(SettingServerUrlError::TooLong);
    }
    if s.bytes()
        .any(|b| b.is_ascii_control() || b == b' ' || !b.is_ascii())
    {
        return Err(SettingServerUrlError::Malformed);
    }
    let lower = s.get(..8).unwrap_or(s).to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return Err(SettingServerUrlError::Scheme);
    }
    // The URL parser forgives `https:///host`; a phone would not.
    let after_scheme = &s[s.find("://").map_or(0, |i| i + 3)..];
    if after_scheme.is_empty() || after_scheme.starts_with('/') {
        return Err(SettingServerUrlError::Malformed);
    }
    let mut filled = s.to_owned();
    for (placeholder, sample) in PLACEHOLDERS {
        filled = filled.replace(placeholder, sample);
    }
    if filled.contains(['{', '}']) {
        return Err(SettingServerUrlError::Placeholder);
    }
    let url = url::Url::parse(&filled).map_err(|_| SettingServerUrlError::Malformed)?;
    match url.host_str() {
        Some(host) if !host.is_empty() => Ok(()),
        _ => Err(SettingServerUrlError::Malformed),
    }
}

impl FromStr for SettingServerUrl {
    type Err = SettingServerUrlError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        check(s)?;
        Ok(Self(s.to_owned()))
    }
}

impl TryFrom<String> for SettingServerUrl {
    type Error = SettingServerUrlError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        check(&s)?;
        Ok(Self(s))
    }
}

impl fmt::Display for SettingServerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SettingServerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SettingServerUrl({:?})", self.0)
    }
}

impl Serialize for SettingServerUrl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for SettingServerUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .try_into()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn hosted_is_a_setting_server_of_its_own() {
        let hosted: SettingServerUrl = "hosted".parse().unwrap();
        assert!(hosted.is_hosted());
        assert!(
            !"https://hosted.example/"
                .parse::<SettingServerUrl>()
                .unwrap()
                .is_hosted()
        );
        assert!("Hosted".parse::<SettingServerUrl>().is_err());
    }

    #[test]
    fn keeps_placeholders_verbatim() {
        for ok in [
            "https://pbx.example.com/prov/{mac}",
            "http://10.0.0.1:8080/{phone_type}/{mac}.xml?fw={firmware_version}",
            "https://pbx.example.com/",
            "HTTPS://PBX.EXAMPLE.COM/x",
            "https://user:pass@pbx.example.com/p?mac={mac}",
            "http://[2001:db8::1]/snom",
        ] {
            let url: SettingServerUrl = ok.parse().unwrap_or_else(|e| panic!("{ok}: {e}"));
            assert_eq!(url.as_str(), ok);
        }
    }

    #[test]
    fn refuses_what_a_phone_cannot_use() {
        use SettingServerUrlError::*;
        let cases = [
            ("", Scheme),
            ("ftp://pbx.example.com/", Scheme),
            ("pbx.example.com/x", Scheme),
            ("https://", Malformed),
            ("https:///path", Malformed),
            ("https://pbx.example.com/{serial}", Placeholder),
            ("https://pbx.example.com/{mac", Placeholder),
            ("https://pbx.example.com/a b", Malformed),
            ("https://pbx.example.com/\n", Malformed),
            ("https://pbx.exämple.com/", Malformed),
        ];
        for (input, expected) in cases {
            assert_eq!(
                input.parse::<SettingServerUrl>(),
                Err(expected),
                "{input:?}"
            );
        }
        let long = format!("https://pbx.example.com/{}", "a".repeat(2048));
        assert_eq!(long.parse::<SettingServerUrl>(), Err(TooLong));
    }

    proptest! {
        #[test]
        fn generated_urls_round_trip(
            host in "[a-z][a-z0-9-]{0,20}(\\.[a-z]{2,6}){1,2}",
            path in prop::collection::vec(prop::sample::select(vec!["p", "{mac}", "{phone_type}", "x.xml", "{firmware_version}"]), 0..5),
            tls in any::<bool>(),
        ) {
            let s = format!("{}://{host}/{}", if tls { "https" } else { "http" }, path.join("/"));
            let url: SettingServerUrl = s.parse().unwrap();
            prop_assert_eq!(url.to_string(), s);
        }

        #[test]
        fn arbitrary_input_never_panics(s in "\\PC{0,100}") {
            let _ = s.parse::<SettingServerUrl>();
            let _ = format!("https://{s}").parse::<SettingServerUrl>();
        }
    }
}
