use std::sync::Arc;

use signpost_domain::{Mac, TenantId};
use signpost_store::registry::{
    BatchSummary, ChangeContext, Device, DeviceFilter, DeviceOp, DeviceRepo, DeviceSpec,
    Resolution, Written,
};

use crate::auth::AuthCtx;
use crate::error::{ServiceError, ServiceResult};

/// The most operations one batch may carry.
pub const MAX_BATCH: usize = 10_000;

#[derive(Debug, Clone)]
pub struct Devices {
    repo: Arc<dyn DeviceRepo>,
}

impl Devices {
    pub fn new(repo: Arc<dyn DeviceRepo>) -> Self {
        Self { repo }
    }

    pub async fn put(
        &self,
        auth: &AuthCtx,
        change: &ChangeContext,
        tenant: &TenantId,
        spec: DeviceSpec,
    ) -> ServiceResult<Written<Device>> {
        auth.write(tenant)?;
        Ok(self.repo.put(change, tenant, spec).await?)
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
        if self.repo.delete(change, tenant, mac).await? {
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
        Ok(self.repo.apply_batch(change, tenant, ops).await?)
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
