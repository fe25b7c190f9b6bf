//! Retry policy pieces: which failures may be retried, the jittered delay, and a retry budget
//! so retries cannot multiply load on a struggling provider.
//!
//! The budget is a token bucket in milli-tokens: every call deposits `ratio` of a token
//! (10 %), time deposits `per_sec` tokens a second (1/s) so a quiet provider still gets a
//! retry, and the balance is capped. A retry withdraws one token or is not made. Pure: `now`
//! is passed in. The caller also checks the turn's deadline and that no byte has streamed yet.

use std::time::{Duration, Instant};

use super::jitter::Jitter;

/// Retry settings (read from `RETRY_*` by `providers::resilience_config`).
#[derive(Debug, Clone, PartialEq)]
pub struct RetryConfig {
    /// Shortest delay before the retry (`RETRY_MIN_DELAY_MS`, 50 ms).
    pub min_delay: Duration,
    /// Longest delay before the retry (`RETRY_MAX_DELAY_MS`, 500 ms).
    pub max_delay: Duration,
    /// Share of calls that may be retried (`RETRY_BUDGET_RATIO`, 0.1).
    pub ratio: f64,
    /// Retries a second allowed regardless of traffic (`RETRY_BUDGET_PER_SEC`, 1).
    pub per_sec: f64,
    /// Most retries saved up (`RETRY_BUDGET_MAX`, 10).
    pub max_tokens: u32,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            min_delay: Duration::from_millis(50),
            max_delay: Duration::from_millis(500),
            ratio: 0.1,
            per_sec: 1.0,
            max_tokens: 10,
        }
    }
}

/// Whether an HTTP status may be retried: 5xx, 408 and 429 yes; other 4xx never.
pub fn retryable_status(status: u16) -> bool {
    status >= 500 || status == 408 || status == 429
}

/// One provider's retry budget.
#[derive(Debug, Clone)]
pub struct RetryBudget {
    milli: u64,
    per_call: u64,
    per_sec: u64,
    cap: u64,
    last: Instant,
    rng: Jitter,
}

impl RetryBudget {
    /// A full budget at `now`.
    pub fn new(cfg: &RetryConfig, now: Instant, seed: u64) -> Self {
        let cap = u64::from(cfg.max_tokens) * 1000;
        Self {
            milli: cap,
            per_call: (cfg.ratio.clamp(0.0, 1.0) * 1000.0).round() as u64,
            per_sec: (cfg.per_sec.max(0.0) * 1000.0).round() as u64,
            cap,
            last: now,
            rng: Jitter::new(seed),
        }
    }

    fn refill(&mut self, now: Instant) {
        let ms = now.saturating_duration_since(self.last).as_millis().min(u128::from(u32::MAX)) as u64;
        if ms > 0 {
            self.milli = (self.milli + ms * self.per_sec / 1000).min(self.cap);
            self.last = now;
        }
    }

    /// Counts one first attempt (earns `ratio` of a retry).
    pub fn record_call(&mut self, now: Instant) {
        self.refill(now);
        self.milli = (self.milli + self.per_call).min(self.cap);
    }

    /// Takes one retry from the budget, if there is one.
    pub fn try_retry(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.milli >= 1000 {
            self.milli -= 1000;
            true
        } else {
            false
        }
    }

    /// The delay before a retry: uniform ("full jitter") in `[min_delay, max_delay]`.
    pub fn delay(&mut self, cfg: &RetryConfig) -> Duration {
        self.rng.between(cfg.min_delay, cfg.max_delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock;

    #[test]
    fn statuses() {
        for s in [500, 502, 503, 408, 429] {
            assert!(retryable_status(s), "{s}");
        }
        for s in [400, 401, 403, 404, 413, 422, 200] {
            assert!(!retryable_status(s), "{s}");
        }
    }

    #[test]
    fn budget_allows_ten_percent_plus_one_a_second() {
        let t0 = clock::now();
        let cfg = RetryConfig::default();
        let mut b = RetryBudget::new(&cfg, t0, 1);
        // Starts full: 10 saved retries, then nothing at the same instant.
        assert_eq!((0..20).filter(|_| b.try_retry(t0)).count(), 10);
        // 100 calls earn 10 retries.
        for _ in 0..100 {
            b.record_call(t0);
        }
        assert_eq!((0..20).filter(|_| b.try_retry(t0)).count(), 10);
        // Quiet for 3 s: 3 retries.
        let t3 = t0 + Duration::from_secs(3);
        assert_eq!((0..20).filter(|_| b.try_retry(t3)).count(), 3);
        // Capped: an hour of quiet still saves only 10.
        let later = t3 + Duration::from_secs(3600);
        assert_eq!((0..100).filter(|_| b.try_retry(later)).count(), 10);
    }

    #[test]
    fn delay_is_full_jitter_within_bounds() {
        let t0 = clock::now();
        let cfg = RetryConfig::default();
        let mut b = RetryBudget::new(&cfg, t0, 9);
        for _ in 0..1000 {
            let d = b.delay(&cfg);
            assert!(d >= Duration::from_millis(50) && d <= Duration::from_millis(500));
        }
    }
}
