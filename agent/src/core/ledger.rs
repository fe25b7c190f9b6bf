//! One scope entity's counters and the all-or-nothing decision across scopes.
//!
//! A [`Ledger`] holds, for one participant, room or the global scope, a GCRA TAT per
//! (unit, minute/hour) and a counter per unit for the current UTC day. [`admit`] checks a
//! request against the participant, room and global ledgers in two passes — check all, then
//! charge all — so a rejection charges nothing anywhere.

use std::time::Duration;

use super::quota::{Quotas, RATE_UNITS, Scope, Unit, Usage, Window};

const DAY_SECS: u64 = 86_400;

/// The time of a decision, on the store's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct At {
    /// Monotonic nanoseconds (GCRA time).
    pub now_ns: u64,
    /// UTC day number since the epoch (day counters).
    pub day: u32,
    /// Time until the next UTC midnight (the retry time of day limits).
    pub to_midnight: Duration,
}

impl At {
    /// From monotonic nanoseconds and the wall clock since the Unix epoch.
    pub fn new(now_ns: u64, unix: Duration) -> Self {
        let secs = unix.as_secs();
        let into_day = Duration::new(secs % DAY_SECS, unix.subsec_nanos());
        Self {
            now_ns,
            day: (secs / DAY_SECS).min(u64::from(u32::MAX)) as u32,
            to_midnight: Duration::from_secs(DAY_SECS) - into_day,
        }
    }
}

/// A request refused by a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejection {
    /// Whose limit.
    pub scope: Scope,
    /// Which unit ran out.
    pub unit: Unit,
    /// Over which window.
    pub window: Window,
    /// When the request would pass (for day windows: the next UTC midnight).
    pub retry_after: Duration,
}

/// Scopes whose daily spend crossed the warning share with this charge (bit = scope index).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CostWarnings(pub u8);

impl CostWarnings {
    /// Whether `scope` crossed its warning share.
    pub fn has(self, scope: Scope) -> bool {
        self.0 & (1 << scope as u8) != 0
    }

    /// Scopes that crossed, narrowest first.
    pub fn scopes(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |s| self.has(*s))
    }
}

/// One entity's counters. Small and `Copy`, so a decision can stage changes on copies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ledger {
    pub(super) tat: [[u64; 2]; RATE_UNITS],
    pub(super) day: u32,
    pub(super) day_used: [u64; RATE_UNITS],
    /// Concurrent sessions held.
    pub sessions: u64,
    /// Amounts admitted here that the shared store has not counted yet (only the local
    /// fallback of a shared store keeps these; see [`super::carry`]).
    pub(super) unshared: [i64; RATE_UNITS],
}

/// One limit's state for `/stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitView {
    /// Unit.
    pub unit: Unit,
    /// Window.
    pub window: Window,
    /// Used now (GCRA: units in the bucket; day: used today; concurrent: held).
    pub current: u64,
    /// The limit.
    pub limit: u64,
    /// `limit − current`, never negative.
    pub remaining: u64,
}

impl Ledger {
    pub(super) fn roll(&mut self, day: u32) {
        if self.day != day {
            self.day = day;
            self.day_used = [0; RATE_UNITS];
        }
    }

    /// Nothing worth keeping: buckets full, nothing counted today, no session held, nothing
    /// waiting to be shared.
    pub fn is_idle(&self, at: &At) -> bool {
        self.sessions == 0
            && self.unshared == [0; RATE_UNITS]
            && self.tat.iter().flatten().all(|&t| t <= at.now_ns)
            && (self.day != at.day || self.day_used.iter().all(|&u| u == 0))
    }

    fn used_today(&self, unit: Unit, day: u32) -> u64 {
        if self.day == day { self.day_used[unit as usize] } else { 0 }
    }

