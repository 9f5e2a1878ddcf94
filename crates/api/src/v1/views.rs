//! The JSON shapes of `/v1`: request bodies (strict: unknown fields are refused) and the
//! views answered, with their conversions from and to the domain.

use poem_openapi::types::Example;
use poem_openapi::{Enum, Object};
use signpost_domain::{Permission, PhoneSetting, ProfileId, SettingServerUrl};
use signpost_store::registry::{
    Device, Profile, Resolution, ResolutionSource, Tenant, TenantStatus,
};

use crate::problem::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum Status {
    Active,
    Suspended,
}

impl From<Status> for TenantStatus {
    fn from(s: Status) -> Self {
        match s {
            Status::Active => TenantStatus::Active,
            Status::Suspended => TenantStatus::Suspended,
        }
    }
}

impl From<TenantStatus> for Status {
    fn from(s: TenantStatus) -> Self {
        match s {
            TenantStatus::Active => Status::Active,
            TenantStatus::Suspended => Status::Suspended,
        }
    }
}

/// A tenant as a caller sets it.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields, example)]
pub struct TenantBody {
    /// The company name; Snom's XML-RPC `getPhoneRedirection` reports it.
    #[oai(validator(min_length = 1, max_length = 200))]
    pub display_name: String,
    /// Where a device goes when neither it nor its profile names a setting server.
    pub default_setting_server: Option<String>,
    /// `suspended` stops every redirect of the tenant. Default `active`.
    pub status: Option<Status>,
}

impl Example for TenantBody {
    fn example() -> Self {
        Self {
            display_name: "Acme Telecom".into(),
            default_setting_server: Some("https://pbx.acme.example/snom/{mac}".into()),
            status: Some(Status::Active),
        }
    }
}

#[derive(Debug, Clone, Object)]
pub struct TenantView {
    pub id: String,
    pub display_name: String,
    pub default_setting_server: Option<String>,
    pub status: Status,
    pub created_at: String,
    pub updated_at: String,
}

