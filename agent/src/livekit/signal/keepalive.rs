//! Signalling keepalive (sans-IO): `ping_req` every `ping_interval`, dead after
//! `ping_timeout` without a `pong_resp`.
//!
//! The server drops a participant whose pings stop, and a half-open TCP connection would
//! otherwise go unnoticed until the kernel gives up many minutes later.

use std::time::{Duration, Instant};

/// Keepalive state.
#[derive(Debug, Clone)]
pub struct Keepalive {
    interval: Duration,
    timeout: Duration,
    next_ping: Instant,
    last_pong: Instant,
}

impl Keepalive {
    /// Intervals from the JoinResponse (seconds; 0 or negative means the defaults 5 s / 15 s).
    pub fn new(interval_secs: i32, timeout_secs: i32, now: Instant) -> Self {
        let secs = |v: i32, default: u64| {
            Duration::from_secs(u64::try_from(v).ok().filter(|&v| v > 0).unwrap_or(default))
        };
        let interval = secs(interval_secs, 5);
        let timeout = secs(timeout_secs, 15).max(interval * 2);
        Self { interval, timeout, next_ping: now + interval, last_pong: now }
    }

    /// Whether a ping is due; if so, schedules the next one.
    pub fn poll_ping(&mut self, now: Instant) -> bool {
        if now < self.next_ping {
            return false;
        }
        self.next_ping = now + self.interval;
        true
    }

    /// A pong (or any sign of life from the server) arrived.
    pub fn on_pong(&mut self, now: Instant) {
        self.last_pong = now;
    }

    /// True once the server has been silent for longer than the timeout.
    pub fn is_dead(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.last_pong) > self.timeout
    }

    /// When this needs attention next.
    pub fn deadline(&self) -> Instant {
        self.next_ping.min(self.last_pong + self.timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock;

    #[test]
    fn pings_on_interval_and_dies_without_pongs() {
        let t0 = clock::now();
        let s = Duration::from_secs;
        let mut k = Keepalive::new(5, 15, t0);
        assert!(!k.poll_ping(t0 + s(4)));
        assert!(k.poll_ping(t0 + s(5)));
        assert!(!k.poll_ping(t0 + s(6)));
        assert!(k.poll_ping(t0 + s(10)));
        k.on_pong(t0 + s(10));
        assert!(!k.is_dead(t0 + s(25)));
        assert!(k.is_dead(t0 + s(26)));
        assert_eq!(k.deadline(), t0 + s(15));
    }

    #[test]
    fn nonsense_intervals_fall_back_to_defaults() {
        let t0 = clock::now();
        let k = Keepalive::new(0, -3, t0);
        assert_eq!(k.deadline(), t0 + Duration::from_secs(5));
        assert!(!k.is_dead(t0 + Duration::from_secs(15)));
        assert!(k.is_dead(t0 + Duration::from_secs(16)));
    }
}
