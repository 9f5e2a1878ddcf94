//! Resource ids, which are also what `terraform import` takes:
//!
//! | resource            | id                                   |
//! |---------------------|--------------------------------------|
//! | `signpost_tenant`   | `acme`                               |
//! | `signpost_profile`  | `acme/desk`                          |
//! | `signpost_device`   | `acme/000413AABBCC` (any MAC spelling on import) |
//! | `signpost_devices`  | `acme/<profile or name>` (import: a profile) |
//! | `signpost_api_key`  | `acme/spk_…`                         |
//! | `signpost_file`     | `acme/path/to/file`                  |

use signpost_domain::{FilePath, ProfileId, SettingServerUrl, TenantId};

use crate::mac;

/// A tenant id as Signpost accepts it.
pub fn tenant(id: &str) -> Result<String, String> {
    id.parse::<TenantId>()
        .map(|t| t.as_str().to_owned())
        .map_err(|e| format!("{id:?} is not a tenant id: {e}"))
}

/// A profile id as Signpost accepts it.
pub fn profile(id: &str) -> Result<String, String> {
    id.parse::<ProfileId>()
        .map(|p| p.as_str().to_owned())
        .map_err(|e| format!("{id:?} is not a profile id: {e}"))
}

/// A hosted-file path as Signpost accepts it.
pub fn file_path(path: &str) -> Result<String, String> {
    path.parse::<FilePath>()
        .map(|p| p.as_str().to_owned())
        .map_err(|e| format!("{path:?} is not an allowed file path: {e}"))
}

/// A setting server URL template (or `hosted`) as Signpost accepts it.
pub fn setting_server(url: &str) -> Result<String, String> {
    url.parse::<SettingServerUrl>()
        .map(|u| u.as_str().to_owned())
        .map_err(|e| format!("{url:?} is not a setting server URL: {e}"))
}

/// `tenant/rest`, split at the first `/`; `shape` describes the expected form for messages.
fn split<'a>(id: &'a str, shape: &str) -> Result<(String, &'a str), String> {
    let Some((t, rest)) = id.split_once('/') else {
        return Err(format!("import id {id:?} must look like {shape}"));
    };
    if rest.is_empty() {
        return Err(format!("import id {id:?} must look like {shape}"));
    }
    Ok((tenant(t)?, rest))
}

pub fn parse_profile(id: &str) -> Result<(String, String), String> {
    let (t, p) = split(id, "<tenant>/<profile>, e.g. acme/desk")?;
    Ok((t, profile(p)?))
}

pub fn parse_device(id: &str) -> Result<(String, String), String> {
    let (t, m) = split(id, "<tenant>/<MAC>, e.g. acme/000413AABBCC")?;
    Ok((t, mac::canonical(m)?))
}

/// `signpost_devices` is imported by profile: every device of the profile joins the set.
pub fn parse_devices(id: &str) -> Result<(String, String), String> {
    let (t, p) = split(id, "<tenant>/<profile>, e.g. acme/desk")?;
    Ok((t, profile(p)?))
}

pub fn parse_api_key(id: &str) -> Result<(String, String), String> {
    let (t, k) = split(id, "<tenant>/<key id>, e.g. acme/spk_…")?;
    if !k.starts_with("spk_") || k.contains('/') {
        return Err(format!("{k:?} is not an API key id (spk_…)"));
    }
    Ok((t, k.to_owned()))
}

pub fn parse_file(id: &str) -> Result<(String, String), String> {
    let (t, p) = split(id, "<tenant>/<path>, e.g. acme/cfg/snomD785.htm")?;
    Ok((t, file_path(p)?))
}

/// The id of a resource inside a tenant.
pub fn join(tenant: &str, rest: &str) -> String {
    format!("{tenant}/{rest}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids() {
        assert_eq!(tenant("acme").unwrap(), "acme");
        assert!(tenant("Acme").unwrap_err().contains("not a tenant id"));
        assert!(tenant("").is_err());
        assert!(tenant("-acme").is_err());
    }

    #[test]
    fn profile_ids() {
        assert_eq!(
            parse_profile("acme/desk").unwrap(),
            ("acme".into(), "desk".into())
        );
        assert!(
            parse_profile("acme")
                .unwrap_err()
                .contains("<tenant>/<profile>")
        );
        assert!(parse_profile("acme/").is_err());
        assert!(parse_profile("acme/desk/x").is_err());
        assert!(parse_profile("ACME/desk").is_err());
    }

    #[test]
    fn device_ids_canonicalise_the_mac() {
        assert_eq!(
            parse_device("acme/00:04:13:aa:bb:cc").unwrap(),
            ("acme".into(), "000413AABBCC".into())
        );
        assert_eq!(
            parse_device("acme/000413AABBCC").unwrap(),
            ("acme".into(), "000413AABBCC".into())
        );
        assert!(
            parse_device("acme/nonsense")
                .unwrap_err()
                .contains("not a MAC")
        );
        assert!(parse_device("000413AABBCC").is_err());
    }

    #[test]
    fn devices_ids_name_a_profile() {
        assert_eq!(
            parse_devices("acme/desk-phones").unwrap(),
            ("acme".into(), "desk-phones".into())
        );
        assert!(parse_devices("acme/Desk").is_err());
    }

    #[test]
    fn api_key_ids() {
        assert_eq!(
            parse_api_key("acme/spk_abc").unwrap(),
            ("acme".into(), "spk_abc".into())
        );
        assert!(parse_api_key("acme/abc").unwrap_err().contains("spk_"));
        assert!(parse_api_key("acme/spk_a/b").is_err());
    }

    #[test]
    fn file_ids_keep_the_whole_path() {
        assert_eq!(
            parse_file("acme/cfg/snomD785.htm").unwrap(),
            ("acme".into(), "cfg/snomD785.htm".into())
        );
        assert!(parse_file("acme/../x").is_err());
        assert!(parse_file("acme/a//b").is_err());
        assert!(parse_file("acme").is_err());
    }

    #[test]
    fn join_is_the_inverse_of_parse() {
        let id = join("acme", "000413AABBCC");
        assert_eq!(
            parse_device(&id).unwrap(),
            ("acme".into(), "000413AABBCC".into())
        );
    }
}
