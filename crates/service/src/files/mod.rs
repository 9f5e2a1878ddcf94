//! Hosted files: each tenant's setting and firmware files, catalogued in the registry and
//! stored in the blob store, managed over `/v1` and served to the tenant's phones.
//!
//! Publishing is atomic: the body is written under a fresh blob key first, then the
//! registry row is switched to it in one transaction. A reader sees the old file or the new
//! one, never a mix; an upload that fails or is cut off leaves the old version in place; the
//! replaced blob is deleted after the switch, and the sweep removes blobs whose upload never
//! committed.

mod hosted;
mod limited;
mod token;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use signpost_domain::{FilePath, TenantId};
use signpost_store::blobs::{BlobKey, BlobObject, BlobStore, ByteRange, ByteStream};
use signpost_store::registry::{
    ChangeContext, FileRecord, FileRepo, FileSpec, Published, TenantRepo,
};

use crate::auth::AuthCtx;
use crate::error::{ServiceError, ServiceResult};
use crate::phone::{EntryKey, Invalidator};

pub use hosted::{Catalogue, HostedFile, HostedFiles, HostedRequest};
pub use token::DeviceTokens;

/// Template files are read whole to fill in their placeholders, so they are kept small.
pub const MAX_TEMPLATE_BYTES: u64 = 1024 * 1024;
/// Blobs younger than this are never swept: their upload may still be about to commit.
const SWEEP_GRACE: Duration = Duration::from_secs(3600);
/// Blobs examined per page while sweeping. The local store reads a tenant's whole directory
/// for each page, so pages are large (S3 serves one in requests of 1,000); the registry
/// check is chunked below it.
const SWEEP_PAGE: usize = 5_000;

/// How large files may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileLimits {
    /// The largest single file.
    pub max_file_bytes: u64,
    /// The most bytes one tenant's files may take; `None` for no limit.
    pub quota_bytes: Option<u64>,
}

/// What an upload carries besides its body.
#[derive(Debug, Clone)]
pub struct Upload {
    pub path: FilePath,
    /// From the request; inferred from the file name when absent.
    pub content_type: Option<String>,
    /// `{mac}`, `{phone_type}` and `{firmware_version}` are filled in when served.
    pub template: bool,
    /// The size the request announced, if any: lets a doomed upload fail before streaming.
    pub declared_size: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct Files {
    repo: Arc<dyn FileRepo>,
    tenants: Arc<dyn TenantRepo>,
    blobs: Arc<dyn BlobStore>,
    limits: FileLimits,
    /// Phones are served files through the catalogue cache, which every change must reach.
    invalidator: Invalidator,
}

/// The one place blob keys for files are made: a fresh key per upload, never derived from
/// the path, so a replacement never overwrites the blob a reader may be streaming.
fn fresh_blob_key(tenant: &TenantId) -> BlobKey {
    BlobKey::new(format!("files/{tenant}/{}", uuid::Uuid::new_v4().simple()))
        .expect("tenant slugs and uuids are valid key segments")
}

fn stored_key(key: &str) -> ServiceResult<BlobKey> {
    BlobKey::new(key).map_err(|e| ServiceError::Unavailable(format!("corrupt blob key: {e}")))
}

impl Files {
    pub fn new(
        repo: Arc<dyn FileRepo>,
        tenants: Arc<dyn TenantRepo>,
        blobs: Arc<dyn BlobStore>,
        limits: FileLimits,
        invalidator: Invalidator,
    ) -> Self {
        Self {
            repo,
            tenants,
            blobs,
            limits,
            invalidator,
        }
    }

    /// Called after a change to `path` commits, before its old blob is deleted: a replica
    /// that still serves the old version from its cache then finds it gone only briefly, and
    /// looks again in the registry.
    async fn changed(&self, tenant: &TenantId, path: &str) {
        if let Ok(path) = path.parse::<FilePath>() {
            self.invalidator
                .invalidate(vec![EntryKey::File(tenant.clone(), path)])
                .await;
        }
    }

    pub fn limits(&self) -> FileLimits {
        self.limits
    }

    fn max_size(&self, template: bool) -> u64 {
        if template {
            self.limits.max_file_bytes.min(MAX_TEMPLATE_BYTES)
        } else {
            self.limits.max_file_bytes
        }
    }

    /// Streams `body` into the blob store and publishes it under `upload.path`.
    pub async fn upload(
        &self,
        auth: &AuthCtx,
        change: &ChangeContext,
        tenant: &TenantId,
        upload: Upload,
        body: ByteStream,
    ) -> ServiceResult<Published> {
        auth.write(tenant)?;
        if self.tenants.get(tenant).await?.is_none() {
            return Err(ServiceError::NotFound);
        }
        let max = self.max_size(upload.template);
        if let Some(declared) = upload.declared_size {
            if declared > max {
                return Err(ServiceError::FileTooLarge { max });
            }
            if let Some(quota) = self.limits.quota_bytes {
                // An early answer only: the check that counts is inside `publish`.
                let used = self.repo.usage(tenant).await?;
                let replaced = self
                    .repo
                    .get(tenant, upload.path.as_str())
                    .await?
                    .map_or(0, |f| f.size);
                if used - replaced.min(used) + declared > quota {
                    return Err(ServiceError::QuotaExceeded { used, quota });
                }
            }
        }
        let content_type = upload
            .content_type
            .unwrap_or_else(|| upload.path.content_type().to_owned());
        let key = fresh_blob_key(tenant);
        let (body, overflow) = limited::limit(body, max);
        // Templates are small (at most MAX_TEMPLATE_BYTES) and are text the phone gets with
        // placeholders filled in: they are checked to be UTF-8 before anything is stored.
        let body = if upload.template {
            match limited::utf8_text(body).await {
                Ok(text) => text,
                Err(_) if overflow.exceeded() => return Err(ServiceError::FileTooLarge { max }),
                Err(err) => return Err(err),
            }
        } else {
            body
        };
        let stored = match self.blobs.put(&key, body, Some(&content_type)).await {
            Ok(stored) => stored,
            Err(_) if overflow.exceeded() => return Err(ServiceError::FileTooLarge { max }),
            Err(err) => return Err(blob_error(err)),
        };
        let spec = FileSpec {
            path: upload.path.as_str().to_owned(),
            size: stored.size,
            sha256: stored.sha256,
            content_type,
            blob_key: key.as_str().to_owned(),
            template: upload.template,
        };
        let published = match self
            .repo
            .publish(change, tenant, spec, self.limits.quota_bytes)
            .await
        {
            Ok(published) => published,
            Err(err) => {
                // Nothing refers to the new blob: remove it now rather than leave it to the sweep.
                if let Err(e) = self.blobs.delete(&key).await {
                    tracing::warn!(%e, key = %key, "cannot delete an unpublished blob; the sweep will");
                }
                return Err(err.into());
            }
        };
        self.changed(tenant, &published.file.path).await;
        if let Some(replaced) = &published.replaced_blob {
            self.delete_blob(replaced).await;
        }
        Ok(published)
    }

