//! Limits through Redis outages, against a real redis-server: three limiter instances (three
//! workers) under steady load through SIGKILL → empty restart → SIGSTOP stall → recovery stay
//! within limit + limit ÷ N in every rolling minute, for a global and for per-user limits; daily
//! cost caps hold across a restart with persistence and across one that lost everything; the
//! worker count does not dip while workers re-register. Figures are printed (`--nocapture`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus_client::registry::Registry;
use voice_agent::clock;
use voice_agent::core::quota::{Quotas, Scope, Unit, Usage, Window};
use voice_agent::limits::{Decision, LimitRequest, Limiter, Mode, Now, ResilienceMetrics, SharedOptions};
use voice_agent_tests::redis::{RedisServer, limits_config};

const WORKERS: usize = 3;

/// One limiter as one worker would run it: its own metrics, its maintenance task.
struct Worker {
    limiter: Arc<Limiter>,
    registry: Registry,
    maintenance: tokio::task::JoinHandle<()>,
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.maintenance.abort();
    }
}

impl Worker {
    fn metric(&self, line_start: &str) -> Option<f64> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry).expect("encoding metrics");
        text.lines().find_map(|l| l.strip_prefix(line_start)).and_then(|v| v.trim().parse().ok())
    }
}

fn options(worker_ttl: Duration) -> SharedOptions {
    // A generous per-call timeout keeps a busy test machine from flapping between modes; the
    // semantics are those of the 5 ms default.
    SharedOptions { timeout: Duration::from_millis(100), worker_ttl, ..SharedOptions::default() }
}

fn worker(url: &str, prefix: &str, quotas: Quotas, name: &str, opts: SharedOptions) -> Worker {
    let mut registry = Registry::default();
    let metrics: ResilienceMetrics = voice_agent::limits::register_metrics(&mut registry);
    let cfg = limits_config(url, prefix, quotas, opts);
    let limiter = Arc::new(Limiter::new(&cfg, metrics, name, clock::now()).expect("valid redis url"));
    let maintenance = limiter.spawn_maintenance(Duration::from_secs(5));
    Worker { limiter, registry, maintenance }
}

fn fleet(url: &str, prefix: &str, quotas: &Quotas, opts: &SharedOptions) -> Vec<Worker> {
    (0..WORKERS)
        .map(|i| worker(url, prefix, quotas.clone(), &format!("{prefix}-w{i}"), opts.clone()))
        .collect()
}

