//! Last-seen bookkeeping off the phone path: requests note sightings in memory, and a
//! background task writes them to the registry in small batches, five times a second.
//!
//! A MAC is noted at most once per interval, so a phone that boot-loops costs one row
//! update per interval. When a MAC may be noted again is its own: the interval plus a share
//! of half an interval drawn from the MAC. A fleet that was all seen in the same few seconds
//! (a boot storm, a cold start under load) therefore comes due spread over half an interval
//! and drifts further apart each round, instead of being re-noted and written all at once
//! when a common interval ends.
//!
//! The phone path takes the log's lock to note a MAC, so nothing that grows with the fleet
//! is done while it is held: at a million MACs one pass over them took 9–10 ms (twice that
//! on a busy host), and a worker that wanted the lock meanwhile held up all its connections.

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
/// wait until the oldest generation is forgotten (a dozen bytes and a little for each: a
/// million is a few tens of MiB at most).
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
    /// When each recently noted MAC may be noted again. Writing a sighting does not clear
    /// it, so a phone is still noted once per interval however often it asks.
    next_due: DueBook,
}

/// When recently noted MACs may be noted again (seconds on the log's clock), in generations
/// of one interval each: every interval the oldest generation is forgotten whole and a new
/// one begins, which costs the same for ten MACs as for a million (the entries are plain
/// numbers, so the forgotten table is freed without a pass over it).
///
/// A MAC noted at `t` is due by `t + 1.5 × interval`. It sits in the newest generation until
/// the next turn, then in each older one for a whole interval: it is remembered for more
/// than two intervals, past its due time. Each MAC is in one generation only.
#[derive(Debug, Default)]
struct DueBook {
    /// Newest first.
    generations: [HashMap<Mac, u32>; 3],
    /// When the newest generation began.
    began_at: u32,
}

impl DueBook {
    fn get(&self, mac: &Mac) -> Option<u32> {
        self.generations.iter().find_map(|g| g.get(mac).copied())
    }

    fn len(&self) -> usize {
        self.generations.iter().map(HashMap::len).sum()
    }

    /// Remembers `due` for `mac` in the newest generation (a MAC noted again moves there).
    fn insert(&mut self, mac: Mac, due: u32) {
        let (newest, older) = self
            .generations
            .split_first_mut()
            .expect("three generations");
        if newest.insert(mac, due).is_none() {
            for generation in older {
                if generation.remove(&mac).is_some() {
                    break;
                }
            }
        }
    }

    /// Starts a new generation once the newest is an interval old; answers the forgotten
    /// one, for the caller to drop after letting the lock go.
    fn turn(&mut self, now: u32, interval_secs: u32) -> Option<HashMap<Mac, u32>> {
        if now.saturating_sub(self.began_at) < interval_secs {
            return None;
        }
        self.began_at = now;
        self.generations.rotate_right(1);
        Some(std::mem::take(&mut self.generations[0]))
    }
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
            Some(due) if now < due => return Some(due),
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

    /// The pending sightings. Once an interval the oldest generation of noted MACs is
    /// forgotten, so the bookkeeping holds only phones seen lately. Only constant-time work
    /// is done under the lock: the tables taken out are read and freed after it.
    fn take(&self, now: u32) -> Vec<Sighting> {
        let mut log = self.state.lock().expect("poisoned");
        let forgotten = log.next_due.turn(now, self.interval_secs);
        let pending = std::mem::take(&mut log.pending);
        drop(log);
        drop(forgotten);
        pending.into_values().collect()
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
        log.state.lock().unwrap().next_due = DueBook::default();
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
    fn noted_macs_are_forgotten_only_after_they_are_due() {
        let log = SightingLog::new(Duration::from_secs(10));
        let remembered = |log: &SightingLog| log.state.lock().unwrap().next_due.len();
        // Noted just before the first turn: the case remembered for the shortest time.
        for n in 0..100 {
            log.note_at(9, mac(n), || sighting(mac(n), "x"));
        }
        let (last_due, late) = (0..100)
            .map(|n| (log.due_after(mac(n), 9), mac(n)))
            .max()
            .unwrap();
        assert!(
            last_due > 9 + 10,
            "some are due after a whole interval: {last_due}"
        );
        for now in 9..last_due {
            log.take(now);
            assert_eq!(remembered(&log), 100, "forgotten before due, at {now}");
            log.note_at(now, late, || panic!("not due yet"));
        }
        // Due or not, a generation is forgotten whole within three intervals.
        log.take(40);
        assert_eq!(remembered(&log), 0);
        log.note_at(40, late, || sighting(late, "again"));
        assert_eq!(log.take(40)[0].source_address, "again");
    }

    #[test]
    fn a_mac_noted_again_is_remembered_once() {
        let log = SightingLog::new(Duration::from_secs(10));
        let mac = mac(1);
        let mut now = 0;
        for _ in 0..6 {
            log.note_at(now, mac, || sighting(mac, "x"));
            log.take(now);
            assert_eq!(log.state.lock().unwrap().next_due.len(), 1);
            now = log.due_after(mac, now);
        }
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
