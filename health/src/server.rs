//! The HTTP server: tiny_http on plain threads, with timeouts and a fixed set of handlers.
//!
//! tiny_http has no timeout settings of its own, so read/write timeouts are set on the
//! listening socket: Linux copies them into every accepted connection, which cuts off idle
//! and slow clients (tiny_http answers 408 and closes); `TCP_NODELAY` is inherited the same
//! way. The same timeout also ends tiny_http's blocking `accept` when no client comes for a
//! while; the handler that sees that error
//! re-creates the tiny_http server on a clone of the *same* listening socket, so the port stays
//! bound and queued connections are never lost.
//!
//! Requests are answered by `workers` fixed threads; a panic in a route (for instance in a
//! readiness callback) becomes a 500, never a dead server.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use tiny_http::{Header, Response, Server};

use crate::routes::{self, Reply};
use crate::state::Health;

/// Server tuning.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Longest wait for a client's next bytes, or for it to take ours.
    pub io_timeout: Duration,
    /// Handler threads.
    pub workers: usize,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self { io_timeout: Duration::from_secs(5), workers: 2 }
    }
}

struct Shared {
    listener: TcpListener,
    server: RwLock<Arc<Server>>,
    stop: AtomicBool,
}

/// A running health server; stops when dropped or on [`HealthServer::stop`].
pub struct HealthServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

impl HealthServer {
    /// Binds `addr` and starts serving `health`.
    pub fn start(addr: SocketAddr, health: Health, opts: ServerOptions) -> io::Result<Self> {
        let listener = TcpListener::bind(addr)?;
        let sock = socket2::SockRef::from(&listener);
        sock.set_read_timeout(Some(opts.io_timeout))?;
        sock.set_write_timeout(Some(opts.io_timeout))?;
        // tiny_http writes head and body separately; without this, Nagle's algorithm and the
        // client's delayed ACK add ~40 ms to every larger reply (seen on /metrics).
        sock.set_tcp_nodelay(true)?;
        let addr = listener.local_addr()?;
        let server = new_server(&listener)?;
        let shared = Arc::new(Shared { listener, server: RwLock::new(server), stop: AtomicBool::new(false) });
        let mut threads = Vec::with_capacity(opts.workers.max(1));
        for i in 0..opts.workers.max(1) {
            let (shared, health) = (shared.clone(), health.clone());
            let t = std::thread::Builder::new()
                .name(format!("health-{i}"))
                .spawn(move || serve(&shared, &health))?;
            threads.push(t);
        }
        Ok(Self { addr, shared, threads })
    }

    /// The bound address (useful with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the handler threads and waits for them.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for HealthServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn new_server(listener: &TcpListener) -> io::Result<Arc<Server>> {
    let server = Server::from_listener(listener.try_clone()?, None).map_err(io::Error::other)?;
    Ok(Arc::new(server))
}

fn serve(shared: &Shared, health: &Health) {
    while !shared.stop.load(Ordering::Relaxed) {
        let server = shared.server.read().unwrap_or_else(PoisonError::into_inner).clone();
        match server.recv_timeout(Duration::from_millis(200)) {
            Ok(Some(request)) => respond(health, request),
            Ok(None) => {}
            // The accept thread ended: idle timeout (expected) or a real accept error.
            Err(e) => {
                if !matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) {
                    tracing::warn!(error = %e, "health server accept failed; restarting it");
                    std::thread::sleep(Duration::from_millis(50));
                }
                restart(shared, &server);
            }
        }
    }
}

fn restart(shared: &Shared, dead: &Arc<Server>) {
    let mut current = shared.server.write().unwrap_or_else(PoisonError::into_inner);
    if !Arc::ptr_eq(&current, dead) {
        return; // another handler already restarted it
    }
    match new_server(&shared.listener) {
        Ok(s) => *current = s,
        Err(e) => tracing::error!(error = %e, "cannot restart the health server; will retry"),
    }
}

fn respond(health: &Health, request: tiny_http::Request) {
    let chunked = request.headers().iter().any(|h| h.field.equiv("Transfer-Encoding"));
    let body_len = if chunked { usize::MAX } else { request.body_length().unwrap_or(0) };
    let reply = catch_unwind(AssertUnwindSafe(|| {
        routes::route(health, request.method().as_str(), request.url(), body_len)
    }))
    .unwrap_or_else(|_| Reply {
        status: 500,
        content_type: routes::content_type::TEXT,
        body: "internal error\n".into(),
        allow: false,
    });
    let mut response = Response::from_string(reply.body).with_status_code(reply.status);
    let mut headers = vec![("Content-Type", reply.content_type), ("Cache-Control", "no-store")];
    if reply.allow {
        headers.push(("Allow", "GET, HEAD"));
    }
    if reply.status == 400 {
        // We did not read the body, so the connection cannot carry another request.
        headers.push(("Connection", "close"));
    }
    for (name, value) in headers {
        if let Ok(h) = Header::from_bytes(name.as_bytes(), value.as_bytes()) {
            response.add_header(h);
        }
    }
    // A client that went away is not our problem.
    let _ = request.respond(response);
}
