//! The shared store: Redis for every worker, guarded by Redis's own breaker, with local
//! limits of limit ÷ N as the fallback.
//!
//! Each call gets at most `REDIS_TIMEOUT_MS` (5 ms) of Redis; an error or a slow answer counts
//! as a failure, and that same call is decided locally — so the caller gets an answer, never
//! an error, and degraded mode starts within one decision. Three failures in a row open the
//! Redis breaker for `REDIS_BREAKER_OPEN_SECS` (1 s): calls go straight to the local store;
//! then one probe goes to Redis, and its success brings shared mode back. Locally each limit is
//! divided by N, the number of live workers last seen in Redis (heartbeat), so the fleet as a
//! whole stays near the configured limits: never unlimited.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::lock;
use super::memory::MemoryStore;
use super::redis::{RedisStore, RedisStoreError};
use super::stats::Stats;
use super::store::{Decision, LimitStore, Mode, Now, Origin, Request, Reservation, SessionLease};
use crate::core::breaker::{Breaker, Outcome};
use crate::core::breaker_config::BreakerConfig;
use crate::core::ledger::{CostWarnings, Rejection};
use crate::core::quota::Usage;

/// Bound on remembered shared leases (renewed by the heartbeat).
const MAX_LEASES: usize = 100_000;

/// How the shared store treats Redis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedOptions {
    /// Longest wait for Redis per call (`REDIS_TIMEOUT_MS`, 5 ms).
    pub timeout: Duration,
    /// Failures in a row that make us skip Redis (`REDIS_BREAKER_FAILURES`, 3).
    pub breaker_failures: u32,
    /// How long to skip Redis before one probe (`REDIS_BREAKER_OPEN_SECS`, 1 s).
    pub breaker_open: Duration,
    /// A worker missing heartbeats this long no longer counts in N (`REDIS_WORKER_TTL_SECS`, 30 s).
    pub worker_ttl: Duration,
    /// N before the first heartbeat (`LIMIT_WORKERS`, 1).
    pub initial_workers: u64,
}

impl Default for SharedOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_millis(5),
            breaker_failures: 3,
            breaker_open: Duration::from_secs(1),
            worker_ttl: Duration::from_secs(30),
            initial_workers: 1,
        }
    }
}

impl SharedOptions {
    /// The Redis breaker: only consecutive failures count, fixed open time, one probe.
    fn breaker(&self) -> BreakerConfig {
        BreakerConfig {
            consecutive_failures: self.breaker_failures.max(1),
            min_calls: u32::MAX,
            open_base: self.breaker_open,
            open_max: self.breaker_open,
            retrip_window: Duration::ZERO,
            jitter: 0.0,
            probe_timeout: self.breaker_open.max(self.timeout * 10),
            ..BreakerConfig::default()
        }
    }
}

/// Limits in Redis with a local fallback.
pub struct SharedStore {
    redis: RedisStore,
    local: MemoryStore,
    health: Mutex<Breaker>,
    opts: SharedOptions,
    mode: AtomicU8,
    workers: AtomicU64,
    leases: Mutex<HashMap<u64, SessionLease>>,
}

fn mode_from(v: u8) -> Mode {
    if v == 1 { Mode::Shared } else { Mode::Degraded }
}

impl SharedStore {
    /// Wraps `redis`, falling back to `local` (whose limits are divided by N as workers are seen).
    pub fn new(redis: RedisStore, local: MemoryStore, opts: SharedOptions, now: Instant) -> Self {
        let n = opts.initial_workers.max(1);
        local.set_divisor(n);
        redis.connect_in_background();
        Self {
            health: Mutex::new(Breaker::new(opts.breaker(), now, 0)),
            redis,
            local,
            opts,
            // Degraded until Redis has answered once.
            mode: AtomicU8::new(2),
            workers: AtomicU64::new(n),
            leases: Mutex::new(HashMap::new()),
        }
    }

    /// The last known number of live workers (N).
    pub fn workers(&self) -> u64 {
        self.workers.load(Ordering::Relaxed)
    }

    /// The local fallback store.
    pub fn local(&self) -> &MemoryStore {
        &self.local
    }

