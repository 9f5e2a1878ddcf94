//! The in-process rate limiter: one entry per bucket, each a few numbers behind a mutex.
//! It sits on every phone request, so a take on a known key allocates nothing and holds its
//! lock only for the arithmetic. Each `MemoryRateLimiter` is its own "process": clones share
//! buckets, separate instances share nothing.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{BucketRule, Decision, MAX_WAIT, RateLimitError, RateLimiter};
use crate::keyed::{Idle, KeyedState};

/// How much longer than "refilled to full" an idle bucket is kept: forgetting it any earlier
/// would hand out a full bucket that had not refilled yet.
const IDLE_MARGIN: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct MemoryRateLimiter {
    buckets: Arc<KeyedState<String, Arc<Bucket>>>,
}

struct Bucket {
    /// How long the bucket may sit untouched before it is as good as full and can go.
    idle: Duration,
    level: Mutex<Level>,
}

/// The bucket's tokens as of `at`; refilling is computed on the next take.
struct Level {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(rule: BucketRule, now: Instant) -> Self {
        Self {
            idle: rule
                .time_for(f64::from(rule.burst))
                .saturating_add(IDLE_MARGIN)
                .min(MAX_WAIT),
            level: Mutex::new(Level {
                tokens: f64::from(rule.burst),
                at: now,
            }),
        }
    }

    fn take(&self, rule: BucketRule, cost: u32, now: Instant) -> Decision {
        // The level is two numbers that are always written together: a panic elsewhere
        // cannot leave it half-updated, so a poisoned lock is still good.
        let mut level = self.level.lock().unwrap_or_else(PoisonError::into_inner);
        // Concurrent takes may read the clock in one order and lock in the other; the later
        // of the two instants wins and the earlier one refills nothing.
        let tokens = rule.refill(level.tokens, now.saturating_duration_since(level.at));
        let (decision, left) = rule.take_from(tokens, cost);
        level.tokens = left;
        level.at = level.at.max(now);
        decision
    }
}

/// A bucket idle long enough to be full again can go: a new one starts full.
impl Idle for Bucket {
    fn is_idle(&self, now: Instant) -> bool {
        let level = self.level.lock().unwrap_or_else(PoisonError::into_inner);
        now.saturating_duration_since(level.at) >= self.idle
    }
}

impl MemoryRateLimiter {
    /// Remembers at most `max_keys` buckets. Past that the least useful ones are forgotten,
    /// which refills them: the bound protects memory, at the price of leniency under a flood
    /// of distinct keys.
    pub fn new(max_keys: u64) -> Self {
        Self {
            buckets: Arc::new(KeyedState::new(max_keys)),
        }
    }
}

impl fmt::Debug for MemoryRateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryRateLimiter")
            .field("buckets", &self.buckets.len())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl RateLimiter for MemoryRateLimiter {
    async fn take(
        &self,
        key: &str,
        rule: BucketRule,
        cost: u32,
    ) -> Result<Decision, RateLimitError> {
        let now = Instant::now();
        // Looked up by `&str`; the key is copied only when its bucket is created.
        let bucket = self
            .buckets
            .get_or_insert_with(key, || Arc::new(Bucket::full(rule, now)));
        Ok(bucket.take(rule, cost, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: BucketRule = BucketRule {
        burst: 3,
        per_second: 20.0,
    };

    #[test]
    fn a_bucket_refills_with_time_and_never_beyond_burst() {
        let start = Instant::now();
        let bucket = Bucket::full(RULE, start);
        for _ in 0..3 {
            assert_eq!(bucket.take(RULE, 1, start), Decision::Allowed);
        }
        let wait = Duration::from_millis(50);
        assert_eq!(
            bucket.take(RULE, 0, start),
            Decision::Limited { retry_after: wait }
        );
        assert_eq!(bucket.take(RULE, 1, start + wait), Decision::Allowed);
        // An hour of idling fills the bucket to three tokens, not more.
        let later = start + Duration::from_secs(3600);
        assert_eq!(bucket.take(RULE, 3, later), Decision::Allowed);
        assert!(matches!(
            bucket.take(RULE, 0, later),
            Decision::Limited { .. }
        ));
    }

    #[test]
    fn an_instant_from_before_the_last_take_refills_nothing() {
        let start = Instant::now();
        let bucket = Bucket::full(RULE, start + Duration::from_secs(1));
        assert_eq!(bucket.take(RULE, 3, start), Decision::Allowed);
        assert!(matches!(
            bucket.take(RULE, 1, start),
            Decision::Limited { .. }
        ));
    }

    #[tokio::test]
    async fn idle_buckets_are_dropped_and_the_number_of_buckets_is_bounded() {
        let limiter = MemoryRateLimiter::new(2);
        for key in ["a", "b", "c", "d", "e"] {
            limiter.take(key, RULE, 1).await.unwrap();
        }
        assert!(
            limiter.buckets.len() <= 2,
            "{} buckets",
            limiter.buckets.len()
        );
        let now = Instant::now();
        // A bucket of 3 at 20/s is full after 150 ms; it is kept a second longer.
        limiter.buckets.sweep(now + Duration::from_millis(500));
        assert!(!limiter.buckets.is_empty(), "not full long enough yet");
        limiter.buckets.sweep(now + Duration::from_secs(2));
        assert!(limiter.buckets.is_empty(), "buckets linger");
    }

    #[test]
    fn idle_buckets_are_kept_until_full_and_no_longer_than_the_longest_wait() {
        let start = Instant::now();
        assert_eq!(
            Bucket::full(RULE, start).idle,
            Duration::from_millis(150) + IDLE_MARGIN
        );
        let never = BucketRule {
            burst: 1,
            per_second: 0.0,
        };
        assert_eq!(Bucket::full(never, start).idle, MAX_WAIT);
    }
}
