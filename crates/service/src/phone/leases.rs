//! The shared rate-limit buckets, with the local fallback, and new sources' leases batched.
//!
//! In a boot storm every phone is a source address this replica has not seen, so each
//! needs a lease from the shared request bucket and a look at its shared miss bucket. As
//! one script run per phone that cost Redis about 42 µs of CPU per boot (`INFO
//! commandstats`), mostly the script's own set-up, and this replica a round trip. Leases
//! asked for while a round is out now go together in the next (see [`super::batched`]):
//! one script run decides them all, each source's takes as before.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use async_trait::async_trait;
use signpost_store::ratelimit::{Decision, MemoryRateLimiter, RateLimitError, RateLimiter, Take};

use super::batched::{Batched, Fetch};
use super::limits::{LOCAL_ADDRESSES, PhoneRateLimits, key, lease_size};
use super::shared::Breaker;

/// The shared buckets, or this replica's own while the shared ones are out of reach.
pub(super) struct Buckets {
    shared: Arc<dyn RateLimiter>,
    local: MemoryRateLimiter,
    breaker: Breaker,
}

impl Buckets {
    pub(super) fn new(shared: Arc<dyn RateLimiter>) -> Self {
        Self {
            shared,
            local: MemoryRateLimiter::new(LOCAL_ADDRESSES),
            breaker: Breaker::new("shared rate limiter"),
        }
    }

    /// One decision per take, in one round trip to the shared buckets.
    pub(super) async fn take_all(&self, takes: &[Take<'_>]) -> Vec<Decision> {
        if self.breaker.allows() {
            match self.shared.take_all(takes).await {
                Ok(decisions) if decisions.len() == takes.len() => {
                    self.breaker.succeeded();
                    return decisions;
                }
                Ok(_) => {}
                Err(err) => self.breaker.failed(&err),
            }
        }
        // The local buckets cannot fail, nor answer a different number of takes.
        self.local
            .take_all(takes)
            .await
            .ok()
            .filter(|decisions| decisions.len() == takes.len())
            .unwrap_or_else(|| vec![Decision::Allowed; takes.len()])
    }
}

/// What the shared buckets said of a new source: the lease of request tokens, and whether
/// its miss bucket still has one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct LeaseAnswer {
    pub lease: Decision,
    pub misses: Decision,
}

/// Leases for sources whose last lease is spent, batched.
#[derive(Clone)]
pub(super) struct Leases(Batched<LeaseRound>);

impl fmt::Debug for Leases {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Leases").finish_non_exhaustive()
    }
}

impl Leases {
    pub(super) fn new(rules: PhoneRateLimits, buckets: Arc<Buckets>) -> Self {
        Self(Batched::new(LeaseRound { rules, buckets }))
    }

    /// A lease of [`lease_size`] tokens for `source`, and a look at its miss bucket.
    pub(super) async fn take(&self, source: IpAddr) -> LeaseAnswer {
        match self.0.get(source).await {
            Ok(Some(answer)) => answer,
            // A round abandoned (the runtime shutting down): this source's takes alone.
            Ok(None) | Err(_) => self.0.fetcher().decide(&[source]).await[0],
        }
    }
}

struct LeaseRound {
    rules: PhoneRateLimits,
    buckets: Arc<Buckets>,
}

impl LeaseRound {
    async fn decide(&self, sources: &[IpAddr]) -> Vec<LeaseAnswer> {
        let keys: Vec<(String, String)> = sources
            .iter()
            .map(|source| (key("req", *source), key("miss", *source)))
            .collect();
        let lease = lease_size(self.rules.requests);
        // A source twice in one round (two first requests at once) takes two leases, the
        // second from what the first left: strict, as a lease lost is.
        let takes: Vec<Take<'_>> = keys
            .iter()
            .flat_map(|(requests, misses)| {
                [
                    Take {
                        key: requests,
                        rule: self.rules.requests,
                        cost: lease,
                    },
                    Take {
                        key: misses,
                        rule: self.rules.misses,
                        cost: 0,
                    },
                ]
            })
            .collect();
        self.buckets
            .take_all(&takes)
            .await
            .chunks_exact(2)
            .map(|pair| LeaseAnswer {
                lease: pair[0],
                misses: pair[1],
            })
            .collect()
    }
}

#[async_trait]
impl Fetch for LeaseRound {
    type Key = IpAddr;
    type Value = LeaseAnswer;
    type Error = RateLimitError;

    async fn fetch(&self, sources: &[IpAddr]) -> Result<Vec<Option<LeaseAnswer>>, RateLimitError> {
        Ok(self.decide(sources).await.into_iter().map(Some).collect())
    }

