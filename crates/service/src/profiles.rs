use std::sync::Arc;

use signpost_domain::{ProfileId, TenantId};
use signpost_store::registry::{
    ChangeContext, Profile, ProfileRepo, ProfileSpec, TenantRepo, Written,
};

use crate::auth::AuthCtx;
use crate::error::{ServiceError, ServiceResult, require_tenant};
use crate::phone::{EntryKey, Invalidator};

#[derive(Debug, Clone)]
pub struct Profiles {
    repo: Arc<dyn ProfileRepo>,
    tenants: Arc<dyn TenantRepo>,
    invalidator: Invalidator,
}

impl Profiles {
    pub fn new(
        repo: Arc<dyn ProfileRepo>,
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
        spec: ProfileSpec,
    ) -> ServiceResult<Written<Profile>> {
        auth.write(tenant)?;
        let key = EntryKey::Profile(tenant.clone(), spec.id.clone());
        let written = self.repo.put(change, tenant, spec).await;
        // Also after an error: the commit may have happened before the connection failed.
        if !matches!(written, Ok(Written::Unchanged(_))) {
            self.invalidator.invalidate(vec![key]).await;
        }
        Ok(written?)
    }

    pub async fn get(
        &self,
        auth: &AuthCtx,
        tenant: &TenantId,
        id: &ProfileId,
    ) -> ServiceResult<Profile> {
        auth.read(tenant)?;
        self.repo
            .get(tenant, id)
            .await?
            .ok_or(ServiceError::NotFound)
    }

    pub async fn list(
        &self,
        auth: &AuthCtx,
        tenant: &TenantId,
        after: Option<&ProfileId>,
        limit: u32,
    ) -> ServiceResult<Vec<Profile>> {
        auth.read(tenant)?;
        require_tenant(self.tenants.as_ref(), tenant).await?;
        Ok(self.repo.list(tenant, after, limit).await?)
    }

    pub async fn delete(
        &self,
        auth: &AuthCtx,
        change: &ChangeContext,
        tenant: &TenantId,
        id: &ProfileId,
    ) -> ServiceResult<()> {
        auth.write(tenant)?;
        let deleted = self.repo.delete(change, tenant, id).await;
        self.invalidator
            .invalidate(vec![EntryKey::Profile(tenant.clone(), id.clone())])
            .await;
        if deleted? {
            Ok(())
        } else {
            Err(ServiceError::NotFound)
        }
    }
}
