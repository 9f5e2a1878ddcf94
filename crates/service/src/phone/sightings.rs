//! Last-seen bookkeeping off the phone path: requests note sightings in memory, and a
//! background task writes them to the registry in small batches, five times a second.
//!
//! A MAC is noted at most once per interval, so a phone that boot-loops costs one row
//! update per interval. When a MAC may be noted again is its own: the interval plus a share
//! of half an interval drawn from the MAC. A fleet that was all seen in the same few seconds
//! (a boot storm, a cold start under load) therefore comes due spread over half an interval
//! and drifts further apart each round, instead of being re-noted and written all at once
//! when a common interval ends.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use signpost_domain::Mac;
use signpost_store::registry::{DeviceRepo, Sighting};
use tokio::sync::Notify;

/// How often pending sightings are written: a steady trickle of small batches. Each write
/// takes a core for a moment (the database's share included); small and frequent ones
/// disturb the phone path's tail latency less than one large write a second.
const FLUSH_EVERY: Duration = Duration::from_millis(200);
/// Pending sightings that start a flush before the second is up: a boot storm of 100,000
/// phones then costs a few MiB of pending notes.
const FLUSH_AT: usize = 10_000;
/// Sightings held at most (when the registry is slower than the storm); beyond it new MACs
/// are dropped until the next flush (and counted), so memory stays bounded.
const MAX_PENDING: usize = 50_000;
/// MACs whose next noting time is remembered, at most; past it, MACs not yet remembered
/// wait until expired ones are pruned (a dozen bytes and a little for each: a million is a
/// few tens of MiB at most).
const MAX_NOTED: usize = 1_000_000;

/// When a MAC may next be noted, on the log's clock, as the log last answered for it; kept
/// with the MAC's device entry. Zero (the start) until the log has answered.
#[derive(Debug, Default)]
pub struct NotedUntil(AtomicU32);

#[derive(Debug)]
pub struct SightingLog {
    state: Mutex<Log>,
    /// The zero of the log's clock, which counts whole seconds.
    epoch: Instant,
    interval_secs: u32,
    dropped: AtomicU64,
    /// Wakes the flusher early when [`FLUSH_AT`] notes are pending.
    full: Notify,
}

#[derive(Debug, Default)]
struct Log {
    /// Sightings not written yet.
    pending: HashMap<Mac, Sighting>,
    /// When each recently noted MAC may be noted again (seconds on the log's clock).
    /// Writing a sighting does not clear it, so a phone is still noted once per interval
    /// however often it asks.
    next_due: HashMap<Mac, u32>,
    /// When `next_due` was last pruned of MACs that are due again.
    pruned_at: u32,
}

impl SightingLog {
    /// `interval`: how long a noted MAC is left alone (rounded to whole seconds, at least 1).
    pub fn new(interval: Duration) -> Self {
        let interval_secs = u32::try_from(interval.as_secs()).unwrap_or(u32::MAX).max(1);
        Self {
            state: Mutex::default(),
            epoch: Instant::now(),
            interval_secs,
            dropped: AtomicU64::new(0),
            full: Notify::new(),
        }
    }

    fn now(&self) -> u32 {
        u32::try_from(self.epoch.elapsed().as_secs()).unwrap_or(u32::MAX)
    }

    /// When a MAC noted at `now` may be noted again: a full interval, plus up to half an
    /// interval that depends on the MAC alone.
    fn due_after(&self, mac: Mac, now: u32) -> u32 {
        let mut hasher = DefaultHasher::new();
        mac.hash(&mut hasher);
        let spread = u64::from(self.interval_secs / 2 + 1);
        let extra = u32::try_from(hasher.finish() % spread).unwrap_or(0);
        now.saturating_add(self.interval_secs).saturating_add(extra)
    }

    /// Notes a sighting unless this MAC was noted less than its interval ago; `sighting` is
    /// only called (and allocates) when it will be kept. `memo` is kept with the MAC's
    /// device entry: while it says the MAC is not due, the log is not asked.
    pub fn note(&self, mac: Mac, memo: &NotedUntil, sighting: impl FnOnce() -> Sighting) {
        self.note_remembered(self.now(), mac, memo, sighting);
    }

