//! What the phone path caches, and the one place cache keys and invalidation messages are
//! spelled.
//!
//! A resolution is three entries: the device (owner, profile, own URL), its profile (URL and
//! extra settings) and its tenant (status, default URL). Each is cached on its own, so
//! re-pointing a profile used by a million devices is one invalidation, not a million.
//! Hosted files' catalogue rows are cached in memory and invalidated the same way, so the
//! files every booting phone asks for (the shared settings template, the firmware file) cost
//! no registry query.

use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use signpost_domain::{
    FilePath, Mac, PhoneSetting, ProfileId, SettingServerUrl, TenantId, Timestamp,
};
use signpost_store::expiring::{Equivalent, ExpiringCache};
use signpost_store::registry::{
    DeviceRoute, FileRecord, Profile, RegistryError, Tenant, TenantStatus,
};

use super::sightings::NotedUntil;

/// A device's share of a resolution, with its sighting bookkeeping beside it.
///
/// Every request of a registered phone reads this entry anyway, so keeping "not to be
/// noted before" here spares the request a lookup in the sighting log's table: a miss in
/// memory at every request, since the table holds every phone seen lately. The log stays
/// the authority; this is its answer, remembered.
#[derive(Debug)]
pub struct DeviceEntry {
    route: DeviceRoute,
    pub noted_until: NotedUntil,
}

impl From<DeviceRoute> for DeviceEntry {
    fn from(route: DeviceRoute) -> Self {
        Self {
            route,
            noted_until: NotedUntil::default(),
        }
    }
}

impl Deref for DeviceEntry {
    type Target = DeviceRoute;

    fn deref(&self) -> &DeviceRoute {
        &self.route
    }
}

/// In the shared cache a device entry is its route alone, as before the bookkeeping.
impl Serialize for DeviceEntry {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.route.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for DeviceEntry {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        DeviceRoute::deserialize(deserializer).map(Self::from)
    }
}

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

/// A hosted file's current version, as serving it needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    pub size: u64,
    pub sha256: [u8; 32],
    pub content_type: String,
    pub blob_key: String,
    pub template: bool,
    pub updated_at: Timestamp,
}

