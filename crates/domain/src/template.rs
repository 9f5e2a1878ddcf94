//! Placeholder expansion for hosted files: one settings file a tenant uploads can serve every
//! phone, with the requesting phone's MAC, model and firmware filled in as it is served.

use crate::Mac;

/// What a template file's placeholders are filled with at serving time.
#[derive(Debug, Clone, Copy)]
pub struct TemplateVars<'a> {
    /// The requesting phone's MAC, written as 12 upper-case hex digits.
    pub mac: Mac,
    /// The phone's model (`snomD785`), when its User-Agent told us.
    pub phone_type: Option<&'a str>,
    /// The phone's firmware version (`10.1.33.33`), when its User-Agent told us.
    pub firmware_version: Option<&'a str>,
    /// `{hosted_url}`: the phone's own hosted-file URL (ending in `/`), so a file shared by
    /// every phone can point at further files (`firmware_status`) under each phone's URL.
    pub hosted_url: Option<&'a str>,
}

/// Room for a few placeholders to grow (`{mac}` becomes 12 characters, a phone type or
/// firmware version rarely more than 16) without the output reallocating.
const GROWTH_ALLOWANCE: usize = 64;

/// Replaces `{mac}`, `{phone_type}` and `{firmware_version}` in `text`; unknown values become
/// the empty string. Any other `{…}` is copied verbatim, because settings files (XML with
/// scripts, JSON) hold braces of their own. Values are inserted as they are and never
/// scanned again, so a value that itself reads `{mac}` stays literal.
pub fn expand_template(text: &str, vars: &TemplateVars<'_>) -> String {
    let canonical = vars.mac.to_canonical();
    // `to_canonical` yields ASCII hex digits only, which are always valid UTF-8.
    let mac = std::str::from_utf8(&canonical).unwrap_or_default();
    let phone_type = vars.phone_type.unwrap_or_default();
    let firmware_version = vars.firmware_version.unwrap_or_default();
    let hosted_url = vars.hosted_url.unwrap_or_default();

    let mut out = String::with_capacity(text.len() + GROWTH_ALLOWANCE);
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        // Only a known name directly followed by '}' is a placeholder; checking prefixes
        // (rather than searching for the closing brace) keeps the pass linear however many
        // unmatched braces the text holds.
        let expansion = [
            ("mac}", mac),
            ("phone_type}", phone_type),
            ("firmware_version}", firmware_version),
            ("hosted_url}", hosted_url),
        ]
        .into_iter()
        .find_map(|(name, value)| after.strip_prefix(name).map(|tail| (value, tail)));
        match expansion {
            Some((value, tail)) => {
                out.push_str(value);
                rest = tail;
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn mac() -> Mac {
        Mac::from_bytes([0x00, 0x04, 0x13, 0xaa, 0xbb, 0xcc])
    }

    fn vars<'a>(
        phone_type: Option<&'a str>,
        firmware_version: Option<&'a str>,
    ) -> TemplateVars<'a> {
        TemplateVars {
            mac: mac(),
            phone_type,
            firmware_version,
            hosted_url: None,
        }
    }

    #[test]
    fn hosted_url_points_each_phone_at_its_own_files() {
        let vars = TemplateVars {
            hosted_url: Some("https://sp.example/p/acme/TOKEN/"),
            ..vars(None, None)
        };
        assert_eq!(
            expand_template(
                "<firmware_status>{hosted_url}fw/{phone_type}.xml</firmware_status>",
                &vars
            ),
            "<firmware_status>https://sp.example/p/acme/TOKEN/fw/.xml</firmware_status>"
        );
    }

    #[test]
    fn expands_every_placeholder() {
        let v = vars(Some("snomD785"), Some("10.1.33.33"));
        assert_eq!(
            expand_template(
                "<user_name idx=\"1\">{mac}</user_name><x>{phone_type}/{firmware_version}</x>",
                &v
            ),
            "<user_name idx=\"1\">000413AABBCC</user_name><x>snomD785/10.1.33.33</x>"
        );
        assert_eq!(
            expand_template("{mac}{mac}", &v),
            "000413AABBCC000413AABBCC"
        );
    }

    #[test]
    fn unknown_values_become_empty() {
        assert_eq!(
            expand_template("[{phone_type}][{firmware_version}]", &vars(None, None)),
            "[][]"
        );
    }

    #[test]
    fn other_braces_are_left_alone() {
        let v = vars(Some("snomD785"), None);
        for text in [
            "",
            "no placeholders",
            "{",
            "}",
            "{}",
            "{MAC}",
            "{ mac }",
            "{mac",
            "mac}",
            "{macx}",
            "{phone_type",
            "function f() { return {a: 1}; }",
            "{\"json\": {\"nested\": true}}",
            "{firmware_versio}",
        ] {
            assert_eq!(expand_template(text, &v), text, "{text:?}");
        }
    }

    #[test]
    fn braces_around_placeholders() {
        let v = vars(Some("snomD785"), None);
        assert_eq!(expand_template("{{mac}}", &v), "{000413AABBCC}");
        assert_eq!(expand_template("{{{mac}", &v), "{{000413AABBCC");
        assert_eq!(expand_template("ä{mac}ö", &v), "ä000413AABBCCö");
    }

    #[test]
    fn values_are_not_expanded_again() {
        let v = vars(Some("{mac}"), Some("{phone_type}"));
        assert_eq!(
            expand_template("{phone_type} {firmware_version}", &v),
            "{mac} {phone_type}"
        );
    }

    proptest! {
        #[test]
        fn text_without_placeholders_is_unchanged(s in "[^{]{0,40}|\\PC{0,40}") {
            prop_assume!(!s.contains("{mac}") && !s.contains("{phone_type}") && !s.contains("{firmware_version}"));
            prop_assert_eq!(expand_template(&s, &vars(Some("t"), Some("1"))), s);
        }

        #[test]
        fn matches_a_naive_replace(s in "([a-z{}]|\\{mac\\}|\\{phone_type\\}|\\{firmware_version\\}){0,30}") {
            // With values that contain no braces, one pass equals sequential replacement.
            let v = vars(Some("snomD785"), Some("10.1"));
            let naive = s
                .replace("{mac}", "000413AABBCC")
                .replace("{phone_type}", "snomD785")
                .replace("{firmware_version}", "10.1");
            prop_assert_eq!(expand_template(&s, &v), naive);
        }
    }
}
