//! MAC spellings. Configurations may write a MAC any way Signpost accepts
//! (`00:04:13:AA:BB:CC`, `00-04-13-aa-bb-cc`, `0004.13AA.BBCC`, `000413aabbcc`); the API and
//! the resource ids use the canonical 12 upper-case hex digits. A different spelling of the
//! same MAC must never show as a change, so comparisons go through [`canonical`].

use signpost_domain::Mac;

/// The canonical spelling (12 upper-case hex digits), or why the text is not a MAC.
pub fn canonical(mac: &str) -> Result<String, String> {
    mac.trim()
        .parse::<Mac>()
        .map(|m| m.to_string())
        .map_err(|e| format!("{mac:?} is not a MAC address: {e}"))
}

/// Whether two spellings name the same MAC (false when either is not a MAC).
pub fn same(a: &str, b: &str) -> bool {
    matches!((canonical(a), canonical(b)), (Ok(a), Ok(b)) if a == b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_accepted_spelling_is_canonical() {
        for spelling in [
            "000413AABBCC",
            "000413aabbcc",
            "00:04:13:AA:BB:CC",
            "00:04:13:aa:bb:cc",
            "00-04-13-AA-BB-CC",
            "0004.13aa.bbcc",
            " 00:04:13:AA:BB:CC ",
        ] {
            assert_eq!(
                canonical(spelling).as_deref(),
                Ok("000413AABBCC"),
                "{spelling}"
            );
        }
    }

    #[test]
    fn malformed_macs_are_refused() {
        for bad in [
            "",
            "000413AABBC",
            "000413AABBCCD",
            "00:04:13:AA:BB",
            "00:04-13:AA:BB:CC",
            "GG0413AABBCC",
            "00.0413.AABB.CC",
        ] {
            let err = canonical(bad).unwrap_err();
            assert!(err.contains("is not a MAC address"), "{bad}: {err}");
        }
    }

    #[test]
    fn same_compares_canonically() {
        assert!(same("00:04:13:aa:bb:cc", "000413AABBCC"));
        assert!(!same("000413AABBCC", "000413AABBCD"));
        assert!(!same("nonsense", "nonsense"));
    }
}
