//! Carried state against a model of the shared store (the same arithmetic as `decide.lua`):
//! the fleet stays within limit + limit ÷ N per window through any number of outages,
//! stalls and restarts that lose everything.

use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::core::ledger::admit;

const S: u64 = 1_000_000_000;
const JAN1: u64 = 1_704_067_200;

fn at_ns(ns: u64) -> At {
    At::new(ns, Duration::from_nanos(JAN1 * S + ns))
}

fn global(limit_min: u64, limit_day: u64) -> Quotas {
    let mut q = Quotas::unlimited();
    q.set(Scope::Global, Unit::Turns, Window::Minute, limit_min);
    q.set(Scope::Global, Unit::Turns, Window::Day, limit_day);
    q
}

/// The store's side: a decision returns what it left behind for each limit.
fn store_check(store: &mut Ledger, q: &Quotas, usage: &Usage, at: &At) -> (bool, Vec<Seen>) {
    let ok = admit(q, [None, None, Some(store)], usage, at).is_ok();
    (ok, store_view(store, q, at))
}

fn store_view(store: &Ledger, q: &Quotas, at: &At) -> Vec<Seen> {
    let mut seen = Vec::new();
    for window in Window::ALL {
        let value = match window {
            Window::Day => store.day_used[Unit::Turns as usize],
            _ => store.tat[Unit::Turns as usize][window as usize].saturating_sub(at.now_ns) / 1000,
        };
        if q.limit(Scope::Global, Unit::Turns, window) > 0 {
            seen.push(Seen { unit: Unit::Turns, window, value });
        }
    }
    seen
}

/// The store's merges (as `decide.lua`'s "flush" and "restore"). Flush (the store kept its
/// data): at least the floor, plus what was unshared. Restore (the store lost everything and
/// is rebuilt from the workers): the highest floor any worker sent, plus every unshared amount,
/// whatever the order; `bases` is the highest floor so far (the script keeps it in the key).
fn store_merge(
    store: &mut Ledger,
    bases: &mut [u64; 3],
    q: &Quotas,
    rules: &[SyncRule],
    restore: bool,
    at: &At,
) {
    for r in rules {
        let u = r.unit as usize;
        let base = &mut bases[r.window as usize];
        match q.rate(Scope::Global, r.unit, r.window) {
            Some(rate) => {
                let tat = &mut store.tat[u][r.window as usize];
                let floor = at.now_ns + r.floor * 1000;
                let grown = if restore {
                    let add = floor.saturating_sub((*base).max(at.now_ns));
                    *base = (*base).max(floor);
                    (*tat).max(at.now_ns) + add
                } else {
                    (*tat).max(floor)
                };
                *tat = rate.adjust(grown, at.now_ns, r.unshared);
            }
            None => {
                store.roll(at.day);
                let used = &mut store.day_used[u];
                let grown = if restore {
                    let add = r.floor.saturating_sub(*base);
                    *base = (*base).max(r.floor);
                    *used + add
                } else {
                    (*used).max(r.floor)
                };
                *used = (grown as i64 + r.unshared).max(0) as u64;
            }
        }
    }
}

/// A fleet of `n` workers and one store, driven one request at a time.
struct Fleet {
    q: Quotas,
    store: Ledger,
    bases: [u64; 3],
    workers: Vec<Ledger>,
    up: bool,
    admitted: Vec<u64>,
}

impl Fleet {
    fn new(q: Quotas, n: usize) -> Self {
        Self {
            q,
            store: Ledger::default(),
            bases: [0; 3],
            workers: vec![Ledger::default(); n],
            up: true,
            admitted: Vec::new(),
        }
    }

    fn request(&mut self, w: usize, t: u64) {
        let at = at_ns(t);
        let usage = Usage { turns: 1, ..Usage::default() };
        let n = self.workers.len() as u64;
        let ok = if self.up {
            let (ok, seen) = store_check(&mut self.store, &self.q, &usage, &at);
            for s in seen {
                self.workers[w].observe(&self.q, Scope::Global, s, at.day, &at);
            }
            ok
        } else {
            admit_carried(&self.q, [None, None, Some(&mut self.workers[w])], &usage, n, &at).is_ok()
        };
        if ok {
            self.admitted.push(t);
        }
    }

    fn outage(&mut self) {
        self.up = false;
    }

    /// The store answers again; `empty`: it lost everything. Every worker merges first.
    fn back(&mut self, t: u64, empty: bool) {
        if empty {
            self.store = Ledger::default();
            self.bases = [0; 3];
        }
        let at = at_ns(t);
        let n = self.workers.len() as u64;
        for w in &mut self.workers {
            let rules = w.sync_rules(&self.q, Scope::Global, n, &at);
            store_merge(&mut self.store, &mut self.bases, &self.q, &rules, empty, &at);
            w.mark_shared(&w.unshared());
        }
        self.up = true;
    }

    /// Most admitted in any window of `len` starting at or after `from`.
    fn worst_window(&self, from: u64, len: u64) -> usize {
        let a: Vec<u64> = self.admitted.iter().copied().filter(|&t| t >= from).collect();
        let mut worst = 0;
        let mut j = 0;
        for i in 0..a.len() {
            while j < a.len() && a[j] < a[i] + len {
                j += 1;
            }
            worst = worst.max(j - i);
        }
        worst
    }
}

