//! Helpers for integration tests against real components started by the tests themselves.
//!
//! - [`redis`]: a redis-server on a free port that a test can stop and restart.

pub mod redis;
