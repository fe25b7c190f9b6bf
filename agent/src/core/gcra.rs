//! GCRA (generic cell rate algorithm): a token bucket kept as one number, the theoretical
//! arrival time (TAT).
//!
//! A limit of `limit` units per `window` becomes an emission interval `T = ⌈window / limit⌉`
//! and a burst of `limit`: a request of `n` units passes iff `max(tat, now) + n·T − now ≤
//! limit·T`. Over any interval of length `L` at most `limit + L / T` units pass. Time is plain
//! integers (nanoseconds for the in-memory store, microseconds in Redis's Lua, same formula), so
//! the caller owns the clock. Unlike `governor` this exposes the arithmetic itself: the store
//! needs to check several cells before committing any (all-or-nothing across scopes), to refund
//! or charge after the fact (reserve/settle), and to run the same rule inside Redis.

use std::time::Duration;

/// One limit as GCRA parameters, in the caller's time unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Emission interval: time one unit "costs".
    pub interval: u64,
    /// Burst: how many units may pass at once (the limit).
    pub burst: u64,
}

impl Rate {
    /// `limit` units per `window` (in the caller's time unit); `None` when `limit` is 0 (off).
    pub fn new(limit: u64, window: u64) -> Option<Self> {
        (limit > 0).then(|| Self { interval: window.div_ceil(limit).max(1), burst: limit })
    }

    /// From a `Duration` window, in nanoseconds.
    pub fn per(limit: u64, window: Duration) -> Option<Self> {
        Self::new(limit, window.as_nanos().min(u128::from(u64::MAX)) as u64)
    }

    fn span(&self) -> u64 {
        self.burst.saturating_mul(self.interval)
    }

    /// Admits `n` units at `now`: `Ok(new_tat)` to store, or `Err(wait)` until it would fit
    /// (`u64::MAX` when `n` exceeds the burst and can never fit).
    pub fn check(&self, tat: u64, now: u64, n: u64) -> Result<u64, u64> {
        if n > self.burst {
            return Err(u64::MAX);
        }
        let new_tat = tat.max(now).saturating_add(n.saturating_mul(self.interval));
        let ahead = new_tat - now;
        if ahead <= self.span() { Ok(new_tat) } else { Err(ahead - self.span()) }
    }

    /// Adjusts `tat` by `delta` units after the fact: a positive delta charges (possibly into
    /// debt, which later requests wait out), a negative one refunds (never below a full bucket).
    pub fn adjust(&self, tat: u64, now: u64, delta: i64) -> u64 {
        let amount = delta.unsigned_abs().saturating_mul(self.interval);
        if delta >= 0 { tat.max(now).saturating_add(amount) } else { tat.saturating_sub(amount).max(now) }
    }

    /// Units currently "in the bucket" (used) at `now`, at most `burst`.
    pub fn used(&self, tat: u64, now: u64) -> u64 {
        tat.saturating_sub(now).div_ceil(self.interval).min(self.burst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_steady_rate() {
        // 10 per 1000 ticks → one every 100 ticks, burst 10.
        let r = Rate::new(10, 1000).unwrap();
        let mut tat = 0;
        for _ in 0..10 {
            tat = r.check(tat, 0, 1).unwrap();
        }
        assert_eq!(r.check(tat, 0, 1), Err(100));
        assert_eq!(r.used(tat, 0), 10);
        assert_eq!(r.check(tat, 99, 1), Err(1));
        tat = r.check(tat, 100, 1).unwrap();
        assert_eq!(r.used(tat, 100), 10);
        assert_eq!(r.used(tat, 2000), 0);
    }

    #[test]
    fn multi_unit_requests_and_oversize() {
        let r = Rate::new(100, 1000).unwrap();
        let tat = r.check(0, 0, 60).unwrap();
        assert_eq!(r.check(tat, 0, 41), Err(10));
        assert_eq!(r.check(tat, 0, 101), Err(u64::MAX));
        assert!(r.check(tat, 0, 40).is_ok());
        assert_eq!(Rate::new(0, 1000), None);
    }

    #[test]
    fn adjust_refunds_and_charges() {
        let r = Rate::new(10, 1000).unwrap();
        let tat = r.check(0, 0, 8).unwrap();
        assert_eq!(r.adjust(tat, 0, -3), 500);
        assert_eq!(r.adjust(tat, 0, -100), 0);
        let debt = r.adjust(tat, 0, 7);
        assert_eq!(r.used(debt, 0), 10);
        assert_eq!(r.check(debt, 0, 1), Err(600));
        // A refund while the bucket is already full leaves it full.
        assert_eq!(r.adjust(0, 5000, -1), 5000);
    }

    #[test]
    fn rounding_never_admits_more_than_the_limit_per_window() {
        // 3 per 1000 → interval 334, so 3 + floor(1000/334) = 5 over one window at most.
        let r = Rate::new(3, 1000).unwrap();
        assert_eq!(r.interval, 334);
        let mut tat = 0;
        let mut admitted = 0;
        for now in 0..1000 {
            if let Ok(t) = r.check(tat, now, 1) {
                tat = t;
                admitted += 1;
            }
        }
        assert_eq!(admitted, 3 + 2);
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Over any interval [a, b] between admitted requests, at most burst + (b − a) / T units pass.
        #[test]
        fn never_admits_more_than_rate_plus_burst(
            limit in 1u64..50,
            window in 100u64..100_000,
            steps in proptest::collection::vec((0u64..5_000, 1u64..10), 1..300),
        ) {
            let r = Rate::new(limit, window).unwrap();
            let (mut tat, mut now) = (0u64, 0u64);
            let mut admitted: Vec<(u64, u64)> = Vec::new();
            for (dt, n) in steps {
                now += dt;
                if let Ok(t) = r.check(tat, now, n) {
                    tat = t;
                    admitted.push((now, n));
                }
            }
            for i in 0..admitted.len() {
                let mut units = 0;
                for &(t, n) in &admitted[i..] {
                    units += n;
                    let bound = limit + (t - admitted[i].0) / r.interval;
                    prop_assert!(units <= bound, "{units} units in [{}, {t}] > {bound}", admitted[i].0);
                }
            }
        }
    }
}
