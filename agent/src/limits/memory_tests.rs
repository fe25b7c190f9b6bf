//! The in-memory store: decisions, bounded memory, sessions, shared open, stats.

use super::*;
use crate::clock;
use crate::core::carry::Seen;
use crate::limits::keyed::SHARDS;

const JAN1: u64 = 1_704_067_200;

fn now_at(t0: Instant, secs: u64) -> Now {
    Now { mono: t0 + Duration::from_secs(secs), unix: Duration::from_secs(JAN1 + secs) }
}

fn id(s: &str) -> Arc<str> {
    Arc::from(s)
}

fn turn<'a>(p: &'a Arc<str>, r: &'a Arc<str>) -> Request<'a> {
    Request { participant: p, room: r, usage: Usage { turns: 1, ..Usage::default() } }
}

#[test]
fn decides_with_the_seed_defaults_and_settles() {
    let t0 = clock::now();
    let store = MemoryStore::new(Quotas::default(), 10_000, t0);
    let (alice, bob, room) = (id("alice"), id("bob"), id("room-1"));
    for _ in 0..20 {
        assert!(matches!(store.check_now(turn(&alice, &room), now_at(t0, 0)), Decision::Allowed { .. }));
    }
    let Decision::Rejected(r) = store.check_now(turn(&alice, &room), now_at(t0, 0)) else {
        panic!("21st turn passed")
    };
    assert_eq!((r.scope, r.unit, r.window), (Scope::Participant, Unit::Turns, Window::Minute));
    let Decision::Allowed { reservation, .. } = store.check_now(turn(&bob, &room), now_at(t0, 0)) else {
        panic!("bob is limited by alice's use")
    };
    assert_eq!(reservation.origin(), Origin::Local);
    let w = store.settle_now(
        &reservation,
        &Usage { turns: 1, cost_micro_usd: 4_500_000, ..Usage::default() },
        now_at(t0, 1),
    );
    assert!(w.has(Scope::Participant), "bob crossed 80 % of $5");
    let s = store.stats_now(Some("bob"), Some("room-1"), now_at(t0, 0), Mode::Local);
    let bob_stats = s.participant.unwrap();
    assert_eq!(bob_stats.cost.today_micro_usd, 4_500_000);
    let turns_min = &bob_stats.limits[0];
    assert_eq!(
        (turns_min.unit, turns_min.window, turns_min.current, turns_min.limit),
        ("turns", "minute", 1, 20)
    );
    assert_eq!(s.global.limits[0].current, 21);
    assert_eq!(s.mode, "local");
}

#[test]
fn thousands_of_identities_stay_bounded_and_prune_to_nothing() {
    let t0 = clock::now();
    let mut q = Quotas::unlimited();
    q.set(Scope::Participant, Unit::Turns, Window::Day, 100);
    let store = MemoryStore::new(q, 2000, t0);
    let room = id("lobby");
    let mut refused = 0;
    for i in 0..10_000 {
        let who = id(&format!("user-{i}"));
        if let Decision::Rejected(r) = store.check_now(turn(&who, &room), now_at(t0, 0)) {
            assert_eq!((r.scope, r.retry_after), (Scope::Global, Duration::from_secs(1)));
            refused += 1;
        }
    }
    let (participants, _) = store.len();
    assert!(participants <= 2000 + SHARDS, "{participants} remembered");
    assert!(refused >= 10_000 - 2000 - SHARDS, "{refused} refused");
    // The day counters keep them until the UTC day ends; then all of them go.
    store.prune(now_at(t0, 3600));
    assert_eq!(store.len(), (participants, 0), "the unlimited room was idle at once");
    let dropped = store.prune(now_at(t0, 86_400));
    assert_eq!(dropped, participants);
    assert!(store.is_empty());
    // Room for new identities again.
    let newcomer = id("newcomer");
    assert!(matches!(store.check_now(turn(&newcomer, &room), now_at(t0, 86_400)), Decision::Allowed { .. }));
}

#[test]
fn a_full_shard_is_pruned_before_refusing() {
    let t0 = clock::now();
    // Only minute limits: entries become idle a minute after use.
    let mut q = Quotas::unlimited();
    q.set(Scope::Participant, Unit::Turns, Window::Minute, 5);
    let store = MemoryStore::new(q, 320, t0);
    let room = id("r");
    for i in 0..5000 {
        let who = id(&format!("u{i}"));
        // Each identity is used once, 61 s after the previous batch of 100: old ones are idle.
        let t = (i / 100) as u64 * 61;
        assert!(
            matches!(store.check_now(turn(&who, &room), now_at(t0, t)), Decision::Allowed { .. }),
            "u{i}"
        );
    }
    assert!(store.len().0 <= 320 + SHARDS);
}