#[test]
fn outages_and_an_empty_restart_do_not_hand_out_fresh_budgets() {
    // 60 turns/min for the fleet of 3; 10 requests a second, round robin.
    let mut f = Fleet::new(global(60, 0), 3);
    let step = S / 10;
    for i in 0..2400u64 {
        let t = i * step;
        match i {
            300 => f.outage(),       // 30 s: down for 10 s
            400 => f.back(t, true),  // 40 s: back, empty
            500 => f.outage(),       // 50 s: stalled for 5 s
            550 => f.back(t, false), // 55 s: back with its data
            700 => f.outage(),
            720 => f.back(t, true),
            740 => f.outage(),
            760 => f.back(t, true),
            _ => {}
        }
        f.request((i % 3) as usize, t);
    }
    // After the first burst has drained (6 s), every minute admits at most 60 + 60/3.
    let worst = f.worst_window(6 * S, 60 * S);
    assert!(worst <= 80, "{worst} admitted in one minute against 60/min");
    assert!(worst >= 60, "{worst}: the limit was not reached at all");
}

#[test]
fn the_old_fresh_local_bucket_is_what_this_prevents() {
    // Same load; each outage starts every worker from an empty copy (what a fresh local
    // bucket did): the fleet gets a new budget per failover.
    let mut f = Fleet::new(global(60, 0), 3);
    let step = S / 10;
    for i in 0..1200u64 {
        let t = i * step;
        if [300, 500, 700].contains(&i) {
            f.outage();
            f.workers.iter_mut().for_each(|w| *w = Ledger::default());
        }
        if [400, 550, 720].contains(&i) {
            f.back(t, i == 400);
        }
        f.request((i % 3) as usize, t);
    }
    assert!(f.worst_window(6 * S, 60 * S) > 80);
}

#[test]
fn day_counters_come_back_from_the_workers_after_an_empty_restart() {
    let mut f = Fleet::new(global(0, 100), 3);
    for i in 0..30u64 {
        f.request((i % 3) as usize, i * S);
    }
    f.outage();
    for i in 30..60u64 {
        f.request((i % 3) as usize, i * S);
    }
    f.back(60 * S, true);
    // 30 counted in the store, 30 locally (each worker 10 of its share 70/3 charged × 3): the
    // restored counter holds all 60, not 0 or 30.
    assert_eq!(f.store.day_used[Unit::Turns as usize], 60);
    for i in 60..200u64 {
        f.request((i % 3) as usize, i * S);
    }
    assert_eq!(f.admitted.len(), 100, "the daily cap moved");
}

#[test]
fn a_copy_is_exact_until_local_charges_wait_to_be_shared() {
    let q = global(60, 100);
    let mut l = Ledger::default();
    let t = at_ns(10 * S);
    l.observe(
        &q,
        Scope::Global,
        Seen { unit: Unit::Turns, window: Window::Minute, value: 30_000_000 },
        t.day,
        &t,
    );
    l.observe(&q, Scope::Global, Seen { unit: Unit::Turns, window: Window::Day, value: 40 }, t.day, &t);
    // A refund seen in the store lowers the copy.
    l.observe(&q, Scope::Global, Seen { unit: Unit::Turns, window: Window::Day, value: 39 }, t.day, &t);
    assert_eq!(l.day_used[0], 39);
    // Another day's value is ignored.
    l.observe(&q, Scope::Global, Seen { unit: Unit::Turns, window: Window::Day, value: 99 }, t.day + 1, &t);
    assert_eq!(l.day_used[0], 39);
    // Charged locally for one of 3 workers: 1 turn = 3 units; 1 unshared.
    admit_carried(&q, [None, None, Some(&mut l)], &Usage { turns: 1, ..Usage::default() }, 3, &t).unwrap();
    assert_eq!(l.day_used[0], 42);
    assert_eq!(l.unshared()[0], 1);
    assert!(!l.is_idle(&at_ns(1000 * S)));
    // Now the copy only grows.
    l.observe(&q, Scope::Global, Seen { unit: Unit::Turns, window: Window::Day, value: 40 }, t.day, &t);
    assert_eq!(l.day_used[0], 42);
    let rules = l.sync_rules(&q, Scope::Global, 3, &t);
    assert_eq!(
        rules,
        [
            SyncRule { unit: Unit::Turns, window: Window::Minute, limit: 60, floor: 30_000_000, unshared: 1 },
            SyncRule { unit: Unit::Turns, window: Window::Day, limit: 100, floor: 39, unshared: 1 },
        ]
    );
    l.mark_shared(&l.unshared());
    assert!(!l.has_unshared());
    // A local refund becomes a negative unshared amount.
    let res = Usage { turns: 1, ..Usage::default() };
    settle_carried(&q, [None, None, Some(&mut l)], &res, &Usage::default(), t.day, 3, &t);
    assert_eq!(l.unshared()[0], -1);
    assert_eq!(l.day_used[0], 39);
}

proptest! {
    /// Any schedule of outages (some losing the store's data) keeps every minute within
    /// limit + limit ÷ N once the first burst has drained.
    #[test]
    fn any_failover_schedule_stays_within_limit_plus_a_share(
        events in proptest::collection::vec((1u64..300, 1u64..150, any::<bool>()), 1..8),
        n in 2usize..5,
    ) {
        let limit = 60;
        let mut f = Fleet::new(global(limit, 0), n);
        let step = S / 10;
        let mut schedule = Vec::new();
        let mut t = 100;
        for (gap, len, empty) in events {
            schedule.push((t + gap, t + gap + len, empty));
            t += gap + len;
        }
        for i in 0..t + 600 {
            for &(down, up, empty) in &schedule {
                if i == down { f.outage(); }
                if i == up { f.back(i * step, empty); }
            }
            f.request(i as usize % n, i * step);
        }
        let worst = f.worst_window(6 * S, 60 * S) as u64;
        prop_assert!(worst <= limit + limit / n as u64, "{} admitted in a minute, limit {}", worst, limit);
    }
}
