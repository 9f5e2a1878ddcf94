//! The Snom redirection API's use cases (what its XML-RPC `redirect.*` methods do), over
//! the same devices as the REST API: a MAC registered here is an ordinary device, audited
//! and visible in `/v1`, and every write invalidates the phone path's caches.

use std::collections::HashMap;
use std::sync::Arc;

use signpost_domain::{Mac, PhoneType, ProfileId, SettingServerUrl, TenantId, phone_type_for_mac};
use signpost_store::registry::{
    BatchItemReason, ChangeContext, Device, DeviceFilter, DeviceOp, DeviceRepo, DeviceSpec,
    ProfileRepo, RegistryError, TenantRepo,
};

use crate::auth::AuthCtx;
use crate::devices::{Devices, MAX_BATCH};
use crate::error::{ServiceError, ServiceResult};

/// Devices read per query while listing.
const LIST_PAGE: u32 = 1_000;

/// Why a Snom call was refused, in the Snom API's own terms.
#[derive(Debug, thiserror::Error)]
pub enum SnomError {
    #[error("the MAC is registered to another user")]
    OwnedByOtherUser,
    #[error("no such MAC")]
    NoSuchMac,
    #[error("at most {MAX_BATCH} MACs per call")]
    TooManyMacs,
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<RegistryError> for SnomError {
    fn from(err: RegistryError) -> Self {
        SnomError::Service(err.into())
    }
}

pub type SnomResult<T> = Result<T, SnomError>;

/// What `getPhoneRedirection` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneRedirection {
    /// The tenant's display name (Snom's "company").
    pub company: String,
    /// The effective setting server; empty when the device is not redirected.
    pub url: String,
}

#[derive(Debug, Clone)]
pub struct SnomRedirect {
    devices: Devices,
    device_repo: Arc<dyn DeviceRepo>,
    profiles: Arc<dyn ProfileRepo>,
    tenants: Arc<dyn TenantRepo>,
}

impl SnomRedirect {
    pub fn new(
        devices: Devices,
        device_repo: Arc<dyn DeviceRepo>,
        profiles: Arc<dyn ProfileRepo>,
        tenants: Arc<dyn TenantRepo>,
    ) -> Self {
        Self {
            devices,
            device_repo,
            profiles,
            tenants,
        }
    }

    /// The tenant a Snom call acts for: the key's own (a platform key has none).
    pub fn tenant(auth: &AuthCtx) -> ServiceResult<&TenantId> {
        auth.tenant.as_ref().ok_or(ServiceError::Forbidden)
    }

    /// This tenant's device, or why not.
    async fn own_device(&self, tenant: &TenantId, mac: Mac) -> SnomResult<Device> {
        if let Some(device) = self.device_repo.get(tenant, mac).await? {
            return Ok(device);
        }
        match self.device_repo.route(mac).await? {
            Some(_) => Err(SnomError::OwnedByOtherUser),
            None => Err(SnomError::NoSuchMac),
        }
    }

    /// Points a MAC at `url`. A MAC the tenant already has keeps its label and profile and
    /// gets `url` as its own setting server, in one write, so the phone is never told
    /// nothing in between.
    pub async fn register(
        &self,
        auth: &AuthCtx,
        change: &ChangeContext,
        mac: Mac,
        url: SettingServerUrl,
    ) -> SnomResult<()> {
        let tenant = Self::tenant(auth)?;
        self.register_many(auth, change, tenant, vec![mac], url)
            .await
    }

    pub async fn register_list(
        &self,
        auth: &AuthCtx,
        change: &ChangeContext,
        macs: Vec<Mac>,
        url: SettingServerUrl,
    ) -> SnomResult<()> {
        let tenant = Self::tenant(auth)?;
        self.register_many(auth, change, tenant, macs, url).await
    }

    async fn register_many(
        &self,
        auth: &AuthCtx,
        change: &ChangeContext,
        tenant: &TenantId,
        macs: Vec<Mac>,
        url: SettingServerUrl,
    ) -> SnomResult<()> {
        if macs.len() > MAX_BATCH {
            return Err(SnomError::TooManyMacs);
        }
        auth.write(tenant).map_err(ServiceError::from)?;
        let mut ops = Vec::with_capacity(macs.len());
        for mac in distinct(macs) {
            let current = self.device_repo.get(tenant, mac).await?;
            let (profile, label) = current.map_or((None, None), |d| (d.spec.profile, d.spec.label));
            ops.push(DeviceOp::Upsert(DeviceSpec {
                mac,
                profile,
                setting_server: Some(url.clone()),
                label,
            }));
        }
        self.apply(auth, change, tenant, ops).await
    }

    pub async fn deregister(
        &self,
        auth: &AuthCtx,
        change: &ChangeContext,
        mac: Mac,
    ) -> SnomResult<()> {
        let tenant = Self::tenant(auth)?;
        auth.write(tenant).map_err(ServiceError::from)?;
        self.own_device(tenant, mac).await?;
        self.apply(auth, change, tenant, vec![DeviceOp::Delete(mac)])
            .await
    }

