//! A tiny seeded random source for jitter (open times, retry backoff).
//!
//! The sans-IO core must not reach for a global RNG: a breaker seeded in a test behaves the
//! same on every run. SplitMix64 is enough here — jitter only has to de-synchronise workers,
//! not be unpredictable to an attacker.

use std::time::Duration;

/// A SplitMix64 generator: one `u64` of state, no allocation.
#[derive(Debug, Clone)]
pub struct Jitter {
    state: u64,
}

impl Jitter {
    /// A generator from a seed (any value, including 0, is fine).
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A fraction in `[0, 1)`.
    pub fn fraction(&mut self) -> f64 {
        // 53 random bits fill an f64 mantissa exactly.
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// `base` stretched by a random `0..=max_fraction` of itself (e.g. 0.2 → up to +20 %).
    pub fn stretch(&mut self, base: Duration, max_fraction: f64) -> Duration {
        let f = if max_fraction.is_finite() { max_fraction.clamp(0.0, 10.0) } else { 0.0 };
        base.mul_f64(1.0 + f * self.fraction())
    }

    /// "Full jitter" backoff: a uniform duration in `[min, max]` (used for retry delays).
    pub fn between(&mut self, min: Duration, max: Duration) -> Duration {
        if max <= min {
            return min;
        }
        min + (max - min).mul_f64(self.fraction())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stretch_stays_within_bounds_and_spreads() {
        let mut j = Jitter::new(7);
        let base = Duration::from_secs(5);
        let (mut lo, mut hi) = (Duration::MAX, Duration::ZERO);
        for _ in 0..10_000 {
            let d = j.stretch(base, 0.2);
            assert!(d >= base && d <= base.mul_f64(1.2), "{d:?}");
            lo = lo.min(d);
            hi = hi.max(d);
        }
        // The spread actually uses the range: not stuck at one end.
        assert!(lo < base.mul_f64(1.01), "{lo:?}");
        assert!(hi > base.mul_f64(1.19), "{hi:?}");
    }

    #[test]
    fn between_is_inclusive_range_and_handles_inverted_bounds() {
        let mut j = Jitter::new(1);
        let (a, b) = (Duration::from_millis(50), Duration::from_millis(500));
        for _ in 0..10_000 {
            let d = j.between(a, b);
            assert!(d >= a && d <= b);
        }
        assert_eq!(j.between(b, a), b);
        assert_eq!(j.stretch(a, f64::NAN), a);
        assert_eq!(j.stretch(a, -1.0), a);
    }

    #[test]
    fn same_seed_same_sequence() {
        let (mut a, mut b) = (Jitter::new(42), Jitter::new(42));
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
    }
}
