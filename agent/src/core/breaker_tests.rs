//! Breaker transitions driven by a hand-made clock.

use super::*;
use crate::clock;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn no_jitter() -> BreakerConfig {
    BreakerConfig { jitter: 0.0, ..BreakerConfig::default() }
}

fn call(b: &mut Breaker, outcome: Outcome, now: Instant) {
    let p = b.try_acquire(now).expect("closed breaker lets calls through");
    b.record(p, outcome, now);
}

fn drain(b: &mut Breaker) -> Vec<(State, State, Reason)> {
    std::iter::from_fn(|| b.poll_transition()).map(|t| (t.from, t.to, t.reason)).collect()
}

/// Trips `b` by consecutive failures at `now`.
fn trip(b: &mut Breaker, now: Instant) {
    for _ in 0..5 {
        call(b, Outcome::Failure, now);
    }
    assert_eq!(b.state(), State::Open);
}

#[test]
fn consecutive_failures_trip_and_success_resets_the_count() {
    let t0 = clock::now();
    let mut b = Breaker::new(no_jitter(), t0, 1);
    for _ in 0..4 {
        call(&mut b, Outcome::Failure, t0);
    }
    call(&mut b, Outcome::Success, t0);
    for _ in 0..4 {
        call(&mut b, Outcome::Failure, t0 + secs(20));
    }
    assert_eq!(b.state(), State::Closed);
    call(&mut b, Outcome::Failure, t0 + secs(20));
    assert_eq!(b.state(), State::Open);
    assert_eq!(drain(&mut b), [(State::Closed, State::Open, Reason::ConsecutiveFailures)]);
    let r = b.try_acquire(t0 + secs(21)).unwrap_err();
    assert_eq!(r, Rejected { until: t0 + secs(25), reason: Reason::ConsecutiveFailures });
}

#[test]
fn failure_rate_needs_min_calls_and_stays_inside_window() {
    let t0 = clock::now();
    let mut b = Breaker::new(no_jitter(), t0, 1);
    // Alternating failure/success never makes 5 in a row; 9 calls are below the minimum.
    for i in 0..9u64 {
        let o = if i % 2 == 0 { Outcome::Failure } else { Outcome::Success };
        call(&mut b, o, t0 + ms(i * 100));
    }
    assert_eq!(b.state(), State::Closed);
    // 11 s later the old calls have left the window: 5 fresh calls are below the minimum again.
    let t1 = t0 + secs(11);
    for i in 0..5 {
        call(&mut b, if i % 2 == 0 { Outcome::Failure } else { Outcome::Success }, t1);
    }
    assert_eq!(b.state(), State::Closed);
    for i in 0..5 {
        call(&mut b, if i % 2 == 0 { Outcome::Success } else { Outcome::Failure }, t1);
    }
    assert_eq!(drain(&mut b), [(State::Closed, State::Open, Reason::FailureRate)]);
}

