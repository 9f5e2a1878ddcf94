use std::sync::Arc;

use signpost_domain::{ProfileId, TenantId};
use signpost_store::registry::{ChangeContext, Profile, ProfileRepo, ProfileSpec, Written};

use crate::auth::AuthCtx;
use crate::error::{ServiceError, ServiceResult};

#[derive(Debug, Clone)]
pub struct Profiles {
    repo: Arc<dyn ProfileRepo>,
}

impl Profiles {
    pub fn new(repo: Arc<dyn ProfileRepo>) -> Self {
        Self { repo }
    }

    pub async fn put(
        &self,
        auth: &AuthCtx,
        change: &ChangeContext,
        tenant: &TenantId,
        spec: ProfileSpec,
    ) -> ServiceResult<Written<Profile>> {
        auth.write(tenant)?;
        Ok(self.repo.put(change, tenant, spec).await?)
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
        if self.repo.delete(change, tenant, id).await? {
            Ok(())
        } else {
            Err(ServiceError::NotFound)
        }
    }
}
