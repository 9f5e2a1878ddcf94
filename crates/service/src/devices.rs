use std::sync::Arc;

use signpost_domain::{Mac, TenantId};
use signpost_store::registry::{
    BatchSummary, ChangeContext, Device, DeviceFilter, DeviceOp, DeviceRepo, DeviceSpec,
    RegistryError, Resolution, TenantRepo, Written,
};

use crate::auth::AuthCtx;
use crate::error::{ServiceError, ServiceResult, require_tenant};
use crate::phone::{EntryKey, Invalidator};

/// The most operations one batch may carry.
pub const MAX_BATCH: usize = 10_000;

#[derive(Debug, Clone)]
pub struct Devices {
    repo: Arc<dyn DeviceRepo>,
    tenants: Arc<dyn TenantRepo>,
    invalidator: Invalidator,
}

impl Devices {
    pub fn new(
        repo: Arc<dyn DeviceRepo>,
        tenants: Arc<dyn TenantRepo>,
        invalidator: Invalidator,
    ) -> Self {
        Self {
            repo,
            tenants,
            invalidator,
        }
    }

    pub async fn put(
        &self,
        auth: &AuthCtx,
        change: &ChangeContext,
        tenant: &TenantId,
        spec: DeviceSpec,
    ) -> ServiceResult<Written<Device>> {
        auth.write(tenant)?;
        let mac = spec.mac;
        let written = self.repo.put(change, tenant, spec).await;
        // Also after an error: the commit may have happened before the connection failed.
        if !matches!(written, Ok(Written::Unchanged(_))) {
            self.invalidator
                .invalidate(vec![EntryKey::Device(mac)])
                .await;
        }
        Ok(written?)
    }

    pub async fn get(&self, auth: &AuthCtx, tenant: &TenantId, mac: Mac) -> ServiceResult<Device> {
        auth.read(tenant)?;
        self.repo
            .get(tenant, mac)
            .await?
            .ok_or(ServiceError::NotFound)
    }

    pub async fn list(
        &self,
        auth: &AuthCtx,
        tenant: &TenantId,
        filter: &DeviceFilter,
        after: Option<Mac>,
        limit: u32,
    ) -> ServiceResult<Vec<Device>> {
        auth.read(tenant)?;
        require_tenant(self.tenants.as_ref(), tenant).await?;
        Ok(self.repo.list(tenant, filter, after, limit).await?)
    }

    pub async fn delete(
        &self,
        auth: &AuthCtx,
        change: &ChangeContext,
        tenant: &TenantId,
        mac: Mac,
    ) -> ServiceResult<()> {
        auth.write(tenant)?;
        let deleted = self.repo.delete(change, tenant, mac).await;
        self.invalidator
            .invalidate(vec![EntryKey::Device(mac)])
            .await;
        if deleted? {
            Ok(())
        } else {
            Err(ServiceError::NotFound)
        }
    }

    pub async fn apply_batch(
        &self,
        auth: &AuthCtx,
        change: &ChangeContext,
        tenant: &TenantId,
        ops: Vec<DeviceOp>,
    ) -> ServiceResult<BatchSummary> {
        auth.write(tenant)?;
        let keys: Vec<EntryKey> = ops.iter().map(|op| EntryKey::Device(op.mac())).collect();
        let applied = self.repo.apply_batch(change, tenant, ops).await;
        if !matches!(&applied, Err(RegistryError::BatchRefused(_))) {
            self.invalidator.invalidate(keys).await;
        }
        Ok(applied?)
    }

    /// What the phone with this MAC would be told at boot: `None` when it is not redirected
    /// (no URL anywhere, or the tenant is suspended).
    pub async fn redirect(
        &self,
        auth: &AuthCtx,
        tenant: &TenantId,
        mac: Mac,
    ) -> ServiceResult<Option<Resolution>> {
        auth.read(tenant)?;
        // The device must be this tenant's before anything about its redirect is told.
        self.repo
            .get(tenant, mac)
            .await?
            .ok_or(ServiceError::NotFound)?;
        Ok(self
            .repo
            .resolve(mac)
            .await?
            .filter(|r| r.tenant == *tenant))
    }
}
