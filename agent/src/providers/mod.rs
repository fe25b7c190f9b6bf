//! Paid speech and language APIs — STT, LLM, TTS — over OpenAI-compatible HTTP, every call
//! guarded, every capability a fallback chain, and a health summary for degraded mode.
//!
//! The session calls [`Providers`]: [`Providers::transcribe`], [`Providers::chat`] (a
//! [`ChatStream`] of text deltas) and [`Providers::speak`] (a [`SpeechStream`] of 48 kHz PCM).
//! Each call passes the guard ([`guard`]): limits → breaker → deadline → ≤ 1 retry →
//! classification, walking the chain ([`chain`]) until an endpoint serves.
//!
//! - [`config`]: `LLM_*`, `TTS_*`, `STT_*` and `*_FALLBACK_{1..3}_*` → [`ProvidersConfig`];
//!   [`resilience_config`]: `BREAKER_*` and `RETRY_*` into it.
//! - [`facade`]: [`Providers`], the one object sessions share.
//! - [`guard`], [`chain`], `endpoint`: the guard, fallback chains, per-endpoint breakers.
//! - [`http`]: one attempt (deadline, cancellation, status → failure, rate-limit headers).
//! - [`adapter`]: one trait per capability for what differs between vendors (request, answer
//!   decoding), chosen per endpoint; [`openai`]: the OpenAI-compatible vendor, the one so far.
//! - `stream`: the one guarded stream (lease, first-output latency, outcome, metrics,
//!   settlement, drop) behind [`ChatStream`] ([`llm`]: SSE events → [`ChatChunk`]s) and
//!   [`SpeechStream`] ([`tts`]: 24 kHz PCM → 48 kHz); [`stt`]: the WAV every vendor is sent.
//! - [`prompt`]: what a chat request carries (conversation items with tool calls and results,
//!   tools offered) and what its stream yields ([`ChatChunk`]), vendor-neutral.
//! - [`sse`]: the incremental SSE parser; [`pcm`]: bytes → samples and 24 → 48 kHz.
//! - [`health`]: the degraded-mode summary and `/readyz` JSON.
//! - [`error`]: [`ProviderError`]; [`metrics`]: [`ProviderMetrics`]; `settle`: limiter
//!   settlement that survives a dropped stream.

pub mod adapter;
pub mod chain;
pub mod config;
pub(crate) mod endpoint;
pub mod error;
pub mod facade;
pub mod guard;
pub mod health;
pub mod http;
pub mod llm;
pub mod metrics;
pub mod openai;
pub mod pcm;
pub mod prompt;
pub mod resilience_config;
pub(crate) mod settle;
pub mod sse;
pub(crate) mod stream;
pub mod stt;
pub mod tts;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

pub use config::{CapabilityConfig, EndpointConfig, ProvidersConfig};
pub use error::ProviderError;
pub use facade::{Providers, ProvidersError};
pub use llm::ChatStream;
pub use metrics::{ProviderMetrics, register_metrics};
pub use prompt::{ChatChunk, ChatEvent, ChatItem, Prompt, ToolChoice, ToolSpec};
pub use tts::SpeechStream;

pub use crate::core::capability::Capability;

/// Who a call is for and how long it may take.
#[derive(Debug, Clone)]
pub struct Call {
    /// Participant identity (limits).
    pub participant: Arc<str>,
    /// Room name (limits).
    pub room: Arc<str>,
    /// The turn's deadline: no response may start after it.
    pub deadline: Instant,
    /// Cancels the call (barge-in, superseded turn); counted as "ignored", never a failure.
    pub cancel: CancellationToken,
}

/// A chat message's author.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Instructions.
    System,
    /// The human.
    User,
    /// The agent.
    Assistant,
}

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    /// Who said it.
    pub role: Role,
    /// What was said.
    pub content: String,
}

/// A transcription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transcription {
    /// The text (trimmed).
    pub text: String,
    /// The endpoint that served it.
    pub provider: Arc<str>,
    /// Request to answer.
    pub latency: Duration,
}
