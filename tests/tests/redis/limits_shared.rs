//! Shared limits against a real redis-server started by the test: two independent limiters
//! share one global limit exactly, a 429 seen by one opens the other's breaker, Redis going
//! away degrades within one decision without an error reaching the caller, and its return
//! brings shared mode back.

use std::sync::Arc;
use std::time::Duration;

use redis::AsyncCommands;
use voice_agent::clock;
use voice_agent::core::breaker::{Breaker, Reason};
use voice_agent::core::breaker_config::BreakerConfig;
use voice_agent::core::quota::{Quotas, Scope, Unit, Usage, Window};
use voice_agent::limits::{
    Decision, LimitRequest, Limiter, Mode, Now, Origin, ResilienceMetrics, SharedOptions,
};
use voice_agent_tests::redis::{RedisServer, limits_config};

fn id(s: &str) -> Arc<str> {
    Arc::from(s)
}

/// A limiter on `url` with `quotas`; a generous Redis timeout keeps a loaded CI machine from
/// turning a slow answer into a (correct, but here unwanted) local decision.
fn limiter(url: &str, prefix: &str, quotas: Quotas, worker: &str, timeout: Duration) -> Limiter {
    limiter_with(url, prefix, quotas, worker, timeout, ResilienceMetrics::default())
}

fn limiter_with(
    url: &str,
    prefix: &str,
    quotas: Quotas,
    worker: &str,
    timeout: Duration,
    metrics: ResilienceMetrics,
) -> Limiter {
    let shared =
        SharedOptions { timeout, breaker_open: Duration::from_millis(200), ..SharedOptions::default() };
    let cfg = limits_config(url, prefix, quotas, shared);
    Limiter::new(&cfg, metrics, worker, clock::now()).expect("valid redis url")
}

