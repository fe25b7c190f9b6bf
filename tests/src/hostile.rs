//! Hostile and honest HTTP clients for the health port, each on its own thread until told to
//! stop: what someone on the network could send, and what an orchestrator and a metrics
//! scraper send meanwhile. Every loop is bounded by the stop flag; targets are loopback only.
//!
//! Used by the health fuzz test against the real binary and by the `health_load` benchmark.
#![allow(clippy::disallowed_methods)] // clients measure wall time

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What one client saw.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    /// Which client.
    pub name: &'static str,
    /// Requests (or attempts) sent.
    pub sent: u64,
    /// Answers with the expected status (or, for holders, connections the server closed).
    pub ok: u64,
    /// Anything else, described.
    pub unexpected: Vec<String>,
    /// Latency of each answered request (honest clients only).
    pub latencies: Vec<Duration>,
}

impl Tally {
    fn new(name: &'static str) -> Self {
        Self { name, ..Self::default() }
    }

    fn odd(&mut self, what: String) {
        if self.unexpected.len() < 20 {
            self.unexpected.push(what);
        }
    }
}

/// Running clients; [`Clients::finish`] stops them and returns their tallies.
pub struct Clients {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<Tally>>,
}

impl Clients {
    /// No clients yet.
    pub fn new() -> Self {
        Self { stop: Arc::new(AtomicBool::new(false)), threads: Vec::new() }
    }

    /// Starts `f` on its own thread with the shared stop flag.
    pub fn spawn(&mut self, f: impl FnOnce(&AtomicBool) -> Tally + Send + 'static) {
        let stop = self.stop.clone();
        self.threads.push(std::thread::spawn(move || f(&stop)));
    }

    /// Stops every client and collects what they saw.
    pub fn finish(self) -> Vec<Tally> {
        self.stop.store(true, Ordering::Relaxed);
        self.threads.into_iter().map(|t| t.join().expect("client thread")).collect()
    }
}

impl Default for Clients {
    fn default() -> Self {
        Self::new()
    }
}

fn connect(addr: SocketAddr, timeout: Duration) -> std::io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    Ok(s)
}

/// Reads one response from `s` into `buf` (kept for the next, pipelined one): its status.
pub fn read_response(s: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<u16> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                let status = head.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
                buf.drain(..end + 4 + len);
                return Ok(status);
            }
        }
        let mut chunk = [0u8; 16 * 1024];
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Sends `head` (and `extra` bytes after it) on a fresh connection; the status, if answered.
fn one_shot(addr: SocketAddr, head: &[u8], extra: &[u8]) -> std::io::Result<u16> {
    let mut s = connect(addr, Duration::from_secs(10))?;
    s.write_all(head)?;
    let _ = s.write_all(extra); // the server may already have answered and shut its side
    read_response(&mut s, &mut Vec::new())
}

/// A fresh connection per `GET path` every `every`: an orchestrator's probe.
pub fn prober(addr: SocketAddr, path: &'static str, every: Duration) -> impl FnOnce(&AtomicBool) -> Tally {
    move |stop| {
        let mut t = Tally::new("probe");
        let req = format!("GET {path} HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n");
        while !stop.load(Ordering::Relaxed) {
            t.sent += 1;
            let started = Instant::now();
            match one_shot(addr, req.as_bytes(), b"") {
                Ok(200) => {
                    t.ok += 1;
                    t.latencies.push(started.elapsed());
                }
                other => t.odd(format!("probe {path}: {other:?} after {:?}", started.elapsed())),
            }
            std::thread::sleep(every);
        }
        t
    }
}

/// One kept-alive connection sending a request, or `pipelined` at once, every `every`:
/// every request must be answered, in order, on the same connection.
pub fn keep_alive(addr: SocketAddr, pipelined: usize, every: Duration) -> impl FnOnce(&AtomicBool) -> Tally {
    move |stop| {
        let mut t = Tally::new(if pipelined > 1 { "pipelined" } else { "keep-alive" });
        let Ok(mut s) = connect(addr, Duration::from_secs(10)) else {
            t.odd("cannot connect".into());
            return t;
        };
        let one = "GET /healthz HTTP/1.1\r\nHost: k\r\n\r\nGET /readyz HTTP/1.1\r\nHost: k\r\n\r\n";
        let batch = one.repeat(pipelined.max(1));
        let mut buf = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            let started = Instant::now();
            if let Err(e) = s.write_all(batch.as_bytes()) {
                t.odd(format!("write: {e}"));
                return t;
            }
            for _ in 0..2 * pipelined.max(1) {
                t.sent += 1;
                match read_response(&mut s, &mut buf) {
                    Ok(200) => t.ok += 1,
                    Ok(code) => t.odd(format!("status {code}")),
                    Err(e) => {
                        t.odd(format!("read: {e}"));
                        return t;
                    }
                }
            }
            t.latencies.push(started.elapsed());
            std::thread::sleep(every);
        }
        t
    }
}

