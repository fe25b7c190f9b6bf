//! The one place that reads time.
//!
//! Everything else receives `now` as an argument (sans-IO), so logic can be driven by a
//! hand-made clock in tests and stays deterministic. Wall-clock time is only needed for
//! UTC-day accounting (cost caps, daily limits) and log timestamps.

#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Monotonic time, for deadlines, breakers and rate limits.
pub fn now() -> Instant {
    Instant::now()
}

/// Wall-clock time since the Unix epoch, for UTC-day accounting.
pub fn unix_now() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO)
}
