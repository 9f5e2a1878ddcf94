use serde::{Deserialize, Serialize};

/// One extra setting a profile adds to the document a phone is sent at boot, next to
/// `setting_server` (for example `provisioning_order` or `update_policy`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhoneSetting {
    pub name: SettingName,
    /// Index for indexed settings (`user_name idx="1"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idx: Option<u16>,
    pub value: SettingValue,
    #[serde(default)]
    pub perm: Permission,
}

/// Who may change a setting on the phone once it is provisioned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Permission {
    /// The user may change it; provisioning overwrites it again (`RW`, `$`).
    #[default]
    ReadWrite,
    /// The user may not change it (`R`, `&`).
    ReadOnly,
    /// Written only while the user has not changed it (`!`).
    Remain,
}

impl Permission {
    /// The flag in Snom's XML settings format.
    pub fn xml_flag(self) -> &'static str {
        match self {
            Permission::ReadWrite => "RW",
            Permission::ReadOnly => "R",
            Permission::Remain => "!",
        }
    }

    /// The flag in Snom's plain-text settings format.
    pub fn text_flag(self) -> char {
        match self {
            Permission::ReadWrite => '$',
            Permission::ReadOnly => '&',
            Permission::Remain => '!',
        }
    }
}

/// A setting's name: `[A-Za-z0-9_]`, 1 to 64 characters, as the phone's settings syntax allows.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SettingName(String);

/// A setting's value: at most 4096 characters, no control characters (a value is one line
/// in the text format).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SettingValue(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneSettingError {
    #[error("a setting name is 1 to 64 ASCII letters, digits or '_'")]
    Name,
    #[error("a setting value is at most 4096 characters without control characters")]
    Value,
}

impl SettingName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl SettingValue {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SettingName {
    type Error = PhoneSettingError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        let ok = (1..=64).contains(&s.len())
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if ok {
            Ok(Self(s))
        } else {
            Err(PhoneSettingError::Name)
        }
    }
}

impl TryFrom<String> for SettingValue {
    type Error = PhoneSettingError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        if s.len() <= 4096 && !s.chars().any(char::is_control) {
            Ok(Self(s))
        } else {
            Err(PhoneSettingError::Value)
        }
    }
}

impl From<SettingName> for String {
    fn from(v: SettingName) -> Self {
        v.0
    }
}

impl From<SettingValue> for String {
    fn from(v: SettingValue) -> Self {
        v.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn settings_round_trip_through_json() {
        let json = r#"[{"name":"update_policy","value":"auto_update","perm":"read-only"},{"name":"user_name","idx":1,"value":"alice"}]"#;
        let settings: Vec<PhoneSetting> = serde_json::from_str(json).unwrap();
        assert_eq!(settings[0].perm, Permission::ReadOnly);
        assert_eq!(settings[1].perm, Permission::ReadWrite);
        assert_eq!(settings[1].idx, Some(1));
        let again: Vec<PhoneSetting> =
            serde_json::from_str(&serde_json::to_string(&settings).unwrap()).unwrap();
        assert_eq!(again, settings);
    }

    #[test]
    fn refuses_bad_names_and_values() {
        for bad in [
            r#"{"name":"","value":"x"}"#,
            r#"{"name":"a-b","value":"x"}"#,
            r#"{"name":"a","value":"line\nbreak"}"#,
            r#"{"name":"a","value":"x","colour":"red"}"#,
        ] {
            assert!(serde_json::from_str::<PhoneSetting>(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn arbitrary_input_never_panics(name in "\\PC{0,80}", value in "\\PC{0,80}") {
            let _ = SettingName::try_from(name);
            let _ = SettingValue::try_from(value);
        }
    }
}
