//! Catalogue lookups of hosted files, batched.
//!
//! In a boot storm every phone asks for its own settings file (`{type}-{MAC}.htm`), so each
//! is a catalogue lookup that no cache can answer. One query per file made the database's
//! fixed cost per statement (a round trip, a wake-up of its backend) the largest part of a
//! boot. Here lookups that arrive while others are being fetched wait for the fetch to end
//! and then go together, one query per tenant. Nothing waits on purpose: a lone lookup goes
//! out at once, and the busier the catalogue, the larger the batches.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use futures::future::join_all;
use signpost_domain::{FilePath, TenantId};
use signpost_store::registry::{FileRecord, FileRepo, RegistryError, RegistryResult};
use tokio::sync::oneshot;

/// Paths per query at most; more wait for the next round.
const MAX_BATCH: usize = 256;

type Answer = RegistryResult<Option<FileRecord>>;

struct Pending {
    tenant: TenantId,
    path: FilePath,
    reply: oneshot::Sender<Answer>,
}

#[derive(Default)]
struct Queue {
    pending: Vec<Pending>,
    /// A task is fetching; it takes what is pending when its round ends.
    fetching: bool,
}

#[derive(Clone)]
pub struct FileLookups {
    repo: Arc<dyn FileRepo>,
    queue: Arc<Mutex<Queue>>,
}

impl fmt::Debug for FileLookups {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileLookups").finish_non_exhaustive()
    }
}

impl FileLookups {
    pub fn new(repo: Arc<dyn FileRepo>) -> Self {
        Self {
            repo,
            queue: Arc::default(),
        }
    }