    async fn delete_blob(&self, key: &str) {
        let Ok(key) = BlobKey::new(key) else { return };
        if let Err(e) = self.blobs.delete(&key).await {
            tracing::warn!(%e, key = %key, "cannot delete a replaced blob; the sweep will");
        }
    }

    pub async fn get(
        &self,
        auth: &AuthCtx,
        tenant: &TenantId,
        path: &FilePath,
    ) -> ServiceResult<FileRecord> {
        auth.read(tenant)?;
        self.repo
            .get(tenant, path.as_str())
            .await?
            .ok_or(ServiceError::NotFound)
    }

    /// The body (or the range of it asked for) of the version `file` describes, as
    /// [`Files::get`] answered it: validators and bytes then always belong to one version.
    /// `NotFound` when that version was replaced meanwhile (its blob is gone).
    pub async fn open(
        &self,
        file: &FileRecord,
        range: Option<ByteRange>,
    ) -> ServiceResult<BlobObject> {
        self.blobs
            .get(&stored_key(&file.blob_key)?, range)
            .await
            .map_err(blob_error)
    }

    pub async fn list(
        &self,
        auth: &AuthCtx,
        tenant: &TenantId,
        prefix: &str,
        after: Option<&str>,
        limit: u32,
    ) -> ServiceResult<Vec<FileRecord>> {
        auth.read(tenant)?;
        if self.tenants.get(tenant).await?.is_none() {
            return Err(ServiceError::NotFound);
        }
        Ok(self.repo.list(tenant, prefix, after, limit).await?)
    }

    pub async fn delete(
        &self,
        auth: &AuthCtx,
        change: &ChangeContext,
        tenant: &TenantId,
        path: &FilePath,
    ) -> ServiceResult<()> {
        auth.write(tenant)?;
        let removed = self
            .repo
            .delete(change, tenant, path.as_str())
            .await?
            .ok_or(ServiceError::NotFound)?;
        self.changed(tenant, path.as_str()).await;
        self.delete_blob(&removed.blob_key).await;
        Ok(())
    }

    /// Deletes blobs that no file refers to and that are older than the grace period:
    /// uploads that never committed, and replaced blobs whose delete failed. Answers how
    /// many were deleted.
    pub async fn sweep(&self) -> ServiceResult<usize> {
        let cutoff = SystemTime::now() - SWEEP_GRACE;
        let mut after: Option<BlobKey> = None;
        let mut deleted = 0;
        loop {
            let page = self
                .blobs
                .list("files/", after.as_ref(), SWEEP_PAGE)
                .await
                .map_err(blob_error)?;
            let Some(last) = page.last() else { break };
            after = Some(last.key.clone());
            let old: Vec<String> = page
                .iter()
                .filter(|b| b.last_modified.is_some_and(|t| t < cutoff))
                .map(|b| b.key.as_str().to_owned())
                .collect();
            for key in self.repo.unreferenced(&old).await? {
                if let Ok(key) = BlobKey::new(key)
                    && self.blobs.delete(&key).await.is_ok()
                {
                    deleted += 1;
                }
            }
            if page.len() < SWEEP_PAGE {
                break;
            }
        }
        Ok(deleted)
    }

    /// Sweeps every `interval` for as long as the process runs, the first time `first_after`
    /// the start: a replica that restarts into a boot storm should not spend it listing
    /// every blob.
    pub fn spawn_sweeper(
        &self,
        first_after: Duration,
        interval: Duration,
    ) -> tokio::task::JoinHandle<()> {
        let files = self.clone();
        tokio::spawn(async move {
            let first = tokio::time::Instant::now() + first_after;
            let mut tick = tokio::time::interval_at(first, interval);
            loop {
                tick.tick().await;
                match files.sweep().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(blobs = n, "swept blobs no file refers to"),
                    Err(err) => tracing::warn!(%err, "blob sweep failed"),
                }
            }
        })
    }
}

pub(crate) fn blob_error(err: signpost_store::blobs::BlobError) -> ServiceError {
    use signpost_store::blobs::BlobError;
    match err {
        BlobError::NotFound => ServiceError::NotFound,
        BlobError::RangeNotSatisfiable { total_size } => {
            ServiceError::RangeNotSatisfiable { total_size }
        }
        BlobError::Body(e) => ServiceError::BodyInterrupted(e.to_string()),
        BlobError::Backend(e) => ServiceError::Unavailable(e),
    }
}
