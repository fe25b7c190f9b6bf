//! voice-agent: a LiveKit voice-agent worker.
//!
//! # Layout
//! - [`clock`]: the one place that reads time; everything else gets `now` passed in.
//! - [`config`]: environment (+ `.env`) → [`config::Config`], every error at once.
//! - [`logging`]: text or JSON logs through `tracing`.
//! - [`lifecycle`]: shutdown signal, running jobs, drain.
//! - [`heartbeat`]: the runtime's heartbeat that liveness checks.
//! - [`app`]: what the process runs on the async runtime.
#![warn(missing_docs)]

pub mod app;
pub mod clock;
pub mod config;
pub mod heartbeat;
pub mod lifecycle;
pub mod logging;
