use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::Example;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi, Tags};
use signpost_domain::Role;
use signpost_store::registry::ApiKey;

use super::tenants::{Deleted, tenant_id};
use super::{Bearer, change, decode_cursor, next_cursor, page_size};
use crate::AppState;
use crate::problem::ApiError;
use crate::request_log::RequestId;

#[derive(Tags)]
enum Tag {
    /// A tenant's API keys. Platform-wide keys are made with `signpost keys create`.
    Keys,
}

pub struct KeysApi;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "kebab-case")]
pub enum TenantRole {
    TenantAdmin,
    TenantReader,
}

#[derive(Debug, Object)]
#[oai(deny_unknown_fields, example)]
pub struct KeyBody {
    pub role: TenantRole,
    /// What the key is for, e.g. `terraform` or `pbx-sync`.
    #[oai(validator(max_length = 200))]
    pub description: Option<String>,
}

impl Example for KeyBody {
    fn example() -> Self {
        Self {
            role: TenantRole::TenantAdmin,
            description: Some("terraform".into()),
        }
    }
}

#[derive(Debug, Object)]
pub struct KeyView {
    pub id: String,
    pub role: String,
    pub description: Option<String>,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

impl From<ApiKey> for KeyView {
    fn from(k: ApiKey) -> Self {
        Self {
            id: k.id,
            role: k.role.as_str().to_owned(),
            description: k.description,
            created_at: k.created_at.to_rfc3339(),
            last_used_at: k.last_used_at.map(|t| t.to_rfc3339()),
            revoked_at: k.revoked_at.map(|t| t.to_rfc3339()),
        }
    }
}

/// A new key: the only time its secret is shown.
#[derive(Debug, Object)]
pub struct CreatedKey {
    #[oai(flatten)]
    pub key: KeyView,
    /// Shown once; only a hash is stored.
    pub secret: String,
}

#[derive(Debug, ApiResponse)]
pub enum CreateKey {
    #[oai(status = 201)]
    Created(Json<CreatedKey>),
}

#[derive(Debug, Object)]
pub struct KeyPage {
    pub items: Vec<KeyView>,
    pub next_cursor: Option<String>,
}

#[OpenApi(prefix_path = "/v1/tenants", tag = "Tag::Keys")]
impl KeysApi {
    /// Create an API key for the tenant
    ///
    /// Tenant admins create keys for their own tenant, platform admins for any. The answer
    /// holds the secret; it cannot be read again.
    #[oai(path = "/:tenant/keys", method = "post", operation_id = "create_key")]
    async fn create(
        &self,
        auth: Bearer,
        state: Data<&AppState>,
        request_id: Data<&RequestId>,
        tenant: Path<String>,
        body: Json<KeyBody>,
    ) -> Result<CreateKey, ApiError> {
        let tenant = tenant_id(&tenant)?;
        let role = match body.0.role {
            TenantRole::TenantAdmin => Role::TenantAdmin,
            TenantRole::TenantReader => Role::TenantReader,
        };
        let (key, material) = state
            .keys
            .create(
                &auth.0,
                &change(&auth.0, &request_id),
                &tenant,
                role,
                body.0.description,
            )
            .await?;
        Ok(CreateKey::Created(Json(CreatedKey {
            key: key.into(),
            secret: material.secret,
        })))
    }

    /// List the tenant's API keys
    ///
    /// Secrets are never listed; revoked keys are, with `revoked_at`.
    #[oai(path = "/:tenant/keys", method = "get", operation_id = "list_keys")]
    async fn list(
        &self,
        auth: Bearer,
        state: Data<&AppState>,
        tenant: Path<String>,
        cursor: Query<Option<String>>,
        limit: Query<Option<u32>>,
    ) -> Result<Json<KeyPage>, ApiError> {
        let tenant = tenant_id(&tenant)?;
        let limit = page_size(limit.0);
        let after = decode_cursor(cursor.0)?;
        let items = state
            .keys
            .list(&auth.0, &tenant, after.as_deref(), limit)
            .await?;
        let next_cursor = next_cursor(&items, limit, |k| k.id.clone());
        Ok(Json(KeyPage {
            items: items.into_iter().map(Into::into).collect(),
            next_cursor,
        }))
    }

    /// Revoke an API key
    ///
    /// Its tokens stop working at once.
    #[oai(
        path = "/:tenant/keys/:key",
        method = "delete",
        operation_id = "revoke_key"
    )]
    async fn revoke(
        &self,
        auth: Bearer,
        state: Data<&AppState>,
        request_id: Data<&RequestId>,
        tenant: Path<String>,
        key: Path<String>,
    ) -> Result<Deleted, ApiError> {
        let tenant = tenant_id(&tenant)?;
        state
            .keys
            .revoke(&auth.0, &change(&auth.0, &request_id), &tenant, &key)
            .await?;
        Ok(Deleted::Deleted)
    }
}
