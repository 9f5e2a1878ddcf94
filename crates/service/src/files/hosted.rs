//! Serving a tenant's files to its phones, under the per-device URL the redirect handed out:
//! `/p/{tenant}/{device token}/{path}`.
//!
//! The token is the only way in: it is signed, bound to the tenant and the MAC, and dies
//! when the tenant rotates its tokens or the device leaves the tenant. A MAC-specific file (`…-{MAC}.htm`) is served only to
//! the token of that MAC. Every refusal (bad or stale token, another tenant's token, another
//! MAC's file, no such file) is the same "not found", so a prober learns nothing.

use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use moka::future::Cache as Moka;
use signpost_domain::{FilePath, Mac, TemplateVars, TenantId, expand_template, parse_user_agent};
use signpost_store::blobs::{BlobKey, BlobObject, BlobStore, ByteRange};
use signpost_store::registry::FileRepo;

use super::token::DeviceTokens;
use super::{MAX_TEMPLATE_BYTES, blob_error};
use crate::error::{ServiceError, ServiceResult};
use crate::phone::{FileEntry, FileLookups, PhoneRedirects, PublicBase};

/// Template text kept in memory, in bytes. A template's blob never changes (a new version
/// gets a new blob key), so what is kept is never stale: it only ages out.
const TEMPLATE_CACHE_BYTES: u64 = 32 << 20;

/// One phone's request for a hosted file.
#[derive(Debug, Clone, Copy)]
pub struct HostedRequest<'a> {
    pub tenant: &'a str,
    pub token: &'a str,
    pub path: &'a str,
    pub user_agent: Option<&'a str>,
    /// Where the phone reached us, for `{hosted_url}` in templates.
    pub public_base: PublicBase<'a>,
}

/// A file a phone may have. Nothing is streamed yet, so the HTTP layer can answer 304 or
/// pick a range first.
#[derive(Debug)]
pub enum HostedFile {
    /// To be streamed from the blob store with [`HostedFiles::open`].
    Stored(Arc<FileEntry>),
    /// A template, filled in for this phone; `sha256` is of the rendered bytes.
    Rendered {
        file: Arc<FileEntry>,
        body: Bytes,
        sha256: [u8; 32],
    },
}

/// Where [`HostedFiles::find`] reads the catalogue from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Catalogue {
    /// Through the caches, as every request does.
    Cached,
    /// From the registry, for a second look after the cached version's blob was gone (it
    /// was replaced, and this replica had not heard yet).
    Fresh,
}

#[derive(Debug, Clone)]
pub struct HostedFiles {
    phone: PhoneRedirects,
    repo: Arc<dyn FileRepo>,
    /// The same catalogue, with lookups batched.
    catalogue: FileLookups,
    blobs: Arc<dyn BlobStore>,
    tokens: DeviceTokens,
    /// Template text by blob key.
    templates: Moka<String, Arc<str>>,
}

impl HostedFiles {
    pub fn new(
        phone: PhoneRedirects,
        repo: Arc<dyn FileRepo>,
        blobs: Arc<dyn BlobStore>,
        tokens: DeviceTokens,
    ) -> Self {
        Self {
            phone,
            catalogue: FileLookups::new(repo.clone()),
            repo,
            blobs,
            tokens,
            templates: Moka::builder()
                .max_capacity(TEMPLATE_CACHE_BYTES)
                .weigher(|key: &String, text: &Arc<str>| {
                    u32::try_from(key.len() + text.len()).unwrap_or(u32::MAX)
                })
                .build(),
        }
    }

    /// The MAC a token stands for, if it is genuine and current for an active tenant.
    async fn device(&self, tenant: &TenantId, token: &str) -> ServiceResult<Mac> {
        let entry = self.phone.tenant_entry(tenant).await?;
        let entry = entry.filter(|t| t.active).ok_or(ServiceError::NotFound)?;
        let mac = self
            .tokens
            .verify(tenant, token, entry.file_token_epoch)
            .ok_or(ServiceError::NotFound)?;
        // A token outlives nothing: once the device is deleted or moves to another tenant,
        // its URL stops working.
        if !self.phone.device_is_in(mac, tenant).await? {
            return Err(ServiceError::NotFound);
        }
        Ok(mac)
    }

