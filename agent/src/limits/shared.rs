//! The shared store: Redis for every worker, guarded by Redis's own breaker, with a local
//! fallback that carries the fleet's state so an outage never hands out a fresh budget.
//!
//! Each call gets at most `REDIS_TIMEOUT_MS` (5 ms) of Redis; an error or a slow answer counts
//! as a failure, and that same call is decided locally — so the caller gets an answer, never
//! an error, and degraded mode starts within one decision. Three failures in a row open the
//! Redis breaker for `REDIS_BREAKER_OPEN_SECS` (1 s): calls go straight to the local store;
//! then one probe goes to Redis, and its success brings shared mode back.
//!
//! Bounded while degraded ([`crate::core::carry`]): every Redis answer leaves this worker a
//! copy of what it touched, and a local decision starts from that copy and charges each unit
//! N times (N = live workers, held against dips by [`WorkerCount`]) — the fleet spends what
//! was left, about limit ÷ N each. Local charges are written down and merged into Redis once
//! it answers again ([`SharedStore::maintain`]). If Redis came back empty (its generation key
//! is gone) decisions stay local until this worker has merged everything it knows, so day
//! counters and cost caps are rebuilt from the workers' views instead of restarting at zero.

use std::collections::HashMap;
use std::future::Future;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::lock;
use super::memory::MemoryStore;
use super::metrics::ResilienceMetrics;
use super::redis::{Answer, RedisStore, RedisStoreError};
use super::stats::Stats;
use super::store::{Decision, LimitStore, Mode, Now, Origin, Request, Reservation, SessionLease};
use crate::core::breaker::{Breaker, Outcome};
use crate::core::breaker_config::BreakerConfig;
use crate::core::fleet::WorkerCount;
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
    /// A worker missing heartbeats this long no longer counts in N (`REDIS_WORKER_TTL_SECS`,
    /// 30 s); N is not lowered until this long after Redis returns.
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

/// Limits in Redis with a carrying local fallback.
pub struct SharedStore {
    redis: RedisStore,
    local: MemoryStore,
    health: Mutex<Breaker>,
    opts: SharedOptions,
    metrics: ResilienceMetrics,
    mode: AtomicU8,
    /// Decide locally until this worker has merged what it knows into Redis (at start, and
    /// after Redis lost its data).
    resync: AtomicBool,
    /// Some local ledger holds charges Redis has not counted yet.
    dirty: AtomicBool,
    workers: Mutex<WorkerCount>,
    leases: Mutex<HashMap<u64, SessionLease>>,
    wake: Notify,
    worker_seed: u64,
}

fn mode_from(v: u8) -> Mode {
    if v == 1 { Mode::Shared } else { Mode::Degraded }
}

impl SharedStore {
    /// Wraps `redis`, falling back to `local` (made carrying here).
    pub fn new(
        redis: RedisStore,
        local: MemoryStore,
        opts: SharedOptions,
        metrics: ResilienceMetrics,
        now: Instant,
    ) -> Self {
        let workers = WorkerCount::new(opts.initial_workers, opts.worker_ttl, now);
        let local = local.carrying();
        local.set_weight(workers.get());
        redis.connect_in_background();
        Self {
            health: Mutex::new(Breaker::new(opts.breaker(), now, 0)),
            worker_seed: foldhash::fast::RandomState::default().hash_one(redis.worker_id()),
            redis,
            local,
            opts,
            metrics,
            // Degraded until this worker has joined Redis's generation.
            mode: AtomicU8::new(2),
            resync: AtomicBool::new(true),
            dirty: AtomicBool::new(false),
            workers: Mutex::new(workers),
            leases: Mutex::new(HashMap::new()),
            wake: Notify::new(),
        }
    }

    /// The number of live workers this worker believes in (N).
    pub fn workers(&self) -> u64 {
        lock(&self.workers).get()
    }

    /// The local fallback store.
    pub fn local(&self) -> &MemoryStore {
        &self.local
    }

    /// Woken when upkeep should run now (Redis lost its data, or local charges wait).
    pub fn wake(&self) -> &Notify {
        &self.wake
    }

    /// How soon upkeep should run again: soon while degraded or with charges to merge.
    pub fn upkeep_within(&self, every: Duration) -> Duration {
        let pending = self.mode() != Mode::Shared || self.dirty.load(Ordering::Relaxed);
        if pending { every.min(self.opts.breaker_open) } else { every }
    }

