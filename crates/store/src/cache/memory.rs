//! The in-process cache: moka for the entries, a tokio broadcast channel for invalidations.
//! Each `MemoryCache` is its own "process": clones share entries and messages, separate
//! instances share nothing.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use futures::{StreamExt, stream};
use moka::Expiry;
use moka::future::Cache as MokaCache;
use tokio::sync::broadcast;

use super::{Cache, CacheError, Invalidation, InvalidationStream};

/// How many invalidations a subscriber may fall behind before it is told to resync.
const INVALIDATION_BACKLOG: usize = 1024;

#[derive(Clone)]
pub struct MemoryCache {
    inner: Arc<Inner>,
}

struct Inner {
    prefix: String,
    entries: MokaCache<String, Entry>,
    invalidations: broadcast::Sender<Bytes>,
}

#[derive(Clone)]
struct Entry {
    value: Bytes,
    ttl: Duration,
}

/// Every entry lives exactly as long as the TTL it was last set with; reads do not extend it.
struct PerEntryTtl;

impl Expiry<String, Entry> for PerEntryTtl {
    fn expire_after_create(&self, _key: &String, entry: &Entry, _at: Instant) -> Option<Duration> {
        Some(entry.ttl)
    }

    fn expire_after_update(
        &self,
        _key: &String,
        entry: &Entry,
        _at: Instant,
        _remaining: Option<Duration>,
    ) -> Option<Duration> {
        Some(entry.ttl)
    }
}

impl MemoryCache {
    pub fn new(prefix: impl Into<String>, max_entries: u64) -> Self {
        let entries = MokaCache::builder()
            .max_capacity(max_entries)
            .expire_after(PerEntryTtl)
            .build();
        let (invalidations, _) = broadcast::channel(INVALIDATION_BACKLOG);
        Self {
            inner: Arc::new(Inner {
                prefix: prefix.into(),
                entries,
                invalidations,
            }),
        }
    }

    fn full_key(&self, key: &str) -> String {
        format!("{}{key}", self.inner.prefix)
    }
}

impl fmt::Debug for MemoryCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryCache")
            .field("prefix", &self.inner.prefix)
            .field("entries", &self.inner.entries.entry_count())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Cache for MemoryCache {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheError> {
        let entry = self.inner.entries.get(&self.full_key(key)).await;
        Ok(entry.map(|entry| entry.value))
    }

    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Bytes>>, CacheError> {
        let mut values = Vec::with_capacity(keys.len());
        for key in keys {
            values.push(self.get(key).await?);
        }
        Ok(values)
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Duration) -> Result<(), CacheError> {
        let entry = Entry { value, ttl };
        self.inner.entries.insert(self.full_key(key), entry).await;
        Ok(())
    }

    async fn delete(&self, keys: &[&str]) -> Result<(), CacheError> {
        for key in keys {
            self.inner.entries.invalidate(&self.full_key(key)).await;
        }
        Ok(())
    }

    async fn publish(&self, message: Bytes) -> Result<(), CacheError> {
        // An error only means nobody is subscribed, which is not a failure to publish.
        let _ = self.inner.invalidations.send(message);
        Ok(())
    }

    async fn subscribe(&self) -> Result<InvalidationStream, CacheError> {
        let receiver = self.inner.invalidations.subscribe();
        let messages = stream::unfold(receiver, |mut receiver| async move {
            let item = match receiver.recv().await {
                Ok(message) => Invalidation::Message(message),
                // Messages were dropped for this subscriber: it must forget everything.
                Err(broadcast::error::RecvError::Lagged(_)) => Invalidation::Resync,
                Err(broadcast::error::RecvError::Closed) => return None,
            };
            Some((item, receiver))
        });
        Ok(stream::once(async { Invalidation::Resync })
            .chain(messages)
            .boxed())
    }

    async fn check(&self) -> Result<(), CacheError> {
        Ok(())
    }
}
