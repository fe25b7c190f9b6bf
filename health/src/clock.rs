//! The health crate's only clock read: milliseconds on a monotonic clock since a fixed origin.

#![allow(clippy::disallowed_methods)]

use std::sync::OnceLock;
use std::time::Instant;

static ORIGIN: OnceLock<Instant> = OnceLock::new();

/// Monotonic milliseconds since the first call in this process.
pub(crate) fn mono_ms() -> u64 {
    let origin = *ORIGIN.get_or_init(Instant::now);
    u64::try_from(origin.elapsed().as_millis()).unwrap_or(u64::MAX)
}
