//! The HTTP server: an event loop thread, a fixed pool of workers and a supervisor, all plain
//! `std` threads.
//!
//! | thread | does |
//! |---|---|
//! | `health-io` | [`crate::event_loop`]: accept, read heads, answer liveness, write replies, deadlines |
//! | `health-worker-N` | [`crate::pool`]: `/readyz` first, then `/metrics` and `/stats` |
//! | `health-supervisor` | restarts any of the above that died; counts it in `health_server_thread_restarts_total` |
//!
//! The thread count is fixed whatever clients do; memory is bounded by the connection cap
//! times the 8 KB head limit plus one reply each.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::event_loop;
use crate::pool::{self, Pool};
use crate::state::Health;
use crate::supervisor::{Body, Supervisor};

/// Server tuning.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Longest time for one request, from waiting for its first byte (including an idle
    /// keep-alive) to the last byte of its reply.
    pub request_timeout: Duration,
    /// Worker threads for readiness, metrics and stats.
    pub workers: usize,
    /// Most open connections.
    pub max_connections: usize,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self { request_timeout: Duration::from_secs(5), workers: 2, max_connections: 256 }
    }
}

impl ServerOptions {
    pub(crate) fn request_timeout_ms(&self) -> u64 {
        u64::try_from(self.request_timeout.as_millis()).unwrap_or(u64::MAX).max(1)
    }
}

/// What the server threads share.
pub(crate) struct Shared {
    /// The bound, non-blocking listening socket; the event loop watches a clone of it, so a
    /// restarted loop keeps the port and every queued connection.
    pub(crate) listener: TcpListener,
    pub(crate) health: Health,
    pub(crate) opts: ServerOptions,
    pub(crate) pool: Pool,
    stop: AtomicBool,
    next_id: AtomicUsize,
}

impl Shared {
    pub(crate) fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    pub(crate) fn next_id(&self) -> usize {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }
}

/// A running health server; stops when dropped or on [`HealthServer::stop`].
pub struct HealthServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    supervisor: Option<JoinHandle<()>>,
}

impl HealthServer {
    /// Binds `addr` and starts serving `health`.
    pub fn start(addr: SocketAddr, health: Health, opts: ServerOptions) -> io::Result<Self> {
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let opts = ServerOptions {
            workers: opts.workers.max(1),
            max_connections: opts.max_connections.max(1),
            ..opts
        };
        let shared = Arc::new(Shared {
            listener,
            health,
            opts,
            pool: Pool::default(),
            stop: AtomicBool::new(false),
            next_id: AtomicUsize::new(event_loop::FIRST_ID),
        });
        let mut sup = match start_threads(&shared) {
            Ok(sup) => sup,
            Err(e) => {
                stop_threads(&shared);
                return Err(e);
            }
        };
        let s = shared.clone();
        let supervisor = std::thread::Builder::new().name("health-supervisor".into()).spawn(move || {
            while !s.stopping() {
                let dead = sup.check();
                let restarts = &s.health.server_counters().thread_restarts;
                restarts.fetch_add(dead, Ordering::Relaxed);
                std::thread::park_timeout(Duration::from_millis(100));
            }
            sup.join_all();
        });
        let supervisor = match supervisor {
            Ok(t) => t,
            Err(e) => {
                stop_threads(&shared);
                return Err(e);
            }
        };
        Ok(Self { addr, shared, supervisor: Some(supervisor) })
    }

    /// The bound address (useful with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops every thread and waits for them.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        stop_threads(&self.shared);
        if let Some(t) = self.supervisor.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

fn start_threads(shared: &Arc<Shared>) -> io::Result<Supervisor> {
    let mut sup = Supervisor::default();
    let s = shared.clone();
    sup.start("health-io", Arc::new(move || event_loop::run(&s)))?;
    for i in 0..shared.opts.workers {
        let s = shared.clone();
        let body: Body = Arc::new(move || pool::work(&s.pool, &s.health, &s.stop));
        sup.start(&format!("health-worker-{i}"), body)?;
    }
    Ok(sup)
}

fn stop_threads(shared: &Shared) {
    shared.stop.store(true, Ordering::Relaxed);
    shared.pool.wake_loop();
    shared.pool.wake_workers();
}

impl Drop for HealthServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}