    /// `NotFound` for every kind of refusal.
    pub async fn find(
        &self,
        request: HostedRequest<'_>,
        catalogue: Catalogue,
    ) -> ServiceResult<HostedFile> {
        let tenant: TenantId = request.tenant.parse().map_err(|_| ServiceError::NotFound)?;
        let path: FilePath = request.path.parse().map_err(|_| ServiceError::NotFound)?;
        let mac = self.device(&tenant, request.token).await?;
        if !path.is_for(mac) {
            return Err(ServiceError::NotFound);
        }
        let file = self.file(&tenant, &path, catalogue).await?;
        if !file.template {
            return Ok(HostedFile::Stored(file));
        }
        let text = self.template_text(&file).await?;
        let agent = request.user_agent.and_then(parse_user_agent);
        let hosted_url = format!("{}/p/{}/{}/", request.public_base, tenant, request.token);
        let vars = TemplateVars {
            hosted_url: Some(&hosted_url),
            mac,
            phone_type: agent.as_ref().map(|a| a.phone_type.as_str()),
            firmware_version: agent
                .as_ref()
                .and_then(|a| a.firmware_version.as_ref())
                .map(|v| v.as_str()),
        };
        let body = Bytes::from(expand_template(&text, &vars));
        let sha256 = sha256(&body);
        Ok(HostedFile::Rendered { file, body, sha256 })
    }

    async fn file(
        &self,
        tenant: &TenantId,
        path: &FilePath,
        catalogue: Catalogue,
    ) -> ServiceResult<Arc<FileEntry>> {
        let entry = match catalogue {
            Catalogue::Cached => self.phone.file_entry(tenant, path, &self.catalogue).await?,
            Catalogue::Fresh => {
                self.phone.forget_file(tenant, path).await;
                let file = self.repo.get(tenant, path.as_str()).await?;
                file.map(|f| Arc::new(FileEntry::from(f)))
            }
        };
        entry.ok_or(ServiceError::NotFound)
    }

    /// A template's text, read from the blob store once per version. Phones booting
    /// together share one read.
    async fn template_text(&self, file: &FileEntry) -> ServiceResult<Arc<str>> {
        self.templates
            .try_get_with_by_ref(&file.blob_key, async {
                let bytes = read_bounded(self.open(file, None).await?).await?;
                Ok::<_, ServiceError>(Arc::from(String::from_utf8_lossy(&bytes)))
            })
            .await
            .map_err(|err: Arc<ServiceError>| shared_load_error(&err))
    }
}

impl HostedFiles {
    /// Streams a stored file found by [`HostedFiles::find`], or the range of it asked for.
    pub async fn open(
        &self,
        file: &FileEntry,
        range: Option<ByteRange>,
    ) -> ServiceResult<BlobObject> {
        let key = BlobKey::new(file.blob_key.as_str())
            .map_err(|e| ServiceError::Unavailable(format!("corrupt blob key: {e}")))?;
        self.blobs.get(&key, range).await.map_err(blob_error)
    }
}

/// A load shared by several requests fails for each of them alike.
fn shared_load_error(err: &ServiceError) -> ServiceError {
    match err {
        // The version's blob was replaced: the caller looks again.
        ServiceError::NotFound => ServiceError::NotFound,
        ServiceError::BodyInterrupted(reason) => ServiceError::BodyInterrupted(reason.clone()),
        ServiceError::Unavailable(reason) => ServiceError::Unavailable(reason.clone()),
        other => ServiceError::Unavailable(other.to_string()),
    }
}

async fn read_bounded(object: BlobObject) -> ServiceResult<Vec<u8>> {
    if object.total_size > MAX_TEMPLATE_BYTES {
        return Err(ServiceError::Unavailable(
            "template larger than allowed".into(),
        ));
    }
    let mut out = Vec::with_capacity(usize::try_from(object.total_size).unwrap_or(0));
    let mut body = object.body;
    while let Some(chunk) = body
        .try_next()
        .await
        .map_err(|e| ServiceError::BodyInterrupted(e.to_string()))?
    {
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}
