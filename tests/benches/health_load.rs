//! Health endpoint latency while the async runtime is saturated, idle and under hostile load.
//!
//! Starts the health server on loopback, pins every tokio worker in a busy loop (the runtime
//! is saturated, as in a CPU-heavy moment of many sessions), then measures:
//! - `probe`: a fresh connection per `GET /healthz`, as Kubernetes and Docker probe;
//! - `/healthz`, `/readyz`, `/metrics` from several clients over keep-alive connections;
//!
//! first with nothing else going on, then again while the hostile clients of the health fuzz
//! test run (huge `Content-Length`, slow bodies, 50 slowloris connections, 1 MB headers, 500
//! idle connections).
//!
//!     cargo bench -p voice-agent-tests --bench health_load
//!
//! Environment: `CLIENTS` (default 8), `REQUESTS` per client (default 2000), `PROBES`
//! (default 1000).
#![allow(clippy::disallowed_methods, clippy::unwrap_used)] // a benchmark measures wall time; a failed unwrap aborts it

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use health::{Health, HealthServer, ServerOptions};
use voice_agent_tests::hostile::{self, Clients, percentile, read_response};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` asks for a list; this bench has no test cases
    }
    let clients = env_usize("CLIENTS", 8);
    let requests = env_usize("REQUESTS", 2000);
    let probes = env_usize("PROBES", 1000);
    let health = Health::new(Duration::from_secs(10));
    health.set_component("worker", true, "registered");
    let server =
        HealthServer::start("127.0.0.1:0".parse().unwrap(), health.clone(), ServerOptions::default())
            .expect("start health server");
    let addr = server.addr();

    // Saturate the async runtime: every worker thread spins.
    let stop = Arc::new(AtomicBool::new(false));
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    for _ in 0..2 {
        let stop = stop.clone();
        rt.spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                std::hint::spin_loop();
            }
        });
    }

    for load in ["idle", "fuzz"] {
        let attack = (load == "fuzz").then(|| {
            let mut c = Clients::new();
            c.spawn(hostile::huge_content_length(addr));
            c.spawn(hostile::slow_body(addr));
            c.spawn(hostile::slowloris(addr, 50));
            c.spawn(hostile::big_headers(addr));
            c.spawn(hostile::idle_flood(addr, 500));
            std::thread::sleep(Duration::from_secs(2)); // let the flood fill the connection cap
            c
        });
        probe(load, addr, probes);
        for path in ["/healthz", "/readyz", "/metrics"] {
            keep_alive(load, addr, path, clients, requests);
        }
        if let Some(c) = attack {
            let refused: u64 = c.finish().iter().map(|t| t.ok).sum();
            println!("{load:5} hostile requests refused or cut: {refused}");
        }
    }
    stop.store(true, Ordering::Relaxed);
    rt.shutdown_timeout(Duration::from_secs(1));
}

/// A fresh connection per `GET /healthz`, one after another.
fn probe(load: &str, addr: SocketAddr, n: usize) {
    let mut lat = Vec::with_capacity(n);
    let mut failed = 0;
    for _ in 0..n {
        let t = Instant::now();
        let ok = TcpStream::connect(addr).and_then(|mut s| {
            s.set_nodelay(true)?;
            s.set_read_timeout(Some(Duration::from_secs(5)))?;
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n")?;
            read_response(&mut s, &mut Vec::new())
        });
        match ok {
            Ok(200) => lat.push(t.elapsed()),
            _ => failed += 1,
        }
    }
    print_line(load, "probe", 1, &mut lat, None, failed);
}

/// `clients` threads, each on one keep-alive connection, `requests` each.
fn keep_alive(load: &str, addr: SocketAddr, path: &'static str, clients: usize, requests: usize) {
    let started = Instant::now();
    let handles: Vec<_> = (0..clients)
        .map(|_| {
            std::thread::spawn(move || {
                let connect = || {
                    let s = TcpStream::connect(addr).unwrap();
                    s.set_nodelay(true).unwrap();
                    s
                };
                let mut s = connect();
                let req = format!("GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n");
                let mut buf = Vec::with_capacity(64 * 1024);
                let (mut lat, mut failed) = (Vec::with_capacity(requests), 0);
                for _ in 0..requests {
                    let t = Instant::now();
                    let r = s.write_all(req.as_bytes()).and_then(|()| read_response(&mut s, &mut buf));
                    match r {
                        Ok(200) => lat.push(t.elapsed()),
                        _ => {
                            failed += 1;
                            (s, buf) = (connect(), Vec::new());
                        }
                    }
                }
                (lat, failed)
            })
        })
        .collect();
    let (mut all, mut failed) = (Vec::new(), 0);
    for h in handles {
        let (lat, f) = h.join().unwrap();
        all.extend(lat);
        failed += f;
    }
    print_line(load, path, clients, &mut all, Some(started.elapsed()), failed);
}

fn print_line(
    load: &str,
    what: &str,
    clients: usize,
    lat: &mut [Duration],
    wall: Option<Duration>,
    failed: usize,
) {
    let n = lat.len();
    let rps = wall.map(|w| format!(" rps={:.0}", n as f64 / w.as_secs_f64())).unwrap_or_default();
    let (p50, p90, p99) = (percentile(lat, 0.5), percentile(lat, 0.9), percentile(lat, 0.99));
    let max = lat.last().copied().unwrap_or_default();
    println!(
        "{load:5} {what:9} clients={clients} requests={n} failed={failed}{rps} p50={p50:?} p90={p90:?} p99={p99:?} max={max:?}"
    );
}
