//! Liveness, readiness and metrics over HTTP, served from plain `std` threads.
//!
//! The agent's async runtime may be saturated or wedged; the orchestrator must still get an
//! honest answer. So this crate has no tokio inside: a small HTTP/1.1 server runs on its own
//! fixed set of threads and only reads atomics and snapshots that the agent publishes into
//! [`Health`]. No client can take it down: heads are bounded, bodies refused by declaration,
//! every request has one deadline, no connection holds a thread, and dead threads restart.
//!
//! # Layout
//! - [`state`]: [`Health`], the shared handle — heartbeat, readiness components, drain latch,
//!   extra readiness sections, the `/stats` source and the metrics registry.
//! - [`access`]: who may read `/stats` (everyone, a bearer token, nobody).
//! - [`routes`]: request → reply, pure, testable without sockets.
//! - [`process`]: process metrics read from `/proc` at scrape time.
//! - [`head`]: request heads parsed within limits (httparse), replies encoded.
//! - `conn`: one connection's state machine (bytes in, requests and reply bytes out).
//! - `event_loop`: accept, read, write and deadlines on non-blocking sockets (mio's poller).
//! - `pool`: the fixed worker threads; probes before metrics and stats.
//! - `supervisor`: restarts dead health threads.
//! - [`counters`]: the server's own counters, in `/metrics`.
//! - [`server`]: [`HealthServer`] wires them together.
//! - [`probe`]: the client behind `voice-agent healthcheck` (no curl needed in the image).
#![warn(missing_docs)]

pub mod access;
mod clock;
mod conn;
pub mod counters;
mod event_loop;
pub mod head;
mod pool;
pub mod probe;
pub mod process;
pub mod routes;
pub mod server;
pub mod state;
mod supervisor;

pub use server::{HealthServer, ServerOptions};
pub use state::{Component, Health, JsonSource, StatsSource};
