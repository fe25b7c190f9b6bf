//! In-process integration tests: nothing to start but what the test itself runs — the fake
//! OpenAI-compatible provider, the health server, ONNX Runtime with the real Silero and Smart
//! Turn models, sox, and the agent binary without a LiveKit server. Quick, and safe to run in
//! parallel.
//!
//! `cargo test -p voice-agent-tests --test inprocess`

mod agent_tools;
mod binary_cli;
mod deploy_files;
mod health_server;
mod pipeline_guards;
mod providers_audio;
mod providers_bounds;
mod providers_common;
mod providers_fake;
mod providers_llm;
mod providers_resilience;
mod session_preempt;
mod smart_turn_golden;
mod vad_48k;
mod vad_batch;
mod vad_common;
mod vad_golden;
mod vad_input;
