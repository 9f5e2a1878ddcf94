use std::sync::Arc;

use signpost_domain::TenantId;
use signpost_store::registry::{ChangeContext, Tenant, TenantRepo, TenantSpec, Written};

use crate::auth::AuthCtx;
use crate::error::{ServiceError, ServiceResult};
use crate::phone::{EntryKey, Invalidator};

/// Tenants are created, replaced and deleted by platform admins; a tenant's own keys may
/// read it.
#[derive(Debug, Clone)]
pub struct Tenants {
    repo: Arc<dyn TenantRepo>,
    invalidator: Invalidator,
}

impl Tenants {
    pub fn new(repo: Arc<dyn TenantRepo>, invalidator: Invalidator) -> Self {
        Self { repo, invalidator }
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
        let key = EntryKey::Tenant(spec.id.clone());
        let written = self.repo.put(change, spec).await;
        // Also after an error: the commit may have happened before the connection failed.
        if !matches!(written, Ok(Written::Unchanged(_))) {
            self.invalidator.invalidate(vec![key]).await;
        }
        Ok(written?)
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
        let deleted = self.repo.delete(change, id, force).await;
        // The tenant's entry going negative is enough: every device entry of the tenant
        // resolves through it.
        self.invalidator
            .invalidate(vec![EntryKey::Tenant(id.clone())])
            .await;
        if deleted? {
            Ok(())
        } else {
            Err(ServiceError::NotFound)
        }
    }

    /// Retires every hosted-file URL of the tenant: phones get new ones at their next
    /// redirect. Answers the new epoch.
    pub async fn rotate_file_tokens(
        &self,
        auth: &AuthCtx,
        change: &ChangeContext,
        id: &TenantId,
    ) -> ServiceResult<u32> {
        auth.write(id)?;
        let rotated = self.repo.rotate_file_tokens(change, id).await;
        self.invalidator
            .invalidate(vec![EntryKey::Tenant(id.clone())])
            .await;
        rotated?.ok_or(ServiceError::NotFound)
    }
}
