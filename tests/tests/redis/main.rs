//! Shared limits against a real redis-server started by each test: limiters as several
//! workers share limits exactly, degrade within one decision, and stay bounded through kills,
//! empty restarts and stalls of Redis.
//!
//! `cargo test -p voice-agent-tests --test redis` (`-- --nocapture` prints the outage figures)

mod limits_outage;
mod limits_shared;
