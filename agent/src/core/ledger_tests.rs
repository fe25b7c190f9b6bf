//! Scopes, windows, all-or-nothing, reserve/settle, UTC rollover, sessions.

use super::*;

const S: u64 = 1_000_000_000;
/// 2024-01-01T00:00:00Z
const JAN1: u64 = 1_704_067_200;

fn at(secs: u64) -> At {
    At::new(secs * S, Duration::from_secs(JAN1 + secs))
}

/// The three scopes' ledgers of one decision.
fn all<'a>(p: &'a mut Ledger, r: &'a mut Ledger, g: &'a mut Ledger) -> Ledgers<'a> {
    [Some(p), Some(r), Some(g)]
}

fn turn() -> Usage {
    Usage { turns: 1, ..Usage::default() }
}

struct World {
    q: Quotas,
    p: [Ledger; 2],
    room: Ledger,
    global: Ledger,
}

impl World {
    fn new(q: Quotas) -> Self {
        Self { q, p: [Ledger::default(); 2], room: Ledger::default(), global: Ledger::default() }
    }

    fn admit(&mut self, who: usize, u: &Usage, t: &At) -> Result<CostWarnings, Rejection> {
        admit(&self.q, all(&mut self.p[who], &mut self.room, &mut self.global), u, t)
    }
}

fn only(scope: Scope, unit: Unit, window: Window, limit: u64) -> Quotas {
    let mut q = Quotas::unlimited();
    q.set(scope, unit, window, limit);
    q
}

#[test]
fn participant_minute_window_refills_smoothly() {
    let mut w = World::new(only(Scope::Participant, Unit::Turns, Window::Minute, 20));
    for _ in 0..20 {
        w.admit(0, &turn(), &at(0)).unwrap();
    }
    let r = w.admit(0, &turn(), &at(0)).unwrap_err();
    assert_eq!((r.scope, r.unit, r.window), (Scope::Participant, Unit::Turns, Window::Minute));
    assert_eq!(r.retry_after, Duration::from_secs(3));
    // Another participant is not affected.
    w.admit(1, &turn(), &at(0)).unwrap();
    // One emission interval later exactly one more passes.
    w.admit(0, &turn(), &at(3)).unwrap();
    assert!(w.admit(0, &turn(), &at(3)).is_err());
}

#[test]
fn hour_window() {
    let mut w = World::new(only(Scope::Participant, Unit::TtsChars, Window::Hour, 3600));
    let chars = |n| Usage { tts_chars: n, ..Usage::default() };
    w.admit(0, &chars(3000), &at(0)).unwrap();
    let r = w.admit(0, &chars(1000), &at(0)).unwrap_err();
    assert_eq!((r.window, r.retry_after), (Window::Hour, Duration::from_secs(400)));
    w.admit(0, &chars(1000), &at(400)).unwrap();
}

#[test]
fn room_and_global_scopes_are_shared_by_participants() {
    let mut w = World::new(only(Scope::Room, Unit::Turns, Window::Minute, 3));
    w.admit(0, &turn(), &at(0)).unwrap();
    w.admit(1, &turn(), &at(0)).unwrap();
    w.admit(0, &turn(), &at(0)).unwrap();
    assert_eq!(w.admit(1, &turn(), &at(0)).unwrap_err().scope, Scope::Room);

    let mut w = World::new(only(Scope::Global, Unit::SttMillis, Window::Minute, 60_000));
    let audio = |ms| Usage { stt_millis: ms, ..Usage::default() };
    w.admit(0, &audio(40_000), &at(0)).unwrap();
    let r = w.admit(1, &audio(30_000), &at(0)).unwrap_err();
    assert_eq!((r.scope, r.unit), (Scope::Global, Unit::SttMillis));
    assert_eq!(r.retry_after, Duration::from_secs(10));
}

