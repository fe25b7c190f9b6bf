//! The in-memory store: this worker's ledgers in sharded maps, idle keys pruned.
//!
//! Participants and rooms live in 16 mutex-guarded shards each, the global ledger in its own
//! mutex; a decision locks participant shard → room shard → global (always that order, so no
//! deadlock) and runs the sans-IO [`crate::core::ledger`] logic on them. The maps are capped
//! (`LIMIT_MAX_KEYS`): a full shard is pruned first, and if it is still full the request is
//! refused — memory stays bounded and nothing is ever let through unlimited.
//!
//! As the fallback of a shared store it also *carries* ([`crate::core::carry`]): it keeps
//! the shared store's state of every entity it decided in Redis ([`MemoryStore::observe`]),
//! charges local decisions `weight` (N) times against the full limits, writes them down as
//! unshared, and hands out what to merge back ([`MemoryStore::sync_entries`]).

use std::collections::HashMap;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use super::keyed::Keyed;
use super::lock;
use super::stats::{ScopeStats, Stats};
use super::store::{Decision, LimitStore, Mode, Now, Origin, Request, Reservation, SessionLease};
use crate::core::carry;
use crate::core::ledger::{self, At, CostWarnings, Ledger, Ledgers, Rejection};
use crate::core::quota::{Quotas, Scope, Unit, Usage, Window};

/// Bound on remembered shared-open breakers (names come from configuration, so few).
const MAX_OPEN_BREAKERS: usize = 256;

/// Limits counted in this process.
pub struct MemoryStore {
    base: Quotas,
    /// How many times a local decision charges each unit (N, the number of live workers, for
    /// the fallback of a shared store); 1 normally.
    weight: AtomicU64,
    /// Concurrent-session caps ÷ the weight (sessions are not carried).
    scaled: RwLock<Arc<Quotas>>,
    /// Whether this is a shared store's fallback (carries state, writes down unshared charges).
    carry: bool,
    participants: Keyed,
    rooms: Keyed,
    global: Mutex<Ledger>,
    open: Mutex<HashMap<String, Instant>>,
    origin: Instant,
    next_lease: AtomicU64,
}

impl MemoryStore {
    /// A store with `quotas`, remembering at most about `max_keys` participants (and as many
    /// rooms). `now` anchors its monotonic clock.
    pub fn new(quotas: Quotas, max_keys: usize, now: Instant) -> Self {
        Self {
            scaled: RwLock::new(Arc::new(quotas.clone())),
            base: quotas,
            weight: AtomicU64::new(1),
            carry: false,
            participants: Keyed::new(max_keys),
            rooms: Keyed::new(max_keys),
            global: Mutex::new(Ledger::default()),
            open: Mutex::new(HashMap::new()),
            origin: now,
            next_lease: AtomicU64::new(1),
        }
    }

    /// Makes this the fallback of a shared store: it carries the shared state it is shown and
    /// writes down the charges the shared store has not counted.
    pub fn carrying(mut self) -> Self {
        self.carry = true;
        self
    }

    /// Charges every local decision `n` (≥ 1) times from now on, and caps concurrent
    /// sessions at limit ÷ `n`: the share of one of `n` workers.
    pub fn set_weight(&self, n: u64) {
        let n = n.max(1);
        if self.weight.swap(n, Ordering::Relaxed) != n {
            *self.scaled.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(self.base.divided(n));
        }
    }

    /// The weight of a local decision (N).
    pub fn weight(&self) -> u64 {
        self.weight.load(Ordering::Relaxed)
    }

    /// The configured quotas (a local decision is charged [`MemoryStore::weight`] times
    /// against these).
    pub fn quotas(&self) -> &Quotas {
        &self.base
    }

    /// The session caps in force (÷ the weight).
    fn session_quotas<R>(&self, f: impl FnOnce(&Quotas) -> R) -> R {
        if self.weight() == 1 {
            f(&self.base)
        } else {
            f(&self.scaled.read().unwrap_or_else(PoisonError::into_inner))
        }
    }

