//! The health server over real sockets: status codes, bodies, errors, slow and idle clients,
//! concurrency, and a wedged async runtime.
#![allow(clippy::unwrap_used)] // a test: a failed unwrap is a failed test

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use health::{Health, HealthServer, ServerOptions};

fn start(health: &Health, request_timeout: Duration) -> HealthServer {
    let opts = ServerOptions { request_timeout, ..ServerOptions::default() };
    HealthServer::start("127.0.0.1:0".parse().unwrap(), health.clone(), opts).unwrap()
}

/// Sends raw bytes, returns (status, headers+body text). Read timeout bounds every wait.
fn raw(addr: SocketAddr, request: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, text)
}

fn get(addr: SocketAddr, method: &str, path: &str) -> (u16, String) {
    raw(addr, format!("{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
}

fn body(text: &str) -> &str {
    text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("")
}

fn ready_health() -> Health {
    let h = Health::new(Duration::from_secs(10));
    h.set_component("worker", true, "registered");
    h
}

#[test]
fn status_codes_and_bodies() {
    let h = Health::new(Duration::from_secs(10));
    let server = start(&h, Duration::from_secs(5));
    let a = server.addr();

    let (code, text) = get(a, "GET", "/healthz");
    assert_eq!(code, 200);
    assert!(text.to_ascii_lowercase().contains("content-type: application/json"));
    assert!(body(&text).contains("\"status\":\"ok\""));
    assert_eq!(get(a, "GET", "/").0, 200);

    // Not ready until every component is.
    h.set_component("worker", false, "connecting");
    let (code, text) = get(a, "GET", "/readyz");
    assert_eq!(code, 503);
    let v: serde_json::Value = serde_json::from_str(body(&text)).unwrap();
    assert_eq!(v["components"]["worker"]["detail"], "connecting");
    h.set_component("worker", true, "registered");
    assert_eq!(get(a, "GET", "/readyz").0, 200);
    h.start_draining();
    let (code, text) = get(a, "GET", "/readyz");
    assert_eq!(code, 503);
    assert!(body(&text).contains("\"draining\":true"));

    let (code, text) = get(a, "GET", "/metrics");
    assert_eq!(code, 200);
    assert!(text.contains("application/openmetrics-text"));
    assert!(body(&text).contains("process_resident_memory_bytes"));
    assert!(body(&text).ends_with("# EOF\n"));
}

#[test]
fn head_405_404_413_414_400() {
    let h = ready_health();
    let server = start(&h, Duration::from_secs(5));
    let a = server.addr();

    let (code, text) = get(a, "HEAD", "/healthz");
    assert_eq!(code, 200);
    assert_eq!(body(&text), "", "HEAD has no body");

    let (code, text) = get(a, "POST", "/healthz");
    assert_eq!(code, 405);
    assert!(text.to_ascii_lowercase().contains("allow: get, head"));
    assert_eq!(get(a, "PUT", "/readyz").0, 405);
    assert_eq!(get(a, "GET", "/secret").0, 404);

    let long = format!("/{}", "x".repeat(4000));
    assert_eq!(get(a, "GET", &long).0, 414);
    let with_body = b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
    let (code, text) = raw(a, with_body);
    assert_eq!(code, 413);
    assert!(text.contains("Connection: close"), "{text}");
    assert_eq!(raw(a, b"\x16\x03\x01garbage that is not http\r\n\r\n").0, 400);
    // After all that, still healthy.
    assert_eq!(get(a, "GET", "/healthz").0, 200);
}

#[test]
fn idle_and_slow_clients_are_cut_off_and_do_not_block_others() {
    let h = ready_health();
    let server = start(&h, Duration::from_millis(300));
    let a = server.addr();

    // Clients that connect and never send, or send half a request.
    let mut silent: Vec<TcpStream> = (0..20).map(|_| TcpStream::connect(a).unwrap()).collect();
    let mut half = TcpStream::connect(a).unwrap();
    half.write_all(b"GET /heal").unwrap();
    silent.push(half);

    // Others are served meanwhile.
    for _ in 0..10 {
        assert_eq!(get(a, "GET", "/healthz").0, 200);
    }
    // The idle ones are closed by the server (408 or plain close), not left hanging.
    for s in &mut silent {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = Vec::new();
        let r = s.read_to_end(&mut buf);
        assert!(r.is_ok(), "server should close an idle connection, got {r:?}");
        let text = String::from_utf8_lossy(&buf);
        assert!(text.is_empty() || text.starts_with("HTTP/1.1 408"), "{text}");
    }
    // Idle for longer than the timeout: still serves.
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(get(a, "GET", "/readyz").0, 200);
}

#[test]
fn a_slowloris_is_cut_at_the_request_deadline_not_per_read() {
    let h = ready_health();
    let server = start(&h, Duration::from_secs(1));
    let mut s = TcpStream::connect(server.addr()).unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nX-Slow: ").unwrap();
    // A byte every 100 ms never lets a per-read timeout fire; the request deadline does.
    let mut cut = false;
    for _ in 0..100 {
        std::thread::sleep(Duration::from_millis(100));
        if s.write_all(b"a").is_err() {
            cut = true;
            break;
        }
        s.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 256];
        let r = s.read(&mut buf);
        s.set_nonblocking(false).unwrap();
        if let Ok(n) = r {
            assert!(n == 0 || buf.starts_with(b"HTTP/1.1 408"), "{:?}", String::from_utf8_lossy(&buf[..n]));
            cut = true;
            break;
        }
    }
    assert!(cut, "a client sending a byte every 100 ms was never cut off");
    assert_eq!(get(server.addr(), "GET", "/healthz").0, 200);
}

#[test]
fn keep_alive_serves_several_requests() {
    let h = ready_health();
    let server = start(&h, Duration::from_secs(5));
    let mut s = TcpStream::connect(server.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    for _ in 0..3 {
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut buf = [0u8; 1024];
        let n = s.read(&mut buf).unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    }
}

#[test]
fn concurrent_clients() {
    let h = ready_health();
    let server = start(&h, Duration::from_secs(5));
    let a = server.addr();
    let threads: Vec<_> = (0..16)
        .map(|i| {
            std::thread::spawn(move || {
                let paths = ["/healthz", "/readyz", "/metrics", "/"];
                (0..25).filter(|j| get(a, "GET", paths[(i + j) % 4]).0 == 200).count()
            })
        })
        .collect();
    let ok: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(ok, 16 * 25);
}

#[test]
fn a_panicking_readiness_section_is_a_500_not_a_dead_server() {
    let h = ready_health();
    h.add_section("broken", Box::new(|| panic!("section exploded")));
    let server = start(&h, Duration::from_secs(5));
    assert_eq!(get(server.addr(), "GET", "/readyz").0, 500);
    assert_eq!(get(server.addr(), "GET", "/healthz").0, 200);
}

#[test]
fn wedged_runtime_fails_liveness_but_the_server_keeps_answering() {
    let h = Health::new(Duration::from_millis(500));
    h.set_component("worker", true, "registered");
    let server = start(&h, Duration::from_secs(5));
    let a = server.addr();

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let beat = h.clone();
    let handle = std::thread::spawn(move || {
        rt.block_on(async move {
            voice_agent::heartbeat::spawn(beat, Duration::from_millis(50));
            tokio::time::sleep(Duration::from_millis(300)).await;
            // A task that blocks the only runtime thread: the runtime is wedged.
            std::thread::sleep(Duration::from_secs(3));
        })
    });
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(get(a, "GET", "/healthz").0, 200, "runtime still beating");

    // Once the heartbeat is stale liveness says so; every request is still answered, each
    // within the client's one-second read timeout.
    let mut saw_stale = false;
    for _ in 0..40 {
        let mut s = TcpStream::connect(a).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).expect("answered within a second");
        if buf.starts_with(b"HTTP/1.1 503") {
            saw_stale = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(saw_stale, "liveness never went 503 while the runtime was wedged");
    assert_eq!(get(a, "GET", "/readyz").0, 200, "readiness is separate from liveness");
    handle.join().unwrap();
}

#[test]
fn connection_close_is_honoured_and_pipelined_requests_answered_in_order() {
    let h = ready_health();
    let server = start(&h, Duration::from_secs(5));
    let mut s = TcpStream::connect(server.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // Three requests in one write; the last asks to close.
    s.write_all(
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /readyz HTTP/1.1\r\nHost: x\r\n\r\n\
          GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).expect("the server closes after the Connection: close request");
    let text = String::from_utf8_lossy(&out);
    let statuses: Vec<&str> = text.match_indices("HTTP/1.1 ").map(|(i, _)| &text[i + 9..i + 12]).collect();
    assert_eq!(statuses, ["200", "200", "404"], "{text}");
    assert!(text.contains("\"status\":\"ok\"") && text.contains("\"ready\":true"));
    assert!(text.ends_with("not found; try /healthz, /readyz, /metrics or /stats\n"));
}

#[test]
fn over_the_connection_cap_the_longest_waiting_is_closed_and_probes_still_answered() {
    let h = ready_health();
    let opts = ServerOptions { max_connections: 4, ..ServerOptions::default() };
    let server = HealthServer::start("127.0.0.1:0".parse().unwrap(), h.clone(), opts).unwrap();
    let a = server.addr();
    let idle: Vec<TcpStream> = (0..12).map(|_| TcpStream::connect(a).unwrap()).collect();
    for _ in 0..5 {
        assert_eq!(get(a, "GET", "/healthz").0, 200);
    }
    // The oldest idle connections were closed to make room (well before their deadline).
    let (code, metrics) = get(a, "GET", "/metrics");
    assert_eq!(code, 200);
    let evicted = metric(&metrics, "health_server_connections_evicted_total");
    assert!(evicted >= 8.0, "{metrics}");
    let mut first = &idle[0];
    first.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(first.read(&mut [0u8; 16]).unwrap(), 0, "the oldest idle connection was closed");
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} missing"))
}
