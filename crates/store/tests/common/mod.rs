//! The registry fixture shared by the registry contract suites: a fresh, migrated registry on
//! SQLite (a temp file) or PostgreSQL (a database of its own), and the macro that runs each
//! case against both.

pub mod registry;

use std::sync::Arc;

use signpost_store::registry::{RegistryAdmin, SqlRegistry};
use signpost_testkit::TestDatabase;

/// A fresh, migrated registry; `finish` drops its PostgreSQL database.
pub struct Fixture {
    pub registry: Arc<SqlRegistry>,
    _dir: Option<tempfile::TempDir>,
    postgres: Option<TestDatabase>,
}

impl Fixture {
    pub async fn sqlite() -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("registry.db").display()
        );
        let registry = SqlRegistry::connect(&url, 5).await.unwrap();
        registry.migrate().await.unwrap();
        Some(Self {
            registry: Arc::new(registry),
            _dir: Some(dir),
            postgres: None,
        })
    }

    pub async fn postgres() -> Option<Self> {
        let database = TestDatabase::create().await?;
        let registry = SqlRegistry::connect(&database.url, 5).await.unwrap();
        registry.migrate().await.unwrap();
        Some(Self {
            registry: Arc::new(registry),
            _dir: None,
            postgres: Some(database),
        })
    }

    /// The database's URL, on PostgreSQL.
    #[allow(dead_code)] // only some suites look at the database directly
    pub fn postgres_url(&self) -> Option<&str> {
        self.postgres.as_ref().map(|database| database.url.as_str())
    }

    pub async fn finish(self) {
        self.registry.close().await;
        if let Some(database) = self.postgres {
            database.drop_database().await;
        }
    }
}

macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(fixture) = super::Fixture::sqlite().await else { return };
                    super::$case(fixture.registry.clone()).await;
                    fixture.finish().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(fixture) = super::Fixture::postgres().await else { return };
                    super::$case(fixture.registry.clone()).await;
                    fixture.finish().await;
                }
            )*
        }
    };
}