    fn at(&self, now: Now) -> At {
        let ns = now.mono.saturating_duration_since(self.origin).as_nanos().min(u128::from(u64::MAX)) as u64;
        At::new(ns, now.unix)
    }

    /// Runs `f` on the participant, room and global ledgers, locked in a fixed order. A scope
    /// without any limit is neither locked nor remembered (`f` gets `None` for it).
    fn with_ledgers<R>(
        &self,
        q: &Quotas,
        participant: &Arc<str>,
        room: &Arc<str>,
        at: &At,
        f: impl FnOnce(Ledgers<'_>) -> R,
    ) -> Option<R> {
        let (ps, rs) = (&self.participants, &self.rooms);
        let ph = q.scope_active(Scope::Participant).then(|| ps.hash(participant));
        let rh = q.scope_active(Scope::Room).then(|| rs.hash(room));
        let mut pmap = ph.map(|h| (h, lock(ps.shard(h))));
        let mut rmap = rh.map(|h| (h, lock(rs.shard(h))));
        let p = match pmap.as_mut() {
            Some((h, m)) => Some(ps.entry(m, *h, participant, at)?),
            None => None,
        };
        let r = match rmap.as_mut() {
            Some((h, m)) => Some(rs.entry(m, *h, room, at)?),
            None => None,
        };
        let mut gmap = q.scope_active(Scope::Global).then(|| lock(&self.global));
        Some(f([p, r, gmap.as_deref_mut()]))
    }

    /// The synchronous decision (the async trait method wraps this).
    pub fn check_now(&self, req: Request<'_>, now: Now) -> Decision {
        let at = self.at(now);
        let q = &self.base;
        let result = if self.carry {
            let w = self.weight();
            self.with_ledgers(q, req.participant, req.room, &at, |l| {
                carry::admit_carried(q, l, &req.usage, w, &at)
            })
        } else {
            self.with_ledgers(q, req.participant, req.room, &at, |l| ledger::admit(q, l, &req.usage, &at))
        };
        match result {
            Some(Ok(warnings)) => Decision::Allowed {
                reservation: Reservation {
                    participant: req.participant.clone(),
                    room: req.room.clone(),
                    reserved: req.usage,
                    day: at.day,
                    origin: Origin::Local,
                },
                warnings,
            },
            Some(Err(r)) => Decision::Rejected(r),
            None => Decision::Rejected(full(&req.usage)),
        }
    }

    /// Synchronous settle.
    pub fn settle_now(&self, res: &Reservation, actual: &Usage, now: Now) -> CostWarnings {
        let at = self.at(now);
        let q = &self.base;
        let w = self.weight();
        self.with_ledgers(q, &res.participant, &res.room, &at, |l| {
            if self.carry {
                carry::settle_carried(q, l, &res.reserved, actual, res.day, w, &at)
            } else {
                ledger::settle(q, l, &res.reserved, actual, res.day, &at)
            }
        })
        .unwrap_or_default()
    }

    /// Synchronous session acquire.
    pub fn acquire_session_now(
        &self,
        participant: &Arc<str>,
        room: &Arc<str>,
        now: Now,
    ) -> Result<SessionLease, Rejection> {
        let at = self.at(now);
        let full = Rejection {
            scope: Scope::Global,
            unit: Unit::Sessions,
            window: Window::Concurrent,
            retry_after: Duration::ZERO,
        };
        self.session_quotas(|q| {
            self.with_ledgers(q, participant, room, &at, |l| ledger::acquire_session(q, l))
        })
        .unwrap_or(Err(full))?;
        Ok(SessionLease {
            participant: participant.clone(),
            room: room.clone(),
            id: self.next_lease.fetch_add(1, Ordering::Relaxed),
            origin: Origin::Local,
        })
    }

    /// Synchronous session release.
    pub fn release_session_now(&self, lease: &SessionLease, now: Now) {
        let at = self.at(now);
        self.session_quotas(|q| {
            self.with_ledgers(q, &lease.participant, &lease.room, &at, ledger::release_session)
        });
    }

    /// Records a shared open-until locally.
    pub fn share_open_now(&self, breaker: &str, wait: Duration, now: Now) {
        let mut open = lock(&self.open);
        open.retain(|_, until| *until > now.mono);
        if open.len() >= MAX_OPEN_BREAKERS && !open.contains_key(breaker) {
            return;
        }
        let until = now.mono + wait;
        let e = open.entry(breaker.to_owned()).or_insert(until);
        *e = (*e).max(until);
    }

    /// Remaining shared open time, if any.
    pub fn shared_open_remaining_now(&self, breaker: &str, now: Now) -> Option<Duration> {
        let until = *lock(&self.open).get(breaker)?;
        Some(until.saturating_duration_since(now.mono)).filter(|d| !d.is_zero())
    }

    /// Forgets idle participants and rooms; returns how many entries were dropped.
    pub fn prune(&self, now: Now) -> usize {
        let at = self.at(now);
        self.participants.prune(&at) + self.rooms.prune(&at)
    }

    /// Number of participants and rooms remembered.
    pub fn len(&self) -> (usize, usize) {
        (self.participants.len(), self.rooms.len())
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == (0, 0)
    }

    /// Synchronous stats.
    pub fn stats_now(&self, participant: Option<&str>, room: Option<&str>, now: Now, mode: Mode) -> Stats {
        let at = self.at(now);
        let q = &self.base;
        let one = |keyed: &Keyed, id: &str, scope: Scope| {
            let l = keyed.get(id).unwrap_or_default();
            ScopeStats::new(Some(id), q, scope, &l.view(q, scope, &at), l.cost_today(&at))
        };
        let g = *lock(&self.global);
        Stats {
            mode: mode.as_str(),
            participant: participant.map(|p| one(&self.participants, p, Scope::Participant)),
            room: room.map(|r| one(&self.rooms, r, Scope::Room)),
            global: ScopeStats::new(
                None,
                q,
                Scope::Global,
                &g.view(q, Scope::Global, &at),
                g.cost_today(&at),
            ),
        }
    }
}

/// The refusal when this worker cannot remember one more identity.
fn full(usage: &Usage) -> Rejection {
    let unit = Unit::RATED.into_iter().find(|u| usage.amount(*u) > 0).unwrap_or(Unit::Turns);
    Rejection { scope: Scope::Global, unit, window: Window::Minute, retry_after: Duration::from_secs(1) }
}

impl LimitStore for MemoryStore {
    async fn check(&self, req: Request<'_>, now: Now) -> Decision {
        self.check_now(req, now)
    }

    async fn settle(&self, reservation: &Reservation, actual: &Usage, now: Now) -> CostWarnings {
        self.settle_now(reservation, actual, now)
    }

    async fn acquire_session(
        &self,
        participant: &Arc<str>,
        room: &Arc<str>,
        now: Now,
    ) -> Result<SessionLease, Rejection> {
        self.acquire_session_now(participant, room, now)
    }

    async fn release_session(&self, lease: SessionLease, now: Now) {
        self.release_session_now(&lease, now);
    }

    async fn share_open(&self, breaker: &str, wait: Duration, now: Now) {
        self.share_open_now(breaker, wait, now);
    }

    async fn shared_open_remaining(&self, breaker: &str, now: Now) -> Option<Duration> {
        self.shared_open_remaining_now(breaker, now)
    }

    async fn stats(&self, participant: Option<&str>, room: Option<&str>, now: Now) -> Stats {
        self.stats_now(participant, room, now, Mode::Local)
    }

    fn mode(&self) -> Mode {
        Mode::Local
    }
}

#[path = "memory_carry.rs"]
mod carrying;
pub use carrying::SyncEntry;

#[cfg(test)]
#[path = "memory_tests.rs"]
mod tests;
