//! A bounded in-process cache whose entries expire, with loads shared by concurrent misses.
//!
//! The phone path reads three or four of these per request, so a read has to be cheap: a
//! hash, a shard's read lock and a probe (quick_cache, whose S3-FIFO eviction needs no
//! bookkeeping beyond a counter per entry). moka, used before, records every read in a
//! channel and replays it into its LRU lists and frequency sketch; that took 12-14% of
//! the server's CPU on the redirect path and 10% in a boot storm (BENCHMARKS.md, thirteenth
//! round).
//!
//! An entry's lifetime is fixed when it is stored. An expired entry is a miss; it stays in
//! memory until it is replaced or evicted, which the capacity bounds.
//!
//! Concurrent misses on one key share one load (a boot storm of one office must not become
//! a storm on the registry), and share its failure too: when the registry is down, every
//! caller waiting on a load learns so when the load fails, instead of each trying in turn.

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::watch;

/// How a borrowed key is matched against stored ones (see [`ExpiringCache::get`]).
pub use quick_cache::Equivalent;

/// What callers waiting on a load receive: `None` until the load ends.
type Outcome<V, E> = Option<Result<V, Arc<E>>>;

/// Loads in flight, by key; each waiter watches the load's outcome.
type Loads<K, V, E> = HashMap<K, watch::Receiver<Outcome<V, E>>>;

/// A stored value and when it stops counting.
#[derive(Clone)]
struct Stamped<V> {
    value: V,
    expires: Instant,
}

pub struct ExpiringCache<K, V, E> {
    entries: quick_cache::sync::Cache<K, Stamped<V>>,
    loads: Mutex<Loads<K, V, E>>,
}

impl<K: Hash + Eq, V: Clone, E> fmt::Debug for ExpiringCache<K, V, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExpiringCache")
            .field("entries", &self.entries.len())
            .field("capacity", &self.entries.capacity())
            .finish_non_exhaustive()
    }
}

impl<K, V, E> ExpiringCache<K, V, E>
where
    K: Hash + Eq + Clone,
    V: Clone,
{
    /// Holds about `capacity` entries at most. Nothing is allocated up front, so a large
    /// bound costs nothing until it is used.
    pub fn new(capacity: u64) -> Self {
        Self {
            entries: bounded(capacity),
            loads: Mutex::new(HashMap::new()),
        }
    }

    /// The value stored under `key`, unless it has expired. `key` may be a borrowed form
    /// of `K` (hashing as `K` does), so that a lookup allocates no key of its own.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        Q: Hash + Equivalent<K> + ?Sized,
    {
        self.entries
            .get(key)
            .filter(|stamped| stamped.expires > Instant::now())
            .map(|stamped| stamped.value)
    }

    /// Stores `value` under `key` for `lifetime`, replacing what was there.
    pub fn insert(&self, key: K, value: V, lifetime: Duration) {
        let expires = Instant::now() + lifetime;
        self.entries.insert(key, Stamped { value, expires });
    }

    pub fn invalidate(&self, key: &K) {
        self.entries.remove(key);
    }

    /// Drops every entry for which `doomed` says so.
    pub fn invalidate_if(&self, doomed: impl Fn(&K, &V) -> bool) {
        self.entries
            .retain(|key, stamped| !doomed(key, &stamped.value));
    }

    pub fn invalidate_all(&self) {
        self.entries.clear();
    }

    /// Entries held, the expired ones included.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn lock_loads(&self) -> std::sync::MutexGuard<'_, Loads<K, V, E>> {
        // A map changed in single steps: still good after a panic elsewhere.
        self.loads.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The value under `key`, or what `load` gives, stored for `lifetime(&value)`. While a
    /// load of `key` is in flight, other callers wait for it and get its outcome, an error
    /// included. A caller whose load is dropped half-way hands the job to a waiter.
    pub async fn try_get_with<F>(
        &self,
        key: &K,
        lifetime: impl Fn(&V) -> Duration,
        load: F,
    ) -> Result<V, Arc<E>>
    where
        F: Future<Output = Result<V, E>>,
    {
        let mut load = Some(load);
        loop {
            if let Some(hit) = self.get(key) {
                return Ok(hit);
            }
            let role = {
                let mut loads = self.lock_loads();
                match loads.get(key) {
                    Some(outcome) => Role::Wait(outcome.clone()),
                    None => {
                        let (sender, outcome) = watch::channel(None);
                        loads.insert(key.clone(), outcome);
                        Role::Load(sender)
                    }
                }
            };
            let sender = match role {
                Role::Wait(mut outcome) => match outcome.wait_for(Option::is_some).await {
                    Ok(done) => return done.clone().expect("waited for an outcome"),
                    // The loader went away without an outcome: look again, and load if
                    // nobody else does.
                    Err(_) => continue,
                },
                Role::Load(sender) => sender,
            };
            let in_flight = InFlight { cache: self, key };
            // A load that ended between the miss above and the registration is not repeated.
            if let Some(hit) = self.get(key) {
                drop(in_flight);
                let _ = sender.send(Some(Ok(hit.clone())));
                return Ok(hit);
            }
            let load = load.take().expect("a caller loads at most once");
            let outcome = load.await.map_err(Arc::new);
            if let Ok(value) = &outcome {
                self.insert(key.clone(), value.clone(), lifetime(value));
            }
            drop(in_flight);
            let _ = sender.send(Some(outcome.clone()));
            return outcome;
        }
    }
}

