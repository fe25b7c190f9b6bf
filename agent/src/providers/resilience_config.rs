//! The guard's settings from the environment: breakers (`BREAKER_*`) and retries (`RETRY_*`),
//! read once into [`super::ProvidersConfig`] — the only place that holds them.

use std::time::Duration;

use crate::core::breaker_config::{BreakerConfig, BreakersConfig};
use crate::core::retry::RetryConfig;
use crate::env::EnvReader;

/// Reads the `BREAKER_*` variables; every capability's breaker gets the same knobs.
pub fn read_breakers(env: &mut EnvReader) -> BreakersConfig {
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
    };
    if base.open_max < base.open_base {
        env.error("BREAKER_OPEN_MAX_SECS", "at least BREAKER_OPEN_SECS");
    }
    BreakersConfig { llm: base.clone(), tts: base.clone(), stt: base }
}

/// Reads the `RETRY_*` variables.
pub fn read_retry(env: &mut EnvReader) -> RetryConfig {
    let d = RetryConfig::default();
    let min_ms: u64 = env.ranged("RETRY_MIN_DELAY_MS", 50, 0, 60_000);
    let max_ms: u64 = env.ranged("RETRY_MAX_DELAY_MS", 500, 0, 60_000);
    if max_ms < min_ms {
        env.error("RETRY_MAX_DELAY_MS", "at least RETRY_MIN_DELAY_MS");
    }
    RetryConfig {
        min_delay: Duration::from_millis(min_ms),
        max_delay: Duration::from_millis(max_ms.max(min_ms)),
        ratio: env.ranged("RETRY_BUDGET_RATIO", d.ratio, 0.0, 1.0),
        per_sec: env.ranged("RETRY_BUDGET_PER_SEC", d.per_sec, 0.0, 1000.0),
        max_tokens: env.ranged("RETRY_BUDGET_MAX", d.max_tokens, 1, 100_000),
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
        assert_eq!(names, ["BREAKER_FAILURE_RATE", "BREAKER_JITTER", "BREAKER_OPEN_MAX_SECS"]);
    }

    #[test]
    fn retry_errors() {
        let mut env = EnvReader::from_pairs(&[
            ("RETRY_MIN_DELAY_MS", "600"),
            ("RETRY_BUDGET_RATIO", "2"),
            ("RETRY_BUDGET_PER_SEC", "inf"),
        ]);
        let c = read_retry(&mut env);
        assert_eq!(c.max_delay, Duration::from_millis(600));
        let names: Vec<_> = env.finish().unwrap_err().into_iter().map(|e| e.var).collect();
        assert_eq!(names, ["RETRY_MAX_DELAY_MS", "RETRY_BUDGET_RATIO", "RETRY_BUDGET_PER_SEC"]);
    }
}
