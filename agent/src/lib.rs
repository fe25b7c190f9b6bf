//! voice-agent: a LiveKit voice-agent worker.
//!
//! # Layout
//! - [`clock`]: the one place that reads time; everything else gets `now` passed in.
//! - [`config`]: environment → [`config::Config`], all errors at once.
//! - [`livekit`]: the Agents worker (`/agent`), the room participant (signalling, str0m
//!   WebRTC, Opus), the job-handler seam and echo mode.
#![warn(missing_docs)]

pub mod clock;
pub mod config;
pub mod livekit;
