use std::sync::Arc;

use signpost_domain::TenantId;
use signpost_store::registry::{ChangeContext, Tenant, TenantRepo, TenantSpec, Written};

use crate::auth::AuthCtx;
use crate::error::{ServiceError, ServiceResult};

/// Tenants are created, replaced and deleted by platform admins; a tenant's own keys may
/// read it.
#[derive(Debug, Clone)]
pub struct Tenants {
    repo: Arc<dyn TenantRepo>,
}

impl Tenants {
    pub fn new(repo: Arc<dyn TenantRepo>) -> Self {
        Self { repo }
    }

    pub async fn put(
        &self,
        auth: &AuthCtx,
        change: &ChangeContext,
        spec: TenantSpec,
    ) -> ServiceResult<Written<Tenant>> {
        // Another tenant's key learns nothing (404); the tenant's own keys may not (403).
        auth.read(&spec.id)?;
        auth.platform()?;
        Ok(self.repo.put(change, spec).await?)
    }

    pub async fn get(&self, auth: &AuthCtx, id: &TenantId) -> ServiceResult<Tenant> {
        auth.read(id)?;
        self.repo.get(id).await?.ok_or(ServiceError::NotFound)
    }

    pub async fn list(
        &self,
        auth: &AuthCtx,
        after: Option<&TenantId>,
        limit: u32,
    ) -> ServiceResult<Vec<Tenant>> {
        auth.platform()?;
        Ok(self.repo.list(after, limit).await?)
    }

    pub async fn delete(
        &self,
        auth: &AuthCtx,
        change: &ChangeContext,
        id: &TenantId,
        force: bool,
    ) -> ServiceResult<()> {
        auth.read(id)?;
        auth.platform()?;
        if self.repo.delete(change, id, force).await? {
            Ok(())
        } else {
            Err(ServiceError::NotFound)
        }
    }
}
