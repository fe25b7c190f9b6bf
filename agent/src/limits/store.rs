//! The store abstraction every limit decision goes through, and its request/answer types.
//!
//! Two stores implement [`LimitStore`]: [`super::MemoryStore`] (one worker, the default) and
//! [`super::SharedStore`] (Redis shared by every worker, with a local fallback). Neither ever
//! returns an error to the caller: a store that cannot reach its backend decides locally.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use super::mode::Mode;
use super::stats::Stats;
use crate::clock;
use crate::core::ledger::{CostWarnings, Rejection};
use crate::core::quota::Usage;

/// The time of a call: monotonic for rates, wall clock for UTC days. Stores that keep their
/// own clock (Redis `TIME`) ignore it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    /// Monotonic time.
    pub mono: Instant,
    /// Wall-clock time since the Unix epoch.
    pub unix: Duration,
}

impl Now {
    /// Reads both clocks (through [`crate::clock`]).
    pub fn read() -> Self {
        Self { mono: clock::now(), unix: clock::unix_now() }
    }
}

/// Who asks, and for how much.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Participant identity.
    pub participant: &'a Arc<str>,
    /// Room name.
    pub room: &'a Arc<str>,
    /// Amounts to reserve (cost included).
    pub usage: Usage,
}

/// Where a reservation or lease was made, so it is settled or released in the same place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// This worker's memory (the store, or the fallback of a shared store).
    Local,
    /// The shared Redis store.
    Shared,
}

/// What a passed check reserved; hand it back to [`LimitStore::settle`] with the real usage.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "settle the reservation with the real usage"]
pub struct Reservation {
    pub(crate) participant: Arc<str>,
    pub(crate) room: Arc<str>,
    pub(crate) reserved: Usage,
    /// UTC day (store clock) the reservation was counted on.
    pub(crate) day: u32,
    pub(crate) origin: Origin,
}

impl Reservation {
    /// The amounts reserved.
    pub fn reserved(&self) -> &Usage {
        &self.reserved
    }

    /// Where it was counted.
    pub fn origin(&self) -> Origin {
        self.origin
    }
}

/// The answer to a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead; settle the reservation afterwards. `warnings` lists scopes whose daily spend
    /// just crossed the warning share.
    Allowed {
        /// What was reserved.
        reservation: Reservation,
        /// Cost-cap warnings raised by this charge.
        warnings: CostWarnings,
    },
    /// Refused; nothing was charged.
    Rejected(Rejection),
}

/// A concurrent-session slot; give it back with [`LimitStore::release_session`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "release the session slot when the session ends"]
pub struct SessionLease {
    pub(crate) participant: Arc<str>,
    pub(crate) room: Arc<str>,
    pub(crate) id: u64,
    pub(crate) origin: Origin,
}

/// A place where limits are counted. Methods never fail: a store that loses its backend
/// decides locally instead (and says so through [`LimitStore::mode`]).
pub trait LimitStore: Send + Sync {
    /// Checks and, if every limit passes, reserves `req.usage` in every scope.
    fn check(&self, req: Request<'_>, now: Now) -> impl Future<Output = Decision> + Send;

    /// Replaces a reservation by the real usage (refund or extra charge); returns cost warnings.
    fn settle(
        &self,
        reservation: &Reservation,
        actual: &Usage,
        now: Now,
    ) -> impl Future<Output = CostWarnings> + Send;

    /// Takes a concurrent-session slot in every scope, or none.
    fn acquire_session(
        &self,
        participant: &Arc<str>,
        room: &Arc<str>,
        now: Now,
    ) -> impl Future<Output = Result<SessionLease, Rejection>> + Send;

    /// Gives a session slot back.
    fn release_session(&self, lease: SessionLease, now: Now) -> impl Future<Output = ()> + Send;

    /// Records that provider breaker `breaker` must stay open for `wait` (a 429), for everyone.
    fn share_open(&self, breaker: &str, wait: Duration, now: Now) -> impl Future<Output = ()> + Send;

    /// How long `breaker` must still stay open because someone saw a 429, if at all.
    fn shared_open_remaining(&self, breaker: &str, now: Now)
    -> impl Future<Output = Option<Duration>> + Send;

    /// Current, limit and remaining per window for `participant` (if given), its `room` (if
    /// given) and the global scope.
    fn stats(
        &self,
        participant: Option<&str>,
        room: Option<&str>,
        now: Now,
    ) -> impl Future<Output = Stats> + Send;

    /// How decisions are being made right now.
    fn mode(&self) -> Mode;
}
