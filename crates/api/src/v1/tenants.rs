use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};
use signpost_domain::TenantId;
use signpost_store::registry::{TenantSpec, Written};

use super::views::{Status, TenantBody, TenantView, parse_url};
use super::{Bearer, change, decode_cursor, next_cursor, page_size};
use crate::AppState;
use crate::problem::ApiError;
use crate::request_log::RequestId;

#[derive(Tags)]
enum Tag {
    /// Tenants: one per MSP or customer. Platform admins manage them.
    Tenants,
}

pub struct TenantsApi;

#[derive(Debug, ApiResponse)]
pub enum PutTenant {
    /// The tenant was created.
    #[oai(status = 201)]
    Created(Json<TenantView>),
    /// The tenant existed and now holds what was sent (or already did).
    #[oai(status = 200)]
    Replaced(Json<TenantView>),
}

#[derive(Debug, Object)]
pub struct TenantPage {
    pub items: Vec<TenantView>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, ApiResponse)]
pub enum Deleted {
    #[oai(status = 204)]
    Deleted,
}

pub fn tenant_id(id: &str) -> Result<TenantId, ApiError> {
    id.parse().map_err(|_| ApiError::not_found())
}

#[OpenApi(prefix_path = "/v1/tenants", tag = "Tag::Tenants")]
impl TenantsApi {
    /// Create or replace a tenant
    ///
    /// Idempotent: the same body again changes nothing and records no audit event.
    #[oai(path = "/:tenant", method = "put", operation_id = "put_tenant")]
    async fn put(
        &self,
        auth: Bearer,
        state: Data<&AppState>,
        request_id: Data<&RequestId>,
        /// Tenant id: lower-case letters, digits and `-`, 1 to 63 characters.
        tenant: Path<String>,
        body: Json<TenantBody>,
    ) -> Result<PutTenant, ApiError> {
        let id: TenantId = tenant
            .0
            .parse()
            .map_err(|e| ApiError::invalid("invalid_tenant_id", "tenant", e))?;
        let spec = TenantSpec {
            id,
            display_name: body.0.display_name,
            default_setting_server: parse_url(
                "default_setting_server",
                body.0.default_setting_server,
            )?,
            status: body.0.status.unwrap_or(Status::Active).into(),
        };
        let written = state
            .tenants
            .put(&auth.0, &change(&auth.0, &request_id), spec)
            .await?;
        Ok(match written {
            Written::Created(t) => PutTenant::Created(Json(t.into())),
            Written::Updated(t) | Written::Unchanged(t) => PutTenant::Replaced(Json(t.into())),
        })
    }

    /// Get a tenant
    ///
    /// Platform admins may read any tenant; a tenant's own keys may read it.
    #[oai(path = "/:tenant", method = "get", operation_id = "get_tenant")]
    async fn get(
        &self,
        auth: Bearer,
        state: Data<&AppState>,
        tenant: Path<String>,
    ) -> Result<Json<TenantView>, ApiError> {
        let id = tenant_id(&tenant)?;
        Ok(Json(state.tenants.get(&auth.0, &id).await?.into()))
    }

    /// List tenants
    ///
    /// Platform admins only; ordered by id.
    #[oai(path = "/", method = "get", operation_id = "list_tenants")]
    async fn list(
        &self,
        auth: Bearer,
        state: Data<&AppState>,
        /// From a previous page's `next_cursor`.
        cursor: Query<Option<String>>,
        /// Page size, 1 to 1000 (default 100).
        limit: Query<Option<u32>>,
    ) -> Result<Json<TenantPage>, ApiError> {
        let limit = page_size(limit.0);
        let after = decode_cursor(cursor.0)?
            .map(|c| tenant_id(&c))
            .transpose()?;
        let items = state.tenants.list(&auth.0, after.as_ref(), limit).await?;
        let next_cursor = next_cursor(&items, limit, |t| t.spec.id.to_string());
        Ok(Json(TenantPage {
            items: items.into_iter().map(Into::into).collect(),
            next_cursor,
        }))
    }

    /// Delete a tenant
    ///
    /// Refused with 409 `tenant_not_empty` while it has devices, unless `force=true`, which
    /// deletes its devices, profiles, keys and files with it.
    #[oai(path = "/:tenant", method = "delete", operation_id = "delete_tenant")]
    async fn delete(
        &self,
        auth: Bearer,
        state: Data<&AppState>,
        request_id: Data<&RequestId>,
        tenant: Path<String>,
        force: Query<Option<bool>>,
    ) -> Result<Deleted, ApiError> {
        let id = tenant_id(&tenant)?;
        state
            .tenants
            .delete(
                &auth.0,
                &change(&auth.0, &request_id),
                &id,
                force.0.unwrap_or(false),
            )
            .await?;
        Ok(Deleted::Deleted)
    }
}
