//! Limiter settings: quotas, prices, messages, and the optional shared Redis store.

use std::time::Duration;

use super::quota_config::{read_messages, read_prices, read_quotas};
use super::shared::SharedOptions;
use crate::core::cost::PriceTable;
use crate::core::messages::Messages;
use crate::core::quota::Quotas;
use crate::env::EnvReader;
use crate::secret::Secret;

/// Redis settings (present only when `REDIS_URL` is set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisConfig {
    /// `redis://[:password@]host:port[/db]` (`REDIS_URL`, or `REDIS_URL_FILE`; never logged).
    pub url: Secret,
    /// Hash tag and prefix of every key (`REDIS_KEY_PREFIX`, `va`).
    pub key_prefix: String,
    /// Session lease time to live; the heartbeat renews held leases (`SESSION_LEASE_SECS`, 120 s).
    pub session_lease: Duration,
    /// Timeouts, Redis breaker, worker count.
    pub shared: SharedOptions,
}

/// Everything the limiter needs.
#[derive(Debug, Clone, PartialEq)]
pub struct LimitsConfig {
    /// Per-scope limits and caps (`LIMIT_*`, `COST_CAP_*`, `COST_WARN_FRACTION`).
    pub quotas: Quotas,
    /// Prices per model (`PRICES`, JSON merged over the built-in table).
    pub prices: PriceTable,
    /// Spoken rejection texts (`MSG_*`).
    pub messages: Messages,
    /// Longest transcript passed to the LLM, in characters (`TRANSCRIPT_MAX_CHARS`, 2000).
    pub transcript_max_chars: usize,
    /// Most participants (and rooms) remembered in memory (`LIMIT_MAX_KEYS`, 100 000).
    pub max_keys: usize,
    /// Shared store; `None` (empty `REDIS_URL`) keeps limits in this process.
    pub redis: Option<RedisConfig>,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            quotas: Quotas::default(),
            prices: PriceTable::default(),
            messages: Messages::default(),
            transcript_max_chars: 2000,
            max_keys: 100_000,
            redis: None,
        }
    }
}

impl LimitsConfig {
    /// Reads every limiter variable.
    pub fn from_env(env: &mut EnvReader) -> Self {
        let d = Self::default();
        let quotas = read_quotas(env);
        let prices = read_prices(env);
        let messages = read_messages(env);
        let transcript_max_chars = env.ranged("TRANSCRIPT_MAX_CHARS", d.transcript_max_chars, 1, 1_000_000);
        let max_keys = env.ranged("LIMIT_MAX_KEYS", d.max_keys, 16, 100_000_000);
        let redis = env.secret("REDIS_URL").map(|url| {
            if !url.expose().starts_with("redis://") || redis::Client::open(url.expose()).is_err() {
                env.error("REDIS_URL", "a URL like redis://127.0.0.1:6379 (or empty for in-memory limits)");
            }
            let s = SharedOptions::default();
            let prefix = env.string("REDIS_KEY_PREFIX", "va");
            if prefix.contains(['{', '}']) {
                env.error("REDIS_KEY_PREFIX", "a prefix without { or }");
            }
            RedisConfig {
                url,
                key_prefix: prefix,
                session_lease: env.seconds("SESSION_LEASE_SECS", Duration::from_secs(120), 10.0, 86_400.0),
                shared: SharedOptions {
                    timeout: Duration::from_millis(env.ranged("REDIS_TIMEOUT_MS", 5, 1, 10_000)),
                    breaker_failures: env.ranged("REDIS_BREAKER_FAILURES", s.breaker_failures, 1, 1000),
                    breaker_open: env.seconds("REDIS_BREAKER_OPEN_SECS", s.breaker_open, 0.05, 600.0),
                    worker_ttl: env.seconds("REDIS_WORKER_TTL_SECS", s.worker_ttl, 1.0, 3600.0),
                    initial_workers: env.ranged("LIMIT_WORKERS", s.initial_workers, 1, 100_000),
                },
            }
        });
        Self { quotas, prices, messages, transcript_max_chars, max_keys, redis }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_keep_limits_in_memory() {
        let mut env = EnvReader::from_pairs(&[("REDIS_URL", "")]);
        let c = LimitsConfig::from_env(&mut env);
        assert!(env.finish().is_ok());
        assert_eq!(c, LimitsConfig::default());
    }

    #[test]
    fn redis_settings_and_errors() {
        let mut env = EnvReader::from_pairs(&[
            ("REDIS_URL", "redis://:pw@127.0.0.1:6390/2"),
            ("REDIS_TIMEOUT_MS", "8"),
            ("LIMIT_WORKERS", "4"),
            ("TRANSCRIPT_MAX_CHARS", "500"),
        ]);
        let c = LimitsConfig::from_env(&mut env);
        assert!(env.finish().is_ok());
        let r = c.redis.unwrap();
        assert_eq!(r.shared.timeout, Duration::from_millis(8));
        assert_eq!(r.shared.initial_workers, 4);
        assert_eq!(r.key_prefix, "va");
        assert_eq!(c.transcript_max_chars, 500);
        assert!(!format!("{r:?}").contains("pw"));

        let mut env = EnvReader::from_pairs(&[
            ("REDIS_URL", "http://x"),
            ("REDIS_KEY_PREFIX", "a{b}"),
            ("REDIS_BREAKER_FAILURES", "0"),
        ]);
        LimitsConfig::from_env(&mut env);
        let names: Vec<_> = env.finish().unwrap_err().into_iter().map(|e| e.var).collect();
        assert_eq!(names, ["REDIS_URL", "REDIS_KEY_PREFIX", "REDIS_BREAKER_FAILURES"]);
    }
}
