//! Connections that hold a place without asking for anything.
//!
//! Each connection must have a request head in hand within [`Timeouts::header_read`] of
//! being ready for one: from its accept (the TLS handshake included), and again from the
//! end of each answer. One task checks every open connection a few times per limit and
//! closes those past it; a connection only notes when a request starts and when its answer
//! ends. hyper's own header timer does the same with a tokio timer armed before every
//! request head: an allocation, and a trip through the runtime's one timer lock to register
//! and again to cancel, on every request of a kept-alive connection (see BENCHMARKS.md,
//! eleventh round, for what each costs).
//!
//! [`Timeouts::header_read`]: super::Timeouts::header_read

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::{Body, Frame, SizeHint};
use tokio::sync::Notify;

/// Checks per limit (the clock's ticks in one limit): a connection is closed at most a
/// thirtieth of the limit late.
const CHECKS_PER_LIMIT: u32 = 30;
/// Independent locks for the open connections, so that two workers opening or closing
/// connections at once rarely wait for each other.
const SHARDS: usize = 8;

/// The open connections and the clock they are judged by.
pub struct IdleWatch {
    shards: [Mutex<HashMap<u64, Arc<Idle>>>; SHARDS],
    next_id: AtomicU64,
    clock: Arc<Ticks>,
}

/// Checks since the watch started: coarse time, read without a system call.
#[derive(Default)]
struct Ticks(AtomicU32);

impl Ticks {
    fn now(&self) -> u32 {
        self.0.load(Ordering::Relaxed)
    }
}

impl IdleWatch {
    /// A watch closing connections idle for `limit`, checked by a task that ends when the
    /// watch is dropped.
    pub fn start(limit: Duration) -> Arc<Self> {
        let watch = Arc::new(Self {
            shards: std::array::from_fn(|_| Mutex::default()),
            next_id: AtomicU64::new(0),
            clock: Arc::default(),
        });
        let tick = limit / CHECKS_PER_LIMIT;
        let weak = Arc::downgrade(&watch);
        tokio::spawn(async move {
            let mut checks = tokio::time::interval(tick);
            checks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            checks.tick().await;
            loop {
                checks.tick().await;
                match Weak::upgrade(&weak) {
                    Some(watch) => watch.check(),
                    None => return,
                }
            }
        });
        watch
    }

    /// Watches a connection until the returned handle is dropped.
    pub fn watch(self: &Arc<Self>) -> Watched {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let idle = Arc::new(Idle {
            busy: AtomicU32::new(0),
            ready_since: AtomicU32::new(self.clock.now()),
            close: Notify::new(),
            clock: self.clock.clone(),
        });
        self.shard(id).insert(id, idle.clone());
        Watched {
            watch: self.clone(),
            id,
            idle,
        }
    }

    fn shard(&self, id: u64) -> MutexGuard<'_, HashMap<u64, Arc<Idle>>> {
        lock(&self.shards[(id % SHARDS as u64) as usize])
    }

    /// One check: the clock moves on, and connections past the limit are told to close.
    fn check(&self) {
        let now = self.clock.0.fetch_add(1, Ordering::Relaxed) + 1;
        for shard in &self.shards {
            let shard = lock(shard);
            for idle in shard.values() {
                // The count first: once it reads 0, the time stored before it dropped shows.
                if idle.busy.load(Ordering::Acquire) == 0
                    && now.wrapping_sub(idle.ready_since.load(Ordering::Relaxed))
                        >= CHECKS_PER_LIMIT
                {
                    idle.close.notify_one();
                }
            }
        }
    }
}

/// A shard's map is changed in single calls: still good after a panic elsewhere.
fn lock(shard: &Mutex<HashMap<u64, Arc<Idle>>>) -> MutexGuard<'_, HashMap<u64, Arc<Idle>>> {
    shard.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One connection's state as the watch sees it.
pub struct Idle {
    /// Requests whose head has been read and whose answer is not finished.
    busy: AtomicU32,
    /// When the connection was last ready for a request head.
    ready_since: AtomicU32,
    close: Notify,
    clock: Arc<Ticks>,
}

impl Idle {
    /// A request's head has been read; the returned guard ends it when dropped (with the
    /// answer's body, see [`Tracked`]).
    pub fn begin(self: &Arc<Self>) -> Busy {
        self.busy.fetch_add(1, Ordering::Relaxed);
        Busy(self.clone())
    }

    /// Resolves once the connection has been idle past the limit.
    pub async fn expired(&self) {
        self.close.notified().await;
    }
}

/// A connection's place in the watch; leaves it when dropped.
pub struct Watched {
    watch: Arc<IdleWatch>,
    id: u64,
    pub idle: Arc<Idle>,
}

impl Drop for Watched {
    fn drop(&mut self) {
        self.watch.shard(self.id).remove(&self.id);
    }
}

/// A request in progress on its connection.
pub struct Busy(Arc<Idle>);

impl Drop for Busy {
    fn drop(&mut self) {
        // Ready again from now; stored before the count drops so the check never sees the
        // connection idle since before this request.
        self.0
            .ready_since
            .store(self.0.clock.now(), Ordering::Relaxed);
        self.0.busy.fetch_sub(1, Ordering::Release);
    }
}

/// An answer's body that keeps its request [`Busy`] until hyper has sent it all (or the
/// connection went away): a slow download is a request in progress, not an idle connection.
pub struct Tracked<B> {
    body: B,
    _busy: Busy,
}

impl<B> Tracked<B> {
    pub fn new(body: B, busy: Busy) -> Self {
        Self { body, _busy: busy }
    }
}

impl<B: Body + Unpin> Body for Tracked<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
