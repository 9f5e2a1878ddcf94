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
//!
//! Asking the shared limiter on every request would put two Redis round trips on the
//! hottest path. Instead each replica takes tokens from the shared request bucket in small
//! leases and spends them locally, and remembers when the shared buckets refused a source.
//! A lease is at most a tenth of the burst and a tenth of a second of refill, and it expires
//! after [`LEASE_TTL`]: tokens a replica leased but did not use are lost, so leasing only
//! ever makes the limit stricter. A block another replica caused is seen here at the next
//! lease (within [`LEASE_TTL`]) or at this replica's next miss. Leases of many new sources
//! go to the shared limiter together ([`super::leases`]).
//!
//! Misses are leased the same way. With the default miss bucket (60, refilled at one a
//! second) a lease is a single token, so every miss still asks the shared bucket; a
//! generous one (an office of phones behind one address, a benchmark) no longer costs a
//! round trip per unknown MAC.

use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use signpost_store::keyed::{Idle, KeyedState};
use signpost_store::ratelimit::{BucketRule, Decision, RateLimiter, Take};

use super::leases::{Buckets, LeaseAnswer, Leases};

/// The two buckets' shapes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PhoneRateLimits {
    pub requests: BucketRule,
    pub misses: BucketRule,
}

/// Addresses whose leases and blocks this replica remembers, and whose buckets it keeps
/// when it falls back to local limits.
pub(super) const LOCAL_ADDRESSES: u64 = 100_000;

/// How long leased tokens may be spent, and how stale a source's view of the shared miss
/// bucket may get.
const LEASE_TTL: Duration = Duration::from_secs(1);

/// How long an idle source's lease and block are remembered (longer than any lease; a
/// forgotten block is found again in the shared buckets).
const SOURCE_IDLE: Duration = Duration::from_secs(120);

/// This replica's view of one source address, shared by its concurrent requests.
type Source = Arc<Mutex<SourceState>>;

/// This replica's view of one source address.
#[derive(Debug)]
struct SourceState {
    /// Tokens taken from the shared request bucket and not spent yet.
    leased: u32,
    lease_until: Instant,
    /// The shared buckets refused this source until then.
    blocked_until: Option<Instant>,
    /// Tokens taken from the shared miss bucket and not spent yet, until `misses_until`.
    misses_leased: u32,
    misses_until: Instant,
    /// The shared miss bucket was empty after the lease, and would let a take through
    /// again after this long: once the lease is spent, the source is refused.
    misses_after: Option<Duration>,
}

#[derive(Clone)]
pub struct SourceLimits {
    rules: Option<PhoneRateLimits>,
    buckets: Arc<Buckets>,
    leases: Option<Leases>,
    sources: Arc<KeyedState<IpAddr, Source>>,
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
        let buckets = Arc::new(Buckets::new(shared));
        Self {
            rules,
            leases: rules.map(|rules| Leases::new(rules, buckets.clone())),
            buckets,
            sources: Arc::new(KeyedState::new(LOCAL_ADDRESSES)),
        }
    }

    /// Before a request is looked up: `Some(retry_after)` refuses it.
    pub async fn admit(&self, source: IpAddr) -> Option<Duration> {
        let rules = self.rules?;
        let state = self.state(source);
        let now = Instant::now();
        {
            let mut local = lock(&state);
            if let Some(wait) = local.blocked_for(now) {
                return Some(wait);
            }
            if local.leased > 0 && local.lease_until > now {
                local.leased -= 1;
                return None;
            }
        }
        // The lease is spent: take the next one, and look at the shared miss bucket again.
        // Looking takes no token, so both go out together, and together with the other
        // sources' leases asked for meanwhile: in a boot storm every phone is a new source.
        let lease = lease_size(rules.requests);
        let mut taken = lease;
        let LeaseAnswer {
            lease: mut decision,
            misses,
        } = match &self.leases {
            Some(leases) => leases.take(source).await,
            None => return None,
        };
        if lease > 1 && matches!(decision, Decision::Limited { .. }) {
            // Too few tokens left for a whole lease: this request may still have one.
            taken = 1;
            decision = self.take(&key("req", source), rules.requests, 1).await;
        }
        if let Decision::Limited { retry_after } = decision {
            lock(&state).block(now, retry_after);
            return Some(retry_after);
        }
        let mut local = lock(&state);
        local.leased = taken - 1;
        local.lease_until = now + LEASE_TTL;
        match misses {
            // Misses this source leased earlier are its own: the shared bucket is empty
            // because it holds them.
            Decision::Limited { retry_after } if !local.holds_misses(now) => {
                local.block(now, retry_after);
                Some(retry_after)
            }
            _ => None,
        }
    }

    /// After a lookup that found nothing to tell the phone.
    pub async fn note_miss(&self, source: IpAddr) {
        let Some(rules) = self.rules else {
            return;
        };
        let state = self.state(source);
        if lock(&state).spend_miss(Instant::now()) {
            return;
        }
        // Take a lease, then look whether that was the last: if so this source is refused
        // once the lease is spent, hits included, without asking the shared buckets each
        // time.
        let miss_key = key("miss", source);
        let lease = lease_size(rules.misses);
        let miss = Take {
            key: &miss_key,
            rule: rules.misses,
            cost: lease,
        };
        let [mut taken, mut left] = self.take_all([miss, Take { cost: 0, ..miss }]).await;
        let mut got = lease;
        if lease > 1 && matches!(taken, Decision::Limited { .. }) {
            // Too few tokens left for a whole lease: this miss may still have one.
            got = 1;
            [taken, left] = self
                .take_all([Take { cost: 1, ..miss }, Take { cost: 0, ..miss }])
                .await;
        }
        let now = Instant::now();
        let mut local = lock(&state);
        match taken {
            Decision::Limited { retry_after } => local.block(now, retry_after),
            Decision::Allowed => local.lease_misses(now, got - 1, left),
        }
    }

    fn state(&self, source: IpAddr) -> Source {
        self.sources.get_or_insert_with(&source, || {
            let now = Instant::now();
            Arc::new(Mutex::new(SourceState {
                leased: 0,
                lease_until: now,
                blocked_until: None,
                misses_leased: 0,
                misses_until: now,
                misses_after: None,
            }))
        })
    }

    /// Takes from the shared buckets in one round trip, or from the local ones while the
    /// shared ones are out of reach.
    async fn take_all<const N: usize>(&self, takes: [Take<'_>; N]) -> [Decision; N] {
        <[Decision; N]>::try_from(self.buckets.take_all(&takes).await)
            .unwrap_or([Decision::Allowed; N])
    }

    async fn take(&self, key: &str, rule: BucketRule, cost: u32) -> Decision {
        let [decision] = self.take_all([Take { key, rule, cost }]).await;
        decision
    }
}