#[test]
fn rejection_charges_nothing_anywhere() {
    let mut q = only(Scope::Participant, Unit::Turns, Window::Minute, 100);
    q.set(Scope::Room, Unit::Turns, Window::Minute, 100);
    q.set(Scope::Global, Unit::Turns, Window::Minute, 2);
    let mut w = World::new(q);
    w.admit(0, &turn(), &at(0)).unwrap();
    w.admit(1, &turn(), &at(0)).unwrap();
    let (p0, room) = (w.p[0], w.room);
    assert_eq!(w.admit(0, &turn(), &at(0)).unwrap_err().scope, Scope::Global);
    assert_eq!((w.p[0], w.room), (p0, room));
    // Several units at once: one over its limit blocks the whole request.
    let mut q = only(Scope::Participant, Unit::Turns, Window::Minute, 10);
    q.set(Scope::Participant, Unit::LlmTokens, Window::Minute, 1000);
    let mut w = World::new(q);
    let before = w.p[0];
    let big = Usage { turns: 1, input_tokens: 900, output_tokens: 200, ..Usage::default() };
    assert_eq!(w.admit(0, &big, &at(0)).unwrap_err().unit, Unit::LlmTokens);
    assert_eq!(w.p[0], before);
}

#[test]
fn the_longest_wait_is_reported() {
    let mut q = only(Scope::Participant, Unit::Turns, Window::Minute, 1);
    q.set(Scope::Participant, Unit::Turns, Window::Day, 1);
    let mut w = World::new(q);
    w.admit(0, &turn(), &at(3600)).unwrap();
    let r = w.admit(0, &turn(), &at(3600)).unwrap_err();
    assert_eq!(r.window, Window::Day);
    assert_eq!(r.retry_after, Duration::from_secs(86_400 - 3600));
}

#[test]
fn day_counter_rolls_over_at_utc_midnight() {
    let mut w = World::new(only(Scope::Participant, Unit::Turns, Window::Day, 100));
    let late = at(86_400 - 10);
    for _ in 0..100 {
        w.admit(0, &turn(), &late).unwrap();
    }
    let r = w.admit(0, &turn(), &at(86_399)).unwrap_err();
    assert_eq!((r.window, r.retry_after), (Window::Day, Duration::from_secs(1)));
    let midnight = at(86_400);
    assert_eq!(midnight.to_midnight, Duration::from_secs(86_400));
    for _ in 0..100 {
        w.admit(0, &turn(), &midnight).unwrap();
    }
    assert!(w.admit(0, &turn(), &midnight).is_err());
}

#[test]
fn reserve_then_settle_refunds_and_charges() {
    let mut q = only(Scope::Participant, Unit::LlmTokens, Window::Minute, 1000);
    q.set(Scope::Global, Unit::LlmTokens, Window::Day, 5000);
    let mut w = World::new(q);
    let reserve = Usage { input_tokens: 200, output_tokens: 600, ..Usage::default() };
    w.admit(0, &reserve, &at(0)).unwrap();
    assert!(w.admit(0, &Usage { input_tokens: 300, ..Usage::default() }, &at(0)).is_err());
    let actual = Usage { input_tokens: 200, output_tokens: 100, ..Usage::default() };
    let t = at(0);
    settle(&w.q, all(&mut w.p[0], &mut w.room, &mut w.global), &reserve, &actual, t.day, &t);
    let views = w.p[0].view(&w.q, Scope::Participant, &t);
    assert_eq!((views[0].current, views[0].remaining), (300, 700));
    assert_eq!(w.global.view(&w.q, Scope::Global, &t)[0].current, 300);
    w.admit(0, &Usage { input_tokens: 700, ..Usage::default() }, &t).unwrap();
    // Using more than reserved drives the bucket into debt: later requests wait it out.
    let small = Usage { output_tokens: 10, ..Usage::default() };
    w.admit(0, &small, &at(1)).unwrap();
    settle(
        &w.q,
        all(&mut w.p[0], &mut w.room, &mut w.global),
        &small,
        &Usage { output_tokens: 510, ..small },
        t.day,
        &at(1),
    );
    let r = w.admit(0, &Usage { input_tokens: 1, ..Usage::default() }, &at(1)).unwrap_err();
    assert!(r.retry_after > Duration::from_secs(29), "{r:?}");
}

#[test]
fn refund_from_yesterday_does_not_touch_today() {
    let mut w = World::new(only(Scope::Participant, Unit::Turns, Window::Day, 10));
    let before_midnight = at(86_399);
    let reserve = Usage { turns: 3, ..Usage::default() };
    w.admit(0, &reserve, &before_midnight).unwrap();
    let today = at(86_401);
    w.admit(0, &turn(), &today).unwrap();
    settle(
        &w.q,
        all(&mut w.p[0], &mut w.room, &mut w.global),
        &reserve,
        &turn(),
        before_midnight.day,
        &today,
    );
    assert_eq!(w.p[0].view(&w.q, Scope::Participant, &today)[0].current, 1);
}

