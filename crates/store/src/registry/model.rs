use serde::Serialize;
use signpost_domain::{
    FirmwareVersion, Mac, PhoneSetting, PhoneType, ProfileId, Role, SettingServerUrl, TenantId,
    Timestamp,
};

/// Who made a change and in which request: what the audit trail records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeContext {
    /// An API key id, or a fixed name such as `cli` for changes made outside the API.
    pub actor: String,
    pub request_id: Option<String>,
}

/// What an idempotent write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written<T> {
    Created(T),
    Updated(T),
    /// The stored value already matched: nothing was written and no event recorded.
    Unchanged(T),
}

impl<T> Written<T> {
    pub fn value(&self) -> &T {
        match self {
            Written::Created(v) | Written::Updated(v) | Written::Unchanged(v) => v,
        }
    }

    pub fn into_value(self) -> T {
        match self {
            Written::Created(v) | Written::Updated(v) | Written::Unchanged(v) => v,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TenantStatus {
    Active,
    Suspended,
}

impl TenantStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TenantStatus::Active => "active",
            TenantStatus::Suspended => "suspended",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(TenantStatus::Active),
            "suspended" => Some(TenantStatus::Suspended),
            _ => None,
        }
    }
}

/// The fields of a tenant a caller sets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TenantSpec {
    pub id: TenantId,
    /// What the Snom XML-RPC API reports as the company.
    pub display_name: String,
    pub default_setting_server: Option<SettingServerUrl>,
    pub status: TenantStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tenant {
    #[serde(flatten)]
    pub spec: TenantSpec,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Bumped to invalidate every hosted-file token of the tenant at once.
    pub file_token_epoch: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProfileSpec {
    pub id: ProfileId,
    pub setting_server: SettingServerUrl,
    /// Settings the redirect carries besides `setting_server`.
    pub extra_settings: Vec<PhoneSetting>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Profile {
    pub tenant: TenantId,
    #[serde(flatten)]
    pub spec: ProfileSpec,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// The fields of a device a caller sets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceSpec {
    pub mac: Mac,
    pub profile: Option<ProfileId>,
    /// An explicit setting server for this device; wins over its profile's.
    pub setting_server: Option<SettingServerUrl>,
    pub label: Option<String>,
}

/// What the phone told us about itself the last time it booted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastSeen {
    pub at: Timestamp,
    pub source_address: String,
    pub user_agent: Option<String>,
    pub firmware_version: Option<FirmwareVersion>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Device {
    pub tenant: TenantId,
    #[serde(flatten)]
    pub spec: DeviceSpec,
    /// Learned from the phone's User-Agent at boot.
    pub phone_type: Option<PhoneType>,
    pub last_seen: Option<LastSeen>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceOp {
    Upsert(DeviceSpec),
    Delete(Mac),
}

impl DeviceOp {
    pub fn mac(&self) -> Mac {
        match self {
            DeviceOp::Upsert(spec) => spec.mac,
            DeviceOp::Delete(mac) => *mac,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchSummary {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub deleted: u64,
    /// Deletes of MACs the tenant did not have.
    pub absent: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceFilter {
    pub profile: Option<ProfileId>,
    pub phone_type: Option<PhoneType>,
    pub label_prefix: Option<String>,
    pub seen_since: Option<Timestamp>,
    pub never_seen: bool,
}

/// Where a phone's setting server came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ResolutionSource {
    Device,
    Profile,
    Tenant,
}

/// What a booting phone is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    pub tenant: TenantId,
    pub profile: Option<ProfileId>,
    pub setting_server: SettingServerUrl,
    pub source: ResolutionSource,
    /// The profile's extra settings, when the device has a profile.
    pub extra_settings: Vec<PhoneSetting>,
}

/// Who owns a MAC and where its own redirect points: the device's share of a resolution,
/// cached apart from its profile and tenant so that changing either is one invalidation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct DeviceRoute {
    pub tenant: TenantId,
    pub profile: Option<ProfileId>,
    /// The device's explicit setting server, which wins over its profile's.
    pub setting_server: Option<SettingServerUrl>,
}

/// One phone request, noted for the last-seen fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sighting {
    pub mac: Mac,
    pub at: Timestamp,
    pub source_address: String,
    pub user_agent: Option<String>,
    pub firmware_version: Option<FirmwareVersion>,
    pub phone_type: Option<PhoneType>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    pub action: Option<String>,
    pub target: Option<String>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
}

/// One audit record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub id: i64,
    pub tenant: Option<TenantId>,
    pub actor: String,
    /// e.g. `tenant.put`, `device.delete`.
    pub action: String,
    /// e.g. `device/000413AABBCC`.
    pub target: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub request_id: Option<String>,
    pub at: Timestamp,
}

/// An API key as the registry keeps it. Serialized for the audit trail, which must never
/// hold the secret's hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiKey {
    pub id: String,
    /// `None`: a platform-wide key.
    pub tenant: Option<TenantId>,
    pub role: Role,
    pub description: Option<String>,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    #[serde(skip)]
    pub secret_hash: String,
}

impl ApiKey {
    pub fn is_revoked(&self) -> bool {
        self.revoked_at.is_some()
    }
}

/// A key on its way into the registry; the secret itself never reaches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey {
    pub id: String,
    pub tenant: Option<TenantId>,
    pub role: Role,
    pub description: Option<String>,
    pub secret_hash: String,
}

/// What an upload publishes: a file whose body is already stored under `blob_key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSpec {
    /// Already validated by the caller; stored as given.
    pub path: String,
    pub size: u64,
    pub sha256: [u8; 32],
    pub content_type: String,
    /// A fresh blob key per upload.
    pub blob_key: String,
    pub template: bool,
}

/// A hosted file's catalogue entry. Serialized for the audit trail without its blob key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileRecord {
    pub tenant: TenantId,
    pub path: String,
    pub size: u64,
    #[serde(serialize_with = "hex_digest")]
    pub sha256: [u8; 32],
    pub content_type: String,
    #[serde(skip)]
    pub blob_key: String,
    pub template: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

fn hex_digest<S: serde::Serializer>(digest: &[u8; 32], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&hex::encode(digest))
}

/// What publishing did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub file: FileRecord,
    /// The blob the new row replaced, to delete after the switch.
    pub replaced_blob: Option<String>,
    pub created: bool,
}
