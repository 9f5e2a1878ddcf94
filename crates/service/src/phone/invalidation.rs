//! Keeping every replica's caches true after a write.
//!
//! After a write commits, its entries are dropped from this process at once, deleted from
//! the shared cache, and announced on the invalidation channel, which every replica's
//! listener applies to its own memory. A replica that lost its subscription drops
//! everything when it resubscribes ([`Invalidation::Resync`]), since it may have missed
//! messages.
//!
//! Two races are closed here too. A replica that read the registry just before the commit
//! may write the old value back to the shared cache just after the delete; a second delete
//! a moment later removes it. And an invalidation that cannot reach the shared cache at all
//! is kept and retried until it does, so a stale entry cannot outlive a Redis outage.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use signpost_store::cache::Invalidation;

use super::entries::{EntryKey, LocalEntries, decode_message, encode_message};
use super::shared::SharedCache;

/// When the second delete of an invalidation runs.
const SECOND_DELETE_AFTER: Duration = Duration::from_millis(500);
/// How often invalidations that could not be delivered are retried.
const RETRY_EVERY: Duration = Duration::from_secs(1);
/// How long to wait before subscribing again when subscribing itself failed.
const RESUBSCRIBE_AFTER: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
pub struct Invalidator {
    local: Arc<LocalEntries>,
    shared: SharedCache,
    undelivered: Arc<Mutex<HashSet<EntryKey>>>,
}

impl Invalidator {
    pub fn new(local: Arc<LocalEntries>, shared: SharedCache) -> Self {
        Self {
            local,
            shared,
            undelivered: Arc::default(),
        }
    }

    /// Call after the write that changed these entries has committed.
    pub async fn invalidate(&self, keys: Vec<EntryKey>) {
        if keys.is_empty() {
            return;
        }
        for key in &keys {
            self.local.forget(key);
        }
        if !self.deliver(&keys).await {
            self.undelivered.lock().expect("poisoned").extend(keys);
            return;
        }
        let shared = self.shared.clone();
        tokio::spawn(async move {
            tokio::time::sleep(SECOND_DELETE_AFTER).await;
            let cache_keys: Vec<String> = keys.iter().map(EntryKey::cache_key).collect();
            let refs: Vec<&str> = cache_keys.iter().map(String::as_str).collect();
            shared.delete(&refs).await;
        });
    }

    /// Drops an entry from this process only: for a reader that found it stale.
    pub async fn forget_locally(&self, key: &EntryKey) {
        self.local.forget(key);
    }

    async fn deliver(&self, keys: &[EntryKey]) -> bool {
        let cache_keys: Vec<String> = keys.iter().map(EntryKey::cache_key).collect();
        let refs: Vec<&str> = cache_keys.iter().map(String::as_str).collect();
        self.shared
            .invalidate(&refs, Bytes::from(encode_message(keys)))
            .await
    }

    /// Tries the undelivered invalidations again; answers how many are still waiting.
    pub async fn retry_undelivered(&self) -> usize {
        let keys: Vec<EntryKey> = {
            let mut undelivered = self.undelivered.lock().expect("poisoned");
            undelivered.drain().collect()
        };
        if keys.is_empty() {
            return 0;
        }
        if self.deliver(&keys).await {
            tracing::info!(entries = keys.len(), "delayed invalidations delivered");
            0
        } else {
            let mut undelivered = self.undelivered.lock().expect("poisoned");
            undelivered.extend(keys);
            undelivered.len()
        }
    }

    /// Runs until the process ends: applies every replica's invalidations to this
    /// process's memory, and retries undelivered ones.
    pub fn spawn_background(&self) -> tokio::task::JoinHandle<()> {
        let listener = self.clone();
        let retrier = self.clone();
        tokio::spawn(async move {
            tokio::join!(listener.listen(), async move {
                let mut tick = tokio::time::interval(RETRY_EVERY);
                loop {
                    tick.tick().await;
                    retrier.retry_undelivered().await;
                }
            });
        })
    }

    async fn listen(&self) {
        loop {
            let mut stream = match self.shared.inner().subscribe().await {
                Ok(stream) => stream,
                Err(err) => {
                    tracing::warn!(%err, "cannot subscribe to cache invalidations");
                    self.local.forget_all();
                    tokio::time::sleep(RESUBSCRIBE_AFTER).await;
                    continue;
                }
            };
            while let Some(item) = stream.next().await {
                match item {
                    Invalidation::Message(message) => {
                        for key in decode_message(&message) {
                            self.local.forget(&key);
                        }
                    }
                    Invalidation::Resync => self.local.forget_all(),
                }
            }
        }
    }
}
