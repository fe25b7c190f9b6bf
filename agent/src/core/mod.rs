//! Sans-IO logic: breakers, rate limits, cost, spoken rejections, the speech segmenter.
//!
//! Nothing here reads the clock, touches the network or spawns tasks: time comes in as an
//! argument, decisions come out as values. The IO side (stores, Redis, metrics) lives in
//! [`crate::limits`].
//!
//! - [`breaker`]: the circuit breaker state machine ([`breaker_config`], [`breaker_window`]).
//! - [`retry_after`]: parsing 429 hints (`Retry-After`, `retry-after-ms`, `x-ratelimit-reset-*`).
//! - [`quota`]: scopes, units, windows, usage and the configured limits.
//! - [`gcra`]: the token-bucket arithmetic; [`ledger`]: per-entity counters and the
//!   all-or-nothing decision across scopes.
//! - [`carry`]: the shared store's state carried into local decisions and merged back;
//!   [`fleet`]: the number of workers sharing the limits, held against dips.
//! - [`cost`]: the price table and cost in micro-USD; [`transcript`]: the length cap.
//! - [`messages`]: the sentences a user hears when a limit says no.
//! - [`retry`]: retryable statuses, full-jitter delay, retry budget.
//! - [`jitter`]: a seeded random source for open-time and retry jitter.
//! - [`segmenter`]: VAD probabilities → utterances (hysteresis, min speech/silence, padding).
//! - [`turn`]: turn-taking — endpointing, barge-in, several speakers; [`turn::barge`]: which barge-ins
//!   are real (false interruptions resume); [`away`]: checking on a quiet user; [`endpoint`]: how long
//!   a pause must last, given the end-of-turn model's verdict.
//! - [`turn::preempt`]: preemptive replies — started at the pause, played once the turn is confirmed.
//! - [`sentences`]: the streamed LLM answer cut into sentences for TTS.
//! - [`chat_item`]: one item of a conversation (message, tool call, tool result).
//! - [`history`]: the conversation within a token budget; what was heard of an interrupted answer.
//! - [`tool_calls`]: streamed tool-call deltas put back together into whole calls, bounded.
//! - [`wait_budget`]: how long a provider may keep a turn waiting for the rest of a response.

pub mod away;
pub mod breaker;
pub mod breaker_config;
pub mod breaker_window;
pub mod capability;
pub mod carry;
pub mod chat_item;
pub mod cost;
pub mod endpoint;
pub mod fleet;
pub mod gcra;
pub mod history;
pub mod jitter;
pub mod ledger;
pub mod messages;
pub mod quota;
pub mod retry;
pub mod retry_after;
pub mod segmenter;
pub mod sentences;
pub mod tool_calls;
pub mod transcript;
pub mod turn;
pub mod wait_budget;