    /// Checks `amounts` against `scope`'s limits; with `WRITE` also charges them (the second
    /// pass, run only when every scope passed the first). Returns the failing limit with the
    /// longest wait.
    fn charge<const WRITE: bool>(
        &mut self,
        q: &Quotas,
        scope: Scope,
        amounts: &[u64; RATE_UNITS],
        at: &At,
    ) -> Option<Rejection> {
        if WRITE {
            self.roll(at.day);
        }
        let mut worst: Option<Rejection> = None;
        for unit in Unit::RATED {
            let n = amounts[unit as usize];
            if n == 0 {
                continue;
            }
            for window in Window::ALL {
                let wait = if window == Window::Day {
                    let limit = q.limit(scope, unit, window);
                    if limit == 0 {
                        continue;
                    }
                    match self.used_today(unit, at.day).checked_add(n).filter(|&v| v <= limit) {
                        Some(v) => {
                            if WRITE {
                                self.day_used[unit as usize] = v;
                            }
                            continue;
                        }
                        None => at.to_midnight,
                    }
                } else {
                    let Some(r) = q.rate(scope, unit, window) else { continue };
                    let tat = &mut self.tat[unit as usize][window as usize];
                    match r.check(*tat, at.now_ns, n) {
                        Ok(t) => {
                            if WRITE {
                                *tat = t;
                            }
                            continue;
                        }
                        // Larger than the whole limit: it will never fit this window.
                        Err(u64::MAX) => window.gcra_len().unwrap_or(at.to_midnight),
                        Err(ns) => Duration::from_nanos(ns),
                    }
                };
                if worst.is_none_or(|w| wait > w.retry_after) {
                    worst = Some(Rejection { scope, unit, window, retry_after: wait });
                }
            }
        }
        worst
    }

    /// Adjusts after the fact by `actual − reserved` (settle). Refunds apply to a day counter
    /// only if it is still the reservation's day.
    fn adjust(&mut self, q: &Quotas, scope: Scope, delta: &[i64; RATE_UNITS], reserved_day: u32, at: &At) {
        self.roll(at.day);
        for unit in Unit::RATED {
            let d = delta[unit as usize];
            if d == 0 {
                continue;
            }
            for window in [Window::Minute, Window::Hour] {
                if let Some(r) = q.rate(scope, unit, window) {
                    let tat = &mut self.tat[unit as usize][window as usize];
                    *tat = r.adjust(*tat, at.now_ns, d);
                }
            }
            let used = &mut self.day_used[unit as usize];
            if d > 0 {
                *used = used.saturating_add(d.unsigned_abs());
            } else if reserved_day == at.day {
                *used = used.saturating_sub(d.unsigned_abs());
            }
        }
    }

    /// Every configured limit of `scope` as seen at `at`.
    pub fn view(&self, q: &Quotas, scope: Scope, at: &At) -> Vec<LimitView> {
        let mut out = Vec::new();
        for unit in Unit::RATED {
            for window in Window::ALL {
                let limit = q.limit(scope, unit, window);
                if limit == 0 {
                    continue;
                }
                let current = match q.rate(scope, unit, window) {
                    Some(r) => r.used(self.tat[unit as usize][window as usize], at.now_ns),
                    None if self.day == at.day => self.day_used[unit as usize],
                    None => 0,
                };
                out.push(LimitView {
                    unit,
                    window,
                    current,
                    limit,
                    remaining: limit.saturating_sub(current),
                });
            }
        }
        let limit = q.session_limit(scope);
        if limit > 0 {
            let current = self.sessions;
            out.push(LimitView {
                unit: Unit::Sessions,
                window: Window::Concurrent,
                current,
                limit,
                remaining: limit.saturating_sub(current),
            });
        }
        out
    }

    /// Spend counted today (micro-USD).
    pub fn cost_today(&self, at: &At) -> u64 {
        if self.day == at.day { self.day_used[Unit::CostMicroUsd as usize] } else { 0 }
    }
}

fn crossed(q: &Quotas, scope: Scope, before: u64, after: u64) -> bool {
    let cap = q.limit(scope, Unit::CostMicroUsd, Window::Day);
    let mark = u128::from(cap) * u128::from(q.warn_permille);
    cap > 0 && u128::from(before) * 1000 < mark && u128::from(after) * 1000 >= mark
}

/// The participant, room and global ledgers of one decision, in [`Scope::ALL`] order; `None`
/// for a scope without any limit (the store neither locks nor remembers it).
pub type Ledgers<'a> = [Option<&'a mut Ledger>; 3];

fn costs(ledgers: &Ledgers<'_>, at: &At) -> [u64; 3] {
    ledgers.each_ref().map(|l| l.as_ref().map_or(0, |l| l.cost_today(at)))
}

