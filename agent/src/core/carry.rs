//! What a worker carries between shared (Redis) and local decisions, so that an outage never
//! hands the fleet a fresh budget.
//!
//! While limits are shared, every answer from the store carries the state it left behind for
//! each limit it touched (how far a bucket's TAT runs ahead of now, or what a day counter
//! holds); [`Ledger::observe`] keeps that as this worker's copy. When the store goes away the
//! worker decides locally *from that copy*, charging every unit `weight` times (N, the number
//! of live workers): the fleet of N workers then spends what was left, never a fresh budget
//! per failover. Local charges are also written down as *unshared*; when the store is back,
//! [`Ledger::sync_rules`] says what to merge into it (the copy as a floor, plus the unshared
//! amounts), so neither a stall nor a restart that lost everything forgets what was spent.
//!
//! Charging N times against the full limit equals deciding against limit ÷ N (the bucket
//! refills at limit ÷ N per window for this worker), but keeps the carried state in the
//! fleet's units, so it can be compared and merged as is.

use super::ledger::{self, At, CostWarnings, Ledger, Ledgers, Rejection, admit_amounts, settle_delta};
use super::quota::{Quotas, RATE_UNITS, Scope, Unit, Usage, Window};

/// One limit's state as the shared store left it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    /// Unit.
    pub unit: Unit,
    /// Window.
    pub window: Window,
    /// Minute/hour: microseconds the bucket's TAT runs ahead of the store's now (0 = full
    /// bucket). Day: units used today.
    pub value: u64,
}

/// What to merge into the shared store for one limit of one entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncRule {
    /// Unit.
    pub unit: Unit,
    /// Window.
    pub window: Window,
    /// The configured limit (the store derives the bucket's interval from it).
    pub limit: u64,
    /// The least the store should hold, from this worker's copy without its own unshared
    /// charges: microseconds ahead for minute/hour, units used today for a day.
    pub floor: u64,
    /// Amount admitted here that the store has not counted (negative: a refund).
    pub unshared: i64,
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Adds `amounts` to the unshared amounts of each ledger, for the units its scope limits
/// (an amount nobody limits is nothing to merge).
fn add_unshared(q: &Quotas, ledgers: Ledgers<'_>, amounts: &[i64; RATE_UNITS]) {
    for (scope, l) in Scope::ALL.into_iter().zip(ledgers) {
        let Some(l) = l else { continue };
        for unit in Unit::RATED {
            if Window::ALL.iter().any(|w| q.limit(scope, unit, *w) > 0) {
                let u = &mut l.unshared[unit as usize];
                *u = u.saturating_add(amounts[unit as usize]);
            }
        }
    }
}

impl Ledger {
    /// Takes the shared store's state of one limit as this worker's copy. With nothing
    /// unshared the copy becomes exactly the store's (refunds included); otherwise it only
    /// grows, so local charges not yet merged are not forgotten. A day value from another UTC
    /// day than `at` (clocks straddling midnight) is ignored.
    pub fn observe(&mut self, q: &Quotas, scope: Scope, seen: Seen, store_day: u32, at: &At) {
        let u = seen.unit as usize;
        let exact = self.unshared[u] == 0;
        match seen.window {
            Window::Minute | Window::Hour => {
                if q.rate(scope, seen.unit, seen.window).is_none() {
                    return;
                }
                let tat = &mut self.tat[u][seen.window as usize];
                let target = at.now_ns.saturating_add(seen.value.saturating_mul(1000));
                *tat = if exact { target } else { (*tat).max(target) };
            }
            Window::Day if store_day == at.day => {
                self.roll(at.day);
                let used = &mut self.day_used[u];
                *used = if exact { seen.value } else { (*used).max(seen.value) };
            }
            Window::Day | Window::Concurrent => {}
        }
    }

    /// Whether local charges wait to be merged into the shared store.
    pub fn has_unshared(&self) -> bool {
        self.unshared != [0; RATE_UNITS]
    }

    /// The unshared amounts per unit (index as [`Unit::RATED`]).
    pub fn unshared(&self) -> [i64; RATE_UNITS] {
        self.unshared
    }

    /// Forgets `sent` unshared amounts: the store has counted them.
    pub fn mark_shared(&mut self, sent: &[i64; RATE_UNITS]) {
        for (u, s) in self.unshared.iter_mut().zip(sent) {
            *u = u.saturating_sub(*s);
        }
    }

    /// What to merge into the shared store for every limit of `scope`: the copy (minus this
    /// worker's own unshared charges, counted `weight` times) as a floor, plus the unshared
    /// amounts. Limits with nothing to say are left out.
    pub fn sync_rules(&self, q: &Quotas, scope: Scope, weight: u64, at: &At) -> Vec<SyncRule> {
        let mut out = Vec::new();
        for unit in Unit::RATED {
            let n = self.unshared[unit as usize];
            let own = i128::from(n) * i128::from(weight.max(1));
            for window in Window::ALL {
                let limit = q.limit(scope, unit, window);
                if limit == 0 {
                    continue;
                }
                let (floor, unshared) = match q.rate(scope, unit, window) {
                    Some(r) => {
                        let ahead =
                            i128::from(self.tat[unit as usize][window as usize].saturating_sub(at.now_ns));
                        let floor_ns = (ahead - own * i128::from(r.interval)).max(0);
                        ((floor_ns / 1000).min(i128::from(u64::MAX)) as u64, n)
                    }
                    // Yesterday's counters and charges do not count against today.
                    None if self.day != at.day => (0, 0),
                    None => {
                        let used = i128::from(self.day_used[unit as usize]);
                        ((used - own).max(0).min(i128::from(u64::MAX)) as u64, n)
                    }
                };
                if floor > 0 || unshared != 0 {
                    out.push(SyncRule { unit, window, limit, floor, unshared });
                }
            }
        }
        out
    }
}

/// Admits `usage` locally for a worker deciding for one of `weight` workers: every unit is
/// charged `weight` times against the full limits (all or nothing, as [`ledger::admit`]),
/// and the plain amounts are written down as unshared in every ledger.
pub fn admit_carried(
    q: &Quotas,
    mut ledgers: Ledgers<'_>,
    usage: &Usage,
    weight: u64,
    at: &At,
) -> Result<CostWarnings, Rejection> {
    let plain = usage.amounts();
    let weighted = plain.map(|a| a.saturating_mul(weight.max(1)));
    let w = admit_amounts(q, &mut ledgers, &weighted, at)?;
    add_unshared(q, ledgers, &plain.map(to_i64));
    Ok(w)
}

/// Settles locally (see [`admit_carried`]): the ledgers move by `weight` × (actual − reserved),
/// the unshared amounts by the plain difference.
pub fn settle_carried(
    q: &Quotas,
    mut ledgers: Ledgers<'_>,
    reserved: &Usage,
    actual: &Usage,
    reserved_day: u32,
    weight: u64,
    at: &At,
) -> CostWarnings {
    let d = ledger::delta(reserved, actual);
    let weighted = d.map(|v| v.saturating_mul(to_i64(weight.max(1))));
    let w = settle_delta(q, &mut ledgers, &weighted, reserved_day, at);
    add_unshared(q, ledgers, &d);
    w
}

#[cfg(test)]
#[path = "carry_tests.rs"]
mod tests;
