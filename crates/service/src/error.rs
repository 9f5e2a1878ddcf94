//! What a use case can answer besides success. The API maps each variant to one HTTP status
//! and one stable code.

use signpost_domain::{Mac, ProfileId};
use signpost_store::registry::{BatchItemError, RegistryError};

use crate::auth::Denied;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The resource does not exist, or belongs to a tenant the caller may not see.
    #[error("not found")]
    NotFound,
    /// The caller may see the resource but its role may not do this.
    #[error("the key's role does not allow this")]
    Forbidden,
    #[error("the tenant still has devices")]
    TenantNotEmpty,
    #[error("the profile is used by {devices} device(s)")]
    ProfileInUse { devices: i64 },
    #[error("MAC {0} is registered to another tenant")]
    MacOwnedByOtherTenant(Mac),
    #[error("no profile {0} in this tenant")]
    UnknownProfile(ProfileId),
    #[error("the batch was refused")]
    BatchRefused(Vec<BatchItemError>),
    /// The tenant's files would take more than its quota.
    #[error("the file quota of {quota} bytes is exceeded ({used} used)")]
    QuotaExceeded { used: u64, quota: u64 },
    #[error("a file may be at most {max} bytes")]
    FileTooLarge { max: u64 },
    #[error("a template must be UTF-8 text")]
    TemplateNotUtf8,
    #[error("the range lies outside the {total_size}-byte file")]
    RangeNotSatisfiable { total_size: u64 },
    /// The request body broke off, or a stored body could not be read to the end.
    #[error("the body was interrupted: {0}")]
    BodyInterrupted(String),
    #[error("the registry is unavailable")]
    Unavailable(String),
    /// Key management refused (e.g. a role that needs no tenant).
    #[error(transparent)]
    Auth(#[from] crate::auth::AuthError),
}

pub type ServiceResult<T> = Result<T, ServiceError>;

impl From<RegistryError> for ServiceError {
    fn from(e: RegistryError) -> Self {
        match e {
            RegistryError::TenantNotFound => ServiceError::NotFound,
            RegistryError::ProfileNotFound(profile) => ServiceError::UnknownProfile(profile),
            RegistryError::MacOwnedByOtherTenant(mac) => ServiceError::MacOwnedByOtherTenant(mac),
            RegistryError::TenantNotEmpty => ServiceError::TenantNotEmpty,
            RegistryError::ProfileInUse { devices } => ServiceError::ProfileInUse { devices },
            RegistryError::BatchRefused(items) => ServiceError::BatchRefused(items),
            RegistryError::QuotaExceeded { used, quota, .. } => {
                ServiceError::QuotaExceeded { used, quota }
            }
            RegistryError::Unavailable(reason) | RegistryError::Corrupt(reason) => {
                ServiceError::Unavailable(reason)
            }
        }
    }
}

impl From<Denied> for ServiceError {
    fn from(denied: Denied) -> Self {
        match denied {
            Denied::NotFound => ServiceError::NotFound,
            Denied::Forbidden => ServiceError::Forbidden,
        }
    }
}

/// A tenant-scoped list of a tenant that does not exist is a 404, as a read of the tenant is
/// (an empty page would suggest the tenant is there).
pub(crate) async fn require_tenant(
    tenants: &dyn signpost_store::registry::TenantRepo,
    tenant: &signpost_domain::TenantId,
) -> ServiceResult<()> {
    match tenants.get(tenant).await? {
        Some(_) => Ok(()),
        None => Err(ServiceError::NotFound),
    }
}
