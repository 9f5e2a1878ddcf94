//! The registry port: tenants, profiles, devices, API keys, files and the audit trail.
//!
//! One repository trait per aggregate. Every tenant-scoped call takes the tenant first and
//! filters by it, so another tenant's row is simply not found. Every change is recorded as an
//! audit event in the same transaction as the change itself.

mod model;
mod sql;

use std::fmt::Debug;

use async_trait::async_trait;
use signpost_domain::{Mac, ProfileId, TenantId, Timestamp};

pub use model::*;
pub use sql::{SqlEngine, SqlRegistry};

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("no such tenant")]
    TenantNotFound,
    #[error("no such profile {0}")]
    ProfileNotFound(ProfileId),
    #[error("MAC {0} belongs to another tenant")]
    MacOwnedByOtherTenant(Mac),
    #[error("the tenant still has devices")]
    TenantNotEmpty,
    #[error("the profile is used by {devices} device(s)")]
    ProfileInUse { devices: i64 },
    /// `used`: the tenant's bytes without the file being replaced; `needed`: the new file's.
    #[error("the file quota of {quota} bytes is exceeded ({used} used, {needed} more needed)")]
    QuotaExceeded { used: u64, quota: u64, needed: u64 },
    #[error("the batch was refused: {} item(s) failed", .0.len())]
    BatchRefused(Vec<BatchItemError>),
    #[error("registry unavailable: {0}")]
    Unavailable(String),
    #[error("registry holds a value it cannot read: {0}")]
    Corrupt(String),
}

/// Why one item of a batch was refused (the whole batch is then refused).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchItemError {
    pub index: usize,
    pub mac: Mac,
    pub reason: BatchItemReason,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchItemReason {
    MacOwnedByOtherTenant,
    ProfileNotFound(ProfileId),
    DuplicateMac,
}

pub type RegistryResult<T> = Result<T, RegistryError>;

#[async_trait]
pub trait TenantRepo: Send + Sync + Debug {
    /// Creates the tenant or replaces its fields.
    async fn put(
        &self,
        change: &ChangeContext,
        spec: TenantSpec,
    ) -> RegistryResult<Written<Tenant>>;
    async fn get(&self, id: &TenantId) -> RegistryResult<Option<Tenant>>;
    async fn list(&self, after: Option<&TenantId>, limit: u32) -> RegistryResult<Vec<Tenant>>;
    /// Deletes the tenant; with devices left, only when `force` (which deletes everything it
    /// owns). Answers whether it existed.
    async fn delete(
        &self,
        change: &ChangeContext,
        id: &TenantId,
        force: bool,
    ) -> RegistryResult<bool>;
    /// Invalidates every hosted-file token of the tenant by bumping its epoch. Answers the
    /// new epoch, or `None` for an unknown tenant.
    async fn rotate_file_tokens(
        &self,
        change: &ChangeContext,
        id: &TenantId,
    ) -> RegistryResult<Option<u32>>;
}

#[async_trait]
pub trait ProfileRepo: Send + Sync + Debug {
    async fn put(
        &self,
        change: &ChangeContext,
        tenant: &TenantId,
        spec: ProfileSpec,
    ) -> RegistryResult<Written<Profile>>;
    async fn get(&self, tenant: &TenantId, id: &ProfileId) -> RegistryResult<Option<Profile>>;
    async fn list(
        &self,
        tenant: &TenantId,
        after: Option<&ProfileId>,
        limit: u32,
    ) -> RegistryResult<Vec<Profile>>;
    /// Refused with [`RegistryError::ProfileInUse`] while devices point at it.
    async fn delete(
        &self,
        change: &ChangeContext,
        tenant: &TenantId,
        id: &ProfileId,
    ) -> RegistryResult<bool>;
}

#[async_trait]
pub trait DeviceRepo: Send + Sync + Debug {
    /// Creates or replaces a device; a MAC registered to another tenant is refused.
    async fn put(
        &self,
        change: &ChangeContext,
        tenant: &TenantId,
        spec: DeviceSpec,
    ) -> RegistryResult<Written<Device>>;
    async fn get(&self, tenant: &TenantId, mac: Mac) -> RegistryResult<Option<Device>>;
    async fn list(
        &self,
        tenant: &TenantId,
        filter: &DeviceFilter,
        after: Option<Mac>,
        limit: u32,
    ) -> RegistryResult<Vec<Device>>;
    async fn delete(
        &self,
        change: &ChangeContext,
        tenant: &TenantId,
        mac: Mac,
    ) -> RegistryResult<bool>;
    /// Applies every operation in one transaction, or none of them.
    async fn apply_batch(
        &self,
        change: &ChangeContext,
        tenant: &TenantId,
        ops: Vec<DeviceOp>,
    ) -> RegistryResult<BatchSummary>;
    /// The effective setting server for a booting phone, in one query: the device's own URL,
    /// else its profile's, else its tenant's default. `None` when the MAC is unknown, not
    /// redirected, or its tenant is suspended.
    async fn resolve(&self, mac: Mac) -> RegistryResult<Option<Resolution>>;
    /// The owner of a MAC and the device's own redirect fields, whatever the tenant's status.
    async fn route(&self, mac: Mac) -> RegistryResult<Option<DeviceRoute>>;
    /// The routes of those of `macs` that are registered, each once, in no particular order:
    /// one query for many lookups (phones booting together are each seen for the first
    /// time).
    async fn routes(&self, macs: &[Mac]) -> RegistryResult<Vec<(Mac, DeviceRoute)>>;
    /// Records when and how phones were last seen; unknown MACs are ignored. Answers how many
    /// devices were updated.
    async fn record_sightings(&self, sightings: &[Sighting]) -> RegistryResult<u64>;
}

