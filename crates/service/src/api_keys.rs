use std::sync::Arc;

use signpost_domain::{Role, TenantId};
use signpost_store::registry::{ApiKey, ChangeContext, TenantRepo};

use crate::auth::{AuthCtx, Authenticator, KeyMaterial};
use crate::error::{ServiceError, ServiceResult, require_tenant};

/// A tenant's API keys: tenant admins manage their own tenant's, platform admins any
/// tenant's.
#[derive(Debug, Clone)]
pub struct ApiKeys {
    auth: Arc<Authenticator>,
    tenants: Arc<dyn TenantRepo>,
}

impl ApiKeys {
    pub fn new(auth: Arc<Authenticator>, tenants: Arc<dyn TenantRepo>) -> Self {
        Self { auth, tenants }
    }

    pub async fn create(
        &self,
        ctx: &AuthCtx,
        change: &ChangeContext,
        tenant: &TenantId,
        role: Role,
        description: Option<String>,
    ) -> ServiceResult<(ApiKey, KeyMaterial)> {
        ctx.write(tenant)?;
        Ok(self
            .auth
            .create_key(change, Some(tenant.clone()), role, description)
            .await?)
    }

    pub async fn list(
        &self,
        ctx: &AuthCtx,
        tenant: &TenantId,
        after: Option<&str>,
        limit: u32,
    ) -> ServiceResult<Vec<ApiKey>> {
        ctx.write(tenant)?;
        require_tenant(self.tenants.as_ref(), tenant).await?;
        Ok(self.auth.list_keys(Some(tenant), after, limit).await?)
    }

    pub async fn revoke(
        &self,
        ctx: &AuthCtx,
        change: &ChangeContext,
        tenant: &TenantId,
        id: &str,
    ) -> ServiceResult<()> {
        ctx.write(tenant)?;
        if self.auth.revoke_key(change, Some(tenant), id).await? {
            Ok(())
        } else {
            Err(ServiceError::NotFound)
        }
    }
}
