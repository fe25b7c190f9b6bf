//! How many workers share the limits (N), as this worker should believe it.
//!
//! The shared store counts workers by heartbeat. Right after it comes back empty, only the
//! workers that have already beaten are in it, so a plain count says 1, 2, 3… for a few
//! seconds and a worker that fell back to local limits then would take a third, half or all
//! of every limit. [`WorkerCount`] never lowers N below its recent value until a worker's
//! lifetime (`REDIS_WORKER_TTL_SECS`) has passed since that value was last seen and since the
//! store came back: a worker that really left is forgotten on the same schedule as in the
//! store itself.

use std::time::{Duration, Instant};

/// The number of live workers, held against dips.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerCount {
    held: u64,
    until: Instant,
    lifetime: Duration,
}

impl WorkerCount {
    /// Starts at `initial` (`LIMIT_WORKERS`), held for one `lifetime` from `now`.
    pub fn new(initial: u64, lifetime: Duration, now: Instant) -> Self {
        Self { held: initial.max(1), until: now + lifetime, lifetime }
    }

    /// N now.
    pub fn get(&self) -> u64 {
        self.held
    }

    /// The store came back (after an outage, or empty): hold the current N for a lifetime.
    pub fn store_returned(&mut self, now: Instant) {
        self.until = self.until.max(now + self.lifetime);
    }

    /// A heartbeat counted `count` live workers; returns N.
    pub fn observe(&mut self, count: u64, now: Instant) -> u64 {
        let count = count.max(1);
        if count >= self.held {
            self.held = count;
            self.until = self.until.max(now + self.lifetime);
        } else if now >= self.until {
            self.held = count;
            self.until = now + self.lifetime;
        }
        self.held
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dip_after_the_store_returns_is_held_for_a_lifetime() {
        let t0 = crate::clock::now();
        let s = Duration::from_secs;
        let mut n = WorkerCount::new(1, s(30), t0);
        assert_eq!(n.observe(3, t0 + s(1)), 3);
        // The store restarts empty at 40 s: heartbeats count 1, 2, 3 as workers return.
        n.store_returned(t0 + s(40));
        assert_eq!(n.observe(1, t0 + s(40)), 3);
        assert_eq!(n.observe(2, t0 + s(45)), 3);
        assert_eq!(n.observe(3, t0 + s(50)), 3);
        // A worker really leaves: N drops once a lifetime has passed since 3 was last seen.
        assert_eq!(n.observe(2, t0 + s(60)), 3);
        assert_eq!(n.observe(2, t0 + s(79)), 3);
        assert_eq!(n.observe(2, t0 + s(80)), 2);
        // Growth is taken at once.
        assert_eq!(n.observe(5, t0 + s(81)), 5);
        assert_eq!(n.observe(0, t0 + s(200)), 1);
    }

    #[test]
    fn the_store_returning_extends_the_hold() {
        let t0 = crate::clock::now();
        let s = Duration::from_secs;
        let mut n = WorkerCount::new(4, s(10), t0);
        n.store_returned(t0 + s(9));
        assert_eq!(n.observe(1, t0 + s(18)), 4);
        assert_eq!(n.observe(1, t0 + s(19)), 1);
    }
}