/// Waits (bounded) until every worker decides in Redis and counts all three workers.
async fn until_shared(workers: &[Worker]) {
    for _ in 0..400 {
        for w in workers {
            w.limiter.maintain(Now::read()).await;
        }
        if workers.iter().all(|w| w.limiter.mode() == Mode::Shared && w.limiter.workers() == WORKERS as u64) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the fleet never reached shared mode with {WORKERS} workers");
}

fn turn() -> Usage {
    Usage { turns: 1, ..Usage::default() }
}

async fn decide(l: &Limiter, who: &str, model: &str, usage: Usage) -> Decision {
    let (who, room): (Arc<str>, Arc<str>) = (Arc::from(who), Arc::from("room"));
    l.check(&LimitRequest { participant: &who, room: &room, model, usage }, Now::read()).await
}

/// Most events in any window of `len` (events are times in ms, sorted).
fn worst_window(times: &[u64], len: u64) -> usize {
    let mut worst = 0;
    let mut j = 0;
    for i in 0..times.len() {
        while j < times.len() && times[j] < times[i] + len {
            j += 1;
        }
        worst = worst.max(j - i);
    }
    worst
}

/// What happened to every request: (ms since start, fleet, identity, admitted).
type Log = Arc<Mutex<Vec<(u64, &'static str, String, bool)>>>;

/// Sends one request from a task of its own, as a session would; a call that does not answer
/// within 2 s (a hang) or panics counts as a caller error.
fn send(w: Arc<Limiter>, fleet: &'static str, who: String, t0: Instant, log: Log, errors: Arc<Mutex<u32>>) {
    tokio::spawn(async move {
        let call = tokio::spawn({
            let who = who.clone();
            async move { decide(&w, &who, "gpt-4o-mini", turn()).await }
        });
        match tokio::time::timeout(Duration::from_secs(2), call).await {
            Ok(Ok(d)) => {
                let t = clock::now().duration_since(t0).as_millis() as u64;
                lock(&log).push((t, fleet, who, matches!(d, Decision::Allowed { .. })));
            }
            _ => *lock(&errors) += 1,
        }
    });
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().expect("a test task panicked holding the lock")
}

/// Time from `since` until every worker of both fleets decides in Redis again (bounded).
async fn back_to_shared(all: &[&Worker], since: Instant) -> Duration {
    for _ in 0..1000 {
        if all.iter().all(|w| w.limiter.mode() == Mode::Shared) {
            return clock::now().duration_since(since);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("shared mode did not come back within 10 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_workers_stay_within_limit_plus_a_share_through_kill_restart_and_stall() {
    let mut server = RedisServer::start();
    let url = server.url();
    let opts = options(Duration::from_secs(30));
    // Fleet G: a global 200 turns/min, 30 users sending 10 requests a second between them.
    let mut qg = Quotas::unlimited();
    qg.set(Scope::Global, Unit::Turns, Window::Minute, 200);
    // Fleet U: 20 turns/min per user, 6 heavy users sending one request a second each,
    // round robin over the three workers (the worst case: every worker sees every user).
    let mut qu = Quotas::unlimited();
    qu.set(Scope::Participant, Unit::Turns, Window::Minute, 20);
    let g = fleet(&url, "og", &qg, &opts);
    let u = fleet(&url, "ou", &qu, &opts);
    until_shared(&g).await;
    until_shared(&u).await;

    // Drain the buckets first, so every minute measured starts from an empty bucket and a
    // perfect limiter would admit exactly the limit per minute.
    while matches!(decide(&g[0].limiter, "drain", "m", turn()).await, Decision::Allowed { .. }) {}
    for user in 0..6 {
        let who = format!("heavy-{user}");
        while matches!(decide(&u[0].limiter, &who, "m", turn()).await, Decision::Allowed { .. }) {}
    }

    let log: Log = Arc::default();
    let errors = Arc::new(Mutex::new(0u32));
    let t0 = clock::now();
    let end = Duration::from_secs(80);
    // The faults, on their own task: kill at 15 s, empty restart at 25 s, stall 40–45 s.
    let all: Vec<&Worker> = g.iter().chain(u.iter()).collect();
    let faults = async {
        let at = |s: u64| tokio::time::sleep_until((t0 + Duration::from_secs(s)).into());
        at(15).await;
        server.stop();
        at(25).await;
        server.restart();
        let after_restart = back_to_shared(&all, clock::now()).await;
        at(40).await;
        server.pause();
        at(45).await;
        server.resume();
        (after_restart, back_to_shared(&all, clock::now()).await)
    };
    let load = async {
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        let mut k = 0usize;
        while clock::now().duration_since(t0) < end {
            tick.tick().await;
            let wg = g[k % WORKERS].limiter.clone();
            send(wg, "global", format!("light-{}", k % 30), t0, log.clone(), errors.clone());
            let user = k % 10;
            if user < 6 {
                let wu = u[(k / 10 + user) % WORKERS].limiter.clone();
                send(wu, "user", format!("heavy-{user}"), t0, log.clone(), errors.clone());
            }
            k += 1;
        }
    };
    let ((after_restart, after_stall), ()) = tokio::join!(faults, load);
    tokio::time::sleep(Duration::from_secs(3)).await;

    let mut events = lock(&log).clone();
    events.sort();
    let admitted = |fleet: &str, who: Option<&str>| -> Vec<u64> {
        events
            .iter()
            .filter(|(_, f, w, ok)| *ok && *f == fleet && who.is_none_or(|x| x == w))
            .map(|(t, ..)| *t)
            .collect()
    };
    let global = admitted("global", None);
    let phases = [
        ("shared", 0, 15),
        ("killed", 15, 25),
        ("restarted empty", 25, 40),
        ("stalled", 40, 45),
        ("recovery", 45, 80),
    ];
    for (name, from, to) in phases {
        let n = global.iter().filter(|&&t| t >= from * 1000 && t < to * 1000).count();
        eprintln!("global 200/min, {name} {from}–{to} s: {n} admitted");
    }
    let worst_global = worst_window(&global, 60_000);
    let mut worst_user = 0;
    for user in 0..6 {
        let who = format!("heavy-{user}");
        let w = worst_window(&admitted("user", Some(&who)), 60_000);
        eprintln!("{who} 20/min: worst rolling minute {w}");
        worst_user = worst_user.max(w);
    }
    let errors = *lock(&errors);
    eprintln!(
        "global: worst rolling minute {worst_global} (bound 200 + 200/3 = 266); users: worst {worst_user} (bound 20 + 20/3 = 26); \
         caller errors {errors}; shared mode back {after_restart:?} after the empty restart, {after_stall:?} after the stall"
    );
    assert_eq!(errors, 0, "callers got errors or hangs");
    assert!(worst_global <= 266, "{worst_global} admitted in one minute against 200/min with 3 workers");
    assert!(worst_user <= 26, "{worst_user} admitted for one user in one minute against 20/min");
    // Not starved either: the limits were reached.
    assert!(worst_global >= 150, "only {worst_global} admitted in a minute: limits starved");
    assert!(worst_user >= 15, "only {worst_user} admitted for a heavy user in a minute: limits starved");
    for w in &all {
        let resets = w.metric("limiter_store_resets_total ").unwrap_or(0.0);
        assert!(resets >= 1.0, "a worker did not notice that Redis came back empty");
    }
}

/// Spends against daily caps through a Redis kill and restart (with or without its
/// append-only file): returns (total admitted µUSD, per-user admitted µUSD, final refusals).
async fn spend_through_a_restart(persistent: bool, prefix: &str) -> (u64, HashMap<String, u64>, usize, f64) {
    let mut server = if persistent { RedisServer::start_persistent() } else { RedisServer::start() };
    // tts-1 costs 15 µUSD a character: one request of 100 characters is 1500 µUSD.
    let mut q = Quotas::unlimited();
    q.set(Scope::Global, Unit::CostMicroUsd, Window::Day, 150_000);
    q.set(Scope::Participant, Unit::CostMicroUsd, Window::Day, 30_000);
    let usage = Usage { tts_chars: 100, ..Usage::default() };
    let workers = fleet(&server.url(), prefix, &q, &options(Duration::from_secs(30)));
    until_shared(&workers).await;
    let mut total = 0;
    let mut per_user: HashMap<String, u64> = HashMap::new();
    let t0 = clock::now();
    let mut k = 0usize;
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    let (mut killed, mut restarted) = (false, false);
    while clock::now().duration_since(t0) < Duration::from_secs(10) {
        tick.tick().await;
        let t = clock::now().duration_since(t0);
        if !killed && t >= Duration::from_millis(2500) {
            // Let the append-only file's once-a-second fsync catch up, as it would have by
            // then in a steady deployment; whatever it misses, the workers' copies restore.
            server.stop();
            killed = true;
        }
        if !restarted && t >= Duration::from_millis(4500) {
            server.restart();
            restarted = true;
        }
        let who = format!("payer-{}", k % 8);
        let w = &workers[k % WORKERS].limiter;
        if let Decision::Allowed { .. } = decide(w, &who, "tts-1", usage).await {
            total += 1500;
            *per_user.entry(who).or_default() += 1500;
        }
        k += 1;
    }
    // The caps still stop everyone, on every worker.
    let mut refused = 0;
    for (i, w) in workers.iter().enumerate() {
        if let Decision::Rejected(r) = decide(&w.limiter, &format!("payer-{i}"), "tts-1", usage).await {
            assert_eq!((r.unit, r.window), (Unit::CostMicroUsd, Window::Day));
            refused += 1;
        }
    }
    let resets: f64 = workers.iter().map(|w| w.metric("limiter_store_resets_total ").unwrap_or(0.0)).sum();
    eprintln!(
        "daily caps $0.15 global, $0.03 per user, Redis restarted {}: {total} µUSD admitted (bound 200000), \
         most for one user {} µUSD (bound 40000), {refused}/3 refused at the end, store resets seen {resets}",
        if persistent { "from its append-only file" } else { "empty" },
        per_user.values().max().copied().unwrap_or(0),
    );
    (total, per_user, refused, resets)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn daily_cost_caps_hold_across_a_redis_restart_with_and_without_persistence() {
    for persistent in [true, false] {
        let prefix = if persistent { "cp" } else { "ce" };
        let (total, per_user, refused, resets) = spend_through_a_restart(persistent, prefix).await;
        // Global cap 150 000 µUSD, 3 workers: never more than 150 000 + 50 000.
        assert!(total <= 200_000, "{total} µUSD admitted against a daily cap of 150 000");
        for (who, spent) in &per_user {
            assert!(*spent <= 40_000, "{who} spent {spent} µUSD against a daily cap of 30 000");
        }
        assert!(total >= 120_000, "only {total} µUSD admitted: the cap starved the fleet");
        assert_eq!(refused, WORKERS, "the cap was not enforced on every worker at the end");
        if !persistent {
            assert!(resets >= 1.0, "nobody noticed that Redis lost the day counters");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_count_does_not_dip_while_workers_re_register() {
    let mut server = RedisServer::start();
    let mut q = Quotas::unlimited();
    q.set(Scope::Participant, Unit::Turns, Window::Day, 30);
    let lifetime = Duration::from_secs(2);
    let workers = fleet(&server.url(), "wc", &q, &options(lifetime));
    until_shared(&workers).await;
    for w in &workers {
        w.maintenance.abort();
    }
    server.restart();
    // Only the first worker has beaten since the empty restart: Redis counts 1 worker.
    let a = &workers[0].limiter;
    for _ in 0..200 {
        a.maintain(Now::read()).await;
        if a.mode() == Mode::Shared {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(a.mode(), Mode::Shared);
    assert_eq!(a.workers(), 3, "N dipped to the workers re-registered so far");
    // Degraded right now, the share is still a third: 30/day × ⅓ = 10 for a new user.
    server.stop();
    let mut passed = 0;
    for _ in 0..20 {
        if let Decision::Allowed { .. } = decide(a, "newcomer", "m", turn()).await {
            passed += 1;
        }
    }
    assert_eq!(passed, 10);
    // A worker's lifetime after Redis returned, the count follows the heartbeat again.
    server.restart();
    let deadline = clock::now() + Duration::from_secs(20);
    while a.workers() != 1 && clock::now() < deadline {
        a.maintain(Now::read()).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(a.workers(), 1, "N never followed the live workers down");
}
