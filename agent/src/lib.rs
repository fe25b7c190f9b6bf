//! voice-agent: a LiveKit voice-agent worker.
//!
//! # Layout
//! - [`agent`]: agents as code — [`agent::Agent`] (instructions, greeting, tools, hooks), the
//!   conversation with tool calls, the LLM seam and the tool loop.
//! - [`testing`]: a harness that runs an agent turn by turn against a scripted LLM.
//! - [`clock`]: the one place that reads time; everything else gets `now` passed in.
//! - [`config`]: environment (+ `.env`) → [`config::Config`], every error at once.
//! - [`logging`]: text or JSON logs through `tracing`, every line through [`redact`].
//! - [`secret`]: [`secret::Secret`], a credential that prints as `<redacted>`.
//! - [`redact`]: credentials (configured values, JWTs, `Bearer …`, URL passwords) cut out of
//!   log lines.
//! - [`lifecycle`]: shutdown signal, running jobs, drain.
//! - [`heartbeat`]: the runtime's heartbeat that liveness checks.
//! - [`app`]: what the process runs on the async runtime.
//! - [`core`]: sans-IO logic — breakers, GCRA limits, cost, spoken rejections, segmenter.
//! - [`limits`]: limit stores (in-memory, Redis with degraded fallback), stats, metrics.
//! - [`livekit`]: the Agents worker protocol and a pure-Rust room participant (str0m WebRTC,
//!   Opus), echo mode.
//! - [`providers`]: STT, LLM and TTS over OpenAI-compatible HTTP: the guard (limits → breaker
//!   → deadline → one retry), fallback chains, streamed SSE and PCM, degraded-mode summary.
//! - [`session`]: the voice session — turn-taking, barge-in, LLM → sentences → TTS, transcripts,
//!   degraded mode; announced echo mode when no provider is configured.
//! - [`smart_turn`]: semantic end of turn: Smart Turn v3.2 (ort) on Whisper log-mel features
//!   computed in Rust, batched across sessions on its own thread.
//! - [`tools`]: function tools the LLM can call — typed arguments with derived JSON schemas,
//!   a context, parallel runs with time limits, panics caught, metrics.
//! - [`stats`]: `/stats` and the resilience readiness section, bridged to the limiter.
//! - [`vad`]: Silero VAD through ONNX Runtime: model loading, 48→16 kHz resampling,
//!   per-stream windows and state, batched inference across streams.
//! - [`livekit`]: the Agents worker (`/agent`), the room participant (signalling, str0m
//!   WebRTC, Opus), the job-handler seam and echo mode.
#![warn(missing_docs)]

pub mod agent;
pub mod app;
pub mod clock;
pub mod config;
pub mod core;
pub mod env;
pub mod heartbeat;
pub mod lifecycle;
pub mod limits;
pub mod livekit;
pub mod logging;
pub mod providers;
pub mod redact;
pub mod secret;
pub mod session;
pub mod smart_turn;
pub mod stats;
pub mod testing;
pub mod tools;
pub mod vad;