    /// The catalogue row of `path`, fetched together with the lookups around it.
    pub async fn get(&self, tenant: &TenantId, path: &FilePath) -> Answer {
        let (reply, answer) = oneshot::channel();
        let start = {
            let mut queue = self.lock();
            queue.pending.push(Pending {
                tenant: tenant.clone(),
                path: path.clone(),
                reply,
            });
            !std::mem::replace(&mut queue.fetching, true)
        };
        if start {
            // Its own task: the fetch goes on for the others should this request be dropped.
            let lookups = self.clone();
            tokio::spawn(async move { lookups.fetch_until_idle().await });
        }
        answer.await.unwrap_or_else(|_| {
            Err(RegistryError::Unavailable(
                "the catalogue lookup was abandoned".into(),
            ))
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        // A queue is a list and a flag, each changed in one step: still good after a panic.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Rounds of fetching until nothing is pending.
    async fn fetch_until_idle(&self) {
        let mut unwinding = Unwinding(Some(self));
        loop {
            let round = {
                let mut queue = self.lock();
                if queue.pending.is_empty() {
                    queue.fetching = false;
                    unwinding.0 = None;
                    return;
                }
                let take = queue.pending.len().min(MAX_BATCH);
                queue.pending.drain(..take).collect::<Vec<_>>()
            };
            let mut by_tenant: HashMap<TenantId, Vec<Pending>> = HashMap::new();
            for pending in round {
                by_tenant
                    .entry(pending.tenant.clone())
                    .or_default()
                    .push(pending);
            }
            join_all(
                by_tenant
                    .into_iter()
                    .map(|(tenant, pending)| self.fetch(tenant, pending)),
            )
            .await;
        }
    }

    /// One query for one tenant's lookups; every one of them gets the answer or the error.
    async fn fetch(&self, tenant: TenantId, pending: Vec<Pending>) {
        let paths: Vec<&str> = pending.iter().map(|p| p.path.as_str()).collect();
        match self.repo.get_many(&tenant, &paths).await {
            Ok(records) => {
                let found: HashMap<&str, &FileRecord> = records
                    .iter()
                    .map(|record| (record.path.as_str(), record))
                    .collect();
                for p in pending {
                    // A receiver that is gone no longer needs its answer.
                    let record = found.get(p.path.as_str()).map(|r| (*r).clone());
                    let _ = p.reply.send(Ok(record));
                }
            }
            Err(err) => {
                let reason = err.to_string();
                for p in pending {
                    let _ = p
                        .reply
                        .send(Err(RegistryError::Unavailable(reason.clone())));
                }
            }
        }
    }
}

/// Should a fetch end early (a panic, the runtime shutting down), the lookups still queued
/// fail at once and the next lookup starts a fetch again, rather than all waiting forever.
struct Unwinding<'a>(Option<&'a FileLookups>);

impl Drop for Unwinding<'_> {
    fn drop(&mut self) {
        if let Some(lookups) = self.0 {
            let mut queue = lookups.lock();
            queue.fetching = false;
            // Dropping a reply tells its asker the lookup was abandoned.
            queue.pending.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use async_trait::async_trait;
    use signpost_store::registry::{
        ChangeContext, FileSpec, Published, RegistryAdmin, SqlRegistry, TenantRepo, TenantSpec,
        TenantStatus,
    };

    use super::*;

    /// The SQLite catalogue, counting the queries that reach it.
    #[derive(Debug)]
    struct Counting {
        inner: SqlRegistry,
        batches: AtomicUsize,
        /// The next batch panics instead.
        panic_next: AtomicBool,
        _dir: tempfile::TempDir,
    }

    #[async_trait]
    impl FileRepo for Counting {
        async fn publish(
            &self,
            change: &ChangeContext,
            tenant: &TenantId,
            spec: FileSpec,
            quota_bytes: Option<u64>,
        ) -> RegistryResult<Published> {
            self.inner.publish(change, tenant, spec, quota_bytes).await
        }
        async fn get(&self, tenant: &TenantId, path: &str) -> RegistryResult<Option<FileRecord>> {
            FileRepo::get(&self.inner, tenant, path).await
        }
        async fn get_many(
            &self,
            tenant: &TenantId,
            paths: &[&str],
        ) -> RegistryResult<Vec<FileRecord>> {
            self.batches.fetch_add(1, Ordering::SeqCst);
            assert!(
                !self.panic_next.swap(false, Ordering::SeqCst),
                "a catalogue that panics"
            );
            self.inner.get_many(tenant, paths).await
        }
        async fn list(
            &self,
            tenant: &TenantId,
            prefix: &str,
            after: Option<&str>,
            limit: u32,
        ) -> RegistryResult<Vec<FileRecord>> {
            FileRepo::list(&self.inner, tenant, prefix, after, limit).await
        }
        async fn delete(
            &self,
            change: &ChangeContext,
            tenant: &TenantId,
            path: &str,
        ) -> RegistryResult<Option<FileRecord>> {
            FileRepo::delete(&self.inner, change, tenant, path).await
        }
        async fn usage(&self, tenant: &TenantId) -> RegistryResult<u64> {
            self.inner.usage(tenant).await
        }
        async fn unreferenced(&self, blob_keys: &[String]) -> RegistryResult<Vec<String>> {
            self.inner.unreferenced(blob_keys).await
        }
    }

    fn change() -> ChangeContext {
        ChangeContext {
            actor: "test".into(),
            request_id: None,
        }
    }

    /// Tenants `a` and `b`, each with `{tenant}-{n}.htm` for n in 0..10.
    async fn catalogue() -> Arc<Counting> {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("files.db").display()
        );
        let inner = SqlRegistry::connect(&url, 4).await.unwrap();
        inner.migrate().await.unwrap();
        for tenant in ["a", "b"] {
            let spec = TenantSpec {
                id: tenant.parse().unwrap(),
                display_name: tenant.into(),
                default_setting_server: None,
                status: TenantStatus::Active,
            };
            TenantRepo::put(&inner, &change(), spec).await.unwrap();
            for n in 0..10 {
                let spec = FileSpec {
                    path: format!("{tenant}-{n}.htm"),
                    size: 1,
                    sha256: [0; 32],
                    content_type: "text/plain".into(),
                    blob_key: format!("{tenant}/{n}"),
                    template: false,
                };
                inner
                    .publish(&change(), &tenant.parse().unwrap(), spec, None)
                    .await
                    .unwrap();
            }
        }
        Arc::new(Counting {
            inner,
            batches: AtomicUsize::new(0),
            panic_next: AtomicBool::new(false),
            _dir: dir,
        })
    }

    async fn ask(lookups: &FileLookups, tenant: &str, path: &str) -> Option<String> {
        let tenant: TenantId = tenant.parse().unwrap();
        let path: FilePath = path.parse().unwrap();
        lookups
            .get(&tenant, &path)
            .await
            .unwrap()
            .map(|file| file.blob_key)
    }

    #[tokio::test]
    async fn lookups_made_together_go_as_one_query_per_tenant() {
        let repo = catalogue().await;
        let lookups = FileLookups::new(repo.clone());
        // On this single-threaded runtime every lookup is queued before the fetch runs.
        let asked: Vec<_> = (0..12)
            .map(|n| {
                let tenant = if n % 2 == 0 { "a" } else { "b" };
                (tenant, format!("{tenant}-{n}.htm"))
            })
            .collect();
        let answers = join_all(asked.iter().map(|(t, p)| ask(&lookups, t, p))).await;
        let expected: Vec<_> = asked
            .iter()
            .enumerate()
            .map(|(n, (t, _))| (n < 10).then(|| format!("{t}/{n}")))
            .collect();
        assert_eq!(answers, expected);
        assert_eq!(repo.batches.load(Ordering::SeqCst), 2);
        // Another tenant's file is not found under this one; a lone lookup goes at once.
        assert_eq!(ask(&lookups, "a", "b-1.htm").await, None);
        assert_eq!(ask(&lookups, "b", "b-1.htm").await.as_deref(), Some("b/1"));
        assert_eq!(repo.batches.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn a_failed_query_fails_every_lookup_in_it() {
        let repo = catalogue().await;
        let lookups = FileLookups::new(repo.clone());
        repo.inner.close().await;
        let tenant: TenantId = "a".parse().unwrap();
        let path: FilePath = "a-1.htm".parse().unwrap();
        let (one, two) = tokio::join!(lookups.get(&tenant, &path), lookups.get(&tenant, &path));
        assert!(matches!(one, Err(RegistryError::Unavailable(_))));
        assert!(matches!(two, Err(RegistryError::Unavailable(_))));
        assert_eq!(repo.batches.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_fetch_that_ends_early_fails_its_lookups_and_the_next_one_starts_afresh() {
        let repo = catalogue().await;
        let lookups = FileLookups::new(repo.clone());
        repo.panic_next.store(true, Ordering::SeqCst);
        let tenant: TenantId = "a".parse().unwrap();
        let path: FilePath = "a-1.htm".parse().unwrap();
        assert!(matches!(
            lookups.get(&tenant, &path).await,
            Err(RegistryError::Unavailable(_))
        ));
        assert_eq!(ask(&lookups, "a", "a-1.htm").await.as_deref(), Some("a/1"));
    }
}
