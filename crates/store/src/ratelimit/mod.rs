//! The rate-limiter port: token buckets under caller-chosen keys. The service keeps two per
//! source address (every request, and misses) so that walking the MAC space is slow while an
//! office of phones behind one NAT still boots at once. In-process on a single replica;
//! Redis when several replicas must enforce one limit together.

mod memory;
mod redis;

use std::fmt::Debug;
use std::time::Duration;

use async_trait::async_trait;

pub use memory::MemoryRateLimiter;
pub use redis::RedisRateLimiter;

/// The longest `retry_after` ever reported and the longest an idle bucket is remembered: a
/// rule that (almost) never refills would otherwise ask for waits, and keep state, forever.
pub const MAX_WAIT: Duration = Duration::from_secs(24 * 60 * 60);

/// The fastest refill taken literally; faster rules behave as this one. Keeps the arithmetic
/// (here and in the Redis script) finite.
const MAX_RATE: f64 = 1e9;

/// Tokens a bucket may fall short by and still pay: `elapsed × rate` in floating point must
/// not turn a wait of exactly `retry_after` into another refusal. The Lua script uses it too.
const TOLERANCE: f64 = 1e-9;

/// A token bucket's shape: `burst` tokens at most, refilled at `per_second` tokens per second.
///
/// A `per_second` that is zero, negative or NaN never refills; an infinite one is clamped.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BucketRule {
    pub burst: u32,
    pub per_second: f64,
}

impl BucketRule {
    /// The refill rate as a finite, non-negative number.
    pub(crate) fn rate(self) -> f64 {
        if self.per_second > 0.0 {
            self.per_second.min(MAX_RATE)
        } else {
            0.0
        }
    }

    /// How long refilling `tokens` tokens takes, rounded up to whole milliseconds (so a
    /// caller that sleeps that long finds them there), at least 1 ms and at most [`MAX_WAIT`].
    pub(crate) fn time_for(self, tokens: f64) -> Duration {
        let rate = self.rate();
        if rate == 0.0 {
            return MAX_WAIT;
        }
        let millis = (tokens * 1000.0 / rate).ceil();
        if millis >= MAX_WAIT.as_millis() as f64 {
            MAX_WAIT
        } else {
            // In range and integral: the cast is exact.
            Duration::from_millis((millis as u64).max(1))
        }
    }

    /// The bucket's level after `elapsed` more refilling, capped at `burst`.
    pub(crate) fn refill(self, tokens: f64, elapsed: Duration) -> f64 {
        (tokens + elapsed.as_secs_f64() * self.rate()).min(f64::from(self.burst))
    }

    /// The decision on `cost` tokens from a bucket holding `tokens` (already refilled), and
    /// what the bucket holds afterwards. The Redis script mirrors this step.
    pub(crate) fn take_from(self, tokens: f64, cost: u32) -> (Decision, f64) {
        let needed = f64::from(cost.max(1));
        if tokens + TOLERANCE >= needed {
            (Decision::Allowed, (tokens - f64::from(cost)).max(0.0))
        } else {
            let retry_after = self.time_for(needed - tokens);
            (Decision::Limited { retry_after }, tokens)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    /// How long until the tokens asked for are available (at least 1 ms). A cost above the
    /// rule's burst is never available: its wait is only what the arithmetic says.
    Limited {
        retry_after: Duration,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum RateLimitError {
    #[error("rate limiter backend: {0}")]
    Backend(String),
}

/// One take of [`RateLimiter::take_all`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Take<'a> {
    pub key: &'a str,
    pub rule: BucketRule,
    pub cost: u32,
}

/// Keys passed in are relative: each adapter prepends its configured prefix, so several
/// deployments (or test runs) can share one Redis.
#[async_trait]
pub trait RateLimiter: Send + Sync + Debug {
    /// Takes `cost` tokens from the bucket `key` if it holds at least `max(cost, 1)`: after
    /// refilling it by the time elapsed since it was last touched (a key never seen starts
    /// full). A refused take takes nothing, so `cost` 0 only looks: allowed while at least one
    /// token is there. A key should always be used with the same rule.
    async fn take(
        &self,
        key: &str,
        rule: BucketRule,
        cost: u32,
    ) -> Result<Decision, RateLimitError>;

    /// Several takes, each decided as [`RateLimiter::take`] would, in order (a take sees
    /// what the ones before it took from the same bucket); one decision per take. Redis
    /// answers them all in one round trip, and atomically.
    async fn take_all(&self, takes: &[Take<'_>]) -> Result<Vec<Decision>, RateLimitError> {
        let mut decisions = Vec::with_capacity(takes.len());
        for take in takes {
            decisions.push(self.take(take.key, take.rule, take.cost).await?);
        }
        Ok(decisions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: BucketRule = BucketRule {
        burst: 3,
        per_second: 20.0,
    };

    fn limited(millis: u64) -> Decision {
        Decision::Limited {
            retry_after: Duration::from_millis(millis),
        }
    }

    #[test]
    fn a_take_pays_cost_or_reports_the_wait_for_the_missing_tokens() {
        assert_eq!(RULE.take_from(3.0, 2), (Decision::Allowed, 1.0));
        assert_eq!(RULE.take_from(1.0, 2), (limited(50), 1.0));
        assert_eq!(RULE.take_from(0.5, 1), (limited(25), 0.5));
        // Peeking needs one token and takes none.
        assert_eq!(RULE.take_from(1.0, 0), (Decision::Allowed, 1.0));
        assert_eq!(RULE.take_from(0.99, 0), (limited(1), 0.99));
        // A refill that falls short by rounding error still pays.
        assert_eq!(RULE.take_from(1.0 - 1e-12, 1), (Decision::Allowed, 0.0));
    }

    #[test]
    fn refill_is_proportional_to_time_and_capped_at_burst() {
        assert!((RULE.refill(0.0, Duration::from_millis(50)) - 1.0).abs() < 1e-9);
        assert_eq!(RULE.refill(2.5, Duration::from_secs(10)), 3.0);
        assert_eq!(RULE.refill(1.0, Duration::ZERO), 1.0);
    }

    #[test]
    fn degenerate_rules_stay_finite() {
        for per_second in [0.0, -1.0, f64::NAN] {
            let rule = BucketRule {
                burst: 2,
                per_second,
            };
            assert_eq!(rule.refill(0.0, Duration::from_secs(3600)), 0.0);
            assert_eq!(
                rule.take_from(0.0, 1).0,
                Decision::Limited {
                    retry_after: MAX_WAIT
                }
            );
        }
        let instant = BucketRule {
            burst: 2,
            per_second: f64::INFINITY,
        };
        assert_eq!(instant.refill(0.0, Duration::from_micros(1)), 2.0);
        assert_eq!(instant.take_from(0.0, 1).0, limited(1));
        let slow = BucketRule {
            burst: 1,
            per_second: 1e-12,
        };
        assert_eq!(slow.time_for(1.0), MAX_WAIT);
        let empty = BucketRule {
            burst: 0,
            per_second: 1.0,
        };
        assert_eq!(
            empty.take_from(empty.refill(0.0, MAX_WAIT), 0).0,
            limited(1000)
        );
    }
}
