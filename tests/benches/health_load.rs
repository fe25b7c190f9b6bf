//! Health endpoint latency under load, while the async runtime is saturated.
//!
//! Starts the health server on loopback, pins every tokio worker in a busy loop (the runtime
//! is saturated, as in a CPU-heavy moment of many sessions), then fires requests from several
//! client threads over keep-alive connections and reports latency percentiles.
//!
//!     cargo bench -p voice-agent-tests --bench health_load
//!
//! Environment: `CLIENTS` (default 8), `REQUESTS` per client (default 2000).
#![allow(clippy::disallowed_methods, clippy::unwrap_used)] // a benchmark measures wall time; a failed unwrap aborts it

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use health::{Health, HealthServer, ServerOptions};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` asks for a list; this bench has no test cases
    }
    let clients = env_usize("CLIENTS", 8);
    let requests = env_usize("REQUESTS", 2000);
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

    for path in ["/healthz", "/readyz", "/metrics"] {
        let started = Instant::now();
        let handles: Vec<_> = (0..clients)
            .map(|_| {
                std::thread::spawn(move || {
                    let mut s = TcpStream::connect(addr).unwrap();
                    s.set_nodelay(true).unwrap();
                    let req = format!("GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n");
                    let mut buf = vec![0u8; 64 * 1024];
                    let mut lat = Vec::with_capacity(requests);
                    for _ in 0..requests {
                        let t = Instant::now();
                        s.write_all(req.as_bytes()).unwrap();
                        read_response(&mut s, &mut buf);
                        lat.push(t.elapsed());
                    }
                    lat
                })
            })
            .collect();
        let mut all: Vec<Duration> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
        let wall = started.elapsed();
        all.sort();
        let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
        println!(
            "{path:9} clients={clients} requests={} rps={:.0} p50={:?} p90={:?} p99={:?} max={:?}",
            all.len(),
            all.len() as f64 / wall.as_secs_f64(),
            pct(0.50),
            pct(0.90),
            pct(0.99),
            all[all.len() - 1]
        );
    }
    stop.store(true, Ordering::Relaxed);
    rt.shutdown_timeout(Duration::from_secs(1));
}

/// Reads one HTTP response (headers + Content-Length body) from a keep-alive connection.
fn read_response(s: &mut TcpStream, buf: &mut [u8]) {
    let mut n = 0;
    loop {
        let got = s.read(&mut buf[n..]).unwrap();
        assert!(got > 0, "server closed the connection");
        n += got;
        let text = &buf[..n];
        if let Some(end) = text.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&text[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if n >= end + 4 + len {
                return;
            }
        }
    }
}
