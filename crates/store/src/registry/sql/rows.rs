//! Turning rows back into domain values. A value that does not parse means the database was
//! changed behind the registry's back: that is reported as corrupt, never papered over.

use std::str::FromStr;

use signpost_domain::{Mac, PhoneSetting, Timestamp};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{corrupt, unavailable};
use crate::registry::{
    Device, DeviceSpec, FileRecord, LastSeen, Profile, ProfileSpec, RegistryResult, Tenant,
    TenantSpec, TenantStatus,
};

pub(crate) const TENANT_COLUMNS: &str =
    "id, display_name, default_setting_server, status, created_at, updated_at, file_token_epoch";
pub(crate) const PROFILE_COLUMNS: &str =
    "tenant_id, id, setting_server, extra_settings, created_at, updated_at";
pub(crate) const DEVICE_COLUMNS: &str = "mac, tenant_id, profile_id, setting_server, label, phone_type, \
     last_seen_at, last_seen_address, last_seen_user_agent, last_seen_firmware, created_at, updated_at";
/// `template` is BOOLEAN in PostgreSQL and INTEGER in SQLite: read as an integer from both.
pub(crate) const FILE_COLUMNS: &str = "tenant_id, path, size, sha256, content_type, blob_key, \
     CASE WHEN template THEN 1 ELSE 0 END AS template, created_at, updated_at";

pub(crate) fn text(row: &AnyRow, column: &str) -> RegistryResult<String> {
    row.try_get(column).map_err(unavailable)
}

pub(crate) fn opt_text(row: &AnyRow, column: &str) -> RegistryResult<Option<String>> {
    row.try_get(column).map_err(unavailable)
}

pub(crate) fn time(row: &AnyRow, column: &str) -> RegistryResult<Timestamp> {
    row.try_get::<i64, _>(column)
        .map(Timestamp::from_unix_millis)
        .map_err(unavailable)
}

pub(crate) fn parsed<T: FromStr>(row: &AnyRow, column: &str) -> RegistryResult<T> {
    let value = text(row, column)?;
    value.parse().map_err(|_| corrupt(column, &value))
}

pub(crate) fn opt_parsed<T: FromStr>(row: &AnyRow, column: &str) -> RegistryResult<Option<T>> {
    opt_text(row, column)?
        .map(|value| value.parse().map_err(|_| corrupt(column, &value)))
        .transpose()
}

pub(crate) fn settings(row: &AnyRow, column: &str) -> RegistryResult<Vec<PhoneSetting>> {
    let json = text(row, column)?;
    serde_json::from_str(&json).map_err(|_| corrupt(column, &json))
}

pub(crate) fn settings_json(settings: &[PhoneSetting]) -> String {
    serde_json::to_string(settings).unwrap_or_else(|_| "[]".into())
}

pub(crate) fn tenant(row: &AnyRow) -> RegistryResult<Tenant> {
    let status = text(row, "status")?;
    Ok(Tenant {
        spec: TenantSpec {
            id: parsed(row, "id")?,
            display_name: text(row, "display_name")?,
            default_setting_server: opt_parsed(row, "default_setting_server")?,
            status: TenantStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?,
        },
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
        file_token_epoch: unsigned(row, "file_token_epoch")?,
    })
}

/// A non-negative integer column that must fit `T`.
pub(crate) fn unsigned<T: TryFrom<i64>>(row: &AnyRow, column: &str) -> RegistryResult<T> {
    let value: i64 = row.try_get(column).map_err(unavailable)?;
    T::try_from(value).map_err(|_| corrupt(column, &value.to_string()))
}

pub(crate) fn file(row: &AnyRow) -> RegistryResult<FileRecord> {
    let digest = text(row, "sha256")?;
    let mut sha256 = [0u8; 32];
    hex::decode_to_slice(&digest, &mut sha256).map_err(|_| corrupt("sha256", &digest))?;
    Ok(FileRecord {
        tenant: parsed(row, "tenant_id")?,
        path: text(row, "path")?,
        size: unsigned(row, "size")?,
        sha256,
        content_type: text(row, "content_type")?,
        blob_key: text(row, "blob_key")?,
        template: row.try_get::<i64, _>("template").map_err(unavailable)? != 0,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
    })
}

pub(crate) fn profile(row: &AnyRow) -> RegistryResult<Profile> {
    Ok(Profile {
        tenant: parsed(row, "tenant_id")?,
        spec: ProfileSpec {
            id: parsed(row, "id")?,
            setting_server: parsed(row, "setting_server")?,
            extra_settings: settings(row, "extra_settings")?,
        },
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
    })
}

pub(crate) fn device(row: &AnyRow) -> RegistryResult<Device> {
    let last_seen_at: Option<i64> = row.try_get("last_seen_at").map_err(unavailable)?;
    let last_seen = match last_seen_at {
        Some(at) => Some(LastSeen {
            at: Timestamp::from_unix_millis(at),
            source_address: opt_text(row, "last_seen_address")?.unwrap_or_default(),
            user_agent: opt_text(row, "last_seen_user_agent")?,
            firmware_version: opt_parsed(row, "last_seen_firmware")?,
        }),
        None => None,
    };
    Ok(Device {
        tenant: parsed(row, "tenant_id")?,
        spec: DeviceSpec {
            mac: mac(row, "mac")?,
            profile: opt_parsed(row, "profile_id")?,
            setting_server: opt_parsed(row, "setting_server")?,
            label: opt_text(row, "label")?,
        },
        phone_type: opt_parsed(row, "phone_type")?,
        last_seen,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
    })
}

pub(crate) fn mac(row: &AnyRow, column: &str) -> RegistryResult<Mac> {
    let value = text(row, column)?;
    Mac::parse_compact(&value).map_err(|_| corrupt(column, &value))
}