/// `GET /healthz` declaring a huge body (and sending a little of it): must get 413, at once.
pub fn huge_content_length(addr: SocketAddr) -> impl FnOnce(&AtomicBool) -> Tally {
    move |stop| {
        let mut t = Tally::new("huge-content-length");
        for len in ["1000000000000", "18446744073709551615"].iter().cycle() {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            t.sent += 1;
            let head = format!("GET /healthz HTTP/1.1\r\nHost: f\r\nContent-Length: {len}\r\n\r\n");
            match one_shot(addr, head.as_bytes(), &[b'x'; 1000]) {
                Ok(413) => t.ok += 1,
                other => t.odd(format!("Content-Length {len}: {other:?}")),
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        t
    }
}

/// Declares a 1 MB body and sends a byte of it every 300 ms: refused without waiting for it.
pub fn slow_body(addr: SocketAddr) -> impl FnOnce(&AtomicBool) -> Tally {
    move |stop| {
        let mut t = Tally::new("slow-body");
        while !stop.load(Ordering::Relaxed) {
            t.sent += 1;
            let Ok(mut s) = connect(addr, Duration::from_secs(10)) else { continue };
            let _ = s.write_all(b"GET /readyz HTTP/1.1\r\nHost: f\r\nContent-Length: 1000000\r\n\r\n");
            let _ = s.set_nonblocking(true);
            let mut buf = Vec::new();
            let mut answered = None;
            for _ in 0..40 {
                let _ = s.write_all(b"x");
                let mut chunk = [0u8; 1024];
                match s.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    Err(_) => {}
                }
                if buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    answered = String::from_utf8_lossy(&buf).get(9..12).map(str::to_owned);
                    break;
                }
                std::thread::sleep(Duration::from_millis(300));
            }
            match answered.as_deref() {
                Some("413") => t.ok += 1,
                other => t.odd(format!("slow body: {other:?}")),
            }
        }
        t
    }
}

/// `conns` connections each sending one more header byte every 500 ms, never finishing:
/// the server must cut each at its request deadline (then the client reconnects).
pub fn slowloris(addr: SocketAddr, conns: usize) -> impl FnOnce(&AtomicBool) -> Tally {
    move |stop| {
        let mut t = Tally::new("slowloris");
        let open = || {
            let mut s = connect(addr, Duration::from_secs(10)).ok()?;
            s.write_all(b"GET /healthz HTTP/1.1\r\nX: ").ok()?;
            Some(s)
        };
        let mut socks: Vec<Option<TcpStream>> = (0..conns).map(|_| open()).collect();
        while !stop.load(Ordering::Relaxed) {
            for slot in &mut socks {
                t.sent += 1;
                let cut = slot.as_mut().is_none_or(|s| s.write_all(b"a").is_err());
                if cut {
                    t.ok += u64::from(slot.is_some());
                    *slot = open();
                }
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        t
    }
}

/// A 1 MB header line: the server answers 431 (or resets) after 8 KB, never buffers the rest.
pub fn big_headers(addr: SocketAddr) -> impl FnOnce(&AtomicBool) -> Tally {
    move |stop| {
        let mut t = Tally::new("1MB-headers");
        let mut head = b"GET /healthz HTTP/1.1\r\nHost: f\r\nX-Big: ".to_vec();
        head.resize(1 << 20, b'a');
        while !stop.load(Ordering::Relaxed) {
            t.sent += 1;
            let answer = connect(addr, Duration::from_secs(10)).and_then(|mut s| {
                // Writing fails once the server has answered and closed; read what came back.
                for chunk in head.chunks(64 * 1024) {
                    if s.write_all(chunk).is_err() {
                        break;
                    }
                }
                read_response(&mut s, &mut Vec::new())
            });
            match answer {
                Ok(431) => t.ok += 1,
                // The server stopped reading and closed: a reset can overtake its 431.
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => t.ok += 1,
                other => t.odd(format!("1 MB header: {other:?}")),
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        t
    }
}

/// Holds `conns` idle connections, reopening those the server closes, checking every second.
pub fn idle_flood(addr: SocketAddr, conns: usize) -> impl FnOnce(&AtomicBool) -> Tally {
    move |stop| {
        let mut t = Tally::new("idle-flood");
        let open =
            || connect(addr, Duration::from_secs(10)).and_then(|s| s.set_nonblocking(true).map(|()| s)).ok();
        let mut socks: Vec<Option<TcpStream>> = Vec::with_capacity(conns);
        while !stop.load(Ordering::Relaxed) {
            let before = socks.len();
            // Closed by the server (end of stream or reset): count it and open another.
            socks.retain_mut(|s| match s {
                Some(s) => match s.read(&mut [0u8; 64]) {
                    Ok(0) => false,
                    Err(e) => e.kind() == std::io::ErrorKind::WouldBlock,
                    Ok(_) => true,
                },
                None => false,
            });
            t.ok += (before - socks.len()) as u64;
            while socks.len() < conns && !stop.load(Ordering::Relaxed) {
                t.sent += 1;
                socks.push(open());
            }
            for _ in 0..10 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        t
    }
}

/// Latency percentile (`p` in 0..=1) of `all`, sorted in place.
pub fn percentile(all: &mut [Duration], p: f64) -> Duration {
    if all.is_empty() {
        return Duration::ZERO;
    }
    all.sort();
    all[((all.len() as f64 * p) as usize).min(all.len() - 1)]
}