/// A quick_cache of about `capacity` entries (at least one). Its tables grow as entries
/// arrive: nothing is allocated up front, so a large bound costs nothing until it is used.
pub(crate) fn bounded<K: Hash + Eq, V: Clone>(capacity: u64) -> quick_cache::sync::Cache<K, V> {
    let capacity = capacity.max(1);
    quick_cache::sync::Cache::with(
        usize::try_from(capacity).unwrap_or(usize::MAX),
        capacity,
        Default::default(),
        Default::default(),
        Default::default(),
    )
}

enum Role<V, E> {
    Wait(watch::Receiver<Outcome<V, E>>),
    Load(watch::Sender<Outcome<V, E>>),
}

/// Takes a load off the in-flight list when it ends, or when its caller is dropped.
struct InFlight<'a, K: Hash + Eq + Clone, V: Clone, E> {
    cache: &'a ExpiringCache<K, V, E>,
    key: &'a K,
}

impl<K: Hash + Eq + Clone, V: Clone, E> Drop for InFlight<'_, K, V, E> {
    fn drop(&mut self) {
        self.cache.lock_loads().remove(self.key);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use futures::future::join_all;

    use super::*;

    const LONG: Duration = Duration::from_secs(300);

    fn cache(capacity: u64) -> ExpiringCache<u32, Option<Arc<String>>, String> {
        ExpiringCache::new(capacity)
    }

    fn value(text: &str) -> Option<Arc<String>> {
        Some(Arc::new(text.to_owned()))
    }

    #[test]
    fn an_entry_lives_its_lifetime_and_no_longer() {
        let cache = cache(10);
        cache.insert(1, value("one"), LONG);
        cache.insert(2, value("two"), Duration::ZERO);
        cache.insert(3, None, LONG);
        assert_eq!(cache.get(&1), Some(value("one")));
        assert_eq!(cache.get(&2), None, "expired");
        assert_eq!(cache.get(&3), Some(None), "a negative entry is a hit");
        assert_eq!(cache.get(&4), None);
    }

    #[test]
    fn invalidation_drops_one_some_or_all() {
        let cache = cache(100);
        for key in 0..10 {
            cache.insert(key, value("v"), LONG);
        }
        cache.invalidate(&0);
        cache.invalidate_if(|key, _| key % 2 == 1);
        assert_eq!(
            (0..10)
                .filter(|key| cache.get(key).is_some())
                .collect::<Vec<_>>(),
            vec![2, 4, 6, 8]
        );
        cache.invalidate_all();
        assert!(cache.is_empty());
    }

    #[test]
    fn the_number_of_entries_is_bounded() {
        let cache = cache(1_000);
        for key in 0..20_000 {
            cache.insert(key, value("v"), LONG);
        }
        assert!(cache.len() <= 1_100, "{} entries", cache.len());
    }

    type Answer = Result<Option<Arc<String>>, Arc<String>>;

    /// Fifty callers miss key 7 at once, each with a slow load giving `outcome`: their
    /// answers, and how many loads ran.
    async fn fifty_misses(
        cache: &ExpiringCache<u32, Option<Arc<String>>, String>,
        outcome: Result<Option<Arc<String>>, String>,
    ) -> (Vec<Answer>, usize) {
        let loads = AtomicUsize::new(0);
        let answers = join_all((0..50).map(|_| {
            cache.try_get_with(&7, |_| LONG, async {
                loads.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
                outcome.clone()
            })
        }))
        .await;
        (answers, loads.load(Ordering::Relaxed))
    }

    #[tokio::test]
    async fn concurrent_misses_share_one_load_and_its_value() {
        let cache = cache(10);
        let (answers, loads) = fifty_misses(&cache, Ok(value("seven"))).await;
        assert_eq!(loads, 1);
        assert!(
            answers
                .iter()
                .all(|a| a.as_ref().unwrap() == &value("seven"))
        );
        assert_eq!(cache.get(&7), Some(value("seven")));
        assert!(cache.lock_loads().is_empty());
    }

    #[tokio::test]
    async fn concurrent_misses_share_a_failure_and_the_next_miss_loads_again() {
        let cache = cache(10);
        let (answers, loads) = fifty_misses(&cache, Err("registry down".to_owned())).await;
        assert_eq!(loads, 1, "one load failed for all");
        assert!(
            answers
                .iter()
                .all(|a| a.as_ref().unwrap_err().as_str() == "registry down")
        );
        assert_eq!(cache.get(&7), None, "a failure is not stored");
        let again = cache.try_get_with(&7, |_| LONG, async { Ok(value("back")) });
        assert_eq!(again.await.unwrap(), value("back"));
    }

    #[tokio::test]
    async fn a_dropped_load_hands_over_to_a_waiter() {
        let cache = cache(10);
        let abandoned = cache.try_get_with(&1, |_| LONG, std::future::pending());
        // Poll the first caller once so it becomes the loader, then drop it.
        let waiter = async {
            tokio::task::yield_now().await;
            cache
                .try_get_with(&1, |_| LONG, async { Ok(value("from the waiter")) })
                .await
        };
        let (first, second) = tokio::join!(
            tokio::time::timeout(Duration::from_millis(10), abandoned),
            waiter
        );
        assert!(first.is_err(), "the first load never ends");
        assert_eq!(second.unwrap(), value("from the waiter"));
        assert!(cache.lock_loads().is_empty());
    }

    #[tokio::test]
    async fn the_lifetime_is_chosen_by_the_value() {
        let cache = cache(10);
        let lifetime = |v: &Option<Arc<String>>| if v.is_some() { LONG } else { Duration::ZERO };
        let loaded = cache.try_get_with(&1, lifetime, async { Ok(None) }).await;
        assert_eq!(loaded.unwrap(), None);
        assert_eq!(cache.get(&1), None, "the negative answer expired at once");
    }
}
