use std::sync::Arc;

use signpost_domain::TenantId;
use signpost_store::registry::{Event, EventFilter, EventRepo};

use crate::auth::AuthCtx;
use crate::error::ServiceResult;

#[derive(Debug, Clone)]
pub struct Events {
    repo: Arc<dyn EventRepo>,
}

impl Events {
    pub fn new(repo: Arc<dyn EventRepo>) -> Self {
        Self { repo }
    }

    pub async fn list(
        &self,
        auth: &AuthCtx,
        tenant: &TenantId,
        filter: &EventFilter,
        after: Option<i64>,
        limit: u32,
    ) -> ServiceResult<Vec<Event>> {
        auth.read(tenant)?;
        Ok(self.repo.list(tenant, filter, after, limit).await?)
    }
}