    /// Removes the tenant's MACs among `macs`; MACs it does not have are skipped, and one
    /// owned by another tenant refuses the whole call.
    pub async fn deregister_list(
        &self,
        auth: &AuthCtx,
        change: &ChangeContext,
        macs: Vec<Mac>,
    ) -> SnomResult<()> {
        let tenant = Self::tenant(auth)?;
        if macs.len() > MAX_BATCH {
            return Err(SnomError::TooManyMacs);
        }
        auth.write(tenant).map_err(ServiceError::from)?;
        let mut ops = Vec::with_capacity(macs.len());
        for mac in distinct(macs) {
            match self.own_device(tenant, mac).await {
                Ok(_) => ops.push(DeviceOp::Delete(mac)),
                Err(SnomError::NoSuchMac) => {}
                Err(err) => return Err(err),
            }
        }
        self.apply(auth, change, tenant, ops).await
    }

    async fn apply(
        &self,
        auth: &AuthCtx,
        change: &ChangeContext,
        tenant: &TenantId,
        ops: Vec<DeviceOp>,
    ) -> SnomResult<()> {
        if ops.is_empty() {
            return Ok(());
        }
        match self.devices.apply_batch(auth, change, tenant, ops).await {
            Ok(_) => Ok(()),
            Err(ServiceError::BatchRefused(items))
                if items
                    .iter()
                    .any(|i| i.reason == BatchItemReason::MacOwnedByOtherTenant) =>
            {
                Err(SnomError::OwnedByOtherUser)
            }
            Err(ServiceError::MacOwnedByOtherTenant(_)) => Err(SnomError::OwnedByOtherUser),
            Err(err) => Err(err.into()),
        }
    }

    pub async fn check(&self, auth: &AuthCtx, mac: Mac) -> SnomResult<()> {
        let tenant = Self::tenant(auth)?;
        auth.read(tenant).map_err(ServiceError::from)?;
        self.own_device(tenant, mac).await.map(|_| ())
    }

    pub async fn redirection(&self, auth: &AuthCtx, mac: Mac) -> SnomResult<PhoneRedirection> {
        let tenant = Self::tenant(auth)?;
        auth.read(tenant).map_err(ServiceError::from)?;
        let device = self.own_device(tenant, mac).await?;
        let owner = self
            .tenants
            .get(tenant)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let profile_url = match &device.spec.profile {
            Some(id) => self
                .profiles
                .get(tenant, id)
                .await?
                .map(|p| p.spec.setting_server),
            None => None,
        };
        let url = device
            .spec
            .setting_server
            .or(profile_url)
            .or(owner.spec.default_setting_server);
        Ok(PhoneRedirection {
            company: owner.spec.display_name,
            url: url.map(|u| u.to_string()).unwrap_or_default(),
        })
    }

    /// The tenant's MACs of one phone type (learned at boot, else guessed from Snom's
    /// address blocks), optionally only those whose effective setting server is `url`.
    pub async fn list(
        &self,
        auth: &AuthCtx,
        phone_type: &PhoneType,
        url: Option<&str>,
    ) -> SnomResult<Vec<Mac>> {
        let tenant = Self::tenant(auth)?;
        auth.read(tenant).map_err(ServiceError::from)?;
        let default_url = match url {
            Some(_) => self
                .tenants
                .get(tenant)
                .await?
                .and_then(|t| t.spec.default_setting_server),
            None => None,
        };
        let mut profile_urls: HashMap<ProfileId, Option<SettingServerUrl>> = HashMap::new();
        let mut macs = Vec::new();
        let mut after = None;
        loop {
            let page = self
                .device_repo
                .list(tenant, &DeviceFilter::default(), after, LIST_PAGE)
                .await?;
            after = page.last().map(|d| d.spec.mac);
            for device in &page {
                let device_type = device
                    .phone_type
                    .as_ref()
                    .map(PhoneType::as_str)
                    .or_else(|| phone_type_for_mac(device.spec.mac));
                if !device_type.is_some_and(|t| t.eq_ignore_ascii_case(phone_type.as_str())) {
                    continue;
                }
                if let Some(wanted) = url {
                    let effective = match (&device.spec.setting_server, &device.spec.profile) {
                        (Some(own), _) => Some(own.clone()),
                        (None, Some(profile)) => {
                            if !profile_urls.contains_key(profile) {
                                let found = self.profiles.get(tenant, profile).await?;
                                profile_urls
                                    .insert(profile.clone(), found.map(|p| p.spec.setting_server));
                            }
                            profile_urls[profile].clone()
                        }
                        (None, None) => None,
                    }
                    .or_else(|| default_url.clone());
                    if effective.as_ref().map(SettingServerUrl::as_str) != Some(wanted) {
                        continue;
                    }
                }
                macs.push(device.spec.mac);
            }
            if page.len() < LIST_PAGE as usize {
                return Ok(macs);
            }
        }
    }
}

/// The MACs in their first-seen order without repeats: a list naming a MAC twice means it
/// once (a batch would refuse the duplicate).
fn distinct(macs: Vec<Mac>) -> Vec<Mac> {
    let mut seen = std::collections::HashSet::with_capacity(macs.len());
    macs.into_iter().filter(|mac| seen.insert(*mac)).collect()
}
