//! The Redis store: every decision is one `EVALSHA` of `decide.lua`, atomic over all scopes,
//! on Redis's clock. Fallible — [`super::SharedStore`] wraps it with a breaker and a local
//! fallback so callers never see these errors.
//!
//! Keys (all under one hash tag, so one Cluster slot): `{P}:p:<identity>`, `{P}:r:<room>`,
//! `{P}:g` (hashes of GCRA TATs and day counters), `{P}:s:…` (session lease sets),
//! `{P}:workers` (live workers), `{P}:b:<breaker>` (shared open-until after a 429),
//! `{P}:gen` (the generation: present while Redis holds the workers' state), where `P` is
//! `REDIS_KEY_PREFIX`. Every key carries a PX expiry.
//!
//! Decisions and settles name the generation the worker knows; when Redis has another one (it
//! restarted empty) the script does nothing and says so ([`Answer::Lost`]), and the worker
//! merges what it knows ([`RedisStore::merge`]) before deciding there again.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, RedisError, Script};

use super::lock;
use super::store::{Decision, Origin, Reservation, SessionLease};
use crate::core::carry::Seen;
use crate::core::ledger::{CostWarnings, Rejection};
use crate::core::quota::{Quotas, Scope, Unit, Usage, Window};

/// How long the generation key lives without a heartbeat: longer than any counter it vouches
/// for (day counters expire a minute after midnight).
const GENERATION_TTL_MS: u64 = 2 * 86_400_000;

/// What Redis left behind for each limit a call touched: the worker's copy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    /// Redis's UTC day.
    pub day: u32,
    /// Per limit, by scope.
    pub seen: Vec<(Scope, Seen)>,
}

/// The answer to a decision or settle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer<T> {
    /// Done in Redis; what it left behind.
    Done(T, Observed),
    /// Redis does not hold this worker's generation (it restarted empty, or this worker has
    /// not merged since): nothing was done.
    Lost,
}

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

/// The reply of `decide.lua` for a check or settle, split.
enum Reply<'r> {
    Done { head: [i64; 3], values: &'r [i64] },
    Lost,
}