impl SourceState {
    fn blocked_for(&mut self, now: Instant) -> Option<Duration> {
        match self.blocked_until {
            Some(until) if until > now => Some(until - now),
            Some(_) => {
                self.blocked_until = None;
                None
            }
            None => None,
        }
    }

    fn block(&mut self, now: Instant, retry_after: Duration) {
        let until = now + retry_after;
        self.blocked_until = Some(self.blocked_until.map_or(until, |b| b.max(until)));
        // Whatever was leased is not spent while blocked.
        self.leased = 0;
        self.misses_leased = 0;
        self.misses_after = None;
    }

    fn holds_misses(&self, now: Instant) -> bool {
        self.misses_leased > 0 && self.misses_until > now
    }

    /// Spends a leased miss, if one is left; `false` when a new lease is needed.
    fn spend_miss(&mut self, now: Instant) -> bool {
        if !self.holds_misses(now) {
            return false;
        }
        self.misses_leased -= 1;
        self.refuse_once_out_of_misses(now);
        true
    }

    /// After a miss took a lease: `left` is `count` more, and whether the shared bucket
    /// had any beyond them.
    fn lease_misses(&mut self, now: Instant, count: u32, left: Decision) {
        self.misses_leased = count;
        self.misses_until = now + LEASE_TTL;
        self.misses_after = match left {
            Decision::Limited { retry_after } => Some(retry_after),
            Decision::Allowed => None,
        };
        self.refuse_once_out_of_misses(now);
    }

    /// The last leased miss spent, and the shared bucket empty: refused from now on.
    fn refuse_once_out_of_misses(&mut self, now: Instant) {
        if self.misses_leased == 0
            && let Some(wait) = self.misses_after.take()
        {
            self.block(now, wait);
        }
    }
}

/// A source is forgotten once its lease and any block have run out and it has been quiet
/// for [`SOURCE_IDLE`] more: what is left to remember is the same as a new source's.
impl Idle for SourceState {
    fn is_idle(&self, now: Instant) -> bool {
        let quiet_since = self
            .blocked_until
            .map_or(self.lease_until, |until| until.max(self.lease_until))
            .max(self.misses_until);
        now.saturating_duration_since(quiet_since) >= SOURCE_IDLE
    }
}

/// The state is a few numbers always written together: a panic elsewhere cannot leave it
/// half-updated, so a poisoned lock is still good.
fn lock(state: &Mutex<SourceState>) -> std::sync::MutexGuard<'_, SourceState> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Tokens taken from the shared request bucket at a time: at most a tenth of the burst and
/// a tenth of a second of refill, at least one.
pub(super) fn lease_size(rule: BucketRule) -> u32 {
    let by_burst = rule.burst / 10;
    let by_rate = (rule.per_second.max(0.0) / 10.0).min(f64::from(u32::MAX)) as u32;
    by_burst.min(by_rate).max(1)
}

pub(super) fn key(kind: &str, source: IpAddr) -> String {
    format!("{kind}:{source}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_is_idle_once_its_lease_and_block_are_long_over() {
        let now = Instant::now();
        let leased = SourceState {
            leased: 5,
            lease_until: now + LEASE_TTL,
            blocked_until: None,
            misses_leased: 0,
            misses_until: now,
            misses_after: None,
        };
        assert!(!leased.is_idle(now + SOURCE_IDLE));
        assert!(leased.is_idle(now + LEASE_TTL + SOURCE_IDLE));
        let blocked = SourceState {
            blocked_until: Some(now + Duration::from_secs(600)),
            ..leased
        };
        assert!(
            !blocked.is_idle(now + LEASE_TTL + SOURCE_IDLE),
            "still blocked"
        );
        assert!(blocked.is_idle(now + Duration::from_secs(600) + SOURCE_IDLE));
    }
}