impl From<FileRecord> for FileEntry {
    fn from(file: FileRecord) -> Self {
        Self {
            size: file.size,
            sha256: file.sha256,
            content_type: file.content_type,
            blob_key: file.blob_key,
            template: file.template,
            updated_at: file.updated_at,
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
    File(TenantId, FilePath),
}

impl EntryKey {
    /// The key in the shared cache (the adapter adds its deployment prefix).
    pub fn cache_key(&self) -> String {
        match self {
            EntryKey::Device(mac) => format!("dev:{mac}"),
            EntryKey::Profile(tenant, profile) => format!("prof:{tenant}:{profile}"),
            EntryKey::Tenant(tenant) => format!("ten:{tenant}"),
            EntryKey::File(tenant, path) => format!("file:{tenant}:{}", path.as_str()),
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
            // Tenant slugs have no `:`; a path may.
            "file" => {
                let (tenant, path) = rest.split_once(':')?;
                Some(EntryKey::File(tenant.parse().ok()?, path.parse().ok()?))
            }
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

/// Entries live their TTL less up to a tenth of it. Entries loaded together (a cold start
/// under load, a boot storm) then expire over a stretch of time, not in the same second,
/// which would send every phone of that second back to the registry at once.
#[derive(Debug)]
struct Lifetimes {
    ttl: CacheTtl,
    /// Steps through [0, 1) evenly (a Weyl sequence): cheaper than a random number, and
    /// as even a spread for this.
    draws: AtomicU64,
}

impl Lifetimes {
    fn new(ttl: CacheTtl) -> Self {
        Self {
            ttl,
            draws: AtomicU64::new(0),
        }
    }

    fn lifetime<T>(&self, value: &Cached<T>) -> Duration {
        const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;
        let draw = self.draws.fetch_add(GOLDEN, Ordering::Relaxed);
        let ttl = self.ttl.for_entry(value);
        let fraction = (draw >> 11) as f64 / (1u64 << 53) as f64;
        ttl.mul_f64(1.0 - fraction / 10.0)
    }
}

/// A two-part key (a profile's, a file's), borrowed: it hashes and compares as the pair
/// `(A, B)`, so a cached entry is found without copying either part.
#[derive(Debug, Hash)]
pub struct PairRef<'a, A, B>(pub &'a A, pub &'a B);

impl<A: PartialEq, B: PartialEq> Equivalent<(A, B)> for PairRef<'_, A, B> {
    fn equivalent(&self, key: &(A, B)) -> bool {
        *self.0 == key.0 && *self.1 == key.1
    }
}

/// One kind of entry in this process's memory; a failed load is the registry's error.
pub type Local<K, T> = ExpiringCache<K, Cached<T>, RegistryError>;

/// This process's copy of the entries (the first tier), shared by the resolver and the
/// invalidation listener.
#[derive(Debug)]
pub struct LocalEntries {
    pub devices: Local<Mac, DeviceEntry>,
    pub profiles: Local<(TenantId, ProfileId), ProfileEntry>,
    pub tenants: Local<TenantId, TenantEntry>,
    pub files: Local<(TenantId, FilePath), FileEntry>,
    /// Bumped by every invalidation this process applies. A load that started before a
    /// bump may carry what the invalidation removed, so it is not kept.
    generation: AtomicU64,
    pub ttl: CacheTtl,
    lifetimes: Lifetimes,
}

impl LocalEntries {
    /// `max_devices` bounds the device entries; profiles, tenants and files get a tenth
    /// (profiles and tenants are few; of the files, the ones every phone asks for stay in).
    pub fn new(max_devices: u64, ttl: CacheTtl) -> Self {
        let small = (max_devices / 10).max(1_000);
        Self {
            devices: ExpiringCache::new(max_devices),
            profiles: ExpiringCache::new(small),
            tenants: ExpiringCache::new(small),
            files: ExpiringCache::new(small),
            generation: AtomicU64::new(0),
            ttl,
            lifetimes: Lifetimes::new(ttl),
        }
    }

    /// How long `value` is kept: its TTL, less a spread.
    pub fn lifetime<T>(&self, value: &Cached<T>) -> Duration {
        self.lifetimes.lifetime(value)
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn forget(&self, key: &EntryKey) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        match key {
            EntryKey::Device(mac) => self.devices.invalidate(mac),
            EntryKey::Profile(tenant, profile) => {
                self.profiles.invalidate(&(tenant.clone(), profile.clone()))
            }
            EntryKey::Tenant(tenant) => {
                self.tenants.invalidate(tenant);
                // A tenant deleted and made again under the same slug must not find the
                // old one's files.
                self.files.invalidate_if(|(owner, _), _| owner == tenant);
            }
            EntryKey::File(tenant, path) => self.files.invalidate(&(tenant.clone(), path.clone())),
        }
    }

    /// Drops everything: after missed invalidations nothing held can be trusted.
    pub fn forget_all(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.devices.invalidate_all();
        self.profiles.invalidate_all();
        self.tenants.invalidate_all();
        self.files.invalidate_all();
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
            EntryKey::File("acme".parse().unwrap(), "fw/a:b.bin".parse().unwrap()),
        ];
        let message = encode_message(&keys);
        assert_eq!(
            std::str::from_utf8(&message).unwrap(),
            "dev:000413AABBCC\nprof:acme:desk\nten:acme\nfile:acme:fw/a:b.bin\n"
        );
        assert_eq!(decode_message(&message).collect::<Vec<_>>(), keys);
    }

    #[test]
    fn a_device_entry_is_shared_as_its_route_alone() {
        let route = DeviceRoute {
            tenant: "acme".parse().unwrap(),
            profile: Some("desk".parse().unwrap()),
            setting_server: None,
        };
        let entry = Some(Arc::new(DeviceEntry::from(route.clone())));
        let json = serde_json::to_string(&entry).unwrap();
        // Replicas of the previous version read and write the same value.
        assert_eq!(json, serde_json::to_string(&Some(&route)).unwrap());
        let back: Cached<DeviceEntry> = serde_json::from_str(&json).unwrap();
        assert_eq!(**back.unwrap(), route);
    }

    #[test]
    fn a_borrowed_pair_finds_the_entry() {
        let local = LocalEntries::new(
            1_000,
            CacheTtl {
                positive: Duration::from_secs(60),
                negative: Duration::from_secs(10),
            },
        );
        let (tenant, profile): (TenantId, ProfileId) =
            ("acme".parse().unwrap(), "desk".parse().unwrap());
        let entry = Some(Arc::new(ProfileEntry {
            setting_server: "https://prov.example.com/".parse().unwrap(),
            extra_settings: Vec::new(),
        }));
        local.profiles.insert(
            (tenant.clone(), profile.clone()),
            entry.clone(),
            Duration::from_secs(60),
        );
        let found = local.profiles.get(&PairRef(&tenant, &profile));
        assert_eq!(found, Some(entry));
        let other: ProfileId = "lobby".parse().unwrap();
        assert_eq!(local.profiles.get(&PairRef(&tenant, &other)), None);
    }

    #[test]
    fn lifetimes_spread_over_the_last_tenth_of_the_ttl() {
        let ttl = CacheTtl {
            positive: Duration::from_secs(300),
            negative: Duration::from_secs(30),
        };
        let expiry = Lifetimes::new(ttl);
        let lifetimes: Vec<Duration> = (0..1000)
            .map(|_| expiry.lifetime(&Some(Arc::new(()))))
            .collect();
        assert!(
            lifetimes
                .iter()
                .all(|l| (Duration::from_secs(270)..=ttl.positive).contains(l))
        );
        let early = lifetimes
            .iter()
            .filter(|l| **l < Duration::from_secs(285))
            .count();
        assert!(
            (400..=600).contains(&early),
            "{early} of 1000 in the earlier half"
        );
        let negative = expiry.lifetime::<()>(&None);
        assert!((Duration::from_secs(27)..=ttl.negative).contains(&negative));
    }

    #[test]
    fn garbage_lines_are_skipped() {
        let keys: Vec<_> = decode_message(b"dev:nope\nxyz\n\nten:acme").collect();
        assert_eq!(keys, vec![EntryKey::Tenant("acme".parse().unwrap())]);
    }
}
