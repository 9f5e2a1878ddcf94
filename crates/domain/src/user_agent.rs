use crate::{FirmwareVersion, Mac, PhoneType};

/// What a Snom phone says about itself in its HTTP User-Agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserAgentInfo {
    pub phone_type: PhoneType,
    pub firmware_version: Option<FirmwareVersion>,
    pub mac: Option<Mac>,
}

/// Reads phone type, firmware version and (when the phone sends it) MAC from a Snom
/// User-Agent. The forms seen in the field:
///
/// - desk phones: `Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33 2010.12-00004-g9ba52f5 000413922D24 SXM:0 UXM:0)`,
///   older ones without the MAC: `… snom320-SIP 8.4.18 1.1.3-s)`;
/// - DECT bases: `Mozilla/4.0 (compatible; Snom M900 05.20.0001 000413b60680)`;
/// - product/version style: `snomM700/03.23.0005 (MAC=000413B60680; SER=…; HW=255)` and
///   `snomD785/10.1.198.12 0004130DD7C9`.
///
/// Anything else (another vendor, a browser) answers `None`.
pub fn parse_user_agent(user_agent: &str) -> Option<UserAgentInfo> {
    let tokens: Vec<&str> = user_agent
        .split(|c: char| c.is_ascii_whitespace() || matches!(c, '(' | ')' | ';'))
        .filter(|t| !t.is_empty())
        .collect();

    let (phone_type, version) = find_model(&tokens)?;
    Some(UserAgentInfo {
        phone_type,
        firmware_version: version.and_then(|v| v.parse().ok()),
        // The MAC is the last 12-hex-digit token; the DECT product form labels it `MAC=`.
        mac: tokens.iter().rev().find_map(|token| {
            let token = token.strip_prefix("MAC=").unwrap_or(token);
            Mac::parse_compact(token).ok()
        }),
    })
}

fn find_model<'a>(tokens: &[&'a str]) -> Option<(PhoneType, Option<&'a str>)> {
    for (i, token) in tokens.iter().enumerate() {
        let next = tokens.get(i + 1).copied();
        if let Some(model) = token.strip_suffix("-SIP").filter(|m| has_snom_prefix(m)) {
            return Some((model.parse().ok()?, next));
        } else if token.eq_ignore_ascii_case("snom") {
            let model = next?;
            let phone_type = format!("snom{model}").parse().ok()?;
            return Some((phone_type, tokens.get(i + 2).copied()));
        } else if let Some((model, version)) = token
            .split_once('/')
            .filter(|(model, _)| has_snom_prefix(model) && model.len() > 4)
        {
            return Some((model.parse().ok()?, Some(version)));
        }
    }
    None
}

fn has_snom_prefix(s: &str) -> bool {
    s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("snom"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn info(ua: &str) -> (String, Option<String>, Option<String>) {
        let info = parse_user_agent(ua).unwrap_or_else(|| panic!("not parsed: {ua}"));
        (
            info.phone_type.to_string(),
            info.firmware_version.map(|v| v.to_string()),
            info.mac.map(|m| m.to_string()),
        )
    }

    fn some(s: &str) -> Option<String> {
        Some(s.to_owned())
    }

    #[test]
    fn desk_phone_with_mac() {
        assert_eq!(
            info(
                "Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33 2010.12-00004-g9ba52f5 000413922D24 SXM:0 UXM:0)"
            ),
            ("snomD785".into(), some("10.1.33.33"), some("000413922D24"))
        );
        assert_eq!(
            info("Mozilla/4.0 (compatible; snom710-SIP 8.7.5.35 1.1.5-IFX-05.01.12 000413741767)"),
            ("snom710".into(), some("8.7.5.35"), some("000413741767"))
        );
        assert_eq!(
            info(
                "Mozilla/4.0 (compatible; snomD785-SIP 10.1.169.16 2010.12-00001-gd311851f1 (Feb 25 2019 - 14:19:43) 00041396D9B4 SXM:0 UXM:0 UXMC:0)"
            ),
            ("snomD785".into(), some("10.1.169.16"), some("00041396D9B4"))
        );
    }

    #[test]
    fn desk_phone_without_mac() {
        assert_eq!(
            info("Mozilla/4.0 (compatible; snom320-SIP 8.4.18 1.1.3-s)"),
            ("snom320".into(), some("8.4.18"), None)
        );
    }

    #[test]
    fn dect_forms() {
        assert_eq!(
            info("Mozilla/4.0 (compatible; Snom M900 05.20.0001 000413b60680)"),
            ("snomM900".into(), some("05.20.0001"), some("000413B60680"))
        );
        assert_eq!(
            info("Mozilla/4.0 (compatible; Snom M900 05.20.0001)"),
            ("snomM900".into(), some("05.20.0001"), None)
        );
        assert_eq!(
            info("snomM700/03.23.0005 (MAC=00087B0A0B0C; SER=1234; HW=255)"),
            ("snomM700".into(), some("03.23.0005"), some("00087B0A0B0C"))
        );
        assert_eq!(
            info("snomD785/10.1.198.12 0004130DD7C9"),
            ("snomD785".into(), some("10.1.198.12"), some("0004130DD7C9"))
        );
    }

    #[test]
    fn other_clients_are_not_phones() {
        for ua in [
            "",
            "curl/8.5.0",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36",
            "Yealink SIP-T46S 66.86.0.15 80:5e:c0:aa:bb:cc",
            "Mozilla/4.0 (compatible; Snom)",
            "snom/1.0",
        ] {
            assert_eq!(parse_user_agent(ua), None, "{ua:?}");
        }
    }

    #[test]
    fn a_garbled_version_is_dropped_not_fatal() {
        assert_eq!(
            info("Mozilla/4.0 (compatible; snomD785-SIP beta 000413922D24)"),
            ("snomD785".into(), None, some("000413922D24"))
        );
    }

    proptest! {
        #[test]
        fn generated_desk_agents_parse(
            model in "[A-Z]?[0-9]{3}",
            version in prop::collection::vec("[0-9]{1,3}", 2..5),
            mac in any::<[u8; 6]>(),
            with_mac in any::<bool>(),
        ) {
            let version = version.join(".");
            let mac = Mac::from_bytes(mac);
            let tail = if with_mac { format!(" {mac} SXM:0 UXM:0") } else { String::new() };
            let ua = format!("Mozilla/4.0 (compatible; snom{model}-SIP {version} 2010.12-00004-g9ba52f5{tail})");
            let parsed = parse_user_agent(&ua).unwrap();
            prop_assert_eq!(parsed.phone_type.to_string(), format!("snom{model}"));
            prop_assert_eq!(parsed.firmware_version.map(|v| v.to_string()), Some(version));
            prop_assert_eq!(parsed.mac, with_mac.then_some(mac));
        }

        #[test]
        fn arbitrary_input_never_panics(s in "\\PC{0,200}") {
            let _ = parse_user_agent(&s);
            let _ = parse_user_agent(&format!("Mozilla/4.0 (compatible; snom{s}"));
        }
    }
}
