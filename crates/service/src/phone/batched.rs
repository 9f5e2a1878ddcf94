//! Lookups batched.
//!
//! In a boot storm every phone is a lookup no cache can answer: its device, seen for the
//! first time, its own settings file (`{type}-{MAC}.htm`), and a lease from the shared rate
//! limiter for its address. One query or script run each made the backend's fixed cost per
//! call (a round trip, a wake-up, a script's set-up) the largest part of a boot. Here lookups that arrive while others are being fetched wait for that
//! fetch to end and then go together, as one round. Nothing waits on purpose: a lone lookup
//! goes out at once, and the busier the registry, the larger the rounds.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use tokio::sync::oneshot;

/// Keys per round at most; more wait for the next round.
const MAX_BATCH: usize = 256;

/// One round of lookups against a backend.
#[async_trait]
pub trait Fetch: Send + Sync + 'static {
    type Key: Send + 'static;
    type Value: Send + 'static;
    type Error: fmt::Display + Send + 'static;
    /// What is known of each key, in the order of `keys`. An error fails the whole round.
    async fn fetch(&self, keys: &[Self::Key]) -> Result<Vec<Option<Self::Value>>, Self::Error>;
    /// What each asker of a round that failed or was abandoned gets.
    fn lost(reason: &str) -> Self::Error;
}

type Answer<F> = Result<Option<<F as Fetch>::Value>, <F as Fetch>::Error>;
type Reply<F> = oneshot::Sender<Answer<F>>;

struct Queue<F: Fetch> {
    pending: Vec<(F::Key, Reply<F>)>,
    /// A task is fetching; it takes what is pending when its round ends.
    fetching: bool,
}

pub struct Batched<F: Fetch> {
    fetcher: Arc<F>,
    queue: Arc<Mutex<Queue<F>>>,
}

impl<F: Fetch> Clone for Batched<F> {
    fn clone(&self) -> Self {
        Self {
            fetcher: self.fetcher.clone(),
            queue: self.queue.clone(),
        }
    }
}

impl<F: Fetch> fmt::Debug for Batched<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Batched").finish_non_exhaustive()
    }
}

impl<F: Fetch> Batched<F> {
    pub fn new(fetcher: F) -> Self {
        Self {
            fetcher: Arc::new(fetcher),
            queue: Arc::new(Mutex::new(Queue {
                pending: Vec::new(),
                fetching: false,
            })),
        }
    }

    /// The fetcher, for a lookup that should not wait for a round.
    pub fn fetcher(&self) -> &F {
        &self.fetcher
    }

    /// What is known of `key`, fetched together with the lookups around it.
    pub async fn get(&self, key: F::Key) -> Answer<F> {
        let (reply, answer) = oneshot::channel();
        let start = {
            let mut queue = self.lock();
            queue.pending.push((key, reply));
            !std::mem::replace(&mut queue.fetching, true)
        };
        if start {
            // Its own task: the fetch goes on for the others should this request be dropped.
            let batched = self.clone();
            tokio::spawn(async move { batched.fetch_until_idle().await });
        }
        answer
            .await
            .unwrap_or_else(|_| Err(F::lost("the lookup was abandoned")))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue<F>> {
        // A queue is a list and a flag, each changed in one step: still good after a panic.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Rounds of fetching until nothing is pending.
    async fn fetch_until_idle(&self) {
        let mut unwinding = Unwinding(Some(self));
        loop {
            let (keys, replies): (Vec<_>, Vec<_>) = {
                let mut queue = self.lock();
                if queue.pending.is_empty() {
                    queue.fetching = false;
                    unwinding.0 = None;
                    return;
                }
                let take = queue.pending.len().min(MAX_BATCH);
                queue.pending.drain(..take).unzip()
            };
            match self.fetcher.fetch(&keys).await {
                Ok(answers) if answers.len() == replies.len() => {
                    for (reply, answer) in replies.into_iter().zip(answers) {
                        // A receiver that is gone no longer needs its answer.
                        let _ = reply.send(Ok(answer));
                    }
                }
                Ok(_) => fail_all::<F>(replies, "the backend answered a different number of keys"),
                Err(err) => fail_all::<F>(replies, &err.to_string()),
            }
        }
    }
}

fn fail_all<F: Fetch>(replies: Vec<Reply<F>>, reason: &str) {
    for reply in replies {
        let _ = reply.send(Err(F::lost(reason)));
    }
}

/// Should a fetch end early (a panic, the runtime shutting down), the lookups still queued
/// fail at once and the next lookup starts a fetch again, rather than all waiting forever.
struct Unwinding<'a, F: Fetch>(Option<&'a Batched<F>>);

impl<F: Fetch> Drop for Unwinding<'_, F> {
    fn drop(&mut self) {
        if let Some(batched) = self.0 {
            let mut queue = batched.lock();
            queue.fetching = false;
            // Dropping a reply tells its asker the lookup was abandoned.
            queue.pending.clear();
        }
    }
}
