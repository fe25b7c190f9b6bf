//! voice-agent: a LiveKit voice-agent worker.
//!
//! # Layout
//! - [`clock`]: the one place that reads time; everything else gets `now` passed in.
//! - [`config`]: environment → [`config::Config`], all errors at once.
//! - [`core`]: sans-IO resilience logic — breakers, GCRA limits, cost, spoken rejections.
//! - [`limits`]: limit stores (in-memory, Redis with degraded fallback), stats, metrics.
#![warn(missing_docs)]

pub mod clock;
pub mod config;
pub mod core;
pub mod limits;
