use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};
use signpost_domain::ProfileId;
use signpost_store::registry::{ProfileSpec, Written};

use super::tenants::{Deleted, tenant_id};
use super::views::{ProfileBody, ProfileView, parse_settings};
use super::{Bearer, change, decode_cursor, next_cursor, page_size};
use crate::AppState;
use crate::problem::ApiError;
use crate::request_log::RequestId;

#[derive(Tags)]
enum Tag {
    /// Profiles: a setting server URL template shared by many devices, so re-pointing a fleet
    /// is one write.
    Profiles,
}

pub struct ProfilesApi;

#[derive(Debug, ApiResponse)]
pub enum PutProfile {
    #[oai(status = 201)]
    Created(Json<ProfileView>),
    #[oai(status = 200)]
    Replaced(Json<ProfileView>),
}

#[derive(Debug, Object)]
pub struct ProfilePage {
    pub items: Vec<ProfileView>,
    pub next_cursor: Option<String>,
}

fn profile_id(id: &str) -> Result<ProfileId, ApiError> {
    id.parse().map_err(|_| ApiError::not_found())
}

#[OpenApi(prefix_path = "/v1/tenants", tag = "Tag::Profiles")]
impl ProfilesApi {
    /// Create or replace a profile
    ///
    /// Changing the URL changes what every device of the profile is told, atomically.
    #[oai(
        path = "/:tenant/profiles/:profile",
        method = "put",
        operation_id = "put_profile"
    )]
    async fn put(
        &self,
        auth: Bearer,
        state: Data<&AppState>,
        request_id: Data<&RequestId>,
        tenant: Path<String>,
        /// Profile id: lower-case letters, digits and `-`, 1 to 63 characters.
        profile: Path<String>,
        body: Json<ProfileBody>,
    ) -> Result<PutProfile, ApiError> {
        let tenant = tenant_id(&tenant)?;
        let spec = ProfileSpec {
            id: profile
                .0
                .parse()
                .map_err(|e| ApiError::invalid("invalid_profile_id", "profile", e))?,
            setting_server: body
                .0
                .setting_server
                .parse()
                .map_err(|e| ApiError::invalid("invalid_url", "setting_server", e))?,
            extra_settings: parse_settings(body.0.extra_settings)?,
        };
        let written = state
            .profiles
            .put(&auth.0, &change(&auth.0, &request_id), &tenant, spec)
            .await?;
        Ok(match written {
            Written::Created(p) => PutProfile::Created(Json(p.into())),
            Written::Updated(p) | Written::Unchanged(p) => PutProfile::Replaced(Json(p.into())),
        })
    }

    /// Get a profile
    ///
    /// Another tenant's profile answers 404.
    #[oai(
        path = "/:tenant/profiles/:profile",
        method = "get",
        operation_id = "get_profile"
    )]
    async fn get(
        &self,
        auth: Bearer,
        state: Data<&AppState>,
        tenant: Path<String>,
        profile: Path<String>,
    ) -> Result<Json<ProfileView>, ApiError> {
        let (tenant, profile) = (tenant_id(&tenant)?, profile_id(&profile)?);
        Ok(Json(
            state.profiles.get(&auth.0, &tenant, &profile).await?.into(),
        ))
    }

    /// List profiles
    ///
    /// Ordered by id, with cursor pagination.
    #[oai(
        path = "/:tenant/profiles",
        method = "get",
        operation_id = "list_profiles"
    )]
    async fn list(
        &self,
        auth: Bearer,
        state: Data<&AppState>,
        tenant: Path<String>,
        cursor: Query<Option<String>>,
        limit: Query<Option<u32>>,
    ) -> Result<Json<ProfilePage>, ApiError> {
        let tenant = tenant_id(&tenant)?;
        let limit = page_size(limit.0);
        let after = decode_cursor(cursor.0)?
            .map(|c| profile_id(&c))
            .transpose()?;
        let items = state
            .profiles
            .list(&auth.0, &tenant, after.as_ref(), limit)
            .await?;
        let next_cursor = next_cursor(&items, limit, |p| p.spec.id.to_string());
        Ok(Json(ProfilePage {
            items: items.into_iter().map(Into::into).collect(),
            next_cursor,
        }))
    }

    /// Delete a profile
    ///
    /// Refused with 409 `profile_in_use` while devices use it.
    #[oai(
        path = "/:tenant/profiles/:profile",
        method = "delete",
        operation_id = "delete_profile"
    )]
    async fn delete(
        &self,
        auth: Bearer,
        state: Data<&AppState>,
        request_id: Data<&RequestId>,
        tenant: Path<String>,
        profile: Path<String>,
    ) -> Result<Deleted, ApiError> {
        let (tenant, profile) = (tenant_id(&tenant)?, profile_id(&profile)?);
        state
            .profiles
            .delete(&auth.0, &change(&auth.0, &request_id), &tenant, &profile)
            .await?;
        Ok(Deleted::Deleted)
    }
}