    /// Runs `op` against Redis within `timeout`, through the Redis breaker. `None` means
    /// "decide locally" (breaker open, error, or too slow); a failure makes the mode degraded.
    async fn redis<T>(
        &self,
        now: Now,
        timeout: Duration,
        op: impl Future<Output = Result<T, RedisStoreError>>,
    ) -> Option<T> {
        let Ok(permit) = lock(&self.health).try_acquire(now.mono) else {
            self.set_mode(Mode::Degraded);
            return None;
        };
        let (outcome, value) = match tokio::time::timeout(timeout, op).await {
            Ok(Ok(v)) => (Outcome::Success, Some(v)),
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "redis limits call failed; deciding locally");
                (Outcome::Failure, None)
            }
            Err(_) => {
                tracing::debug!(?timeout, "redis limits call too slow; deciding locally");
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
        if value.is_none() {
            self.set_mode(Mode::Degraded);
        }
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
                    "limits: deciding locally from the last shared state, each charge × N"
                ),
            }
        }
    }

    /// A Redis answer: shared mode, and wake upkeep if local charges wait to be merged.
    fn answered(&self) {
        self.set_mode(Mode::Shared);
        if self.dirty.load(Ordering::Relaxed) {
            self.wake.notify_one();
        }
    }

    /// Redis does not hold this worker's generation: decide locally until merged.
    fn lost(&self) {
        self.resync.store(true, Ordering::Relaxed);
        self.set_mode(Mode::Degraded);
        self.wake.notify_one();
    }

    fn mark_dirty(&self) {
        if !self.dirty.swap(true, Ordering::Relaxed) {
            self.wake.notify_one();
        }
    }

    fn deciding_in_redis(&self) -> bool {
        !self.resync.load(Ordering::Relaxed)
    }
}

#[path = "shared_upkeep.rs"]
mod upkeep;

impl LimitStore for SharedStore {
    async fn check(&self, req: Request<'_>, now: Now) -> Decision {
        if self.deciding_in_redis() {
            let op = self.redis.check(req.participant, req.room, &req.usage);
            match self.redis(now, self.opts.timeout, op).await {
                Some(Answer::Done(d, seen)) => {
                    self.local.observe(req.participant, req.room, seen.day, &seen.seen, now);
                    self.answered();
                    return d;
                }
                Some(Answer::Lost) => self.lost(),
                None => {}
            }
        }
        let d = self.local.check_now(req, now);
        if matches!(d, Decision::Allowed { .. }) {
            self.mark_dirty();
        }
        d
    }

    async fn settle(&self, res: &Reservation, actual: &Usage, now: Now) -> CostWarnings {
        if res.origin == Origin::Shared && self.deciding_in_redis() {
            match self.redis(now, self.opts.timeout, self.redis.settle(res, actual)).await {
                Some(Answer::Done(w, seen)) => {
                    self.local.observe(&res.participant, &res.room, seen.day, &seen.seen, now);
                    self.answered();
                    return w;
                }
                Some(Answer::Lost) => self.lost(),
                None => {}
            }
        }
        // Settled here (a local reservation, or Redis away): written down, merged later.
        let w = self.local.settle_now(res, actual, now);
        if res.reserved != *actual {
            self.mark_dirty();
        }
        w
    }

    async fn acquire_session(
        &self,
        participant: &Arc<str>,
        room: &Arc<str>,
        now: Now,
    ) -> Result<SessionLease, Rejection> {
        match self.redis(now, self.opts.timeout, self.redis.acquire_session(participant, room)).await {
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
                let _ = self.redis(now, self.opts.timeout, self.redis.release_session(&lease)).await;
            }
            Origin::Local => self.local.release_session_now(&lease, now),
        }
    }

    async fn share_open(&self, breaker: &str, wait: Duration, now: Now) {
        self.local.share_open_now(breaker, wait, now);
        let _ = self.redis(now, self.opts.timeout, self.redis.share_open(breaker, wait)).await;
    }

    async fn shared_open_remaining(&self, breaker: &str, now: Now) -> Option<Duration> {
        let local = self.local.shared_open_remaining_now(breaker, now);
        match self.redis(now, self.opts.timeout, self.redis.shared_open_remaining(breaker)).await {
            Some(remote) => remote.max(local),
            None => local,
        }
    }

    async fn stats(&self, participant: Option<&str>, room: Option<&str>, now: Now) -> Stats {
        if self.deciding_in_redis() {
            let op = self.redis.stats(participant, room, Mode::Shared);
            if let Some(s) = self.redis(now, self.opts.timeout, op).await {
                return s;
            }
        }
        self.local.stats_now(participant, room, now, Mode::Degraded)
    }

    fn mode(&self) -> Mode {
        mode_from(self.mode.load(Ordering::Relaxed))
    }
}
