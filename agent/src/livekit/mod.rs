//! LiveKit: the Agents worker protocol and a pure-Rust room participant.
pub mod audio;
pub mod backoff;
pub mod echo;
pub mod job;
pub mod metrics;
pub mod peer;
pub mod room;
pub mod signal;
pub mod token;
pub mod worker;
pub mod ws;