    fn note_remembered(
        &self,
        now: u32,
        mac: Mac,
        memo: &NotedUntil,
        sighting: impl FnOnce() -> Sighting,
    ) {
        if now < memo.0.load(Ordering::Relaxed) {
            return;
        }
        if let Some(due) = self.note_at(now, mac, sighting) {
            memo.0.store(due, Ordering::Relaxed);
        }
    }

    /// When the MAC may be noted next, whether it was noted now or earlier; `None` when it
    /// was dropped (too much pending), so that it is offered again.
    fn note_at(&self, now: u32, mac: Mac, sighting: impl FnOnce() -> Sighting) -> Option<u32> {
        let mut log = self.state.lock().expect("poisoned");
        let known = match log.next_due.get(&mac) {
            Some(due) if now < *due => return Some(*due),
            Some(_) => true,
            None => false,
        };
        if log.pending.len() >= MAX_PENDING || (!known && log.next_due.len() >= MAX_NOTED) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let due = self.due_after(mac, now);
        log.next_due.insert(mac, due);
        log.pending.insert(mac, sighting());
        if log.pending.len() == FLUSH_AT {
            self.full.notify_one();
        }
        Some(due)
    }

    /// The pending sightings. Once an interval, MACs that are due again are forgotten, so
    /// the bookkeeping holds only phones seen lately.
    fn take(&self, now: u32) -> Vec<Sighting> {
        let mut log = self.state.lock().expect("poisoned");
        if now.saturating_sub(log.pruned_at) >= self.interval_secs {
            log.next_due.retain(|_, due| now < *due);
            log.pruned_at = now;
        }
        std::mem::take(&mut log.pending).into_values().collect()
    }

    /// Puts back sightings a failed flush could not write, unless newer ones arrived.
    fn restore(&self, sightings: Vec<Sighting>) {
        let mut log = self.state.lock().expect("poisoned");
        for sighting in sightings {
            if log.pending.len() >= MAX_PENDING {
                break;
            }
            log.pending.entry(sighting.mac).or_insert(sighting);
        }
    }