#[async_trait]
pub trait EventRepo: Send + Sync + Debug {
    /// A tenant's audit trail, oldest first, after the event id `after`.
    async fn list(
        &self,
        tenant: &TenantId,
        filter: &EventFilter,
        after: Option<i64>,
        limit: u32,
    ) -> RegistryResult<Vec<Event>>;
}

/// API keys. Only the secret's hash is stored; checking a secret is the service's job.
#[async_trait]
pub trait KeyRepo: Send + Sync + Debug {
    /// Refused with [`RegistryError::TenantNotFound`] when the key's tenant does not exist.
    async fn create(&self, change: &ChangeContext, key: NewApiKey) -> RegistryResult<ApiKey>;
    /// Any key, whatever its tenant: authentication looks keys up before it knows the tenant.
    async fn get(&self, id: &str) -> RegistryResult<Option<ApiKey>>;
    /// The keys of one tenant, or with `None` the platform-wide keys only; revoked keys too.
    async fn list(
        &self,
        tenant: Option<&TenantId>,
        after: Option<&str>,
        limit: u32,
    ) -> RegistryResult<Vec<ApiKey>>;
    /// Revokes a key of that tenant scope (`None`: platform-wide). Answers false when there
    /// is no such key in that scope or it was already revoked.
    async fn revoke(
        &self,
        change: &ChangeContext,
        tenant: Option<&TenantId>,
        id: &str,
    ) -> RegistryResult<bool>;
    /// Notes when the key was last used; not an audited change.
    async fn touch(&self, id: &str, at: Timestamp) -> RegistryResult<()>;
}

/// Hosted files' catalogue; their bodies live in the blob store under each row's blob key.
#[async_trait]
pub trait FileRepo: Send + Sync + Debug {
    /// Switches `path` to the new blob in one transaction: inserts or replaces the row,
    /// checks the quota (refused with [`RegistryError::QuotaExceeded`], leaving the previous
    /// row as it was) and records `file.put` when the content, type or template flag changed.
    /// Refused with [`RegistryError::TenantNotFound`] for an unknown tenant.
    async fn publish(
        &self,
        change: &ChangeContext,
        tenant: &TenantId,
        spec: FileSpec,
        quota_bytes: Option<u64>,
    ) -> RegistryResult<Published>;
    async fn get(&self, tenant: &TenantId, path: &str) -> RegistryResult<Option<FileRecord>>;
    /// The files among `paths` that exist, each once, in no particular order: one query for
    /// many lookups (phones booting together each ask for their own file).
    async fn get_many(&self, tenant: &TenantId, paths: &[&str]) -> RegistryResult<Vec<FileRecord>>;
    /// Paths starting with `prefix` (literally: no wildcards), in byte order, after `after`.
    async fn list(
        &self,
        tenant: &TenantId,
        prefix: &str,
        after: Option<&str>,
        limit: u32,
    ) -> RegistryResult<Vec<FileRecord>>;
    /// Removes the row and records `file.delete`; answers the removed record (its blob is
    /// the caller's to delete).
    async fn delete(
        &self,
        change: &ChangeContext,
        tenant: &TenantId,
        path: &str,
    ) -> RegistryResult<Option<FileRecord>>;
    /// Bytes the tenant's files take.
    async fn usage(&self, tenant: &TenantId) -> RegistryResult<u64>;
    /// Which of `blob_keys` no file row references, in the order given: for the sweep of
    /// blobs whose upload never committed.
    async fn unreferenced(&self, blob_keys: &[String]) -> RegistryResult<Vec<String>>;
}

/// Readiness and schema of the registry itself.
#[async_trait]
pub trait RegistryAdmin: Send + Sync + Debug {
    async fn migrate(&self) -> RegistryResult<()>;
    async fn check(&self) -> RegistryResult<()>;
}
