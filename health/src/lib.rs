//! Liveness, readiness and metrics over HTTP, served from plain `std` threads.
//!
//! The agent's async runtime may be saturated or wedged; the orchestrator must still get an
//! honest answer. So this crate has no tokio inside: a [`tiny_http`] server runs on its own
//! threads and only reads atomics and snapshots that the agent publishes into [`Health`].
//!
//! # Layout
//! - [`state`]: [`Health`], the shared handle — heartbeat, readiness components, drain latch,
//!   extra readiness sections, the `/stats` source and the metrics registry.
//! - [`routes`]: request → reply, pure, testable without sockets.
//! - [`process`]: process metrics read from `/proc` at scrape time.
//! - [`server`]: the tiny_http server: timeouts, fixed worker threads, restart on accept errors.
//! - [`probe`]: the client behind `voice-agent healthcheck` (no curl needed in the image).
#![warn(missing_docs)]

mod clock;
pub mod probe;
pub mod process;
pub mod routes;
pub mod server;
pub mod state;

pub use server::{HealthServer, ServerOptions};
pub use state::{Component, Health, JsonSource, StatsSource};
