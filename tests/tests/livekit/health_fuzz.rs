//! The shipped binary's health port under hostile clients, as someone on the network could
//! attack it: huge and overflowing `Content-Length`, slow bodies, slowloris, 1 MB headers, a
//! flood of idle connections, and running out of file descriptors — while an orchestrator
//! probes `/healthz` and kept-alive clients (one plain, one pipelining) ask every 50–100 ms for
//! more than 10 s. The process never dies, every probe and kept-alive request is answered,
//! the health threads stay four, threads and memory stay bounded.
//!
//! `cargo test -p voice-agent-tests --test livekit health_fuzz -- --nocapture` prints the
//! figures (requests, probe latency, threads, RSS, descriptors).
#![allow(clippy::unwrap_used, clippy::disallowed_methods)] // a test: a failed unwrap is a failed test; it watches wall time

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use voice_agent_tests::binary::{self, ProcStatus, Process, get, proc_status};
use voice_agent_tests::hostile::{self, Clients, Tally};
use voice_agent_tests::livekit::LiveKitServer;
use voice_agent_tests::net::free_port;

/// Health threads: the event loop, two workers, the supervisor.
const HEALTH_THREADS: u64 = 4;

/// Starts the binary (echo mode) with its descriptors limited to `nofile` when given.
fn start_agent(lk: &LiveKitServer, nofile: Option<u32>) -> (Process, u16) {
    let port = free_port();
    let mut cmd = match nofile {
        Some(n) => binary::command_with_nofile(n),
        None => binary::command(),
    };
    binary::run_on_livekit(&mut cmd, lk, port).env("AGENT_MODE", "echo").stderr(Stdio::null());
    let agent = Process(cmd.spawn().unwrap());
    let mut ready = (0, String::new());
    for _ in 0..300 {
        ready = get(port, "/readyz");
        if ready.0 == 200 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(ready.0, 200, "never ready: {}", ready.1);
    (agent, port)
}

/// Watches the process for `secs`: it must stay alive; returns the peak of each figure.
fn watch(agent: &mut Process, secs: u64) -> ProcStatus {
    let pid = agent.0.id();
    let mut peak = ProcStatus::default();
    let until = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < until {
        assert!(agent.0.try_wait().unwrap().is_none(), "the agent died under attack");
        let s = proc_status(pid).expect("the agent process is there");
        assert_eq!(s.health_threads, HEALTH_THREADS, "the health server's threads are fixed");
        peak.threads = peak.threads.max(s.threads);
        peak.rss_kb = peak.rss_kb.max(s.rss_kb);
        peak.fds = peak.fds.max(s.fds);
        std::thread::sleep(Duration::from_millis(200));
    }
    peak
}

fn tally<'a>(tallies: &'a [Tally], name: &str) -> &'a Tally {
    tallies.iter().find(|t| t.name == name).unwrap_or_else(|| panic!("no {name} client"))
}

fn report(what: &str, tallies: &mut [Tally], before: ProcStatus, peak: ProcStatus, after: ProcStatus) {
    println!("== {what}");
    for t in tallies.iter_mut() {
        let (p50, p99) =
            (hostile::percentile(&mut t.latencies, 0.5), hostile::percentile(&mut t.latencies, 0.99));
        let max = t.latencies.last().copied().unwrap_or_default();
        println!(
            "{:20} sent={:6} ok={:6} p50={p50:?} p99={p99:?} max={max:?} odd={:?}",
            t.name, t.sent, t.ok, t.unexpected
        );
    }
    println!("threads before={} peak={} after={}", before.threads, peak.threads, after.threads);
    println!("rss_kb  before={} peak={} after={}", before.rss_kb, peak.rss_kb, after.rss_kb);
    println!("fds     before={} peak={} after={}", before.fds, peak.fds, after.fds);
}

fn metric(port: u16, name: &str) -> f64 {
    let (code, text) = get(port, "/metrics");
    assert_eq!(code, 200);
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} missing from /metrics"))
}

