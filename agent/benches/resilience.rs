//! Breaker and local-limit benchmarks, with `governor` measured in the same run.
//!
//! `cargo bench -p voice-agent --bench resilience`
//!
//! - `breaker/*`: one acquire + record on a closed breaker (pure struct, and behind a mutex as
//!   the guard shares it).
//! - `local/*`: one limit decision in the in-memory store, one key (everybody is the same
//!   participant) or many keys (10 000 participants in turn), at 1 and 2 threads; `governor`
//!   keyed and direct limiters do the same. Our decision is given `now` (sans-IO); the
//!   `+clock` variants include reading both clocks, as a caller does once per request.
//!   `full3` limits participant, room and global scopes in one decision (the global ledger is
//!   one shared lock, so it is the contention point at 2 threads).

use std::hint::black_box;
use std::num::NonZeroU32;
use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use governor::{Quota, RateLimiter};
use voice_agent::clock;
use voice_agent::core::breaker::{Breaker, Outcome};
use voice_agent::core::breaker_config::BreakerConfig;
use voice_agent::core::quota::{Quotas, Scope, Unit, Usage, Window};
use voice_agent::limits::{Decision, MemoryStore, Now, Request};

const MANY: usize = 10_000;

fn bench_breaker(c: &mut Criterion) {
    let mut g = c.benchmark_group("breaker");
    let t0 = clock::now();
    let mut b = Breaker::new(BreakerConfig::default(), t0, 1);
    let mut i = 0u64;
    g.bench_function("check (try_acquire, closed)", |bench| {
        bench.iter(|| black_box(b.try_acquire(black_box(t0)).is_ok()))
    });
    g.bench_function("acquire+record", |bench| {
        bench.iter(|| {
            i += 1;
            let now = t0 + Duration::from_nanos(i * 1000);
            let p = b.try_acquire(black_box(now)).expect("closed");
            b.record(p, Outcome::Success, now);
        })
    });
    let shared = Mutex::new(Breaker::new(BreakerConfig::default(), t0, 2));
    g.bench_function("acquire+record, mutex", |bench| {
        bench.iter(|| {
            i += 1;
            let now = t0 + Duration::from_nanos(i * 1000);
            let p = shared.lock().expect("breaker lock").try_acquire(black_box(now)).expect("closed");
            shared.lock().expect("breaker lock").record(p, Outcome::Success, now);
        })
    });
    let mut open = Breaker::new(BreakerConfig::default(), t0, 3);
    open.open_shared(t0 + Duration::from_secs(3600), t0);
    g.bench_function("reject while open", |bench| {
        bench.iter(|| black_box(open.try_acquire(black_box(t0)).is_err()))
    });
    g.finish();
}

/// Runs `op(thread, i)` `iters` times on each of `threads` threads; wall time per op per thread.
fn threaded(threads: usize, iters: u64, op: &(dyn Fn(usize, u64) + Sync)) -> Duration {
    let barrier = Barrier::new(threads);
    let times: Vec<Duration> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    let start = clock::now();
                    for i in 0..iters {
                        op(t, i);
                    }
                    start.elapsed()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("bench thread")).collect()
    });
    times.into_iter().max().unwrap_or_default()
}

fn participant_only() -> Quotas {
    let mut q = Quotas::unlimited();
    q.set(Scope::Participant, Unit::Turns, Window::Minute, 1_000_000_000);
    q
}

fn full3() -> Quotas {
    let mut q = Quotas::unlimited();
    q.set(Scope::Participant, Unit::Turns, Window::Minute, 1_000_000_000);
    q.set(Scope::Participant, Unit::Turns, Window::Day, 1_000_000_000);
    q.set(Scope::Room, Unit::Turns, Window::Minute, 1_000_000_000);
    q.set(Scope::Global, Unit::Turns, Window::Minute, 1_000_000_000);
    q
}

fn bench_local(c: &mut Criterion) {
    let mut g = c.benchmark_group("local");
    g.measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    let names: Vec<Arc<str>> = (0..MANY).map(|i| Arc::from(format!("participant-{i}"))).collect();
    let gnames: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    // Each participant in its own room, as with one agent session per room.
    let rooms: Vec<Arc<str>> = (0..MANY).map(|i| Arc::from(format!("room-{i}"))).collect();
    let quota = Quota::per_minute(NonZeroU32::new(1_000_000_000).expect("non-zero"));
    let turn = Usage { turns: 1, ..Usage::default() };
    let t0 = clock::now();
    let unix = clock::unix_now();

    for (label, quotas) in [("participant", participant_only()), ("full3", full3())] {
        for threads in [1usize, 2] {
            for (keys, n) in [("one key", 1usize), ("many keys", MANY)] {
                let store = MemoryStore::new(quotas.clone(), MANY * 2, t0);
                let name = format!("ours {label}, {threads} thr, {keys}");
                g.bench_function(&name, |bench| {
                    bench.iter_custom(|iters| {
                        threaded(threads, iters, &|t, i| {
                            let k = (i as usize * 7 + t * 13) % n;
                            let now = Now { mono: t0 + Duration::from_nanos(i), unix };
                            let d = store.check_now(
                                Request { participant: &names[k], room: &rooms[k], usage: turn },
                                now,
                            );
                            assert!(matches!(d, Decision::Allowed { .. }));
                        })
                    })
                });
                if label == "participant" {
                    g.bench_function(format!("ours {label} +clock, {threads} thr, {keys}"), |bench| {
                        bench.iter_custom(|iters| {
                            threaded(threads, iters, &|t, i| {
                                let k = (i as usize * 7 + t * 13) % n;
                                let r = Request { participant: &names[k], room: &rooms[k], usage: turn };
                                let d = store.check_now(r, Now::read());
                                black_box(d);
                            })
                        })
                    });
                    let keyed = RateLimiter::keyed(quota);
                    g.bench_function(format!("governor keyed, {threads} thr, {keys}"), |bench| {
                        bench.iter_custom(|iters| {
                            threaded(threads, iters, &|t, i| {
                                let who = &gnames[(i as usize * 7 + t * 13) % n];
                                assert!(keyed.check_key(who).is_ok());
                            })
                        })
                    });
                }
            }
            if label == "participant" {
                let direct = RateLimiter::direct(quota);
                g.bench_function(format!("governor direct, {threads} thr"), |bench| {
                    bench.iter_custom(|iters| {
                        threaded(threads, iters, &|_, _| {
                            assert!(direct.check().is_ok());
                        })
                    })
                });
            }
        }
    }
    g.finish();
}

criterion_group!(benches, bench_breaker, bench_local);
criterion_main!(benches);
