//! Helpers for integration tests against real components started by the tests themselves.
//!
//! - [`binary`]: the agent binary as a child process, GETs to its health server, its `/proc`.
//! - [`hostile`]: hostile and honest HTTP clients for the health port (fuzz test, benchmark).
//! - [`fake_openai`]: a fake OpenAI-compatible provider (chat SSE, speech PCM, transcriptions)
//!   with scripted faults, a request log and connection counters.
//! - [`redis`]: a redis-server on a free port that a test can stop and restart.
//! - [`local_stack`]: the offline local STT/LLM/TTS engines (`scripts/local-stack`) on free
//!   ports, with kill/restart per engine and the agent's env for them.
//! - [`livekit`]: a livekit-server on free ports, the real Python LiveKit client, a scripted
//!   fake peer, test speech and its comparison, our worker run in-process.
//! - [`load`]: simulated users for load runs, on the project's own Rust participant.
//! - [`net`]: free loopback ports.
//! - [`serial`]: one heavy end-to-end test at a time inside a test binary.

pub mod binary;
pub mod fake_openai;
pub mod hostile;
pub mod livekit;
pub mod load;
pub mod local_stack;
pub mod net;
pub mod redis;
pub mod serial;