/// Every request of an honest client was answered as expected.
fn all_answered(t: &Tally) {
    assert!(t.sent > 0 && t.unexpected.is_empty() && t.ok == t.sent, "{t:?}");
}

#[test]
fn hostile_clients_never_take_the_health_port_down() {
    let _heavy = voice_agent_tests::serial::heavy_blocking();
    let lk = LiveKitServer::start();
    let (mut agent, port) = start_agent(&lk, None);
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let before = proc_status(agent.0.id()).unwrap();

    let mut clients = Clients::new();
    clients.spawn(hostile::prober(addr, "/healthz", Duration::from_millis(50)));
    clients.spawn(hostile::keep_alive(addr, 1, Duration::from_millis(50)));
    clients.spawn(hostile::keep_alive(addr, 5, Duration::from_millis(100)));
    clients.spawn(hostile::huge_content_length(addr));
    clients.spawn(hostile::slow_body(addr));
    clients.spawn(hostile::slow_body(addr));
    clients.spawn(hostile::slowloris(addr, 50));
    clients.spawn(hostile::big_headers(addr));
    clients.spawn(hostile::idle_flood(addr, 500));
    let peak = watch(&mut agent, 12);
    let mut tallies = clients.finish();
    std::thread::sleep(Duration::from_millis(500));
    let after = proc_status(agent.0.id()).unwrap();
    report("hostile clients, 12 s", &mut tallies, before, peak, after);

    for honest in ["probe", "keep-alive", "pipelined"] {
        all_answered(tally(&tallies, honest));
    }
    for refused in ["huge-content-length", "slow-body", "1MB-headers"] {
        let t = tally(&tallies, refused);
        assert!(t.ok > 0 && t.unexpected.is_empty(), "{t:?}");
    }
    assert!(tally(&tallies, "slowloris").ok > 0, "slowloris connections were never cut");
    assert!(tally(&tallies, "idle-flood").sent >= 500);
    assert!(peak.threads <= before.threads + 8, "threads grew: {before:?} → {peak:?}");
    assert!(peak.rss_kb <= before.rss_kb + 64 * 1024, "memory grew: {before:?} → {peak:?}");
    assert_eq!(metric(port, "health_server_thread_restarts_total"), 0.0);
    assert!(metric(port, "health_server_bad_requests_total") > 0.0);
    assert!(metric(port, "health_server_connections_evicted_total") > 0.0);
    assert_eq!(get(port, "/readyz").0, 200, "still registered and ready");
}

#[test]
fn running_out_of_file_descriptors_is_survived() {
    let _heavy = voice_agent_tests::serial::heavy_blocking();
    let lk = LiveKitServer::start();
    let (mut agent, port) = start_agent(&lk, Some(NOFILE));
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let before = proc_status(agent.0.id()).unwrap();

    let mut clients = Clients::new();
    clients.spawn(hostile::prober(addr, "/healthz", Duration::from_millis(50)));
    clients.spawn(hostile::keep_alive(addr, 1, Duration::from_millis(100)));
    clients.spawn(hostile::idle_flood(addr, 300));
    let peak = watch(&mut agent, 8);
    let mut tallies = clients.finish();
    std::thread::sleep(Duration::from_millis(500));
    let after = proc_status(agent.0.id()).unwrap();
    report(&format!("out of descriptors (ulimit -n {NOFILE}), 8 s"), &mut tallies, before, peak, after);

    assert!(peak.fds >= u64::from(NOFILE) - 2, "the limit was reached: {peak:?}");
    assert!(metric(port, "health_server_accept_errors_total") > 0.0, "accept saw EMFILE");
    all_answered(tally(&tallies, "probe"));
    all_answered(tally(&tallies, "keep-alive"));
    assert_eq!(metric(port, "health_server_thread_restarts_total"), 0.0);
    assert_eq!(get(port, "/healthz").0, 200);
    assert_eq!(get(port, "/readyz").0, 200, "still registered and ready");
}

/// Descriptor limit for the EMFILE test: above what the agent needs to start and register.
const NOFILE: u32 = 96;