fn reply(r: &[i64]) -> Result<Reply<'_>> {
    match r {
        [2] => Ok(Reply::Lost),
        [a, b, c, values @ ..] => Ok(Reply::Done { head: [*a, *b, *c], values }),
        _ => Err(bad(r)),
    }
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
    /// The generation this worker has merged into (0: none yet).
    generation: AtomicU64,
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
            generation: AtomicU64::new(0),
        })
    }

    /// This worker's name among the live ones.
    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }

    /// The generation this worker has merged into (0: none yet).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
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

    fn entity_key(&self, scope: Scope, id: &str) -> String {
        match scope {
            Scope::Participant => self.key("p", id),
            Scope::Room => self.key("r", id),
            Scope::Global => format!("{{{}}}:g", self.prefix),
        }
    }

    fn generation_key(&self) -> String {
        format!("{{{}}}:gen", self.prefix)
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

    async fn eval(&self, keys: &[String], head: [i64; 3], mode: &str, args: &[i64]) -> Result<Vec<i64>> {
        let mut c = self.conn.get()?;
        let mut inv = self.decide().prepare_invoke();
        for k in keys {
            inv.key(k);
        }
        inv.key(self.generation_key()).arg(mode).arg(head[1]).arg(head[2]).arg(self.generation().to_string());
        inv.arg(args);
        Ok(inv.invoke_async(&mut c).await?)
    }

    fn observed(rules: &[Rule], day: i64, values: &[i64]) -> Observed {
        let seen = rules
            .iter()
            .zip(values)
            .map(|(r, &v)| {
                (r.scope, Seen { unit: r.unit, window: r.window, value: u64::try_from(v).unwrap_or(0) })
            })
            .collect();
        Observed { day: u32::try_from(day).unwrap_or(0), seen }
    }

    /// One decision: all scopes, atomically, nothing written unless everything passes.
    pub async fn check(
        &self,
        participant: &Arc<str>,
        room: &Arc<str>,
        usage: &Usage,
    ) -> Result<Answer<Decision>> {
        let amounts = usage.amounts();
        let (rules, args) = self.rules(&Scope::ALL, false, |u| clamp_i64(amounts[u as usize]));
        let keys = self.entity_keys(participant, room);
        let raw = self.eval(&keys, [0, self.quotas.warn_permille as i64, 0], "check", &args).await?;
        let Reply::Done { head, values } = reply(&raw)? else { return Ok(Answer::Lost) };
        let decision = match head {
            [1, day, warn] => Decision::Allowed {
                reservation: Reservation {
                    participant: participant.clone(),
                    room: room.clone(),
                    reserved: *usage,
                    day: u32::try_from(day).unwrap_or(0),
                    origin: Origin::Shared,
                },
                warnings: CostWarnings(warn as u8),
            },
            [0, rule, wait_us] => {
                let r = usize::try_from(rule - 1).ok().and_then(|i| rules.get(i)).ok_or_else(|| bad(&raw))?;
                let retry_after = Duration::from_micros(u64::try_from(wait_us).unwrap_or(0));
                Decision::Rejected(Rejection { scope: r.scope, unit: r.unit, window: r.window, retry_after })
            }
            _ => return Err(bad(&raw)),
        };
        // A rejection carries the state as it was; its day is the reservation day of none.
        let day = match &decision {
            Decision::Allowed { reservation, .. } => i64::from(reservation.day),
            Decision::Rejected(_) => -1,
        };
        Ok(Answer::Done(decision, Self::observed(&rules, day, values)))
    }

    /// Settles a reservation made here with the real usage.
    pub async fn settle(&self, res: &Reservation, actual: &Usage) -> Result<Answer<CostWarnings>> {
        let (r, a) = (res.reserved.amounts(), actual.amounts());
        let delta = |u: Unit| clamp_i64(a[u as usize]).saturating_sub(clamp_i64(r[u as usize]));
        let (rules, args) = self.rules(&Scope::ALL, false, delta);
        if args.is_empty() {
            return Ok(Answer::Done(CostWarnings::default(), Observed::default()));
        }
        let keys = self.entity_keys(&res.participant, &res.room);
        let head = [0, self.quotas.warn_permille as i64, i64::from(res.day)];
        let raw = self.eval(&keys, head, "settle", &args).await?;
        match reply(&raw)? {
            Reply::Done { head: [1, day, warn], values } => {
                Ok(Answer::Done(CostWarnings(warn as u8), Self::observed(&rules, day, values)))
            }
            Reply::Lost => Ok(Answer::Lost),
            Reply::Done { .. } => Err(bad(&raw)),
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

    /// Puts a held slot back after Redis lost its data (no limit check: it is held).
    pub async fn restore_session(&self, lease: &SessionLease) -> Result<()> {
        let keys = self.session_keys(&lease.participant, &lease.room);
        self.sessions(&keys, "restore", &self.lease_name(lease.id)).await.map(drop)
    }

    /// Marks this worker alive for `ttl`; returns the number of live workers and the
    /// generation Redis holds (0: none, it lost its data or never had any).
    pub async fn heartbeat(&self, ttl: Duration) -> Result<(u64, u64)> {
        let mut c = self.conn.get()?;
        let mut inv = self.conn.scripts[2].prepare_invoke();
        inv.key(format!("{{{}}}:workers", self.prefix))
            .key(self.generation_key())
            .arg("heartbeat")
            .arg(&self.worker_id)
            .arg(ttl.as_millis() as u64)
            .arg(GENERATION_TTL_MS);
        let (n, generation): (i64, String) = inv.invoke_async(&mut c).await?;
        Ok((u64::try_from(n).unwrap_or(1).max(1), generation.parse().unwrap_or(0)))
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
}

fn clamp_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn bad(reply: &[i64]) -> RedisStoreError {
    RedisStoreError::Reply(format!("{reply:?}"))
}

#[path = "redis_sync.rs"]
mod sync;

#[path = "redis_stats.rs"]
mod stats;
