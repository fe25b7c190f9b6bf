//! voice-agent: a LiveKit voice-agent worker.
//!
//! # Layout
//! - [`clock`]: the one place that reads time; everything else gets `now` passed in.
//! - [`config`]: environment → [`config::Config`], all errors at once.
//! - [`core`]: sans-IO logic; [`core::segmenter`] cuts VAD probabilities into utterances.
//! - [`vad`]: Silero VAD through ONNX Runtime: model loading, 48→16 kHz resampling,
//!   per-stream windows and state, batched inference across streams.
#![warn(missing_docs)]

pub mod clock;
pub mod config;
pub mod core;
pub mod vad;
