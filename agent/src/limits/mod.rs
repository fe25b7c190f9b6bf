//! Where limits are counted: the store trait, the in-memory store, the Redis store with its
//! degraded fallback, the limiter facade sessions call, and the snapshots and metrics that
//! make all of it visible.
//!
//! - [`limiter`]: [`Limiter`], the facade (prices, store, metrics, spoken sentences).
//! - [`config`]: [`LimitsConfig`] from `TRANSCRIPT_MAX_CHARS`, `LIMIT_MAX_KEYS`, `REDIS_*`;
//!   [`quota_config`]: `LIMIT_*`, `COST_*`, `PRICES`, `MSG_*` into it.
//! - [`store`]: [`LimitStore`] and its request/answer types.
//! - [`memory`]: [`MemoryStore`], the single-worker default.
//! - [`redis`]: [`RedisStore`], one `EVALSHA` per decision (`decide.lua`, `sessions.lua`,
//!   `shared_state.lua`).
//! - [`shared`]: [`SharedStore`], Redis behind its own breaker with a local fallback that
//!   carries the last shared state (each local charge × N) and merges back.
//! - [`stats`]: `/stats` and `/readyz` JSON; [`metrics`]: Prometheus series.

pub mod config;
mod keyed;
pub mod limiter;
pub mod memory;
pub mod metrics;
pub mod mode;
pub mod quota_config;
pub mod redis;
pub mod shared;
pub mod stats;
pub mod store;

pub use config::{LimitsConfig, RedisConfig};
pub use limiter::{LimitRequest, Limiter};
pub use memory::MemoryStore;
pub use metrics::{ResilienceMetrics, register_metrics};
pub use redis::{RedisStore, RedisStoreError};
pub use shared::{SharedOptions, SharedStore};
pub use stats::{Stats, readiness_json};
pub use store::{Decision, LimitStore, Mode, Now, Origin, Request, Reservation, SessionLease};

/// Locks a mutex, carrying on after a poisoning panic: the data behind every lock here is
/// plain counters, still meaningful after a panic elsewhere.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
