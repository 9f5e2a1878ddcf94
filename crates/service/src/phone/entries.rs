//! What the phone path caches, and the one place cache keys and invalidation messages are
//! spelled.
//!
//! A resolution is three entries: the device (owner, profile, own URL), its profile (URL and
//! extra settings) and its tenant (status, default URL). Each is cached on its own, so
//! re-pointing a profile used by a million devices is one invalidation, not a million.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::future::Cache as Moka;
use serde::{Deserialize, Serialize};
use signpost_domain::{Mac, PhoneSetting, ProfileId, SettingServerUrl, TenantId};
use signpost_store::registry::{DeviceRoute, Profile, Tenant, TenantStatus};

/// A profile's share of a resolution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileEntry {
    pub setting_server: SettingServerUrl,
    pub extra_settings: Vec<PhoneSetting>,
}

impl From<Profile> for ProfileEntry {
    fn from(profile: Profile) -> Self {
        Self {
            setting_server: profile.spec.setting_server,
            extra_settings: profile.spec.extra_settings,
        }
    }
}

/// A tenant's share of a resolution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantEntry {
    pub active: bool,
    pub default_setting_server: Option<SettingServerUrl>,
    /// Hosted-file device tokens are signed for this epoch; bumping it retires them all.
    pub file_token_epoch: u32,
}

impl From<Tenant> for TenantEntry {
    fn from(tenant: Tenant) -> Self {
        Self {
            active: tenant.spec.status == TenantStatus::Active,
            default_setting_server: tenant.spec.default_setting_server,
            file_token_epoch: tenant.file_token_epoch,
        }
    }
}

/// One cached fact; `None` records that the registry has nothing (a negative entry).
pub type Cached<T> = Option<Arc<T>>;

/// Names one cache entry, in the shared cache and in every replica's memory.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EntryKey {
    Device(Mac),
    Profile(TenantId, ProfileId),
    Tenant(TenantId),
}

impl EntryKey {
    /// The key in the shared cache (the adapter adds its deployment prefix).
    pub fn cache_key(&self) -> String {
        match self {
            EntryKey::Device(mac) => format!("dev:{mac}"),
            EntryKey::Profile(tenant, profile) => format!("prof:{tenant}:{profile}"),
            EntryKey::Tenant(tenant) => format!("ten:{tenant}"),
        }
    }

    /// Reads back what [`EntryKey::cache_key`] wrote; anything else is `None`.
    pub fn parse(key: &str) -> Option<Self> {
        let (kind, rest) = key.split_once(':')?;
        match kind {
            "dev" => rest.parse().ok().map(EntryKey::Device),
            "prof" => {
                let (tenant, profile) = rest.split_once(':')?;
                Some(EntryKey::Profile(
                    tenant.parse().ok()?,
                    profile.parse().ok()?,
                ))
            }
            "ten" => rest.parse().ok().map(EntryKey::Tenant),
            _ => None,
        }
    }
}

/// An invalidation message: one cache key per line.
pub fn encode_message(keys: &[EntryKey]) -> Vec<u8> {
    let mut message = String::with_capacity(keys.len() * 20);
    for key in keys {
        message.push_str(&key.cache_key());
        message.push('\n');
    }
    message.into_bytes()
}

pub fn decode_message(message: &[u8]) -> impl Iterator<Item = EntryKey> + '_ {
    message
        .split(|b| *b == b'\n')
        .filter_map(|line| std::str::from_utf8(line).ok())
        .filter_map(EntryKey::parse)
}

/// How long entries live, in this process and in the shared cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheTtl {
    pub positive: Duration,
    /// For "the registry has nothing": shorter, because a scanner's misses should not fill
    /// the cache for long.
    pub negative: Duration,
}

impl CacheTtl {
    pub fn for_entry<T>(&self, entry: &Cached<T>) -> Duration {
        if entry.is_some() {
            self.positive
        } else {
            self.negative
        }
    }
}

struct EntryExpiry(CacheTtl);

impl<K, T> Expiry<K, Cached<T>> for EntryExpiry {
    fn expire_after_create(&self, _: &K, value: &Cached<T>, _: Instant) -> Option<Duration> {
        Some(self.0.for_entry(value))
    }

    fn expire_after_update(
        &self,
        _: &K,
        value: &Cached<T>,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(self.0.for_entry(value))
    }
}

/// This process's copy of the entries (the first tier), shared by the resolver and the
/// invalidation listener.
#[derive(Debug)]
pub struct LocalEntries {
    pub devices: Moka<Mac, Cached<DeviceRoute>>,
    pub profiles: Moka<(TenantId, ProfileId), Cached<ProfileEntry>>,
    pub tenants: Moka<TenantId, Cached<TenantEntry>>,
    /// Bumped by every invalidation this process applies. A load that started before a
    /// bump may carry what the invalidation removed, so it is not kept.
    generation: AtomicU64,
    pub ttl: CacheTtl,
}

impl LocalEntries {
    /// `max_devices` bounds the device entries; profiles and tenants are few and get a tenth.
    pub fn new(max_devices: u64, ttl: CacheTtl) -> Self {
        let small = (max_devices / 10).max(1_000);
        Self {
            devices: Moka::builder()
                .max_capacity(max_devices)
                .expire_after(EntryExpiry(ttl))
                .build(),
            profiles: Moka::builder()
                .max_capacity(small)
                .expire_after(EntryExpiry(ttl))
                .build(),
            tenants: Moka::builder()
                .max_capacity(small)
                .expire_after(EntryExpiry(ttl))
                .build(),
            generation: AtomicU64::new(0),
            ttl,
        }
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub async fn forget(&self, key: &EntryKey) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        match key {
            EntryKey::Device(mac) => self.devices.invalidate(mac).await,
            EntryKey::Profile(tenant, profile) => {
                self.profiles
                    .invalidate(&(tenant.clone(), profile.clone()))
                    .await
            }
            EntryKey::Tenant(tenant) => self.tenants.invalidate(tenant).await,
        }
    }

    /// Drops everything: after missed invalidations nothing held can be trusted.
    pub fn forget_all(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.devices.invalidate_all();
        self.profiles.invalidate_all();
        self.tenants.invalidate_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_messages() {
        let keys = vec![
            EntryKey::Device("000413AABBCC".parse().unwrap()),
            EntryKey::Profile("acme".parse().unwrap(), "desk".parse().unwrap()),
            EntryKey::Tenant("acme".parse().unwrap()),
        ];
        let message = encode_message(&keys);
        assert_eq!(
            std::str::from_utf8(&message).unwrap(),
            "dev:000413AABBCC\nprof:acme:desk\nten:acme\n"
        );
        assert_eq!(decode_message(&message).collect::<Vec<_>>(), keys);
    }

    #[test]
    fn garbage_lines_are_skipped() {
        let keys: Vec<_> = decode_message(b"dev:nope\nxyz\n\nten:acme").collect();
        assert_eq!(keys, vec![EntryKey::Tenant("acme".parse().unwrap())]);
    }
}
