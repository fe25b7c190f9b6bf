//! The Redis store: every decision is one `EVALSHA` of `decide.lua`, atomic over all scopes,
//! on Redis's clock. Fallible — [`super::SharedStore`] wraps it with a breaker and a local
//! fallback so callers never see these errors.
//!
//! Keys (all under one hash tag, so one Cluster slot): `{P}:p:<identity>`, `{P}:r:<room>`,
//! `{P}:g` (hashes of GCRA TATs and day counters), `{P}:s:…` (session lease sets),
//! `{P}:workers` (live workers), `{P}:b:<breaker>` (shared open-until after a 429), where `P`
//! is `REDIS_KEY_PREFIX`. Every key carries a PX expiry.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, RedisError, Script};

use super::lock;
use super::stats::{ScopeStats, Stats};
use super::store::{Decision, Mode, Origin, Reservation, SessionLease};
use crate::core::ledger::{CostWarnings, LimitView, Rejection};
use crate::core::quota::{Quotas, Scope, Unit, Usage, Window};

/// Why a Redis operation did not produce an answer.
#[derive(Debug, thiserror::Error)]
pub enum RedisStoreError {
    /// No connection yet (one is being made in the background).
    #[error("not connected to Redis (connecting in the background)")]
    NotConnected,
    /// Redis or the network failed.
    #[error("redis: {0}")]
    Redis(#[from] RedisError),
    /// The script answered something it never answers.
    #[error("unexpected reply from the limits script: {0}")]
    Reply(String),
}

type Result<T> = std::result::Result<T, RedisStoreError>;

/// A connection made lazily and in the background, so a down Redis never blocks a caller.
struct Conn {
    client: Client,
    manager: Mutex<Option<ConnectionManager>>,
    connecting: AtomicBool,
    scripts: [Script; 3],
}

impl Conn {
    fn get(self: &Arc<Self>) -> Result<ConnectionManager> {
        if let Some(c) = lock(&self.manager).clone() {
            return Ok(c);
        }
        if !self.connecting.swap(true, Ordering::AcqRel) {
            let this = Arc::clone(self);
            tokio::spawn(async move {
                let cfg = ConnectionManagerConfig::new()
                    .set_number_of_retries(1)
                    .set_max_delay(200)
                    .set_connection_timeout(Duration::from_millis(500))
                    .set_response_timeout(Duration::from_millis(500));
                match ConnectionManager::new_with_config(this.client.clone(), cfg).await {
                    Ok(mut c) => {
                        // Load scripts up front so the first decision is a plain EVALSHA.
                        for s in &this.scripts {
                            if let Err(e) = s.prepare_invoke().load_async(&mut c).await {
                                tracing::warn!(error = %e, "loading a limits script into Redis");
                            }
                        }
                        *lock(&this.manager) = Some(c);
                        tracing::info!("connected to Redis for shared limits");
                    }
                    Err(e) => tracing::debug!(error = %e, "connecting to Redis"),
                }
                this.connecting.store(false, Ordering::Release);
            });
        }
        Err(RedisStoreError::NotConnected)
    }
}

/// One rule sent to the script, remembered to map a rejection back.
#[derive(Debug, Clone, Copy)]
struct Rule {
    scope: Scope,
    unit: Unit,
    window: Window,
}

/// Limits counted in Redis, shared by every worker.
pub struct RedisStore {
    conn: Arc<Conn>,
    prefix: String,
    quotas: Quotas,
    worker_id: String,
    lease_ttl: Duration,
    next_lease: AtomicU64,
}

impl RedisStore {
    /// A store for `url` (connecting lazily); `prefix` is the hash tag of every key;
    /// `worker_id` names this worker among the live ones.
    pub fn new(
        url: &str,
        prefix: &str,
        quotas: Quotas,
        worker_id: &str,
        lease_ttl: Duration,
    ) -> Result<Self> {
        Ok(Self {
            conn: Arc::new(Conn {
                client: Client::open(url)?,
                manager: Mutex::new(None),
                connecting: AtomicBool::new(false),
                scripts: [
                    Script::new(include_str!("decide.lua")),
                    Script::new(include_str!("sessions.lua")),
                    Script::new(include_str!("shared_state.lua")),
                ],
            }),
            prefix: prefix.to_owned(),
            quotas,
            worker_id: worker_id.to_owned(),
            lease_ttl,
            next_lease: AtomicU64::new(1),
        })
    }

    /// Starts connecting now (otherwise the first call does).
    pub fn connect_in_background(&self) {
        let _ = self.conn.get();
    }

    fn decide(&self) -> &Script {
        &self.conn.scripts[0]
    }

    fn key(&self, kind: &str, id: &str) -> String {
        format!("{{{}}}:{kind}:{id}", self.prefix)
    }

    fn entity_keys(&self, participant: &str, room: &str) -> [String; 3] {
        [self.key("p", participant), self.key("r", room), format!("{{{}}}:g", self.prefix)]
    }

