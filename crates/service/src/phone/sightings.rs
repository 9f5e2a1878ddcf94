//! Last-seen bookkeeping off the phone path: requests note sightings in memory, and a
//! background task writes them to the registry in batches. A MAC is noted at most once per
//! flush interval, so a phone that boot-loops costs one row update per interval.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use signpost_domain::Mac;
use signpost_store::registry::{DeviceRepo, Sighting};
use tokio::sync::Notify;

/// Pending sightings that start a flush before the interval is up: a boot storm of 100,000
/// phones then costs a few MiB of pending notes, not one note per phone held for a minute.
const FLUSH_AT: usize = 10_000;
/// Sightings held at most (when the registry is slower than the storm); beyond it new MACs
/// are dropped until the next flush (and counted), so memory stays bounded.
const MAX_PENDING: usize = 50_000;

/// MACs remembered as noted this interval, at most; past it, MACs not yet noted wait for the
/// next interval (8 bytes and a little for each: a million is a few tens of MiB at most).
const MAX_NOTED: usize = 1_000_000;

#[derive(Debug, Default)]
pub struct SightingLog {
    state: Mutex<Log>,
    dropped: AtomicU64,
    /// Wakes the flusher early when [`FLUSH_AT`] notes are pending.
    full: Notify,
}

#[derive(Debug, Default)]
struct Log {
    /// Sightings not written yet.
    pending: HashMap<Mac, Sighting>,
    /// MACs noted this interval, written or not: an early flush empties `pending` but not
    /// this, so a phone is still noted once per interval however often it asks.
    noted: HashSet<Mac>,
}

impl SightingLog {
    /// Notes a sighting unless this MAC was already noted this interval; `sighting` is only
    /// called (and allocates) when it will be kept.
    pub fn note(&self, mac: Mac, sighting: impl FnOnce() -> Sighting) {
        let mut log = self.state.lock().expect("poisoned");
        if log.noted.contains(&mac) {
            return;
        }
        if log.pending.len() >= MAX_PENDING || log.noted.len() >= MAX_NOTED {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        log.noted.insert(mac);
        log.pending.insert(mac, sighting());
        if log.pending.len() == FLUSH_AT {
            self.full.notify_one();
        }
    }

    /// The pending sightings; `new_interval` also forgets which MACs were noted.
    fn take(&self, new_interval: bool) -> Vec<Sighting> {
        let mut log = self.state.lock().expect("poisoned");
        if new_interval {
            log.noted = HashSet::new();
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
            log.noted.insert(sighting.mac);
            log.pending.entry(sighting.mac).or_insert(sighting);
        }
    }

    /// Writes what is pending and starts a new interval; answers how many devices were
    /// updated.
    pub async fn flush(&self, repo: &dyn DeviceRepo) -> usize {
        self.write_pending(repo, true).await
    }

    async fn write_pending(&self, repo: &dyn DeviceRepo, new_interval: bool) -> usize {
        let dropped = self.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            tracing::warn!(dropped, "sightings dropped: too many MACs between flushes");
        }
        let sightings = self.take(new_interval);
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

    /// Flushes every `interval` for as long as the process runs.
    pub fn spawn_flusher(
        self: &Arc<Self>,
        repo: Arc<dyn DeviceRepo>,
        interval: Duration,
    ) -> tokio::task::JoinHandle<()> {
        let log = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        log.write_pending(repo.as_ref(), true).await;
                    }
                    () = log.full.notified() => {
                        log.write_pending(repo.as_ref(), false).await;
                    }
                }
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

    #[test]
    fn a_mac_is_noted_once_per_interval() {
        let log = SightingLog::default();
        let mac: Mac = "000413AABBCC".parse().unwrap();
        log.note(mac, || sighting(mac, "192.0.2.1"));
        log.note(mac, || panic!("not built again"));
        let taken = log.take(true);
        assert_eq!(taken.len(), 1);
        assert_eq!(taken[0].source_address, "192.0.2.1");
        log.note(mac, || sighting(mac, "192.0.2.2"));
        assert_eq!(log.take(true)[0].source_address, "192.0.2.2");
    }

    #[test]
    fn an_early_flush_does_not_start_a_new_interval() {
        let log = SightingLog::default();
        let mac: Mac = "000413AABBCC".parse().unwrap();
        log.note(mac, || sighting(mac, "192.0.2.1"));
        assert_eq!(log.take(false).len(), 1);
        log.note(mac, || panic!("still noted this interval"));
        assert!(log.take(false).is_empty());
        assert!(log.take(true).is_empty());
        log.note(mac, || sighting(mac, "192.0.2.3"));
        assert_eq!(log.take(true)[0].source_address, "192.0.2.3");
    }

    #[test]
    fn restore_keeps_newer_sightings() {
        let log = SightingLog::default();
        let mac: Mac = "000413AABBCC".parse().unwrap();
        log.note(mac, || sighting(mac, "new"));
        log.restore(vec![sighting(mac, "old")]);
        assert_eq!(log.take(true)[0].source_address, "new");
    }
}
