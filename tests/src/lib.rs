//! Helpers for integration tests against real components started by the tests themselves.
//!
//! - [`redis`]: a redis-server on a free port that a test can stop and restart.
//! - [`local_stack`]: the offline local STT/LLM/TTS engines (`scripts/local-stack`) on free
//!   ports, with kill/restart per engine and the agent's env for them.
//! - [`livekit`]: a livekit-server on free ports, the real Python LiveKit client, a scripted
//!   fake peer, test speech and its comparison, our worker run in-process.

pub mod livekit;
pub mod local_stack;
pub mod redis;
