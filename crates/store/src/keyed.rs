//! Per-key state kept in memory (a rate-limit bucket, what this replica knows of a source
//! address), bounded in number and forgotten once idle.
//!
//! Every phone request looks its source's state up, so a lookup is a hash, a shard's read
//! lock and a probe (quick_cache). Idle state is not tracked per read: each value says
//! whether it is idle, and a sweep every [`SWEEP_EVERY`] drops the idle ones. Past the bound
//! the least used state is forgotten first, whether idle or not.

use std::fmt;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use quick_cache::Equivalent;

use crate::expiring::bounded;

/// How often idle state is looked for. A sweep visits every entry, under one shard's lock
/// at a time: a few milliseconds for a hundred thousand addresses after a boot storm.
pub const SWEEP_EVERY: Duration = Duration::from_secs(10);

/// State that can tell when forgetting it would change nothing.
pub trait Idle {
    /// Whether dropping this now is the same as keeping it: a bucket that has refilled, a
    /// lease and a block that have run out.
    fn is_idle(&self, now: Instant) -> bool;
}

/// Shared state is idle when what it shares is.
impl<T: Idle + ?Sized> Idle for Arc<T> {
    fn is_idle(&self, now: Instant) -> bool {
        (**self).is_idle(now)
    }
}

/// Locked state is idle when the state is. The lock is held for the look only; a poisoned
/// one still holds whole values (state here is written in single steps).
///
/// A sweep takes these locks while it holds a shard of the table, so a caller must never
/// look a key up in the table while it holds one of them: the two could wait for each
/// other. Take the state out of the table first, then lock it.
impl<T: Idle> Idle for Mutex<T> {
    fn is_idle(&self, now: Instant) -> bool {
        self.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_idle(now)
    }
}

pub struct KeyedState<K, V> {
    entries: quick_cache::sync::Cache<K, V>,
    epoch: Instant,
    /// Milliseconds after `epoch` when the next sweep is due.
    next_sweep: AtomicU64,
}

impl<K: Hash + Eq, V: Clone> fmt::Debug for KeyedState<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedState")
            .field("entries", &self.entries.len())
            .finish_non_exhaustive()
    }
}

impl<K, V> KeyedState<K, V>
where
    K: Hash + Eq,
    V: Clone + Idle,
{
    /// Keeps about `capacity` keys at most; nothing is allocated up front.
    pub fn new(capacity: u64) -> Self {
        Self {
            entries: bounded(capacity),
            epoch: Instant::now(),
            next_sweep: AtomicU64::new(millis(SWEEP_EVERY)),
        }
    }

    /// The state of `key`, made by `fresh` if there is none. Concurrent first lookups of a
    /// key get the same state.
    pub fn get_or_insert_with<Q>(&self, key: &Q, fresh: impl FnOnce() -> V) -> V
    where
        Q: Hash + Equivalent<K> + ToOwned<Owned = K> + ?Sized,
    {
        self.sweep_when_due();
        match self
            .entries
            .get_or_insert_with(key, || Ok::<_, std::convert::Infallible>(fresh()))
        {
            Ok(state) => state,
            Err(never) => match never {},
        }
    }

    /// Keys held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Drops the idle state now.
    pub fn sweep(&self, now: Instant) {
        self.entries.retain(|_, state| !state.is_idle(now));
    }

    /// One caller in [`SWEEP_EVERY`] sweeps; the others only read the clock's deadline.
    fn sweep_when_due(&self) {
        let due = self.next_sweep.load(Ordering::Relaxed);
        let now = self.epoch.elapsed();
        if millis(now) < due {
            return;
        }
        let next = millis(now + SWEEP_EVERY);
        if self
            .next_sweep
            .compare_exchange(due, next, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            self.sweep(self.epoch + now);
        }
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    /// Idle from `idle_from` on.
    #[derive(Clone)]
    struct State {
        idle_from: Instant,
        made: Arc<AtomicUsize>,
    }

    impl Idle for State {
        fn is_idle(&self, now: Instant) -> bool {
            now >= self.idle_from
        }
    }

    fn state(idle_from: Instant) -> State {
        State {
            idle_from,
            made: Arc::new(AtomicUsize::new(0)),
        }
    }

    #[test]
    fn a_key_keeps_its_state_until_a_sweep_finds_it_idle() {
        let table = KeyedState::new(100);
        let start = Instant::now();
        let first = table.get_or_insert_with("a", || state(start + Duration::from_secs(5)));
        first.made.fetch_add(1, Ordering::Relaxed);
        let again = table.get_or_insert_with("a", || state(start));
        assert_eq!(again.made.load(Ordering::Relaxed), 1, "the same state");
        table.get_or_insert_with("b", || state(start));
        table.sweep(start + Duration::from_secs(1));
        assert_eq!(table.len(), 1, "b was idle, a not yet");
        table.sweep(start + Duration::from_secs(5));
        assert!(table.is_empty());
    }

    #[test]
    fn the_number_of_keys_is_bounded() {
        let table = KeyedState::new(1_000);
        let later = Instant::now() + Duration::from_secs(3600);
        for key in 0..20_000u32 {
            table.get_or_insert_with(&key, || state(later));
        }
        assert!(table.len() <= 1_100, "{} keys", table.len());
    }

    #[test]
    fn a_lookup_sweeps_once_the_sweep_is_due() {
        let table = KeyedState::new(100);
        table.get_or_insert_with("idle", || state(Instant::now()));
        table.next_sweep.store(0, Ordering::Relaxed);
        table.get_or_insert_with("busy", || state(Instant::now() + Duration::from_secs(60)));
        assert_eq!(table.len(), 1, "the idle key went in the sweep");
        assert!(table.next_sweep.load(Ordering::Relaxed) >= millis(SWEEP_EVERY));
    }
}
