//! LiveKit: the Agents worker protocol and a pure-Rust room participant.
//!
//! Built on the SDK's pure crates (`livekit-protocol` for the protobuf messages,
//! `livekit-api` for access tokens), `tokio-tungstenite` for both WebSockets, `str0m`
//! (sans-IO WebRTC) for the two PeerConnections, and libopus for audio.
//!
//! # Layout
//! - [`worker`]: `/agent` connection — register, availability within a hard capacity cap,
//!   assignments, status reports, reconnect with backoff, drain. Entry: [`worker::run_worker`].
//! - [`job`]: the seam to the rest of the agent — [`job::JobHandler`] gets a joined room.
//! - [`room`]: the participant — [`room::join`] returns a [`room::Room`]: events with
//!   per-participant PCM streams, an [`room::AudioSink`] (stop-now, played count), data.
//! - [`signal`]: `/rtc` signalling requests, join handshake, keepalive, trickle candidates.
//! - [`peer`]: one str0m PeerConnection plus its UDP socket; SDP labels.
//! - [`audio`]: Opus codec, loss bridging, real-time playout pacing, audio level.
//! - [`echo`]: echo mode (`AGENT_MODE=echo`), the first job handler.
//! - [`ws`], [`token`], [`backoff`], [`metrics`]: protobuf WebSocket, JWTs and URLs,
//!   jittered backoff, Prometheus metrics.

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
