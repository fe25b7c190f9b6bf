//! Breaker settings, with the defaults of `RESILIENCE.md` (read from `BREAKER_*` by
//! `providers::resilience_config`).

use std::time::Duration;

/// How one breaker trips, how long it stays open and how it probes.
#[derive(Debug, Clone, PartialEq)]
pub struct BreakerConfig {
    /// Trip after this many failures in a row (`BREAKER_CONSECUTIVE_FAILURES`, 5; 0 = off).
    pub consecutive_failures: u32,
    /// Length of the rate window (`BREAKER_WINDOW_SECS`, 10 s).
    pub window: Duration,
    /// Buckets in the window (`BREAKER_BUCKETS`, 10 → 1 s buckets; at most 60).
    pub buckets: u32,
    /// Rates are judged only with at least this many calls in the window (`BREAKER_MIN_CALLS`, 10).
    pub min_calls: u32,
    /// Trip when failures / calls reaches this (`BREAKER_FAILURE_RATE`, 0.5).
    pub failure_rate: f64,
    /// Trip when slow calls / calls reaches this (`BREAKER_SLOW_RATE`, 0.5).
    pub slow_rate: f64,
    /// Open time after a first trip (`BREAKER_OPEN_SECS`, 5 s).
    pub open_base: Duration,
    /// Cap on the doubled open time (`BREAKER_OPEN_MAX_SECS`, 60 s), before jitter.
    pub open_max: Duration,
    /// A trip this soon after closing doubles the open time (`BREAKER_RETRIP_WINDOW_SECS`, 60 s).
    pub retrip_window: Duration,
    /// Open time is stretched by a random 0..this fraction (`BREAKER_JITTER`, 0.2).
    pub jitter: f64,
    /// A half-open probe whose outcome never arrives is given up after this
    /// (`BREAKER_PROBE_TIMEOUT_SECS`, 30 s), so a lost permit cannot wedge the breaker.
    pub probe_timeout: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            consecutive_failures: 5,
            window: Duration::from_secs(10),
            buckets: 10,
            min_calls: 10,
            failure_rate: 0.5,
            slow_rate: 0.5,
            open_base: Duration::from_secs(5),
            open_max: Duration::from_secs(60),
            retrip_window: Duration::from_secs(60),
            jitter: 0.2,
            probe_timeout: Duration::from_secs(30),
        }
    }
}

/// The provider breakers' settings, one per capability (the same `BREAKER_*` knobs for each;
/// what counts as slow is each capability's `<CAP>_SLOW_SECS`, which the caller classifies by).
#[derive(Debug, Clone, PartialEq)]
pub struct BreakersConfig {
    /// For LLM endpoints.
    pub llm: BreakerConfig,
    /// For TTS endpoints.
    pub tts: BreakerConfig,
    /// For STT endpoints.
    pub stt: BreakerConfig,
}

impl Default for BreakersConfig {
    fn default() -> Self {
        let base = BreakerConfig::default();
        Self { llm: base.clone(), tts: base.clone(), stt: base }
    }
}