    /// Runs `op` against Redis within the timeout, through the Redis breaker. `None` means
    /// "decide locally" (breaker open, error, or too slow).
    async fn redis<T>(&self, now: Now, op: impl Future<Output = Result<T, RedisStoreError>>) -> Option<T> {
        let permit = lock(&self.health).try_acquire(now.mono).ok()?;
        let (outcome, value) = match tokio::time::timeout(self.opts.timeout, op).await {
            Ok(Ok(v)) => (Outcome::Success, Some(v)),
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "redis limits call failed; deciding locally");
                (Outcome::Failure, None)
            }
            Err(_) => {
                tracing::debug!(timeout = ?self.opts.timeout, "redis limits call too slow; deciding locally");
                (Outcome::Failure, None)
            }
        };
        {
            let mut health = lock(&self.health);
            health.record(permit, outcome, now.mono);
            while let Some(t) = health.poll_transition() {
                tracing::info!(
                    from = t.from.as_str(),
                    to = t.to.as_str(),
                    reason = t.reason.as_str(),
                    "redis breaker"
                );
            }
        }
        self.set_mode(if value.is_some() { Mode::Shared } else { Mode::Degraded });
        value
    }

    fn set_mode(&self, mode: Mode) {
        let v = if mode == Mode::Shared { 1 } else { 2 };
        let old = self.mode.swap(v, Ordering::Relaxed);
        if old != v {
            match mode {
                Mode::Shared => tracing::info!("limits: shared mode (Redis) restored"),
                _ => tracing::warn!(
                    workers = self.workers(),
                    "limits: Redis unavailable, local limits of limit ÷ N"
                ),
            }
        }
    }

    /// Periodic upkeep (every few seconds): heartbeat → N, renew held session leases, prune
    /// idle local keys.
    pub async fn maintain(&self, now: Now) {
        if let Some(n) = self.redis(now, self.redis.heartbeat(self.opts.worker_ttl)).await {
            self.workers.store(n, Ordering::Relaxed);
            self.local.set_divisor(n);
        }
        let leases: Vec<SessionLease> = lock(&self.leases).values().cloned().collect();
        for lease in leases {
            if self.redis(now, self.redis.renew_session(&lease)).await.is_none() {
                break;
            }
        }
        self.local.prune(now);
    }
}

impl LimitStore for SharedStore {
    async fn check(&self, req: Request<'_>, now: Now) -> Decision {
        match self.redis(now, self.redis.check(req.participant, req.room, &req.usage)).await {
            Some(d) => d,
            None => self.local.check_now(req, now),
        }
    }

    async fn settle(&self, res: &Reservation, actual: &Usage, now: Now) -> CostWarnings {
        let shared = match res.origin {
            Origin::Shared => self.redis(now, self.redis.settle(res, actual)).await,
            Origin::Local => None,
        };
        if let Some(w) = shared {
            return w;
        }
        self.local.settle_now(res, actual, now)
    }

    async fn acquire_session(
        &self,
        participant: &Arc<str>,
        room: &Arc<str>,
        now: Now,
    ) -> Result<SessionLease, Rejection> {
        match self.redis(now, self.redis.acquire_session(participant, room)).await {
            Some(Ok(lease)) => {
                let mut leases = lock(&self.leases);
                if leases.len() < MAX_LEASES {
                    leases.insert(lease.id, lease.clone());
                }
                Ok(lease)
            }
            Some(Err(r)) => Err(r),
            None => self.local.acquire_session_now(participant, room, now),
        }
    }

    async fn release_session(&self, lease: SessionLease, now: Now) {
        match lease.origin {
            Origin::Shared => {
                lock(&self.leases).remove(&lease.id);
                // If Redis is away the lease simply lapses after its time to live.
                let _ = self.redis(now, self.redis.release_session(&lease)).await;
            }
            Origin::Local => self.local.release_session_now(&lease, now),
        }
    }

    async fn share_open(&self, breaker: &str, wait: Duration, now: Now) {
        self.local.share_open_now(breaker, wait, now);
        let _ = self.redis(now, self.redis.share_open(breaker, wait)).await;
    }

    async fn shared_open_remaining(&self, breaker: &str, now: Now) -> Option<Duration> {
        let local = self.local.shared_open_remaining_now(breaker, now);
        match self.redis(now, self.redis.shared_open_remaining(breaker)).await {
            Some(remote) => remote.max(local),
            None => local,
        }
    }

    async fn stats(&self, participant: Option<&str>, room: Option<&str>, now: Now) -> Stats {
        match self.redis(now, self.redis.stats(participant, room, Mode::Shared)).await {
            Some(s) => s,
            None => self.local.stats_now(participant, room, now, Mode::Degraded),
        }
    }

    fn mode(&self) -> Mode {
        mode_from(self.mode.load(Ordering::Relaxed))
    }
}
