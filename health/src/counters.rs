//! The health server's own counters: what it refused, evicted and restarted.
//!
//! Plain atomics in [`crate::Health`], so they exist before any server starts and several
//! servers on one `Health` (tests) add up instead of registering twice.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters written by the server threads and read by `/metrics`.
#[derive(Debug, Default)]
pub struct ServerCounters {
    /// Health threads found dead and started again by the supervisor.
    pub thread_restarts: AtomicU64,
    /// Failed `accept` calls (out of file descriptors and the like).
    pub accept_errors: AtomicU64,
    /// Connections closed to make room for a new one (the oldest waiting for a request).
    pub evicted: AtomicU64,
    /// Connections refused at once with 503 because every slot was busy answering.
    pub refused: AtomicU64,
    /// Requests refused from their head (a body, an oversized or malformed head).
    pub bad_requests: AtomicU64,
    /// Connections closed at their request deadline.
    pub timed_out: AtomicU64,
    /// Open connections now.
    pub open: AtomicU64,
}

impl ServerCounters {
    /// Adds one to `counter`.
    pub(crate) fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Appends the counters in OpenMetrics text form.
    pub fn encode(&self, out: &mut String) {
        let counters: [(&str, &str, &AtomicU64); 6] = [
            (
                "health_server_thread_restarts",
                "Health threads that died and were restarted.",
                &self.thread_restarts,
            ),
            ("health_server_accept_errors", "Failed accepts on the health port.", &self.accept_errors),
            (
                "health_server_connections_evicted",
                "Waiting connections closed to admit new ones.",
                &self.evicted,
            ),
            (
                "health_server_connections_refused",
                "Connections refused because all were busy.",
                &self.refused,
            ),
            ("health_server_bad_requests", "Requests refused from their head.", &self.bad_requests),
            ("health_server_timeouts", "Connections closed at their request deadline.", &self.timed_out),
        ];
        for (name, help, value) in counters {
            let v = value.load(Ordering::Relaxed);
            let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name}_total {v}\n");
        }
        let open = self.open.load(Ordering::Relaxed);
        let _ = write!(
            out,
            "# HELP health_server_connections Open connections to the health port.\n\
             # TYPE health_server_connections gauge\nhealth_server_connections {open}\n"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_counters_and_gauge() {
        let c = ServerCounters::default();
        ServerCounters::inc(&c.thread_restarts);
        c.open.store(3, Ordering::Relaxed);
        let mut out = String::new();
        c.encode(&mut out);
        assert!(out.contains(
            "# TYPE health_server_thread_restarts counter\nhealth_server_thread_restarts_total 1\n"
        ));
        assert!(out.contains("health_server_connections 3\n"), "{out}");
    }
}