#[test]
fn cost_warning_fires_once_when_crossing_eighty_percent() {
    let mut w = World::new(only(Scope::Participant, Unit::CostMicroUsd, Window::Day, 1000));
    w.q.set(Scope::Global, Unit::CostMicroUsd, Window::Day, 100_000);
    let cost = |c| Usage { cost_micro_usd: c, ..Usage::default() };
    assert_eq!(w.admit(0, &cost(700), &at(0)).unwrap(), CostWarnings(0));
    let warn = w.admit(0, &cost(150), &at(0)).unwrap();
    assert_eq!(warn.scopes().collect::<Vec<_>>(), [Scope::Participant]);
    assert_eq!(w.admit(0, &cost(100), &at(0)).unwrap(), CostWarnings(0));
    let r = w.admit(0, &cost(100), &at(0)).unwrap_err();
    assert_eq!((r.unit, r.window), (Unit::CostMicroUsd, Window::Day));
    assert_eq!(w.p[0].cost_today(&at(0)), 950);
    assert_eq!(w.p[0].cost_today(&at(86_400)), 0);
}

#[test]
fn sessions_all_or_nothing() {
    let mut q = Quotas::unlimited();
    q.set(Scope::Participant, Unit::Sessions, Window::Concurrent, 2);
    q.set(Scope::Global, Unit::Sessions, Window::Concurrent, 3);
    let mut w = World::new(q);
    for who in [0, 0, 1] {
        acquire_session(&w.q, all(&mut w.p[who], &mut w.room, &mut w.global)).unwrap();
    }
    let r = acquire_session(&w.q, all(&mut w.p[0], &mut w.room, &mut w.global)).unwrap_err();
    assert_eq!((r.scope, r.unit), (Scope::Participant, Unit::Sessions));
    let r = acquire_session(&w.q, all(&mut w.p[1], &mut w.room, &mut w.global)).unwrap_err();
    assert_eq!(r.scope, Scope::Global);
    assert_eq!((w.p[1].sessions, w.room.sessions), (1, 3));
    release_session(all(&mut w.p[0], &mut w.room, &mut w.global));
    acquire_session(&w.q, all(&mut w.p[1], &mut w.room, &mut w.global)).unwrap();
    let v = w.global.view(&w.q, Scope::Global, &at(0));
    assert_eq!((v[0].unit, v[0].current, v[0].remaining), (Unit::Sessions, 3, 0));
}

#[test]
fn idle_ledgers_can_be_pruned() {
    let mut w = World::new(Quotas::default());
    assert!(w.p[0].is_idle(&at(0)));
    w.admit(0, &turn(), &at(0)).unwrap();
    assert!(!w.p[0].is_idle(&at(3600)), "the day counter still counts today");
    assert!(w.p[0].is_idle(&at(86_400)));
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// A rejected request leaves every ledger exactly as it was; an admitted one never
        /// pushes a day counter past its limit.
        #[test]
        fn all_or_nothing(
            limits in proptest::collection::vec(0u64..20, 9),
            requests in proptest::collection::vec((0usize..2, 0u64..4, 0u64..30, 0u64..3), 1..200),
        ) {
            let mut q = Quotas::unlimited();
            for (i, scope) in Scope::ALL.into_iter().enumerate() {
                q.set(scope, Unit::Turns, Window::Minute, limits[i * 3]);
                q.set(scope, Unit::Turns, Window::Day, limits[i * 3 + 1]);
                q.set(scope, Unit::TtsChars, Window::Minute, limits[i * 3 + 2] * 10);
            }
            let mut w = World::new(q);
            let mut t = 0;
            for (who, turns, chars, dt) in requests {
                t += dt;
                let u = Usage { turns, tts_chars: chars, ..Usage::default() };
                let before = (w.p, w.room, w.global);
                match w.admit(who, &u, &at(t)) {
                    Err(_) => prop_assert_eq!((w.p, w.room, w.global), before),
                    Ok(_) => {
                        for (scope, l) in Scope::ALL.into_iter().zip([w.p[who], w.room, w.global]) {
                            let day = l.view(&w.q, scope, &at(t)).into_iter().find(|v| v.window == Window::Day);
                            if let Some(v) = day {
                                prop_assert!(v.current <= v.limit);
                            }
                        }
                    }
                }
            }
        }
    }
}
