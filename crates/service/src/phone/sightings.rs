//! Last-seen bookkeeping off the phone path: requests note sightings in memory, and a
//! background task writes them to the registry in batches. A MAC is noted at most once per
//! flush interval, so a phone that boot-loops costs one row update per interval.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use signpost_domain::Mac;
use signpost_store::registry::{DeviceRepo, Sighting};

/// Sightings held at most between flushes; beyond it new MACs are dropped until the next
/// flush (and counted), so a flood of requests cannot grow memory without bound.
const MAX_PENDING: usize = 200_000;

#[derive(Debug, Default)]
pub struct SightingLog {
    pending: Mutex<HashMap<Mac, Sighting>>,
    dropped: AtomicU64,
}

impl SightingLog {
    /// Notes a sighting unless this MAC was already noted since the last flush; `sighting`
    /// is only called (and allocates) when it will be kept.
    pub fn note(&self, mac: Mac, sighting: impl FnOnce() -> Sighting) {
        let mut pending = self.pending.lock().expect("poisoned");
        if pending.contains_key(&mac) {
            return;
        }
        if pending.len() >= MAX_PENDING {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        pending.insert(mac, sighting());
    }

    fn take(&self) -> Vec<Sighting> {
        let mut pending = self.pending.lock().expect("poisoned");
        std::mem::take(&mut *pending).into_values().collect()
    }

    /// Puts back sightings a failed flush could not write, unless newer ones arrived.
    fn restore(&self, sightings: Vec<Sighting>) {
        let mut pending = self.pending.lock().expect("poisoned");
        for sighting in sightings {
            if pending.len() >= MAX_PENDING {
                break;
            }
            pending.entry(sighting.mac).or_insert(sighting);
        }
    }

    /// Writes what is pending; answers how many devices were updated.
    pub async fn flush(&self, repo: &dyn DeviceRepo) -> usize {
        let dropped = self.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            tracing::warn!(dropped, "sightings dropped: too many MACs between flushes");
        }
        let sightings = self.take();
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
                tick.tick().await;
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

    #[test]
    fn a_mac_is_noted_once_per_interval() {
        let log = SightingLog::default();
        let mac: Mac = "000413AABBCC".parse().unwrap();
        log.note(mac, || sighting(mac, "192.0.2.1"));
        log.note(mac, || panic!("not built again"));
        let taken = log.take();
        assert_eq!(taken.len(), 1);
        assert_eq!(taken[0].source_address, "192.0.2.1");
        log.note(mac, || sighting(mac, "192.0.2.2"));
        assert_eq!(log.take()[0].source_address, "192.0.2.2");
    }

    #[test]
    fn restore_keeps_newer_sightings() {
        let log = SightingLog::default();
        let mac: Mac = "000413AABBCC".parse().unwrap();
        log.note(mac, || sighting(mac, "new"));
        log.restore(vec![sighting(mac, "old")]);
        assert_eq!(log.take()[0].source_address, "new");
    }
}
