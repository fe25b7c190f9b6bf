//! voice-agent: a LiveKit voice-agent worker.
//!
//! # Layout
//! - [`clock`]: the one place that reads time; everything else gets `now` passed in.
#![warn(missing_docs)]

pub mod clock;
