//! Per-source-address limits on the phone endpoints.
//!
//! Two token buckets per address: one counts every request and is generous, because an
//! office of hundreds of phones behind one NAT address boots at once after a power cut; the
//! other counts misses (lookups of MACs that are unknown or not redirected), which is what
//! walking the MAC space produces, and is strict. Once an address has used up its misses,
//! all its requests are refused until the bucket refills, so hits cannot be told from
//! misses by who gets an answer.
//!
//! With Redis the buckets are shared by all replicas. When the shared limiter fails, this
//! replica falls back to its own buckets rather than refusing or waving through everyone.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use signpost_store::ratelimit::{BucketRule, Decision, MemoryRateLimiter, RateLimiter};

use super::shared::Breaker;

/// The two buckets' shapes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PhoneRateLimits {
    pub requests: BucketRule,
    pub misses: BucketRule,
}

/// Addresses whose buckets this replica keeps when it falls back to local limits.
const LOCAL_ADDRESSES: u64 = 100_000;

#[derive(Clone)]
pub struct SourceLimits {
    rules: Option<PhoneRateLimits>,
    shared: Arc<dyn RateLimiter>,
    local: Arc<dyn RateLimiter>,
    breaker: Arc<Breaker>,
}

impl fmt::Debug for SourceLimits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceLimits")
            .field("rules", &self.rules)
            .finish_non_exhaustive()
    }
}

impl SourceLimits {
    /// `rules: None` turns limiting off.
    pub fn new(rules: Option<PhoneRateLimits>, shared: Arc<dyn RateLimiter>) -> Self {
        Self {
            rules,
            shared,
            local: Arc::new(MemoryRateLimiter::new(LOCAL_ADDRESSES)),
            breaker: Arc::new(Breaker::new("shared rate limiter")),
        }
    }

    /// Before a request is looked up: `Some(retry_after)` refuses it.
    pub async fn admit(&self, source: IpAddr) -> Option<Duration> {
        let rules = self.rules?;
        let requests = self.take(&key("req", source), rules.requests, 1).await;
        if let Decision::Limited { retry_after } = requests {
            return Some(retry_after);
        }
        match self.take(&key("miss", source), rules.misses, 0).await {
            Decision::Limited { retry_after } => Some(retry_after),
            Decision::Allowed => None,
        }
    }

    /// After a lookup that found nothing to tell the phone.
    pub async fn note_miss(&self, source: IpAddr) {
        if let Some(rules) = self.rules {
            self.take(&key("miss", source), rules.misses, 1).await;
        }
    }

    async fn take(&self, key: &str, rule: BucketRule, cost: u32) -> Decision {
        if self.breaker.allows() {
            match self.shared.take(key, rule, cost).await {
                Ok(decision) => {
                    self.breaker.succeeded();
                    return decision;
                }
                Err(err) => self.breaker.failed(&err),
            }
        }
        // The local buckets cannot fail.
        self.local
            .take(key, rule, cost)
            .await
            .unwrap_or(Decision::Allowed)
    }
}

fn key(kind: &str, source: IpAddr) -> String {
    format!("{kind}:{source}")
}