    /// Writes what is pending; answers how many devices were updated.
    pub async fn flush(&self, repo: &dyn DeviceRepo) -> usize {
        let dropped = self.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            tracing::warn!(dropped, "sightings dropped: too many MACs between flushes");
        }
        let sightings = self.take(self.now());
        if sightings.is_empty() {
            return 0;
        }
        match repo.record_sightings(&sightings).await {
            Ok(updated) => usize::try_from(updated).unwrap_or(usize::MAX),
            Err(err) => {
                tracing::warn!(%err, pending = sightings.len(), "cannot record sightings; retrying at the next flush");
                self.restore(sightings);
                0
            }
        }
    }

    /// Flushes every [`FLUSH_EVERY`], and as soon as [`FLUSH_AT`] are pending, for as long as the
    /// process runs.
    pub fn spawn_flusher(
        self: &Arc<Self>,
        repo: Arc<dyn DeviceRepo>,
    ) -> tokio::task::JoinHandle<()> {
        let log = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(FLUSH_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    () = log.full.notified() => {}
                }
                log.flush(repo.as_ref()).await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use signpost_domain::Timestamp;

    fn sighting(mac: Mac, address: &str) -> Sighting {
        Sighting {
            mac,
            at: Timestamp::now(),
            source_address: address.to_owned(),
            user_agent: None,
            firmware_version: None,
            phone_type: None,
        }
    }

    fn mac(n: u32) -> Mac {
        format!("000413{n:06X}").parse().unwrap()
    }

    #[test]
    fn a_mac_is_noted_once_per_interval() {
        let log = SightingLog::new(Duration::from_secs(60));
        let mac = mac(1);
        log.note_at(0, mac, || sighting(mac, "192.0.2.1"));
        log.note_at(0, mac, || panic!("not built again"));
        let taken = log.take(0);
        assert_eq!(taken.len(), 1);
        assert_eq!(taken[0].source_address, "192.0.2.1");
        // Written, but still noted: the interval is not over.
        log.note_at(59, mac, || panic!("noted less than an interval ago"));
        assert!(log.take(59).is_empty());
        let due = log.due_after(mac, 0);
        assert!((60..=90).contains(&due), "due at {due}");
        log.note_at(due - 1, mac, || panic!("not due yet"));
        log.note_at(due, mac, || sighting(mac, "192.0.2.2"));
        assert_eq!(log.take(due)[0].source_address, "192.0.2.2");
    }

    #[test]
    fn a_device_entry_remembers_when_its_mac_is_due() {
        let log = SightingLog::new(Duration::from_secs(60));
        let mac = mac(1);
        let memo = NotedUntil::default();
        log.note_remembered(0, mac, &memo, || sighting(mac, "192.0.2.1"));
        let due = log.due_after(mac, 0);
        assert_eq!(memo.0.load(Ordering::Relaxed), due);
        assert_eq!(log.take(0).len(), 1);
        // A fresh entry for the same MAC (reloaded after an invalidation) asks the log,
        // which still knows the MAC is not due, and remembers that answer.
        let reloaded = NotedUntil::default();
        log.note_remembered(1, mac, &reloaded, || {
            panic!("noted less than an interval ago")
        });
        assert_eq!(reloaded.0.load(Ordering::Relaxed), due);
        // While an entry's memo says "not due", the log is not even asked.
        log.state.lock().unwrap().next_due.clear();
        log.note_remembered(due - 1, mac, &memo, || panic!("the memo answers"));
        assert!(log.take(due - 1).is_empty());
        // Once due, the MAC is noted again and the memo moves on.
        log.note_remembered(due, mac, &memo, || sighting(mac, "192.0.2.2"));
        assert_eq!(log.take(due)[0].source_address, "192.0.2.2");
        assert_eq!(memo.0.load(Ordering::Relaxed), log.due_after(mac, due));
    }

    #[test]
    fn a_dropped_sighting_is_offered_again() {
        let log = SightingLog::new(Duration::from_secs(60));
        for n in 0..MAX_PENDING as u32 {
            log.note_at(0, mac(n), || sighting(mac(n), "x"));
        }
        let late = mac(MAX_PENDING as u32);
        let memo = NotedUntil::default();
        log.note_remembered(0, late, &memo, || sighting(late, "x"));
        assert_eq!(memo.0.load(Ordering::Relaxed), 0, "not remembered as noted");
        assert_eq!(log.take(0).len(), MAX_PENDING);
        log.note_remembered(0, late, &memo, || sighting(late, "y"));
        assert_eq!(log.take(0)[0].source_address, "y");
    }

    #[test]
    fn a_fleet_seen_at_once_comes_due_spread_out() {
        let log = SightingLog::new(Duration::from_secs(60));
        let mut per_second = HashMap::<u32, u32>::new();
        for n in 0..10_000 {
            *per_second.entry(log.due_after(mac(n), 0)).or_default() += 1;
        }
        assert!(per_second.keys().all(|due| (60..=90).contains(due)));
        // 31 possible seconds: a fair spread puts about 323 in each, none near all of them.
        assert_eq!(per_second.len(), 31);
        assert!(per_second.values().all(|n| *n < 500), "{per_second:?}");
    }

    #[test]
    fn due_macs_are_pruned_once_an_interval() {
        let log = SightingLog::new(Duration::from_secs(10));
        for n in 0..100 {
            log.note_at(0, mac(n), || sighting(mac(n), "x"));
        }
        log.take(0);
        assert_eq!(log.state.lock().unwrap().next_due.len(), 100);
        log.take(9);
        assert_eq!(
            log.state.lock().unwrap().next_due.len(),
            100,
            "not pruned early"
        );
        log.take(12);
        let left = log.state.lock().unwrap().next_due.len();
        assert!(left > 0 && left < 100, "only the due ones go: {left} left");
        log.take(30);
        assert!(log.state.lock().unwrap().next_due.is_empty());
    }

    #[test]
    fn restore_keeps_newer_sightings() {
        let log = SightingLog::new(Duration::from_secs(60));
        let mac = mac(1);
        log.note_at(0, mac, || sighting(mac, "new"));
        log.restore(vec![sighting(mac, "old")]);
        assert_eq!(log.take(0)[0].source_address, "new");
    }
}
