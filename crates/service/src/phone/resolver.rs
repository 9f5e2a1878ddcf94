//! MAC → effective setting server through three tiers: this process's memory, the shared
//! cache, the registry. Negative answers are cached too, for a shorter time.

use std::hash::Hash;
use std::sync::Arc;

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;
use signpost_domain::{FilePath, Mac, PhoneSetting, SettingServerUrl, TenantId};
use signpost_store::expiring::Equivalent;
use signpost_store::registry::{
    DeviceRepo, ProfileRepo, RegistryError, RegistryResult, TenantRepo,
};

use super::device_routes::DeviceRoutes;
use super::entries::{
    Cached, DeviceEntry, EntryKey, FileEntry, Local, LocalEntries, PairRef, ProfileEntry,
    TenantEntry,
};
use super::file_lookups::FileLookups;
use super::shared::SharedCache;

/// What the tiers know about one MAC.
#[derive(Debug, Clone, Default)]
pub struct Lookup {
    /// The device, when the MAC is registered (whether or not it is redirected).
    pub device: Cached<DeviceEntry>,
    pub redirect: Option<Redirect>,
}

/// Where a registered, redirected phone is sent, and what else it is told.
#[derive(Debug, Clone)]
pub struct Redirect {
    device: Arc<DeviceEntry>,
    profile: Cached<ProfileEntry>,
    tenant: Arc<TenantEntry>,
}

impl Redirect {
    /// Where an active tenant's device goes, if any tier names a URL. The device's own URL
    /// wins, but its profile's extra settings still apply.
    fn of(
        device: Arc<DeviceEntry>,
        tenant: Arc<TenantEntry>,
        profile: Cached<ProfileEntry>,
    ) -> Option<Self> {
        let redirected = device.setting_server.is_some()
            || profile.is_some()
            || tenant.default_setting_server.is_some();
        redirected.then_some(Self {
            device,
            profile,
            tenant,
        })
    }

    pub fn tenant(&self) -> &TenantId {
        &self.device.tenant
    }

    /// The device's own URL, else its profile's, else its tenant's default.
    pub fn setting_server(&self) -> &SettingServerUrl {
        self.device
            .setting_server
            .as_ref()
            .or(self.profile.as_ref().map(|p| &p.setting_server))
            .or(self.tenant.default_setting_server.as_ref())
            .expect("a Redirect is only built when some tier has a URL")
    }

    pub fn file_token_epoch(&self) -> u32 {
        self.tenant.file_token_epoch
    }

    pub fn extra_settings(&self) -> &[PhoneSetting] {
        self.profile.as_deref().map_or(&[], |p| &p.extra_settings)
    }
}

/// `local`'s entry for `key` when memory holds it, else what `through_tiers` finds. The
/// tiers' future is large (the shared cache's and the registry's calls): it is made, and
/// boxed, only on a miss, so a hit copies none of it.
async fn memory_first<K, Q, T, F, Tiers>(
    local: &Local<K, T>,
    key: &Q,
    through_tiers: F,
) -> RegistryResult<Cached<T>>
where
    K: Hash + Eq + Clone,
    Q: Hash + Equivalent<K> + ?Sized,
    F: FnOnce() -> Tiers,
    Tiers: Future<Output = RegistryResult<Cached<T>>>,
{
    if let Some(hit) = local.get(key) {
        return Ok(hit);
    }
    Box::pin(through_tiers()).await
}

/// A tenant entry that lets its phones be redirected.
fn active(tenant: Cached<TenantEntry>) -> Option<Arc<TenantEntry>> {
    tenant.filter(|tenant| tenant.active)
}

#[derive(Debug, Clone)]
pub struct Resolver {
    local: Arc<LocalEntries>,
    shared: SharedCache,
    /// Devices seen for the first time are looked up together.
    routes: DeviceRoutes,
    profiles: Arc<dyn ProfileRepo>,
    tenants: Arc<dyn TenantRepo>,
}

impl Resolver {
    pub fn new(
        local: Arc<LocalEntries>,
        shared: SharedCache,
        devices: Arc<dyn DeviceRepo>,
        profiles: Arc<dyn ProfileRepo>,
        tenants: Arc<dyn TenantRepo>,
    ) -> Self {
        Self {
            local,
            shared,
            routes: DeviceRoutes::new(devices),
            profiles,
            tenants,
        }
    }

    /// A tenant's share of resolutions, through the same tiers (hosted files check device
    /// tokens against its epoch).
    pub async fn tenant(&self, tenant_id: &TenantId) -> RegistryResult<Cached<TenantEntry>> {
        memory_first(&self.local.tenants, tenant_id, || {
            self.entry(
                &self.local.tenants,
                tenant_id.clone(),
                || EntryKey::Tenant(tenant_id.clone()),
                async { Ok(self.tenants.get(tenant_id).await?.map(TenantEntry::from)) },
            )
        })
        .await
    }

    /// A hosted file's current version, from the catalogue behind `catalogue`. Kept in
    /// this process's memory only: most files are one phone's own, asked for once per boot,
    /// so a copy in the shared cache would cost two more round trips each and rarely be read.
    pub async fn file(
        &self,
        tenant_id: &TenantId,
        path: &FilePath,
        catalogue: &FileLookups,
    ) -> RegistryResult<Cached<FileEntry>> {
        memory_first(&self.local.files, &PairRef(tenant_id, path), || {
            self.in_memory(
                &self.local.files,
                (tenant_id.clone(), path.clone()),
                async {
                    let file = catalogue.get(tenant_id, path).await?;
                    Ok(file.map(|f| Arc::new(FileEntry::from(f))))
                },
            )
        })
        .await
    }