    fn session_keys(&self, participant: &str, room: &str) -> [String; 3] {
        [self.key("s:p", participant), self.key("s:r", room), format!("{{{}}}:s:g", self.prefix)]
    }

    /// Rules for every (scope, unit, window) with a limit and (unless `all`) a non-zero amount.
    fn rules(&self, scopes: &[Scope], all: bool, amount: impl Fn(Unit) -> i64) -> (Vec<Rule>, Vec<i64>) {
        let (mut rules, mut args) = (Vec::new(), Vec::new());
        for &scope in scopes {
            for unit in Unit::RATED {
                let n = amount(unit);
                for window in Window::ALL {
                    let limit = self.quotas.limit(scope, unit, window);
                    if limit == 0 || (n == 0 && !all) {
                        continue;
                    }
                    rules.push(Rule { scope, unit, window });
                    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
                    args.extend([scope as i64 + 1, unit as i64, window as i64, limit, n]);
                }
            }
        }
        (rules, args)
    }

    async fn eval(&self, keys: &[String; 3], head: [i64; 3], mode: &str, args: &[i64]) -> Result<Vec<i64>> {
        let mut c = self.conn.get()?;
        let mut inv = self.decide().prepare_invoke();
        inv.key(&keys[0]).key(&keys[1]).key(&keys[2]).arg(mode).arg(head[1]).arg(head[2]).arg(args);
        Ok(inv.invoke_async(&mut c).await?)
    }

    /// One decision: all scopes, atomically, nothing written unless everything passes.
    pub async fn check(&self, participant: &Arc<str>, room: &Arc<str>, usage: &Usage) -> Result<Decision> {
        let amounts = usage.amounts();
        let (rules, args) = self.rules(&Scope::ALL, false, |u| clamp_i64(amounts[u as usize]));
        let keys = self.entity_keys(participant, room);
        let reply = self.eval(&keys, [0, self.quotas.warn_permille as i64, 0], "check", &args).await?;
        match reply.as_slice() {
            [1, day, warn] => Ok(Decision::Allowed {
                reservation: Reservation {
                    participant: participant.clone(),
                    room: room.clone(),
                    reserved: *usage,
                    day: u32::try_from(*day).unwrap_or(0),
                    origin: Origin::Shared,
                },
                warnings: CostWarnings(*warn as u8),
            }),
            [0, rule, wait_us] => {
                let r =
                    usize::try_from(*rule - 1).ok().and_then(|i| rules.get(i)).ok_or_else(|| bad(&reply))?;
                let retry_after = Duration::from_micros(u64::try_from(*wait_us).unwrap_or(0));
                Ok(Decision::Rejected(Rejection {
                    scope: r.scope,
                    unit: r.unit,
                    window: r.window,
                    retry_after,
                }))
            }
            _ => Err(bad(&reply)),
        }
    }

    /// Settles a reservation made here with the real usage.
    pub async fn settle(&self, res: &Reservation, actual: &Usage) -> Result<CostWarnings> {
        let (r, a) = (res.reserved.amounts(), actual.amounts());
        let delta = |u: Unit| clamp_i64(a[u as usize]).saturating_sub(clamp_i64(r[u as usize]));
        let (_, args) = self.rules(&Scope::ALL, false, delta);
        if args.is_empty() {
            return Ok(CostWarnings::default());
        }
        let keys = self.entity_keys(&res.participant, &res.room);
        let head = [0, self.quotas.warn_permille as i64, i64::from(res.day)];
        match self.eval(&keys, head, "settle", &args).await?.as_slice() {
            [1, _, warn] => Ok(CostWarnings(*warn as u8)),
            other => Err(bad(other)),
        }
    }

    async fn sessions(&self, keys: &[String; 3], mode: &str, lease: &str) -> Result<Vec<i64>> {
        let mut c = self.conn.get()?;
        let mut inv = self.conn.scripts[1].prepare_invoke();
        inv.key(&keys[0])
            .key(&keys[1])
            .key(&keys[2])
            .arg(mode)
            .arg(lease)
            .arg(self.lease_ttl.as_millis() as u64);
        for scope in Scope::ALL {
            inv.arg(self.quotas.session_limit(scope));
        }
        Ok(inv.invoke_async(&mut c).await?)
    }

    fn lease_name(&self, id: u64) -> String {
        format!("{}:{id}", self.worker_id)
    }

    /// Takes a session slot in every scope (outer error: Redis failed; inner: over a limit).
    pub async fn acquire_session(
        &self,
        participant: &Arc<str>,
        room: &Arc<str>,
    ) -> Result<std::result::Result<SessionLease, Rejection>> {
        let id = self.next_lease.fetch_add(1, Ordering::Relaxed);
        let keys = self.session_keys(participant, room);
        match self.sessions(&keys, "acquire", &self.lease_name(id)).await?.as_slice() {
            [1] => Ok(Ok(SessionLease {
                participant: participant.clone(),
                room: room.clone(),
                id,
                origin: Origin::Shared,
            })),
            [0, k] => {
                let scope =
                    Scope::ALL.get(usize::try_from(*k - 1).unwrap_or(9)).copied().unwrap_or(Scope::Global);
                Ok(Err(Rejection {
                    scope,
                    unit: Unit::Sessions,
                    window: Window::Concurrent,
                    retry_after: Duration::ZERO,
                }))
            }
            other => Err(bad(other)),
        }
    }

