//! The fixed set of threads that answer requests other than liveness, probes first.
//!
//! Readiness sections, `/metrics` and `/stats` call into the agent and read `/proc`, so they
//! run here rather than on the event loop; `/readyz` jumps ahead of `/metrics` and `/stats`.
//! Jobs and answers carry only bytes: workers never touch a socket, so a slow client cannot
//! hold one. The queue is bounded by the connection cap (one request in flight per connection).

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use crate::head::{self, RequestHead};
use crate::routes::{self, Reply};
use crate::state::Health;

/// A request to answer for connection `conn`.
#[derive(Debug)]
pub(crate) struct Job {
    pub(crate) conn: usize,
    pub(crate) req: RequestHead,
}

/// Reply bytes for connection `conn`.
#[derive(Debug)]
pub(crate) struct Done {
    pub(crate) conn: usize,
    pub(crate) bytes: Vec<u8>,
    pub(crate) close: bool,
}

#[derive(Default)]
struct Queues {
    probes: VecDeque<Job>,
    others: VecDeque<Job>,
}

/// Queues between the event loop and the workers.
#[derive(Default)]
pub(crate) struct Pool {
    queues: Mutex<Queues>,
    ready: Condvar,
    done: Mutex<Vec<Done>>,
    waker: Mutex<Option<Arc<mio::Waker>>>,
}

impl Pool {
    /// Queues a request; readiness goes before the rest.
    pub(crate) fn push(&self, job: Job) {
        let mut q = self.queues.lock().unwrap_or_else(PoisonError::into_inner);
        if routes::is_probe(job.req.path()) {
            q.probes.push_back(job);
        } else {
            q.others.push_back(job);
        }
        drop(q);
        self.ready.notify_one();
    }

    /// The next job, waiting up to `wait`; `None` when there was none.
    fn take(&self, wait: Duration) -> Option<Job> {
        let mut q = self.queues.lock().unwrap_or_else(PoisonError::into_inner);
        if q.probes.is_empty() && q.others.is_empty() {
            q = self.ready.wait_timeout(q, wait).unwrap_or_else(PoisonError::into_inner).0;
        }
        q.probes.pop_front().or_else(|| q.others.pop_front())
    }

    /// Hands an answer back to the event loop and wakes it.
    pub(crate) fn finish(&self, done: Done) {
        self.done.lock().unwrap_or_else(PoisonError::into_inner).push(done);
        self.wake_loop();
    }

    /// Answers handed back since the last call.
    pub(crate) fn take_done(&self) -> Vec<Done> {
        std::mem::take(&mut *self.done.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Sets the event loop's waker (a restarted loop brings a new one).
    pub(crate) fn set_waker(&self, waker: Arc<mio::Waker>) {
        *self.waker.lock().unwrap_or_else(PoisonError::into_inner) = Some(waker);
    }

    /// Wakes the event loop.
    pub(crate) fn wake_loop(&self) {
        let waker = self.waker.lock().unwrap_or_else(PoisonError::into_inner).clone();
        if let Some(w) = waker {
            let _ = w.wake();
        }
    }

    /// Wakes every waiting worker (used on stop).
    pub(crate) fn wake_workers(&self) {
        self.ready.notify_all();
    }
}

/// A worker thread's body: answer jobs until `stop`.
pub(crate) fn work(pool: &Pool, health: &Health, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        if let Some(job) = pool.take(Duration::from_millis(200)) {
            let (bytes, close) = answer(health, &job.req);
            pool.finish(Done { conn: job.conn, bytes, close });
        }
    }
}

/// Routes one request and encodes the reply; a panicking route becomes a 500.
pub(crate) fn answer(health: &Health, req: &RequestHead) -> (Vec<u8>, bool) {
    let reply = catch_unwind(AssertUnwindSafe(|| {
        routes::route(health, &req.method, &req.target, req.authorization.as_deref())
    }))
    .unwrap_or_else(|_| Reply::text(500, "internal error"));
    let close = !req.keep_alive;
    (head::encode(&reply, req.head_only(), close), close)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(conn: usize, path: &str) -> Job {
        let text = format!("GET {path} HTTP/1.1\r\n\r\n");
        let crate::head::Parsed::Request(req) = crate::head::parse(text.as_bytes()) else { panic!() };
        Job { conn, req }
    }

    #[test]
    fn readiness_is_taken_before_metrics_and_stats() {
        let pool = Pool::default();
        pool.push(job(1, "/metrics"));
        pool.push(job(2, "/stats"));
        pool.push(job(3, "/readyz"));
        let order: Vec<usize> = std::iter::from_fn(|| pool.take(Duration::ZERO)).map(|j| j.conn).collect();
        assert_eq!(order, [3, 1, 2]);
    }

    #[test]
    fn a_panicking_route_is_a_500() {
        let h = Health::new(Duration::from_secs(5));
        h.add_section("boom", Box::new(|| panic!("section exploded")));
        let (bytes, close) = answer(&h, &job(1, "/readyz").req);
        assert!(bytes.starts_with(b"HTTP/1.1 500 "), "{}", String::from_utf8_lossy(&bytes));
        assert!(!close);
    }
}
