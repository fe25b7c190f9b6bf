//! Breaker settings, with the defaults of `RESILIENCE.md` and their `BREAKER_*` variables.

use std::time::Duration;

use crate::config::EnvReader;

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
    /// Time to first token / byte above which a call counts as slow. The breaker does not
    /// measure time; the caller classifies with this. Per kind: `BREAKER_SLOW_LLM_SECS` (2),
    /// `BREAKER_SLOW_TTS_SECS` (1), `BREAKER_SLOW_STT_SECS` (2).
    pub slow_threshold: Duration,
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
            slow_threshold: Duration::from_secs(2),
        }
    }
}

/// The provider breakers' settings: shared knobs plus a slow threshold per provider kind.
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
        Self {
            llm: base.clone(),
            tts: BreakerConfig { slow_threshold: Duration::from_secs(1), ..base.clone() },
            stt: base,
        }
    }
}

impl BreakersConfig {
    /// Reads the `BREAKER_*` variables.
    pub fn from_env(env: &mut EnvReader) -> Self {
        let d = BreakerConfig::default();
        let base = BreakerConfig {
            consecutive_failures: env.ranged("BREAKER_CONSECUTIVE_FAILURES", d.consecutive_failures, 0, 1000),
            window: env.seconds("BREAKER_WINDOW_SECS", d.window, 1.0, 600.0),
            buckets: env.ranged("BREAKER_BUCKETS", d.buckets, 1, 60),
            min_calls: env.ranged("BREAKER_MIN_CALLS", d.min_calls, 1, 100_000),
            failure_rate: env.ranged("BREAKER_FAILURE_RATE", d.failure_rate, 0.01, 1.0),
            slow_rate: env.ranged("BREAKER_SLOW_RATE", d.slow_rate, 0.01, 1.0),
            open_base: env.seconds("BREAKER_OPEN_SECS", d.open_base, 0.1, 3600.0),
            open_max: env.seconds("BREAKER_OPEN_MAX_SECS", d.open_max, 0.1, 3600.0),
            retrip_window: env.seconds("BREAKER_RETRIP_WINDOW_SECS", d.retrip_window, 0.0, 86_400.0),
            jitter: env.ranged("BREAKER_JITTER", d.jitter, 0.0, 1.0),
            probe_timeout: env.seconds("BREAKER_PROBE_TIMEOUT_SECS", d.probe_timeout, 0.1, 3600.0),
            slow_threshold: d.slow_threshold,
        };
        if base.open_max < base.open_base {
            env.error("BREAKER_OPEN_MAX_SECS", "at least BREAKER_OPEN_SECS");
        }
        let defaults = Self::default();
        let mut slow = |name: &str, default: Duration| BreakerConfig {
            slow_threshold: env.seconds(name, default, 0.01, 600.0),
            ..base.clone()
        };
        Self {
            llm: slow("BREAKER_SLOW_LLM_SECS", defaults.llm.slow_threshold),
            tts: slow("BREAKER_SLOW_TTS_SECS", defaults.tts.slow_threshold),
            stt: slow("BREAKER_SLOW_STT_SECS", defaults.stt.slow_threshold),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(pairs: &[(&str, &str)]) -> EnvReader {
        EnvReader::new(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn defaults_match_the_semantics_doc() {
        let mut env = reader(&[]);
        let c = BreakersConfig::from_env(&mut env);
        assert!(env.finish().is_ok());
        assert_eq!(c, BreakersConfig::default());
        assert_eq!(c.llm.slow_threshold, Duration::from_secs(2));
        assert_eq!(c.tts.slow_threshold, Duration::from_secs(1));
        assert_eq!(c.stt.consecutive_failures, 5);
    }

    #[test]
    fn overrides_and_errors() {
        let mut env = reader(&[
            ("BREAKER_OPEN_SECS", "2"),
            ("BREAKER_SLOW_TTS_SECS", "0.5"),
            ("BREAKER_FAILURE_RATE", "2"),
            ("BREAKER_OPEN_MAX_SECS", "1"),
        ]);
        let c = BreakersConfig::from_env(&mut env);
        assert_eq!(c.stt.open_base, Duration::from_secs(2));
        assert_eq!(c.tts.slow_threshold, Duration::from_millis(500));
        let errs = env.finish().unwrap_err();
        let names: Vec<_> = errs.iter().map(|e| e.var.as_str()).collect();
        assert_eq!(names, ["BREAKER_FAILURE_RATE", "BREAKER_OPEN_MAX_SECS"]);
    }
}
