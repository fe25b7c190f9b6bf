//! Helpers for integration tests against real components started by the tests themselves.
//!
//! - [`redis`]: a redis-server on a free port that a test can stop and restart.
//! - [`livekit`]: a livekit-server on free ports, the real Python LiveKit client, a scripted
//!   fake peer, test speech and its comparison, our worker run in-process.

pub mod livekit;
pub mod redis;
