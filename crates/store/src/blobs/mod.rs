//! The blob store port: where setting and firmware file bodies live (S3 in production, a
//! local directory on embedded defaults). Keys are built by the service layer in one place;
//! here they are only checked to be safe.

mod fs;
mod key;
mod s3;

use std::fmt::Debug;
use std::pin::Pin;
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;
use futures::Stream;

pub use fs::FsBlobStore;
pub use key::{BlobKey, BlobKeyError};
pub use s3::{S3BlobStore, S3Options};

/// A body streamed in or out of the store; never held whole in memory.
pub type ByteStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

/// What `put` learned while streaming the body through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutOutcome {
    pub size: u64,
    pub sha256: [u8; 32],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobMeta {
    pub key: BlobKey,
    pub size: u64,
    pub last_modified: Option<SystemTime>,
}

/// A byte range as HTTP asks for it: `start..=end`, or from `start` to the end of the blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    pub end_inclusive: Option<u64>,
}

/// A blob (or the requested range of it) on its way out.
pub struct BlobObject {
    /// Size of the whole blob, not of the range.
    pub total_size: u64,
    /// The bytes actually sent: `first..=last` of the blob (empty blob: 0 and None).
    pub first: u64,
    pub last: Option<u64>,
    pub body: ByteStream,
}

impl Debug for BlobObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobObject")
            .field("total_size", &self.total_size)
            .field("first", &self.first)
            .field("last", &self.last)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("no such blob")]
    NotFound,
    #[error("range not satisfiable for a blob of {total_size} bytes")]
    RangeNotSatisfiable { total_size: u64 },
    #[error("reading the body failed: {0}")]
    Body(#[source] std::io::Error),
    #[error("blob store: {0}")]
    Backend(String),
}

#[async_trait]
pub trait BlobStore: Send + Sync + Debug {
    /// Stores `body` under `key`, replacing any previous blob. The previous blob stays
    /// readable until the new one is complete; a body that fails mid-way leaves it intact.
    async fn put(
        &self,
        key: &BlobKey,
        body: ByteStream,
        content_type: Option<&str>,
    ) -> Result<PutOutcome, BlobError>;

    /// Streams the blob, or the given range of it.
    async fn get(&self, key: &BlobKey, range: Option<ByteRange>) -> Result<BlobObject, BlobError>;

    async fn head(&self, key: &BlobKey) -> Result<BlobMeta, BlobError>;

    /// Deleting a blob that is not there is not an error.
    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError>;

    /// Up to `limit` blobs whose keys start with `prefix`, in key order, after `start_after`.
    async fn list(
        &self,
        prefix: &str,
        start_after: Option<&BlobKey>,
        limit: usize,
    ) -> Result<Vec<BlobMeta>, BlobError>;

    /// Readiness: the store answers.
    async fn check(&self) -> Result<(), BlobError>;
}