#[test]
fn sessions_are_capped_and_released() {
    let t0 = clock::now();
    let store = MemoryStore::new(Quotas::default(), 100, t0);
    let (alice, room) = (id("alice"), id("room"));
    let leases: Vec<_> =
        (0..3).map(|_| store.acquire_session_now(&alice, &room, now_at(t0, 0)).unwrap()).collect();
    let r = store.acquire_session_now(&alice, &room, now_at(t0, 0)).unwrap_err();
    assert_eq!((r.scope, r.unit), (Scope::Participant, Unit::Sessions));
    // A held session keeps the entry alive through pruning.
    assert_eq!(store.prune(now_at(t0, 200_000)), 0);
    for l in &leases {
        store.release_session_now(l, now_at(t0, 0));
    }
    assert!(store.acquire_session_now(&alice, &room, now_at(t0, 0)).is_ok());
}

#[test]
fn shared_open_is_remembered_and_expires() {
    let t0 = clock::now();
    let store = MemoryStore::new(Quotas::default(), 100, t0);
    store.share_open_now("llm:a", Duration::from_secs(5), now_at(t0, 0));
    store.share_open_now("llm:a", Duration::from_secs(2), now_at(t0, 0));
    assert_eq!(store.shared_open_remaining_now("llm:a", now_at(t0, 1)), Some(Duration::from_secs(4)));
    assert_eq!(store.shared_open_remaining_now("llm:a", now_at(t0, 5)), None);
    assert_eq!(store.shared_open_remaining_now("llm:b", now_at(t0, 0)), None);
}

#[test]
fn weight_charges_each_local_decision_n_times_without_turning_limits_off() {
    let t0 = clock::now();
    let store = MemoryStore::new(Quotas::default(), 100, t0).carrying();
    store.set_weight(4);
    let (p, r) = (id("p"), id("r"));
    let passed = (0..30)
        .filter(|_| matches!(store.check_now(turn(&p, &r), now_at(t0, 0)), Decision::Allowed { .. }))
        .count();
    // 20/min charged 4 times a turn: the share of one of 4 workers.
    assert_eq!(passed, 5);
    // Concurrent sessions are capped at 3 ÷ 4 → 1.
    let lease = store.acquire_session_now(&p, &r, now_at(t0, 0)).unwrap();
    assert!(store.acquire_session_now(&p, &r, now_at(t0, 0)).is_err());
    store.release_session_now(&lease, now_at(t0, 0));
    store.set_weight(0);
    assert_eq!(store.weight(), 1);
    assert_eq!(store.quotas().limit(Scope::Participant, Unit::Turns, Window::Minute), 20);
}

#[test]
fn a_carrying_store_starts_from_the_shared_copy_and_hands_back_what_it_charged() {
    let t0 = clock::now();
    let store = MemoryStore::new(Quotas::default(), 100, t0).carrying();
    store.set_weight(2);
    let (p, r) = (id("p"), id("r"));
    let now = now_at(t0, 0);
    let day = (JAN1 / 86_400) as u32;
    // Redis said: p has 16 of 20 turns this minute in use (48 s ahead), 90 of 100 today.
    let seen = [
        (Scope::Participant, Seen { unit: Unit::Turns, window: Window::Minute, value: 48_000_000 }),
        (Scope::Participant, Seen { unit: Unit::Turns, window: Window::Day, value: 90 }),
    ];
    store.observe(&p, &r, day, &seen, now);
    // 4 left for the fleet of 2: this worker gets 2.
    let passed =
        (0..10).filter(|_| matches!(store.check_now(turn(&p, &r), now), Decision::Allowed { .. })).count();
    assert_eq!(passed, 2);
    let (d, entries) = store.sync_entries(false, now);
    assert_eq!(d, day);
    let mine: Vec<_> = entries.iter().filter(|e| e.scope == Scope::Participant).collect();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].sent[Unit::Turns as usize], 2);
    let day_rule = mine[0].rules.iter().find(|r| r.window == Window::Day).unwrap();
    assert_eq!((day_rule.floor, day_rule.unshared), (90, 2));
    // The global ledger charged the same turns.
    assert!(entries.iter().any(|e| e.scope == Scope::Global && e.sent[0] == 2));
    store.mark_shared(&entries);
    assert!(store.sync_entries(false, now).1.is_empty());
    // Everything remembered is still there for a restore.
    assert_eq!(store.sync_entries(true, now).1.len(), 2);
}