/// Waits (bounded) until `l` decides in Redis, driving the heartbeat meanwhile.
async fn until_shared(l: &Limiter) {
    for _ in 0..300 {
        l.maintain(Now::read()).await;
        if l.mode() == Mode::Shared {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("limiter never reached shared mode; mode = {:?}", l.mode());
}

/// Whether (within 10 s) a decision is made in Redis again; decisions keep coming meanwhile,
/// as they would from live sessions, so the Redis breaker gets its probes, and upkeep runs
/// as the maintenance task would (it merges what was decided locally).
async fn decides_in_redis_again(l: &Limiter, who: &Arc<str>, room: &Arc<str>) -> bool {
    for _ in 0..200 {
        l.maintain(Now::read()).await;
        let d = check(l, who, room, Usage::default()).await;
        if matches!(&d, Decision::Allowed { reservation, .. } if reservation.origin() == Origin::Shared) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

fn turn() -> Usage {
    Usage { turns: 1, ..Usage::default() }
}

async fn check_on(l: &Limiter, model: &str, who: &Arc<str>, room: &Arc<str>, usage: Usage) -> Decision {
    l.check(&LimitRequest { participant: who, room, model, usage }, Now::read()).await
}

async fn check(l: &Limiter, who: &Arc<str>, room: &Arc<str>, usage: Usage) -> Decision {
    check_on(l, "gpt-4o-mini", who, room, usage).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_limiters_share_one_global_limit() {
    let server = RedisServer::start();
    let mut q = Quotas::unlimited();
    q.set(Scope::Global, Unit::Turns, Window::Minute, 50);
    q.set(Scope::Participant, Unit::Turns, Window::Day, 1000);
    let a = Arc::new(limiter(&server.url(), "t1", q.clone(), "worker-a", Duration::from_secs(2)));
    let b = Arc::new(limiter(&server.url(), "t1", q, "worker-b", Duration::from_secs(2)));
    until_shared(&a).await;
    until_shared(&b).await;

    // 120 requests race from both limiters at once, from many participants.
    let mut tasks = Vec::new();
    for (n, l) in [a.clone(), b.clone()].into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            let room = id("room");
            let mut allowed = 0;
            for i in 0..60 {
                let who = id(&format!("user-{n}-{}", i % 7));
                match check(&l, &who, &room, turn()).await {
                    Decision::Allowed { reservation, .. } => {
                        assert_eq!(reservation.origin(), Origin::Shared, "decided outside Redis");
                        allowed += 1;
                    }
                    Decision::Rejected(r) => {
                        assert_eq!((r.scope, r.unit, r.window), (Scope::Global, Unit::Turns, Window::Minute));
                        assert!(r.retry_after > Duration::ZERO && r.retry_after <= Duration::from_secs(60));
                    }
                }
            }
            allowed
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    // The window refills 50/min (one per 1.2 s): within the test's seconds, a few more pass.
    assert!((50..=55).contains(&total), "{total} allowed against a shared limit of 50/min");

    // Both see the same global numbers, read from Redis.
    let sa = a.stats(Some("user-0-0"), None, Now::read()).await;
    let sb = b.stats(None, None, Now::read()).await;
    assert_eq!(sa.mode, "shared");
    let global_a = sa.global.limits.iter().find(|l| l.window == "minute").unwrap();
    let global_b = sb.global.limits.iter().find(|l| l.window == "minute").unwrap();
    assert!(global_a.current >= 45 && global_a.current <= 50, "{global_a:?}");
    assert_eq!(global_a.limit, 50);
    assert!(global_b.current.abs_diff(global_a.current) <= 1);
    let day = &sa.participant.unwrap().limits[0];
    assert_eq!((day.unit, day.window, day.limit), ("turns", "day", 1000));
    assert!(day.current > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_the_limit_passes_across_two_limiters() {
    // A day window does not refill, so the shared count is exact whatever the timing.
    let server = RedisServer::start();
    let mut q = Quotas::unlimited();
    q.set(Scope::Global, Unit::Turns, Window::Day, 37);
    let a = Arc::new(limiter(&server.url(), "t2", q.clone(), "a", Duration::from_secs(2)));
    let b = Arc::new(limiter(&server.url(), "t2", q, "b", Duration::from_secs(2)));
    until_shared(&a).await;
    until_shared(&b).await;
    let mut tasks = Vec::new();
    for l in [a, b] {
        tasks.push(tokio::spawn(async move {
            let (who, room) = (id("p"), id("r"));
            let mut n = 0;
            for _ in 0..40 {
                if let Decision::Allowed { reservation, .. } = check(&l, &who, &room, turn()).await {
                    assert_eq!(reservation.origin(), Origin::Shared);
                    n += 1;
                }
            }
            n
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    assert_eq!(total, 37);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_or_nothing_in_redis_with_expiring_keys_under_one_hash_tag() {
    let server = RedisServer::start();
    let mut q = Quotas::unlimited();
    q.set(Scope::Participant, Unit::Turns, Window::Minute, 100);
    q.set(Scope::Global, Unit::Turns, Window::Day, 2);
    let l = limiter(&server.url(), "t3", q, "w", Duration::from_secs(2));
    until_shared(&l).await;
    let (alice, bob, room) = (id("alice"), id("bob"), id("room"));
    assert!(matches!(check(&l, &alice, &room, turn()).await, Decision::Allowed { .. }));
    assert!(matches!(check(&l, &bob, &room, turn()).await, Decision::Allowed { .. }));

    let client = redis::Client::open(server.url()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let alice_key = "{t3}:p:alice";
    let before: Vec<(String, String)> = c.hgetall(alice_key).await.unwrap();
    assert!(!before.is_empty());
    let Decision::Rejected(r) = check(&l, &alice, &room, turn()).await else {
        panic!("global limit ignored")
    };
    assert_eq!((r.scope, r.window), (Scope::Global, Window::Day));
    let after: Vec<(String, String)> = c.hgetall(alice_key).await.unwrap();
    assert_eq!(before, after, "a rejected decision wrote to the participant's key");

    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query_async(&mut c).await.unwrap();
    assert!(keys.len() >= 3, "{keys:?}");
    for k in keys {
        assert!(k.starts_with("{t3}:"), "{k} is outside the hash tag");
        let ttl: i64 = c.pttl(&k).await.unwrap();
        assert!(ttl > 0, "{k} has no expiry ({ttl})");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reserve_settle_cost_cap_and_yesterdays_counts_in_redis() {
    let server = RedisServer::start();
    let mut q = Quotas::unlimited();
    q.set(Scope::Participant, Unit::LlmTokens, Window::Minute, 1000);
    q.set(Scope::Participant, Unit::Turns, Window::Day, 5);
    q.set(Scope::Participant, Unit::CostMicroUsd, Window::Day, 1000);
    let l = limiter(&server.url(), "t4", q, "w", Duration::from_secs(2));
    until_shared(&l).await;
    let (alice, bob, room) = (id("alice"), id("bob"), id("room"));

    // Reserve prompt estimate + max_tokens, then settle with the real usage.
    let reserve = Usage { turns: 1, input_tokens: 200, output_tokens: 600, ..Usage::default() };
    let Decision::Allowed { reservation, .. } = check(&l, &alice, &room, reserve).await else {
        panic!("refused")
    };
    assert_eq!(reservation.origin(), Origin::Shared);
    let Decision::Rejected(r) =
        check(&l, &alice, &room, Usage { input_tokens: 300, ..Usage::default() }).await
    else {
        panic!("token limit ignored")
    };
    assert_eq!(r.unit, Unit::LlmTokens);
    let actual = Usage { turns: 1, input_tokens: 200, output_tokens: 100, ..Usage::default() };
    l.settle(&reservation, "gpt-4o-mini", actual, Now::read()).await;
    let s = l.stats(Some("alice"), None, Now::read()).await.participant.unwrap();
    let tokens = s.limits.iter().find(|v| v.unit == "llm_tokens").unwrap();
    assert!((295..=300).contains(&tokens.current), "{tokens:?}");
    // gpt-4o-mini: 200 in × $0.15/M + 100 out × $0.60/M = 90 micro-USD.
    assert_eq!(s.cost.today_micro_usd, 90);
    assert!(matches!(
        check(&l, &alice, &room, Usage { input_tokens: 300, ..Usage::default() }).await,
        Decision::Allowed { .. }
    ));

    // Cost cap on tts-1 ($15/M chars = 15 micro-USD a character): warn at 80 %, stop at 100 %.
    let chars = |n| Usage { tts_chars: n, ..Usage::default() };
    let first = check_on(&l, "tts-1", &bob, &room, chars(50)).await;
    assert!(matches!(first, Decision::Allowed { warnings, .. } if warnings.0 == 0), "{first:?}");
    match check_on(&l, "tts-1", &bob, &room, chars(5)).await {
        Decision::Allowed { warnings, .. } => assert!(warnings.has(Scope::Participant), "{warnings:?}"),
        Decision::Rejected(r) => panic!("{r:?}"),
    }
    let Decision::Rejected(r) = check_on(&l, "tts-1", &bob, &room, chars(12)).await else {
        panic!("cap ignored")
    };
    assert_eq!((r.unit, r.window), (Unit::CostMicroUsd, Window::Day));
    assert_eq!(l.sentence(&r), "You've used up today's budget; it resets at midnight UTC.");

    // Yesterday's counters do not count today: age alice's day and fill it up.
    let client = redis::Client::open(server.url()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let day: i64 = c.hget("{t4}:p:alice", "day").await.unwrap();
    let _: () = c.hset_multiple("{t4}:p:alice", &[("day", day - 1), ("d0", 5)]).await.unwrap();
    assert!(matches!(check(&l, &alice, &room, turn()).await, Decision::Allowed { .. }));
    let used: i64 = c.hget("{t4}:p:alice", "d0").await.unwrap();
    assert_eq!(used, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_seen_by_one_worker_opens_the_breaker_of_the_other() {
    let server = RedisServer::start();
    let a = limiter(&server.url(), "t5", Quotas::default(), "a", Duration::from_secs(2));
    let b = limiter(&server.url(), "t5", Quotas::default(), "b", Duration::from_secs(2));
    until_shared(&a).await;
    until_shared(&b).await;
    assert_eq!(b.shared_open_remaining("llm:gpt-4o-mini", Now::read()).await, None);

    // Worker A's provider call got 429 with Retry-After: 20.
    a.share_open("llm:gpt-4o-mini", Duration::from_secs(20), Now::read()).await;

    // Worker B's breaker for the same endpoint learns it and fails fast.
    let now = Now::read();
    let remaining = b.shared_open_remaining("llm:gpt-4o-mini", now).await.expect("shared open-until");
    assert!(remaining > Duration::from_secs(15) && remaining <= Duration::from_secs(20), "{remaining:?}");
    let mut breaker = Breaker::new(BreakerConfig::default(), now.mono, 7);
    breaker.open_shared(now.mono + remaining, now.mono);
    let rejected = breaker.try_acquire(now.mono).unwrap_err();
    assert_eq!(rejected.reason, Reason::SharedRateLimited);
    assert_eq!(rejected.until, now.mono + remaining);
    // Other endpoints are unaffected.
    assert_eq!(b.shared_open_remaining("tts:tts-1", Now::read()).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_shared_across_workers() {
    let server = RedisServer::start();
    let mut q = Quotas::unlimited();
    q.set(Scope::Participant, Unit::Sessions, Window::Concurrent, 2);
    let a = limiter(&server.url(), "t6", q.clone(), "a", Duration::from_secs(2));
    let b = limiter(&server.url(), "t6", q, "b", Duration::from_secs(2));
    until_shared(&a).await;
    until_shared(&b).await;
    let (alice, r1, r2) = (id("alice"), id("room-1"), id("room-2"));
    let first = a.acquire_session(&alice, &r1, Now::read()).await.unwrap();
    let _second = b.acquire_session(&alice, &r2, Now::read()).await.unwrap();
    let refused = a.acquire_session(&alice, &r2, Now::read()).await.unwrap_err();
    assert_eq!((refused.scope, refused.unit), (Scope::Participant, Unit::Sessions));
    let s = b.stats(Some("alice"), None, Now::read()).await.participant.unwrap();
    let held = s.limits.iter().find(|v| v.unit == "sessions").unwrap();
    assert_eq!((held.current, held.limit, held.remaining), (2, 2, 0));
    a.release_session(first, Now::read()).await;
    assert!(b.acquire_session(&alice, &r1, Now::read()).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_degrades_within_one_decision_and_comes_back() {
    let mut server = RedisServer::start();
    // A day window: the local share is exact however long the degraded calls take.
    let mut q = Quotas::unlimited();
    q.set(Scope::Participant, Unit::Turns, Window::Day, 20);
    let timeout = Duration::from_millis(500);
    let mut registry = prometheus_client::registry::Registry::default();
    let metrics = voice_agent::limits::register_metrics(&mut registry);
    let a = limiter_with(&server.url(), "t7", q.clone(), "worker-a", timeout, metrics);
    let b = limiter(&server.url(), "t7", q.clone(), "worker-b", timeout);
    until_shared(&a).await;
    until_shared(&b).await;
    // Both heartbeat: N = 2 live workers.
    b.maintain(Now::read()).await;
    a.maintain(Now::read()).await;

    let room = id("room");
    let warm = id("warm");
    let Decision::Allowed { reservation, .. } = check(&a, &warm, &room, turn()).await else {
        panic!("refused")
    };
    assert_eq!(reservation.origin(), Origin::Shared);

    server.stop();
    // The very next decision is answered (locally), and the mode says so.
    let carol = id("carol");
    let Decision::Allowed { reservation, .. } = check(&a, &carol, &room, turn()).await else {
        panic!("refused while degraded")
    };
    assert_eq!(reservation.origin(), Origin::Local);
    assert_eq!(a.mode(), Mode::Degraded);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    assert!(text.contains(r#"limiter_mode{mode="degraded"} 1"#), "{text}");
    // Locally each turn counts N = 2 times against 20: 10 turns, never unlimited.
    let mut allowed = 1;
    for _ in 0..30 {
        match check(&a, &carol, &room, turn()).await {
            Decision::Allowed { reservation, .. } => {
                assert_eq!(reservation.origin(), Origin::Local);
                allowed += 1;
            }
            Decision::Rejected(r) => assert_eq!(r.scope, Scope::Participant),
        }
    }
    assert_eq!(allowed, 10);
    // Everything else keeps answering too.
    let s = a.stats(Some("carol"), None, Now::read()).await;
    assert_eq!(s.mode, "degraded");
    let carol_turns = &s.participant.unwrap().limits[0];
    assert_eq!((carol_turns.limit, carol_turns.current), (20, 20));
    let lease = a.acquire_session(&carol, &room, Now::read()).await.unwrap();
    a.release_session(lease, Now::read()).await;
    a.share_open("llm:x", Duration::from_secs(3), Now::read()).await;
    assert!(a.shared_open_remaining("llm:x", Now::read()).await.is_some());
    a.maintain(Now::read()).await;

    server.restart();
    let dave = id("dave");
    assert!(
        decides_in_redis_again(&a, &dave, &room).await,
        "shared mode did not return after Redis restarted"
    );
    assert_eq!(a.mode(), Mode::Shared);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    assert!(text.contains(r#"limiter_mode{mode="shared"} 1"#), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_redis_is_treated_like_a_down_one() {
    let server = RedisServer::start();
    let mut q = Quotas::unlimited();
    q.set(Scope::Participant, Unit::Turns, Window::Day, 100);
    let l = limiter(&server.url(), "t8", q, "w", Duration::from_millis(100));
    until_shared(&l).await;
    let client = redis::Client::open(server.url()).unwrap();
    // Stall the server for 3 s (it answers nobody meanwhile).
    let mut blocker = client.get_multiplexed_async_connection().await.unwrap();
    let mut probe = client.get_multiplexed_async_connection().await.unwrap();
    let stall = tokio::spawn(async move {
        let _: Result<(), _> = redis::cmd("DEBUG").arg("SLEEP").arg(3).query_async(&mut blocker).await;
    });
    // Wait until the stall is in effect: a PING no longer gets an answer quickly.
    let mut stalled = false;
    for _ in 0..100 {
        let cmd = redis::cmd("PING");
        let ping = cmd.query_async::<String>(&mut probe);
        if tokio::time::timeout(Duration::from_millis(50), ping).await.is_err() {
            stalled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(stalled, "DEBUG SLEEP did not stall redis-server");
    let (who, room) = (id("erin"), id("room"));
    let Decision::Allowed { reservation, .. } = check(&l, &who, &room, turn()).await else {
        panic!("refused")
    };
    assert_eq!(reservation.origin(), Origin::Local, "waited for a stalled Redis");
    assert_eq!(l.mode(), Mode::Degraded);
    stall.await.unwrap();
    assert!(decides_in_redis_again(&l, &who, &room).await, "shared mode did not return after the stall");
}
