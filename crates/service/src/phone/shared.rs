//! The shared cache (Redis on replicas) as the phone path sees it: an accelerator that may
//! be down or slow at any time. Every call is bounded by the adapter's timeout; after a few
//! failures in a row a circuit breaker skips it altogether for a while, so a dead Redis
//! costs the phone path nothing but the occasional probe.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use signpost_store::cache::Cache;

/// Failures in a row that open the breaker.
const FAILURES_TO_OPEN: u32 = 3;
/// How long an open breaker skips the backend before letting one call probe it.
const OPEN_FOR: Duration = Duration::from_secs(2);

/// A consecutive-failure circuit breaker. While open, one caller per cooldown is let through
/// as a probe; its success closes the breaker again.
#[derive(Debug)]
pub struct Breaker {
    /// What is behind the breaker, for the log.
    name: &'static str,
    failures: AtomicU32,
    /// Milliseconds since `epoch` before which calls are skipped.
    open_until: AtomicU64,
    epoch: Instant,
}

impl Breaker {
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            failures: AtomicU32::new(0),
            open_until: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether a call may go to the backend now.
    pub fn allows(&self) -> bool {
        let until = self.open_until.load(Ordering::Acquire);
        if until == 0 {
            return true;
        }
        let now = self.now_ms();
        // Past the cooldown: the first caller to move the deadline on is the probe.
        now >= until
            && self
                .open_until
                .compare_exchange(
                    until,
                    now + OPEN_FOR.as_millis() as u64,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_ok()
    }

    pub fn succeeded(&self) {
        if self.failures.load(Ordering::Relaxed) != 0 {
            self.failures.store(0, Ordering::Relaxed);
        }
        if self.open_until.load(Ordering::Relaxed) != 0 {
            self.open_until.store(0, Ordering::Release);
            tracing::info!(backend = self.name, "answers again");
        }
    }

    pub fn failed(&self, error: &dyn std::fmt::Display) {
        let failures = self.failures.fetch_add(1, Ordering::AcqRel) + 1;
        if failures == FAILURES_TO_OPEN {
            tracing::warn!(backend = self.name, %error, "failing; skipped for now");
        }
        if failures >= FAILURES_TO_OPEN {
            let until = self.now_ms() + OPEN_FOR.as_millis() as u64;
            self.open_until.fetch_max(until, Ordering::AcqRel);
        }
    }

    #[cfg(test)]
    pub fn is_open(&self) -> bool {
        self.open_until.load(Ordering::Acquire) != 0
    }
}

/// The shared cache behind a breaker. Reads answer `None` when it cannot help; writes
/// report whether they reached it, so that invalidations can be retried.
#[derive(Debug, Clone)]
pub struct SharedCache {
    cache: Arc<dyn Cache>,
    breaker: Arc<Breaker>,
}

impl SharedCache {
    pub fn new(cache: Arc<dyn Cache>) -> Self {
        Self {
            cache,
            breaker: Arc::new(Breaker::new("shared cache")),
        }
    }

    pub fn inner(&self) -> &Arc<dyn Cache> {
        &self.cache
    }

    pub async fn get(&self, key: &str) -> Option<Bytes> {
        if !self.breaker.allows() {
            return None;
        }
        match self.cache.get(key).await {
            Ok(value) => {
                self.breaker.succeeded();
                value
            }
            Err(err) => {
                self.breaker.failed(&err);
                None
            }
        }
    }

    pub async fn set(&self, key: &str, value: Bytes, ttl: Duration) {
        if !self.breaker.allows() {
            return;
        }
        match self.cache.set(key, value, ttl).await {
            Ok(()) => self.breaker.succeeded(),
            Err(err) => self.breaker.failed(&err),
        }
    }

    /// Deletes and announces; `false` when the backend could not be reached (the breaker
    /// is not consulted: an invalidation must at least be tried).
    pub async fn invalidate(&self, keys: &[&str], message: Bytes) -> bool {
        let result = match self.cache.delete(keys).await {
            Ok(()) => self.cache.publish(message).await,
            Err(err) => Err(err),
        };
        match result {
            Ok(()) => {
                self.breaker.succeeded();
                true
            }
            Err(err) => {
                self.breaker.failed(&err);
                false
            }
        }
    }

    /// Deletes only (the delayed second delete of an invalidation).
    pub async fn delete(&self, keys: &[&str]) -> bool {
        self.cache.delete(keys).await.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breaker_opens_after_failures_in_a_row_and_closes_on_success() {
        let breaker = Breaker::new("test");
        for _ in 0..FAILURES_TO_OPEN - 1 {
            breaker.failed(&"down");
            assert!(breaker.allows());
        }
        breaker.failed(&"down");
        assert!(breaker.is_open());
        assert!(!breaker.allows());
        breaker.succeeded();
        assert!(!breaker.is_open());
        assert!(breaker.allows());
    }

    #[test]
    fn an_open_breaker_lets_one_probe_through_after_the_cooldown() {
        let breaker = Breaker::new("test");
        for _ in 0..FAILURES_TO_OPEN {
            breaker.failed(&"down");
        }
        // Pretend the cooldown has passed.
        std::thread::sleep(Duration::from_millis(5));
        breaker.open_until.store(1, Ordering::Release);
        assert!(breaker.allows(), "the probe");
        assert!(!breaker.allows(), "only one probe per cooldown");
    }
}
