//! The guard's settings from the environment: breakers (`BREAKER_*`) and retries (`RETRY_*`),
//! read once into [`super::ProvidersConfig`] — the only place that holds them. How they must
//! relate (the longest open time not below the first, the longest retry delay not below the
//! shortest) is checked with the pipeline ([`crate::pipeline`]).

use std::time::Duration;

use crate::core::breaker_config::{BreakerConfig, BreakersConfig};
use crate::core::retry::RetryConfig;
use crate::env::EnvReader;
use crate::settings::bounds::{
    BREAKER_BUCKETS, BREAKER_JITTER, BREAKER_MIN_CALLS, BREAKER_RATE, RETRY_MAX_TOKENS, RETRY_PER_SEC,
    RETRY_RATIO,
};

/// Reads the `BREAKER_*` variables; every capability's breaker gets the same knobs.
pub fn read_breakers(env: &mut EnvReader) -> BreakersConfig {
    let d = BreakerConfig::default();
    let base = BreakerConfig {
        consecutive_failures: env.ranged("BREAKER_CONSECUTIVE_FAILURES", d.consecutive_failures, 0, 1000),
        window: env.seconds("BREAKER_WINDOW_SECS", d.window, 1.0, 600.0),
        buckets: env.ranged("BREAKER_BUCKETS", d.buckets, BREAKER_BUCKETS.min, BREAKER_BUCKETS.max),
        min_calls: env.ranged("BREAKER_MIN_CALLS", d.min_calls, BREAKER_MIN_CALLS.min, BREAKER_MIN_CALLS.max),
        failure_rate: env.ranged("BREAKER_FAILURE_RATE", d.failure_rate, BREAKER_RATE.min, BREAKER_RATE.max),
        slow_rate: env.ranged("BREAKER_SLOW_RATE", d.slow_rate, BREAKER_RATE.min, BREAKER_RATE.max),
        open_base: env.seconds("BREAKER_OPEN_SECS", d.open_base, 0.1, 3600.0),
        open_max: env.seconds("BREAKER_OPEN_MAX_SECS", d.open_max, 0.1, 3600.0),
        retrip_window: env.seconds("BREAKER_RETRIP_WINDOW_SECS", d.retrip_window, 0.0, 86_400.0),
        jitter: env.ranged("BREAKER_JITTER", d.jitter, BREAKER_JITTER.min, BREAKER_JITTER.max),
        probe_timeout: env.seconds("BREAKER_PROBE_TIMEOUT_SECS", d.probe_timeout, 0.1, 3600.0),
    };
    BreakersConfig { llm: base.clone(), tts: base.clone(), stt: base }
}

/// Reads the `RETRY_*` variables.
pub fn read_retry(env: &mut EnvReader) -> RetryConfig {
    let d = RetryConfig::default();
    let min_ms: u64 = env.ranged("RETRY_MIN_DELAY_MS", 50, 0, 60_000);
    let max_ms: u64 = env.ranged("RETRY_MAX_DELAY_MS", 500, 0, 60_000);
    let (ratio, per_sec, most) = (RETRY_RATIO, RETRY_PER_SEC, RETRY_MAX_TOKENS);
    RetryConfig {
        min_delay: Duration::from_millis(min_ms),
        max_delay: Duration::from_millis(max_ms),
        ratio: env.ranged("RETRY_BUDGET_RATIO", d.ratio, ratio.min, ratio.max),
        per_sec: env.ranged("RETRY_BUDGET_PER_SEC", d.per_sec, per_sec.min, per_sec.max),
        max_tokens: env.ranged("RETRY_BUDGET_MAX", d.max_tokens, most.min, most.max),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_semantics_doc() {
        let mut env = EnvReader::from_pairs(&[]);
        let c = read_breakers(&mut env);
        assert_eq!(read_retry(&mut env), RetryConfig::default());
        assert!(env.finish().is_ok());
        assert_eq!(c, BreakersConfig::default());
        assert_eq!(c.stt.consecutive_failures, 5);
    }

    #[test]
    fn breaker_overrides_and_errors() {
        let mut env = EnvReader::from_pairs(&[
            ("BREAKER_OPEN_SECS", "2"),
            ("BREAKER_FAILURE_RATE", "2"),
            ("BREAKER_OPEN_MAX_SECS", "1"),
            ("BREAKER_JITTER", "NaN"),
        ]);
        let c = read_breakers(&mut env);
        assert_eq!(c.stt.open_base, Duration::from_secs(2));
        assert_eq!(c.llm.jitter, 0.2);
        let errs = env.finish().unwrap_err();
        let names: Vec<_> = errs.iter().map(|e| e.var.as_str()).collect();
        assert_eq!(names, ["BREAKER_FAILURE_RATE", "BREAKER_JITTER"]);
    }

    #[test]
    fn retry_errors() {
        let mut env = EnvReader::from_pairs(&[
            ("RETRY_MIN_DELAY_MS", "600"),
            ("RETRY_BUDGET_RATIO", "2"),
            ("RETRY_BUDGET_PER_SEC", "inf"),
        ]);
        let c = read_retry(&mut env);
        assert_eq!(c.min_delay, Duration::from_millis(600));
        let names: Vec<_> = env.finish().unwrap_err().into_iter().map(|e| e.var).collect();
        assert_eq!(names, ["RETRY_BUDGET_RATIO", "RETRY_BUDGET_PER_SEC"]);
    }
}
