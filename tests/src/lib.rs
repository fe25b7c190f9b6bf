//! Helpers for integration tests against real components started by the tests themselves.
//!
//! - [`redis`]: a redis-server on a free port that a test can stop and restart.
//! - [`livekit`]: livekit-server in dev mode on free ports, and the real Python client.

pub mod livekit;
pub mod redis;