#[test]
fn below_threshold_rate_does_not_trip() {
    let t0 = clock::now();
    let mut b = Breaker::new(no_jitter(), t0, 1);
    for i in 0..100u64 {
        let o = if i % 3 == 0 { Outcome::Failure } else { Outcome::Success };
        call(&mut b, o, t0 + ms(i * 50));
    }
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn slow_rate_trips() {
    let t0 = clock::now();
    let mut b = Breaker::new(no_jitter(), t0, 1);
    for i in 0..10 {
        call(&mut b, if i < 5 { Outcome::Success } else { Outcome::Slow }, t0);
    }
    assert_eq!(drain(&mut b), [(State::Closed, State::Open, Reason::SlowRate)]);
}

#[test]
fn ignored_and_auth_errors_never_open() {
    let t0 = clock::now();
    let mut b = Breaker::new(no_jitter(), t0, 1);
    for _ in 0..50 {
        call(&mut b, Outcome::Ignored, t0);
        call(&mut b, Outcome::AuthError, t0);
    }
    assert_eq!(b.state(), State::Closed);
    assert!(b.auth_failed());
    assert!(b.snapshot(t0).auth_failed);
    assert_eq!(b.snapshot(t0).window.calls, 0);
    call(&mut b, Outcome::Success, t0);
    assert!(!b.auth_failed());
}

#[test]
fn half_open_allows_exactly_one_probe_and_success_closes() {
    let t0 = clock::now();
    let mut b = Breaker::new(no_jitter(), t0, 1);
    trip(&mut b, t0);
    assert!(b.try_acquire(t0 + ms(4999)).is_err());
    let probe = b.try_acquire(t0 + secs(5)).unwrap();
    assert!(probe.is_probe());
    let busy = b.try_acquire(t0 + secs(5)).unwrap_err();
    assert_eq!(busy.reason, Reason::OpenElapsed);
    assert!(b.try_acquire(t0 + secs(6)).is_err());
    b.record(probe, Outcome::Success, t0 + secs(6));
    assert_eq!(b.state(), State::Closed);
    assert_eq!(
        drain(&mut b),
        [
            (State::Closed, State::Open, Reason::ConsecutiveFailures),
            (State::Open, State::HalfOpen, Reason::OpenElapsed),
            (State::HalfOpen, State::Closed, Reason::ProbeSucceeded),
        ]
    );
    // Closed again with a clean window: one failure does not re-trip.
    call(&mut b, Outcome::Failure, t0 + secs(7));
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn cancelled_probe_hands_the_slot_back() {
    let t0 = clock::now();
    let mut b = Breaker::new(no_jitter(), t0, 1);
    trip(&mut b, t0);
    let probe = b.try_acquire(t0 + secs(5)).unwrap();
    b.record(probe, Outcome::Ignored, t0 + secs(5));
    assert_eq!(b.state(), State::HalfOpen);
    let again = b.try_acquire(t0 + secs(5)).unwrap();
    assert!(again.is_probe());
    // An auth error on the probe also hands it back without opening.
    b.record(again, Outcome::AuthError, t0 + secs(5));
    assert!(b.try_acquire(t0 + secs(5)).is_ok());
}

#[test]
fn lost_probe_is_reclaimed_after_probe_timeout() {
    let t0 = clock::now();
    let mut b = Breaker::new(no_jitter(), t0, 1);
    trip(&mut b, t0);
    let lost = b.try_acquire(t0 + secs(5)).unwrap();
    let r = b.try_acquire(t0 + secs(34)).unwrap_err();
    assert_eq!(r.until, t0 + secs(35));
    let p = b.try_acquire(t0 + secs(35)).unwrap();
    assert!(p.is_probe());
    // The given-up probe reporting late must not free the new probe's slot.
    b.record(lost, Outcome::Ignored, t0 + secs(36));
    assert!(b.try_acquire(t0 + secs(36)).is_err());
    b.record(p, Outcome::Success, t0 + secs(36));
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn failed_probe_reopens_with_doubled_time_capped_at_max() {
    let t0 = clock::now();
    let mut b = Breaker::new(no_jitter(), t0, 1);
    trip(&mut b, t0);
    let mut now = t0;
    let mut expected = secs(5);
    for _ in 0..8 {
        assert_eq!(b.open_until(), Some(now + expected));
        now += expected;
        let p = b.try_acquire(now).unwrap();
        b.record(p, Outcome::Failure, now);
        expected = (expected * 2).min(secs(60));
    }
    assert_eq!(b.open_until(), Some(now + secs(60)));
    let p = b.try_acquire(now + secs(60)).unwrap();
    b.record(p, Outcome::Slow, now + secs(60));
    assert_eq!(b.snapshot(now + secs(60)).reason, Reason::ProbeSlow);
}

#[test]
fn flapping_provider_doubles_then_forgets_after_a_quiet_minute() {
    let t0 = clock::now();
    let mut b = Breaker::new(no_jitter(), t0, 1);
    let mut now = t0;
    // Trip, recover, trip again shortly after: each re-trip within 60 s doubles.
    for expected in [5, 10, 20, 40, 60, 60] {
        trip(&mut b, now);
        assert_eq!(b.open_until(), Some(now + secs(expected)), "expected {expected}s");
        now += secs(expected);
        let p = b.try_acquire(now).unwrap();
        b.record(p, Outcome::Success, now);
        assert_eq!(b.state(), State::Closed);
        now += secs(30);
    }
    // Healthy for more than the re-trip window: back to the base open time.
    now += secs(31);
    trip(&mut b, now);
    assert_eq!(b.open_until(), Some(now + secs(5)));
}

#[test]
fn open_time_jitter_stays_within_twenty_percent() {
    let t0 = clock::now();
    let (mut lo, mut hi) = (secs(1000), Duration::ZERO);
    for seed in 0..500 {
        let mut b = Breaker::new(BreakerConfig::default(), t0, seed);
        trip(&mut b, t0);
        let d = b.open_until().unwrap() - t0;
        assert!(d >= secs(5) && d <= ms(6000), "{d:?}");
        lo = lo.min(d);
        hi = hi.max(d);
    }
    assert!(hi - lo > ms(800), "jitter spreads: {lo:?}..{hi:?}");
}

#[test]
fn rate_limited_opens_for_exactly_the_server_wait_clamped() {
    let t0 = clock::now();
    let mut b = Breaker::new(BreakerConfig::default(), t0, 1);
    call(&mut b, Outcome::RateLimited { retry_after: Some(ms(1500)) }, t0);
    assert_eq!(b.open_until(), Some(t0 + ms(1500)));
    assert_eq!(drain(&mut b)[0].2, Reason::RateLimited);
    let p = b.try_acquire(t0 + ms(1500)).unwrap();
    b.record(p, Outcome::Success, t0 + ms(1500));

    let t1 = t0 + secs(200);
    call(&mut b, Outcome::RateLimited { retry_after: Some(secs(3600)) }, t1);
    assert_eq!(b.open_until(), Some(t1 + secs(60)));

    // No hint: the breaker's own (jittered) open time.
    let mut c = Breaker::new(no_jitter(), t0, 1);
    call(&mut c, Outcome::RateLimited { retry_after: None }, t0);
    assert_eq!(c.open_until(), Some(t0 + secs(5)));
}

#[test]
fn late_429_from_an_older_call_extends_the_open_time() {
    let t0 = clock::now();
    let mut b = Breaker::new(no_jitter(), t0, 1);
    let slow_call = b.try_acquire(t0).unwrap();
    trip(&mut b, t0);
    b.record(slow_call, Outcome::RateLimited { retry_after: Some(secs(30)) }, t0 + secs(1));
    assert_eq!(b.open_until(), Some(t0 + secs(31)));
    // But a late failure from before the trip is not counted against the new state.
    let old = Permit { epoch: 0, probe: false };
    b.record(old, Outcome::Failure, t0 + secs(2));
    assert_eq!(b.open_until(), Some(t0 + secs(31)));
}

#[test]
fn stale_outcomes_do_not_leak_into_a_new_closed_period() {
    let t0 = clock::now();
    let mut b = Breaker::new(no_jitter(), t0, 1);
    let inflight: Vec<Permit> = (0..4).map(|_| b.try_acquire(t0).unwrap()).collect();
    trip(&mut b, t0);
    let p = b.try_acquire(t0 + secs(5)).unwrap();
    b.record(p, Outcome::Success, t0 + secs(5));
    for permit in inflight {
        b.record(permit, Outcome::Failure, t0 + secs(6));
    }
    call(&mut b, Outcome::Failure, t0 + secs(6));
    assert_eq!(b.state(), State::Closed);
    assert_eq!(b.snapshot(t0 + secs(6)).window.failures, 1);
}

#[test]
fn shared_open_from_another_worker() {
    let t0 = clock::now();
    let mut b = Breaker::new(no_jitter(), t0, 1);
    b.open_shared(t0, t0);
    assert_eq!(b.state(), State::Closed);
    b.open_shared(t0 + secs(8), t0);
    assert_eq!(b.try_acquire(t0 + secs(1)).unwrap_err().reason, Reason::SharedRateLimited);
    b.open_shared(t0 + secs(2), t0 + secs(1));
    assert_eq!(b.open_until(), Some(t0 + secs(8)));
    let snap = b.snapshot(t0 + secs(2));
    assert_eq!((snap.state, snap.open_remaining), (State::Open, Some(secs(6))));
    assert_eq!(b.snapshot(t0 + secs(9)).state, State::HalfOpen);
}

#[test]
fn event_queue_is_bounded() {
    let t0 = clock::now();
    let mut b = Breaker::new(no_jitter(), t0, 1);
    for i in 0..10 {
        b.open_shared(t0 + secs(10 + i), t0);
    }
    assert_eq!(drain(&mut b).len(), EVENTS);
    assert!(b.poll_transition().is_none());
}

mod props {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Acquire,
        Record(usize, u8),
        Wait(u64),
        Shared(u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => Just(Op::Acquire),
            4 => (0usize..8, 0u8..6).prop_map(|(i, o)| Op::Record(i, o)),
            2 => (0u64..40_000).prop_map(Op::Wait),
            1 => (0u64..3_000).prop_map(Op::Shared),
        ]
    }

    fn outcome(o: u8) -> Outcome {
        match o {
            0 => Outcome::Success,
            1 => Outcome::Failure,
            2 => Outcome::Slow,
            3 => Outcome::RateLimited { retry_after: Some(Duration::from_millis(500)) },
            4 => Outcome::Ignored,
            _ => Outcome::AuthError,
        }
    }

    proptest! {
        /// Whatever happens, at most one live probe of the current half-open period is out.
        #[test]
        fn never_two_probes_in_half_open(ops in proptest::collection::vec(op(), 1..400), seed in 0u64..1000) {
            let t0 = clock::now();
            let cfg = BreakerConfig { consecutive_failures: 2, ..BreakerConfig::default() };
            let timeout = cfg.probe_timeout;
            let mut b = Breaker::new(cfg, t0, seed);
            let mut now = t0;
            let mut held: Vec<(Permit, Instant)> = Vec::new();
            for op in ops {
                match op {
                    Op::Acquire => {
                        if let Ok(p) = b.try_acquire(now) {
                            if p.is_probe() {
                                prop_assert_eq!(b.state(), State::HalfOpen);
                                let live = held.iter().filter(|(h, at)| {
                                    h.probe && h.epoch == b.epoch && now.saturating_duration_since(*at) < timeout
                                });
                                prop_assert_eq!(live.count(), 0, "a second probe went out");
                            }
                            if held.len() < 8 {
                                held.push((p, now));
                            }
                        }
                    }
                    Op::Record(i, o) => {
                        if i < held.len() {
                            let (p, _) = held.remove(i);
                            b.record(p, outcome(o), now);
                        }
                    }
                    Op::Wait(ms) => now += Duration::from_millis(ms),
                    Op::Shared(ms) => b.open_shared(now + Duration::from_millis(ms), now),
                }
                while b.poll_transition().is_some() {}
            }
        }
    }
}
