//! Jittered exponential backoff for reconnecting to the LiveKit server (sans-IO).
//!
//! "Equal jitter": the n-th delay is uniformly drawn from [d/2, d] with d = min(max, base·2ⁿ).
//! Half the delay is guaranteed (no thundering retry at zero), the other half spreads a fleet
//! of workers that lost the same server at the same moment. The random draw is an argument,
//! so tests are deterministic.

use std::time::Duration;

/// Backoff state.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    /// Starts at `base`, doubling up to `max`.
    pub fn new(base: Duration, max: Duration) -> Self {
        Self { base, max: max.max(base), attempt: 0 }
    }

    /// The delay before the next attempt; `unit` is a random draw in [0, 1).
    pub fn next_delay(&mut self, unit: f64) -> Duration {
        let factor = 2f64.powi(self.attempt.min(30) as i32);
        let ceiling = (self.base.as_secs_f64() * factor).min(self.max.as_secs_f64());
        self.attempt = self.attempt.saturating_add(1);
        let unit = if unit.is_finite() { unit.clamp(0.0, 1.0) } else { 0.5 };
        Duration::from_secs_f64(ceiling / 2.0 + ceiling / 2.0 * unit)
    }

    /// Attempts since the last success.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// A connection succeeded: start over from `base`.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_within_jitter_bounds_and_caps() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        assert_eq!(b.next_delay(0.0), Duration::from_millis(50));
        assert_eq!(b.next_delay(1.0), Duration::from_millis(200));
        assert_eq!(b.next_delay(0.5), Duration::from_millis(300));
        for _ in 0..40 {
            assert!(b.next_delay(1.0) <= Duration::from_secs(2));
        }
        assert_eq!(b.next_delay(0.0), Duration::from_secs(1));
        assert!(b.attempts() > 40);
        b.reset();
        assert_eq!(b.next_delay(0.0), Duration::from_millis(50));
    }

    #[test]
    fn bad_random_input_is_tamed() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(100));
        assert_eq!(b.next_delay(f64::NAN), Duration::from_millis(75));
        assert_eq!(b.next_delay(7.0), Duration::from_millis(100));
    }
}