fn warnings(q: &Quotas, before: [u64; 3], after: [u64; 3]) -> CostWarnings {
    let mut w = 0;
    for scope in Scope::ALL {
        let i = scope as usize;
        if crossed(q, scope, before[i], after[i]) {
            w |= 1 << i;
        }
    }
    CostWarnings(w)
}

/// Admits `usage` against the participant, room and global ledgers, all or nothing. On
/// success every ledger is charged; on rejection none is, and the rejection is the failing
/// limit with the longest wait (when everything would pass).
pub fn admit(
    q: &Quotas,
    mut ledgers: Ledgers<'_>,
    usage: &Usage,
    at: &At,
) -> Result<CostWarnings, Rejection> {
    admit_amounts(q, &mut ledgers, &usage.amounts(), at)
}

/// [`admit`] on raw amounts, leaving the ledgers with the caller.
pub(super) fn admit_amounts(
    q: &Quotas,
    ledgers: &mut Ledgers<'_>,
    amounts: &[u64; RATE_UNITS],
    at: &At,
) -> Result<CostWarnings, Rejection> {
    let mut worst: Option<Rejection> = None;
    for (scope, l) in Scope::ALL.into_iter().zip(ledgers.iter_mut()) {
        let Some(l) = l else { continue };
        let r = l.charge::<false>(q, scope, amounts, at);
        if r.is_some_and(|r| worst.is_none_or(|w| r.retry_after > w.retry_after)) {
            worst = r;
        }
    }
    if let Some(r) = worst {
        return Err(r);
    }
    let priced = amounts[Unit::CostMicroUsd as usize] > 0;
    let before = if priced { costs(ledgers, at) } else { [0; 3] };
    for (scope, l) in Scope::ALL.into_iter().zip(ledgers.iter_mut()) {
        if let Some(l) = l {
            l.charge::<true>(q, scope, amounts, at);
        }
    }
    Ok(if priced { warnings(q, before, costs(ledgers, at)) } else { CostWarnings::default() })
}

/// Settles a reservation made on `reserved_day` with the real usage.
pub fn settle(
    q: &Quotas,
    mut ledgers: Ledgers<'_>,
    reserved: &Usage,
    actual: &Usage,
    reserved_day: u32,
    at: &At,
) -> CostWarnings {
    settle_delta(q, &mut ledgers, &delta(reserved, actual), reserved_day, at)
}

/// `actual − reserved` per unit.
pub(super) fn delta(reserved: &Usage, actual: &Usage) -> [i64; RATE_UNITS] {
    let (r, a) = (reserved.amounts(), actual.amounts());
    std::array::from_fn(|i| {
        (i128::from(a[i]) - i128::from(r[i])).clamp(i64::MIN.into(), i64::MAX.into()) as i64
    })
}

/// [`settle`] by a precomputed delta, leaving the ledgers with the caller.
pub(super) fn settle_delta(
    q: &Quotas,
    ledgers: &mut Ledgers<'_>,
    delta: &[i64; RATE_UNITS],
    reserved_day: u32,
    at: &At,
) -> CostWarnings {
    let before = costs(ledgers, at);
    for (scope, l) in Scope::ALL.into_iter().zip(ledgers.iter_mut()) {
        if let Some(l) = l {
            l.adjust(q, scope, delta, reserved_day, at);
        }
    }
    warnings(q, before, costs(ledgers, at))
}

/// Takes one concurrent-session slot in every scope, or none.
pub fn acquire_session(q: &Quotas, ledgers: Ledgers<'_>) -> Result<(), Rejection> {
    for (scope, l) in Scope::ALL.into_iter().zip(ledgers.iter()) {
        let limit = q.session_limit(scope);
        if limit > 0 && l.as_ref().is_some_and(|l| l.sessions >= limit) {
            return Err(Rejection {
                scope,
                unit: Unit::Sessions,
                window: Window::Concurrent,
                retry_after: Duration::ZERO,
            });
        }
    }
    for l in ledgers.into_iter().flatten() {
        l.sessions = l.sessions.saturating_add(1);
    }
    Ok(())
}

/// Gives a session slot back in every scope.
pub fn release_session(ledgers: Ledgers<'_>) {
    for l in ledgers.into_iter().flatten() {
        l.sessions = l.sessions.saturating_sub(1);
    }
}

#[cfg(test)]
#[path = "ledger_tests.rs"]
mod tests;
