//! Catalogue lookups of hosted files, batched (see [`super::batched`]): a round is one
//! query per tenant.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use futures::future::try_join_all;
use signpost_domain::{FilePath, TenantId};
use signpost_store::registry::{FileRecord, FileRepo, RegistryError, RegistryResult};

use super::batched::{Batched, Fetch};

#[derive(Clone, Debug)]
pub struct FileLookups(Batched<Catalogue>);

impl FileLookups {
    pub fn new(repo: Arc<dyn FileRepo>) -> Self {
        Self(Batched::new(Catalogue(repo)))
    }

    /// The catalogue row of `path`, fetched together with the lookups around it.
    pub async fn get(
        &self,
        tenant: &TenantId,
        path: &FilePath,
    ) -> RegistryResult<Option<FileRecord>> {
        self.0.get((tenant.clone(), path.clone())).await
    }
}

struct Catalogue(Arc<dyn FileRepo>);

#[async_trait]
impl Fetch for Catalogue {
    type Key = (TenantId, FilePath);
    type Value = FileRecord;
    type Error = RegistryError;

    async fn fetch(&self, keys: &[Self::Key]) -> RegistryResult<Vec<Option<FileRecord>>> {
        let mut by_tenant: HashMap<&TenantId, Vec<&str>> = HashMap::new();
        for (tenant, path) in keys {
            by_tenant.entry(tenant).or_default().push(path.as_str());
        }
        let found = try_join_all(by_tenant.into_iter().map(|(tenant, paths)| async move {
            let records = self.0.get_many(tenant, &paths).await?;
            Ok::<_, RegistryError>((tenant, records))
        }))
        .await?;
        let found: HashMap<(&TenantId, &str), &FileRecord> = found
            .iter()
            .flat_map(|(tenant, records)| {
                records
                    .iter()
                    .map(move |record| ((*tenant, record.path.as_str()), record))
            })
            .collect();
        // A path asked for twice in one round is answered twice.
        Ok(keys
            .iter()
            .map(|(tenant, path)| found.get(&(tenant, path.as_str())).map(|r| (*r).clone()))
            .collect())
    }

    fn lost(reason: &str) -> RegistryError {
        RegistryError::Unavailable(reason.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use futures::future::join_all;
    use signpost_store::registry::RegistryError;
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