    /// A MAC's device entry alone, through the tiers: what a hosted-file request checks its
    /// token against, without the tenant and profile entries a redirect needs.
    pub async fn device(&self, mac: Mac) -> RegistryResult<Cached<DeviceEntry>> {
        memory_first(&self.local.devices, &mac, || {
            self.entry(&self.local.devices, mac, || EntryKey::Device(mac), async {
                Ok(self.routes.get(mac).await?.map(DeviceEntry::from))
            })
        })
        .await
    }

    /// Errors only when an entry is in no cache and the registry cannot be reached.
    pub async fn lookup(&self, mac: Mac) -> RegistryResult<Lookup> {
        // Nearly every request finds its entries in memory. That answer is put together
        // here, before any future of the tiers below is made: those are large (each holds
        // the shared cache's and the registry's calls) and were copied about on every
        // request, 1.2% of the server's `perf` samples in `memcpy` under this function.
        if let Some(lookup) = self.lookup_in_memory(mac) {
            return Ok(lookup);
        }
        Box::pin(self.lookup_through_tiers(mac)).await
    }

    /// The lookup from this process's memory alone; `None` when an entry it needs is not
    /// there. Borrows every key: nothing is allocated.
    fn lookup_in_memory(&self, mac: Mac) -> Option<Lookup> {
        let device = self.local.devices.get(&mac)?;
        let Some(route) = device.clone() else {
            return Some(Lookup::default());
        };
        let Some(tenant) = active(self.local.tenants.get(&route.tenant)?) else {
            return Some(Lookup {
                device,
                redirect: None,
            });
        };
        let profile = match &route.profile {
            Some(profile) => self.local.profiles.get(&PairRef(&route.tenant, profile))?,
            None => None,
        };
        Some(Lookup {
            device,
            redirect: Redirect::of(route, tenant, profile),
        })
    }

    /// The lookup through every tier, loading what memory does not hold.
    async fn lookup_through_tiers(&self, mac: Mac) -> RegistryResult<Lookup> {
        let device = self.device(mac).await?;
        let Some(route) = device.clone() else {
            return Ok(Lookup::default());
        };
        let tenant_id = route.tenant.clone();
        let Some(tenant) = active(self.tenant(&tenant_id).await?) else {
            return Ok(Lookup {
                device,
                redirect: None,
            });
        };
        let profile = match &route.profile {
            Some(profile_id) => {
                let key = (tenant_id.clone(), profile_id.clone());
                let entry_key = || EntryKey::Profile(tenant_id.clone(), profile_id.clone());
                self.entry(&self.local.profiles, key, entry_key, async {
                    Ok(self
                        .profiles
                        .get(&tenant_id, profile_id)
                        .await?
                        .map(ProfileEntry::from))
                })
                .await?
            }
            None => None,
        };
        Ok(Lookup {
            device,
            redirect: Redirect::of(route, tenant, profile),
        })
    }

    /// One entry through the tiers. Concurrent misses on one key share a single load, so a
    /// boot storm of one office does not become a storm on the registry.
    async fn entry<K, T, F>(
        &self,
        local: &Local<K, T>,
        key: K,
        // Built only on a miss: the hit path allocates nothing for it.
        entry_key: impl FnOnce() -> EntryKey,
        load: F,
    ) -> RegistryResult<Cached<T>>
    where
        K: Hash + Eq + Clone + Send + Sync + 'static,
        T: Serialize + DeserializeOwned + Send + Sync + 'static,
        F: Future<Output = RegistryResult<Option<T>>>,
    {
        self.in_memory(local, key, async {
            let cache_key = entry_key().cache_key();
            if let Some(bytes) = self.shared.get(&cache_key).await {
                match serde_json::from_slice::<Option<T>>(&bytes) {
                    Ok(entry) => return Ok(entry.map(Arc::new)),
                    Err(err) => {
                        tracing::warn!(key = %cache_key, %err, "unreadable cache entry")
                    }
                }
            }
            let entry = load.await?.map(Arc::new);
            if let Ok(json) = serde_json::to_vec(&entry) {
                // The phone does not wait for the copy: that would be a fourth round trip
                // in a row for every MAC seen first (an unknown one, or any in a boot
                // storm). A write racing it is covered like one racing a synchronous copy:
                // the invalidation's second delete comes well after.
                let ttl = self.local.ttl.for_entry(&entry);
                let shared = self.shared.clone();
                tokio::spawn(async move {
                    shared.set(&cache_key, Bytes::from(json), ttl).await;
                });
            }
            Ok(entry)
        })
        .await
    }

    /// One entry through this process's memory only, with `load` behind it.
    async fn in_memory<K, T, F>(
        &self,
        local: &Local<K, T>,
        key: K,
        load: F,
    ) -> RegistryResult<Cached<T>>
    where
        K: Hash + Eq + Clone + Send + Sync + 'static,
        T: Send + Sync + 'static,
        F: Future<Output = RegistryResult<Cached<T>>>,
    {
        // Callers have looked in memory already (`memory_first`, `lookup_in_memory`); an
        // entry that arrived since is still found by `try_get_with` before it loads.
        let generation = self.local.generation();
        let loaded = local
            .try_get_with(&key, |entry| self.local.lifetime(entry), load)
            .await
            .map_err(|err: Arc<RegistryError>| RegistryError::Unavailable(err.to_string()))?;
        if self.local.generation() != generation {
            // An invalidation ran while this was loading: what was loaded may predate it.
            local.invalidate(&key);
        }
        Ok(loaded)
    }
}