    fn lost(reason: &str) -> RateLimitError {
        RateLimitError::Backend(reason.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use futures::future::join_all;
    use signpost_store::ratelimit::BucketRule;

    use super::super::limits::SourceLimits;
    use super::*;

    /// Memory buckets that answer slowly and count the calls and takes reaching them.
    #[derive(Debug)]
    struct Counting {
        inner: MemoryRateLimiter,
        calls: AtomicUsize,
        takes: AtomicUsize,
        /// Tokens asked of the request buckets.
        leased: AtomicUsize,
        fail: bool,
    }

    impl Counting {
        fn new(fail: bool) -> Arc<Self> {
            Arc::new(Self {
                inner: MemoryRateLimiter::new(10_000),
                calls: AtomicUsize::new(0),
                takes: AtomicUsize::new(0),
                leased: AtomicUsize::new(0),
                fail,
            })
        }
    }

    #[async_trait]
    impl RateLimiter for Counting {
        async fn take(
            &self,
            key: &str,
            rule: BucketRule,
            cost: u32,
        ) -> Result<Decision, RateLimitError> {
            let [decision] =
                <[Decision; 1]>::try_from(self.take_all(&[Take { key, rule, cost }]).await?)
                    .expect("one take, one decision");
            Ok(decision)
        }

        async fn take_all(&self, takes: &[Take<'_>]) -> Result<Vec<Decision>, RateLimitError> {
            self.calls.fetch_add(1, Ordering::Relaxed);
            self.takes.fetch_add(takes.len(), Ordering::Relaxed);
            let leased: u32 = takes
                .iter()
                .filter(|take| take.key.starts_with("req:"))
                .map(|take| take.cost)
                .sum();
            self.leased.fetch_add(leased as usize, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(20)).await;
            if self.fail {
                return Err(RateLimitError::Backend("down".into()));
            }
            self.inner.take_all(takes).await
        }
    }

    fn rules(miss_burst: u32) -> PhoneRateLimits {
        PhoneRateLimits {
            requests: BucketRule {
                burst: 100,
                per_second: 100.0,
            },
            misses: BucketRule {
                burst: miss_burst,
                per_second: 0.01,
            },
        }
    }

    fn source(n: u32) -> IpAddr {
        IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000_u32 + n))
    }

    #[tokio::test]
    async fn new_sources_arriving_together_share_a_script_run() {
        let shared = Counting::new(false);
        let limits = SourceLimits::new(Some(rules(5)), shared.clone());
        let refused = join_all((0..100).map(|n| limits.admit(source(n)))).await;
        assert!(refused.iter().all(Option::is_none));
        // Each source's lease and miss look, in a handful of rounds rather than 100.
        assert_eq!(shared.takes.load(Ordering::Relaxed), 200);
        let calls = shared.calls.load(Ordering::Relaxed);
        assert!(calls <= 3, "{calls} calls");
        // A whole lease for each: a tenth of the burst.
        assert_eq!(shared.leased.load(Ordering::Relaxed), 100 * 10);
    }

    #[tokio::test]
    async fn a_source_out_of_misses_in_the_shared_bucket_is_refused_at_its_lease() {
        let shared = Counting::new(false);
        let rules = rules(2);
        for _ in 0..2 {
            shared
                .inner
                .take(&key("miss", source(1)), rules.misses, 1)
                .await
                .unwrap();
        }
        let limits = SourceLimits::new(Some(rules), shared.clone());
        let (one, two) = tokio::join!(limits.admit(source(1)), limits.admit(source(2)));
        assert!(one.is_some(), "source 1 has no misses left");
        assert!(two.is_none());
    }

    /// Request leases as in [`rules`], and a miss bucket of `burst` refilled at as many a
    /// second: leases of a tenth of it.
    fn generous_misses(burst: u32) -> PhoneRateLimits {
        PhoneRateLimits {
            misses: BucketRule {
                burst,
                per_second: f64::from(burst),
            },
            ..rules(1)
        }
    }

    #[tokio::test]
    async fn a_generous_miss_bucket_is_leased_rather_than_asked_per_miss() {
        let shared = Counting::new(false);
        let limits = SourceLimits::new(Some(generous_misses(100)), shared.clone());
        assert!(limits.admit(source(1)).await.is_none());
        let before = shared.calls.load(Ordering::Relaxed);
        for _ in 0..25 {
            limits.note_miss(source(1)).await;
        }
        // Leases of 10: three asks for 25 misses.
        assert_eq!(shared.calls.load(Ordering::Relaxed) - before, 3);
        assert!(limits.admit(source(1)).await.is_none());
    }

    #[tokio::test]
    async fn a_source_is_refused_once_it_spent_the_last_leased_miss() {
        let shared = Arc::new(MemoryRateLimiter::new(100));
        let limits = SourceLimits::new(Some(generous_misses(20)), shared);
        assert!(limits.admit(source(1)).await.is_none());
        // Leases of 2: the tenth lease empties the shared bucket, and the source may still
        // spend the miss it holds.
        for miss in 1..20 {
            limits.note_miss(source(1)).await;
            assert!(
                limits.admit(source(1)).await.is_none(),
                "refused after miss {miss}"
            );
        }
        limits.note_miss(source(1)).await;
        assert!(limits.admit(source(1)).await.is_some());
        assert!(
            limits.admit(source(2)).await.is_none(),
            "another source is not"
        );
    }

    #[tokio::test]
    async fn leases_come_from_local_buckets_while_the_shared_ones_fail() {
        let shared = Counting::new(true);
        let limits = SourceLimits::new(Some(rules(1)), shared.clone());
        assert!(limits.admit(source(1)).await.is_none());
        limits.note_miss(source(1)).await;
        // The local miss bucket is empty now: refused, though the shared one is unreachable.
        assert!(limits.admit(source(1)).await.is_some());
        assert!(limits.admit(source(2)).await.is_none());
    }
}
