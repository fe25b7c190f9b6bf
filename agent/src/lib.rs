//! voice-agent: a LiveKit voice-agent worker.
//!
//! # Layout
//! In the order audio flows, then what steers it and what starts it; each module once.
//! - [`livekit`]: the Agents worker (`/agent`: registration, offers, assignments), the room
//!   participant (signalling, str0m WebRTC, Opus in and paced Opus out, data packets and text
//!   streams), the job-handler seam and echo mode.
//! - [`vad`]: Silero VAD through ONNX Runtime: model loading, 48→16 kHz resampling,
//!   per-stream windows and state, batched inference across streams.
//! - [`smart_turn`]: semantic end of turn: Smart Turn v3.2 (ort) on Whisper log-mel features
//!   computed in Rust, batched across sessions on its own thread.
//! - [`session`]: the voice session — turn-taking, barge-in, STT → LLM → sentences → TTS,
//!   transcripts, degraded mode; announced echo mode when no provider is configured.
//! - [`agent`]: agents as code — [`agent::Agent`] (instructions, greeting, tools, hooks), the
//!   conversation with tool calls, the LLM seam and the tool loop.
//! - [`tools`]: function tools the LLM can call — typed arguments with derived JSON schemas,
//!   a context, parallel runs with time limits, panics caught, metrics.
//! - [`providers`]: STT, LLM and TTS per vendor (OpenAI-compatible HTTP so far) behind one
//!   guard (limits → breaker → deadline → one retry), fallback chains, streamed SSE and PCM,
//!   degraded-mode summary.
//! - [`pipeline`]: the providers, VAD, turn detection and limits a session runs, chosen in
//!   code ([`pipeline::Pipeline::builder`]) or from the environment through the same builder;
//!   typed errors for every mistake.
//! - [`limits`]: limit stores (in-memory, Redis with degraded fallback), stats, metrics.
//! - [`core`]: sans-IO logic — breakers, GCRA limits, cost, spoken rejections, segmenter,
//!   turn-taking, sentences, history; time comes in as an argument.
//! - [`clock`]: the one place that reads time.
//! - [`env`](mod@env): the environment (+ `.env`) read into typed values, every mistake collected.
//! - [`config`]: the configuration edge — every subsystem's settings → [`config::Config`].
//! - [`app`]: what the process runs on the async runtime; [`lifecycle`]: shutdown signal,
//!   running jobs, drain; [`heartbeat`]: the runtime's heartbeat that liveness checks.
//! - [`stats`]: `/stats` and the resilience readiness section, bridged to the limiter.
//! - [`logging`]: text or JSON logs through `tracing`, every line through [`redact`].
//! - [`secret`]: [`secret::Secret`], a credential that prints as `<redacted>`; [`redact`]:
//!   credentials (configured values, JWTs, `Bearer …`, URL passwords) cut out of log lines.
//! - [`testing`]: a harness that runs an agent turn by turn against a scripted LLM.
//! - [`worker`]: the entry point — `worker::run(config, |job| MyAgent::new(job))` is a whole
//!   `main`: configuration, logs, health server, runtime, the LiveKit worker, signals, drain.
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
pub mod pipeline;
pub mod providers;
pub mod redact;
pub mod secret;
pub mod session;
pub mod settings;
pub mod smart_turn;
pub mod stats;
pub mod testing;
pub mod tools;
pub mod vad;
pub mod worker;
