//! Readiness: does every configured backend answer right now?

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use signpost_store::blobs::BlobStore;
use signpost_store::cache::Cache;
use signpost_store::registry::RegistryAdmin;

/// How long one backend may take to answer a readiness check before it counts as down.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Something readiness can ask "do you answer?".
#[async_trait]
pub trait Probe: Send + Sync + Debug {
    async fn probe(&self) -> Result<(), String>;
}

#[async_trait]
impl Probe for dyn RegistryAdmin {
    async fn probe(&self) -> Result<(), String> {
        self.check().await.map_err(|e| e.to_string())
    }
}

#[async_trait]
impl Probe for dyn BlobStore {
    async fn probe(&self) -> Result<(), String> {
        self.check().await.map_err(|e| e.to_string())
    }
}

#[async_trait]
impl Probe for dyn Cache {
    async fn probe(&self) -> Result<(), String> {
        self.check().await.map_err(|e| e.to_string())
    }
}

/// The backends to check, each under the name operators know it by (`postgres`, `redis`, …).
#[derive(Debug, Clone, Default)]
pub struct Readiness {
    components: Vec<(&'static str, Arc<dyn Probe>)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadinessReport {
    /// Every component by name with `None` when it answered, else why not.
    pub components: Vec<(&'static str, Option<String>)>,
}

impl ReadinessReport {
    pub fn ready(&self) -> bool {
        self.components.iter().all(|(_, failure)| failure.is_none())
    }

    pub fn failing(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.components
            .iter()
            .filter(|(_, failure)| failure.is_some())
            .map(|(name, _)| *name)
    }
}

impl Readiness {
    pub fn with(mut self, name: &'static str, probe: Arc<dyn Probe>) -> Self {
        self.components.push((name, probe));
        self
    }

    /// Checks every component at once, each bounded by a short timeout.
    pub async fn check(&self) -> ReadinessReport {
        let checks = self.components.iter().map(|(name, probe)| async move {
            let failure = match tokio::time::timeout(CHECK_TIMEOUT, probe.probe()).await {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e),
                Err(_) => Some(format!("no answer within {CHECK_TIMEOUT:?}")),
            };
            if let Some(reason) = &failure {
                tracing::warn!(component = name, %reason, "readiness check failed");
            }
            (*name, failure)
        });
        ReadinessReport {
            components: futures::future::join_all(checks).await,
        }
    }
}

/// Adapts an `Arc` of a port to a probe.
pub fn probe<P: Probe + ?Sized + 'static>(port: Arc<P>) -> Arc<dyn Probe> {
    Arc::new(Shared(port))
}

#[derive(Debug)]
struct Shared<P: ?Sized>(Arc<P>);

#[async_trait]
impl<P: Probe + ?Sized> Probe for Shared<P> {
    async fn probe(&self) -> Result<(), String> {
        self.0.probe().await
    }
}
