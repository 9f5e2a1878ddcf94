//! The cache port: what the phone path reads before the registry, and the channel that
//! tells every replica to forget an entry. In-process (moka) on embedded defaults, Redis
//! when replicas share it.

mod memory;
mod redis;

use std::fmt::Debug;
use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::Stream;

pub use memory::MemoryCache;
pub use redis::{RedisCache, RedisOptions};

/// What a subscriber to the invalidation channel receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalidation {
    /// A message another replica (or this one) published.
    Message(Bytes),
    /// The subscription was (re)established: messages may have been missed while it was
    /// down, so a listener should drop everything it holds.
    Resync,
}

pub type InvalidationStream = Pin<Box<dyn Stream<Item = Invalidation> + Send>>;

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cache backend: {0}")]
    Backend(String),
}

/// Keys passed in are relative: each adapter prepends its configured prefix, so several
/// deployments (or test runs) can share one Redis.
#[async_trait]
pub trait Cache: Send + Sync + Debug {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheError>;
    /// One round trip for many keys; the answer has one slot per key, in order.
    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Bytes>>, CacheError>;
    async fn set(&self, key: &str, value: Bytes, ttl: Duration) -> Result<(), CacheError>;
    async fn delete(&self, keys: &[&str]) -> Result<(), CacheError>;
    /// Sends a message on the invalidation channel to every subscriber, this process included.
    async fn publish(&self, message: Bytes) -> Result<(), CacheError>;
    /// A stream of invalidation messages that lives as long as the caller holds it and
    /// survives reconnects (announcing each with [`Invalidation::Resync`]).
    async fn subscribe(&self) -> Result<InvalidationStream, CacheError>;
    /// Readiness: the cache answers.
    async fn check(&self) -> Result<(), CacheError>;
}
