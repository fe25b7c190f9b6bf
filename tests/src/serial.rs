//! One heavy end-to-end test at a time inside a test binary.
//!
//! Cargo runs the tests of one binary on several threads. The end-to-end tests (a
//! livekit-server, Python clients, the VAD, the local engines) each want the machine's cores
//! to themselves, and some read process-wide metrics (`session::metrics().sessions`) that
//! another session test would move. Each such test holds [`heavy`] (or [`heavy_blocking`])
//! for its whole run; light tests in the same binary still run beside it. The lock is
//! tokio's, so a failed test does not poison it for the next one.

use tokio::sync::{Mutex, MutexGuard};

static HEAVY: Mutex<()> = Mutex::const_new(());

/// Waits until no other heavy test of this binary runs; hold the guard to the test's end.
pub async fn heavy() -> MutexGuard<'static, ()> {
    HEAVY.lock().await
}

/// [`heavy`] for a plain `#[test]` (not inside an async runtime).
pub fn heavy_blocking() -> MutexGuard<'static, ()> {
    HEAVY.blocking_lock()
}