impl From<Tenant> for TenantView {
    fn from(t: Tenant) -> Self {
        Self {
            id: t.spec.id.to_string(),
            display_name: t.spec.display_name,
            default_setting_server: t.spec.default_setting_server.map(|u| u.to_string()),
            status: t.spec.status.into(),
            created_at: t.created_at.to_rfc3339(),
            updated_at: t.updated_at.to_rfc3339(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "kebab-case")]
pub enum Perm {
    ReadWrite,
    ReadOnly,
    Remain,
}

/// A setting the redirect carries besides `setting_server`.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields)]
pub struct SettingBody {
    /// Setting name, `[A-Za-z0-9_]{1,64}`.
    pub name: String,
    /// Index of an indexed setting.
    pub idx: Option<u16>,
    pub value: String,
    /// Default `read-write`.
    pub perm: Option<Perm>,
}

/// A profile as a caller sets it.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields, example)]
pub struct ProfileBody {
    /// Setting server URL template; `{mac}`, `{phone_type}` and `{firmware_version}` are kept
    /// for the phone to expand.
    pub setting_server: String,
    #[oai(default)]
    pub extra_settings: Vec<SettingBody>,
}

impl Example for ProfileBody {
    fn example() -> Self {
        Self {
            setting_server: "https://pbx.acme.example/prov/{mac}.xml".into(),
            extra_settings: vec![SettingBody {
                name: "update_policy".into(),
                idx: None,
                value: "auto_update".into(),
                perm: Some(Perm::ReadOnly),
            }],
        }
    }
}

#[derive(Debug, Clone, Object)]
pub struct ProfileView {
    pub id: String,
    pub setting_server: String,
    pub extra_settings: Vec<SettingBody>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<Profile> for ProfileView {
    fn from(p: Profile) -> Self {
        Self {
            id: p.spec.id.to_string(),
            setting_server: p.spec.setting_server.to_string(),
            extra_settings: p
                .spec
                .extra_settings
                .into_iter()
                .map(setting_view)
                .collect(),
            created_at: p.created_at.to_rfc3339(),
            updated_at: p.updated_at.to_rfc3339(),
        }
    }
}

fn setting_view(s: PhoneSetting) -> SettingBody {
    SettingBody {
        name: s.name.as_str().to_owned(),
        idx: s.idx,
        value: s.value.as_str().to_owned(),
        perm: Some(match s.perm {
            Permission::ReadWrite => Perm::ReadWrite,
            Permission::ReadOnly => Perm::ReadOnly,
            Permission::Remain => Perm::Remain,
        }),
    }
}

pub fn parse_settings(settings: Vec<SettingBody>) -> Result<Vec<PhoneSetting>, ApiError> {
    settings
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let field = |name: &str| format!("extra_settings[{i}].{name}");
            Ok(PhoneSetting {
                name: s
                    .name
                    .try_into()
                    .map_err(|e| ApiError::invalid("invalid_setting", &field("name"), e))?,
                idx: s.idx,
                value: s
                    .value
                    .try_into()
                    .map_err(|e| ApiError::invalid("invalid_setting", &field("value"), e))?,
                perm: match s.perm.unwrap_or(Perm::ReadWrite) {
                    Perm::ReadWrite => Permission::ReadWrite,
                    Perm::ReadOnly => Permission::ReadOnly,
                    Perm::Remain => Permission::Remain,
                },
            })
        })
        .collect()
}

pub fn parse_url(field: &str, url: Option<String>) -> Result<Option<SettingServerUrl>, ApiError> {
    url.map(|u| {
        u.parse()
            .map_err(|e| ApiError::invalid("invalid_url", field, e))
    })
    .transpose()
}

pub fn parse_profile_id(field: &str, id: Option<String>) -> Result<Option<ProfileId>, ApiError> {
    id.map(|p| {
        p.parse()
            .map_err(|e| ApiError::invalid("invalid_profile_id", field, e))
    })
    .transpose()
}

/// A device as a caller sets it.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields, example)]
pub struct DeviceBody {
    /// The profile whose setting server the device follows.
    pub profile: Option<String>,
    /// An explicit setting server for this device; wins over its profile's.
    pub setting_server: Option<String>,
    /// Free text for people, e.g. where the phone is.
    #[oai(validator(max_length = 200))]
    pub label: Option<String>,
}

impl Example for DeviceBody {
    fn example() -> Self {
        Self {
            profile: Some("desk-phones".into()),
            setting_server: None,
            label: Some("reception".into()),
        }
    }
}

/// What the phone reported the last time it booted.
#[derive(Debug, Clone, Object)]
pub struct LastSeenView {
    pub at: String,
    pub source_address: String,
    pub user_agent: Option<String>,
    pub firmware_version: Option<String>,
}

#[derive(Debug, Clone, Object)]
pub struct DeviceView {
    /// Canonical MAC: 12 upper-case hex digits.
    pub mac: String,
    pub profile: Option<String>,
    pub setting_server: Option<String>,
    pub label: Option<String>,
    /// Learned from the phone's User-Agent at boot.
    pub phone_type: Option<String>,
    pub last_seen: Option<LastSeenView>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<Device> for DeviceView {
    fn from(d: Device) -> Self {
        Self {
            mac: d.spec.mac.to_string(),
            profile: d.spec.profile.map(|p| p.to_string()),
            setting_server: d.spec.setting_server.map(|u| u.to_string()),
            label: d.spec.label,
            phone_type: d.phone_type.map(|t| t.to_string()),
            last_seen: d.last_seen.map(|s| LastSeenView {
                at: s.at.to_rfc3339(),
                source_address: s.source_address,
                user_agent: s.user_agent,
                firmware_version: s.firmware_version.map(|v| v.to_string()),
            }),
            created_at: d.created_at.to_rfc3339(),
            updated_at: d.updated_at.to_rfc3339(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum Source {
    Device,
    Profile,
    Tenant,
}

/// What a booting phone would be told.
#[derive(Debug, Clone, Object)]
pub struct RedirectView {
    pub mac: String,
    /// False when no setting server applies or the tenant is suspended: the phone gets an
    /// empty settings document.
    pub redirected: bool,
    pub setting_server: Option<String>,
    /// Where the setting server came from.
    pub source: Option<Source>,
    pub profile: Option<String>,
}

impl RedirectView {
    pub fn new(mac: String, resolution: Option<Resolution>) -> Self {
        match resolution {
            None => Self {
                mac,
                redirected: false,
                setting_server: None,
                source: None,
                profile: None,
            },
            Some(r) => Self {
                mac,
                redirected: true,
                setting_server: Some(r.setting_server.to_string()),
                source: Some(match r.source {
                    ResolutionSource::Device => Source::Device,
                    ResolutionSource::Profile => Source::Profile,
                    ResolutionSource::Tenant => Source::Tenant,
                }),
                profile: r.profile.map(|p| p.to_string()),
            },
        }
    }
}
