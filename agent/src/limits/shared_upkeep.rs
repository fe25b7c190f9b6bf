//! The shared store's upkeep: heartbeat and N, merging local charges into Redis, restoring an
//! emptied Redis from this worker's view, renewing session leases.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{SharedStore, lock};
use crate::limits::store::{LimitStore, Mode, Now, SessionLease};

/// Keys per merge call.
const MERGE_BATCH: usize = 32;
/// Least time a maintenance call (heartbeat, merge) may take: it blocks no turn.
const MAINTENANCE_TIMEOUT: Duration = Duration::from_millis(250);

impl SharedStore {
    /// Merges local state into Redis: everything remembered (`all`) or only unshared charges;
    /// `restore` after Redis lost its data. False if Redis failed (try again later).
    async fn sync(&self, now: Now, all: bool, restore: bool) -> bool {
        self.dirty.store(false, Ordering::Relaxed);
        let (day, entries) = self.local.sync_entries(all, now);
        let timeout = self.opts.timeout.max(MAINTENANCE_TIMEOUT);
        for chunk in entries.chunks(MERGE_BATCH) {
            if self.redis(now, timeout, self.redis.merge(chunk, restore, day)).await.is_none() {
                self.dirty.store(true, Ordering::Relaxed);
                return false;
            }
            self.local.mark_shared(chunk);
        }
        let merged = entries.iter().filter(|e| !e.rules.is_empty()).count();
        if merged > 0 {
            self.metrics.merged_keys(merged, restore);
            if restore {
                tracing::warn!(keys = merged, "limits: shared counters restored from this worker's view");
            } else {
                tracing::info!(keys = merged, "limits: local decisions merged into Redis");
            }
        }
        true
    }

    /// Periodic upkeep (every few seconds, and when [`SharedStore::wake`] fires): heartbeat →
    /// N; after Redis lost its data or at start, merge everything known and join its
    /// generation; merge local charges; renew held session leases; prune idle local keys.
    pub async fn maintain(&self, now: Now) {
        let timeout = self.opts.timeout.max(MAINTENANCE_TIMEOUT);
        let beat = self.redis(now, timeout, self.redis.heartbeat(self.opts.worker_ttl)).await;
        let Some((count, generation)) = beat else {
            self.local.prune(now);
            return;
        };
        let known = self.redis.generation();
        let lost = known != 0 && generation != known;
        let returned = lost || self.mode() != Mode::Shared;
        {
            let mut w = lock(&self.workers);
            if returned {
                w.store_returned(now.mono);
            }
            self.local.set_weight(w.observe(count, now.mono));
        }
        if lost {
            self.metrics.store_reset();
            tracing::warn!(
                workers = self.workers(),
                "limits: Redis came back without the shared limits (restarted empty?); restoring them from this worker's view"
            );
            self.resync.store(true, Ordering::Relaxed);
        }
        if self.resync.load(Ordering::Relaxed) {
            if !self.sync(now, true, lost).await {
                return;
            }
            let candidate = self.worker_seed ^ now.unix.as_nanos() as u64;
            if self.redis(now, timeout, self.redis.adopt_generation(candidate)).await.is_none() {
                return;
            }
            if lost {
                self.restore_leases(now).await;
            }
            self.resync.store(false, Ordering::Relaxed);
            self.set_mode(Mode::Shared);
        } else if self.dirty.load(Ordering::Relaxed) || returned {
            if !self.sync(now, false, false).await {
                return;
            }
            self.set_mode(Mode::Shared);
        }
        let leases: Vec<SessionLease> = lock(&self.leases).values().cloned().collect();
        for lease in leases {
            if self.redis(now, timeout, self.redis.renew_session(&lease)).await.is_none() {
                break;
            }
        }
        self.local.prune(now);
    }

    async fn restore_leases(&self, now: Now) {
        let timeout = self.opts.timeout.max(MAINTENANCE_TIMEOUT);
        let leases: Vec<SessionLease> = lock(&self.leases).values().cloned().collect();
        for lease in leases {
            if self.redis(now, timeout, self.redis.restore_session(&lease)).await.is_none() {
                break;
            }
        }
    }
}