    /// Gives a slot back.
    pub async fn release_session(&self, lease: &SessionLease) -> Result<()> {
        let keys = self.session_keys(&lease.participant, &lease.room);
        self.sessions(&keys, "release", &self.lease_name(lease.id)).await.map(drop)
    }

    /// Extends a held slot's lease (the heartbeat does this for every live session).
    pub async fn renew_session(&self, lease: &SessionLease) -> Result<()> {
        let keys = self.session_keys(&lease.participant, &lease.room);
        self.sessions(&keys, "renew", &self.lease_name(lease.id)).await.map(drop)
    }

    /// Marks this worker alive for `ttl`; returns the number of live workers.
    pub async fn heartbeat(&self, ttl: Duration) -> Result<u64> {
        let mut c = self.conn.get()?;
        let mut inv = self.conn.scripts[2].prepare_invoke();
        inv.key(format!("{{{}}}:workers", self.prefix))
            .arg("heartbeat")
            .arg(&self.worker_id)
            .arg(ttl.as_millis() as u64);
        let n: i64 = inv.invoke_async(&mut c).await?;
        Ok(u64::try_from(n).unwrap_or(1).max(1))
    }

    /// Shares "breaker `name` stays open for `wait`" with every worker.
    pub async fn share_open(&self, name: &str, wait: Duration) -> Result<()> {
        let mut c = self.conn.get()?;
        let mut inv = self.conn.scripts[2].prepare_invoke();
        inv.key(self.key("b", name)).arg("open").arg(wait.as_millis().max(1) as u64);
        let _: i64 = inv.invoke_async(&mut c).await?;
        Ok(())
    }

    /// How long breaker `name` must still stay open, as shared by any worker.
    pub async fn shared_open_remaining(&self, name: &str) -> Result<Option<Duration>> {
        let mut c = self.conn.get()?;
        let ms: i64 = redis::cmd("PTTL").arg(self.key("b", name)).query_async(&mut c).await?;
        Ok((ms > 0).then(|| Duration::from_millis(ms as u64)))
    }

    /// Current, limit and remaining for the asked scopes, on Redis's clock.
    pub async fn stats(&self, participant: Option<&str>, room: Option<&str>, mode: Mode) -> Result<Stats> {
        let (p, r) = (participant.unwrap_or(""), room.unwrap_or(""));
        let mut scopes = vec![Scope::Global];
        scopes.extend(participant.map(|_| Scope::Participant));
        scopes.extend(room.map(|_| Scope::Room));
        let (rules, args) = self.rules(&scopes, true, |_| 0);
        let keys = self.entity_keys(p, r);
        let reply = self.eval(&keys, [0, 0, 0], "view", &args).await?;
        if reply.len() != rules.len() + 1 {
            return Err(bad(&reply));
        }
        let sessions = self.sessions(&self.session_keys(p, r), "view", "").await?;
        let scope_stats = |scope: Scope, id: Option<&str>| {
            let mut views: Vec<LimitView> = rules
                .iter()
                .zip(&reply[1..])
                .filter(|(rule, _)| rule.scope == scope)
                .map(|(rule, &cur)| {
                    let limit = self.quotas.limit(scope, rule.unit, rule.window);
                    let current = u64::try_from(cur).unwrap_or(0);
                    LimitView {
                        unit: rule.unit,
                        window: rule.window,
                        current,
                        limit,
                        remaining: limit.saturating_sub(current),
                    }
                })
                .collect();
            let cost = views.iter().find(|v| v.unit == Unit::CostMicroUsd).map_or(0, |v| v.current);
            let limit = self.quotas.session_limit(scope);
            if limit > 0 {
                let current = sessions.get(scope as usize).map_or(0, |&n| u64::try_from(n).unwrap_or(0));
                views.push(LimitView {
                    unit: Unit::Sessions,
                    window: Window::Concurrent,
                    current,
                    limit,
                    remaining: limit.saturating_sub(current),
                });
            }
            ScopeStats::new(id, &self.quotas, scope, &views, cost)
        };
        Ok(Stats {
            mode: mode.as_str(),
            participant: participant.map(|p| scope_stats(Scope::Participant, Some(p))),
            room: room.map(|r| scope_stats(Scope::Room, Some(r))),
            global: scope_stats(Scope::Global, None),
        })
    }
}

fn clamp_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn bad(reply: &[i64]) -> RedisStoreError {
    RedisStoreError::Reply(format!("{reply:?}"))
}
