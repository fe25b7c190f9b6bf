//! The one place that reads time.
//!
//! Everything else receives `now` as an argument (sans-IO), so logic can be driven by a
//! hand-made clock in tests and stays deterministic. Wall-clock time is only needed for
//! UTC-day accounting (cost caps, daily limits) and log timestamps.
//!
//! Monotonic time is tokio's clock: outside a runtime, or in a runtime whose time runs, it is
//! `std::time::Instant::now()`; inside a runtime with paused time (`tokio::time::pause`, or
//! `#[tokio::test(start_paused = true)]`) it is the paused clock, which the runtime advances
//! when every task waits on a timer. So the session's reads of `now` and its sleeps stay on
//! one timeline, and a test drives a whole conversation in milliseconds of real time.

#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Monotonic time, for deadlines, breakers and rate limits (tokio's clock; see the module
/// docs).
pub fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// Wall-clock time since the Unix epoch, for UTC-day accounting.
pub fn unix_now() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO)
}
