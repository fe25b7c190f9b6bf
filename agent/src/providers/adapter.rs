//! Vendor adapters: what differs between provider APIs — how a request is built and how an
//! answer is read — one trait per capability. Everything else (limits, fallback chains,
//! breakers, deadlines, retries, streaming, cancellation, metrics) is shared and never sees a
//! vendor. Each endpoint carries its [`Vendor`], so a chain may mix vendors (an OpenAI
//! primary, another vendor as fallback).
//!
//! The vendor so far is [`super::openai`] (OpenAI, Groq, Together, vLLM, llama.cpp, Ollama,
//! faster-whisper and most TTS servers). Another (Deepgram, ElevenLabs, Cartesia, Anthropic)
//! is one file implementing these traits — or those of the capabilities it offers — with a
//! [`Vendor`] of its own, plus a line in `endpoint::vendor_for`.

use super::config::{EndpointConfig, LlmOptions, SttOptions, TtsOptions};
use super::error::Failure;
use super::prompt::{ChatEvent, Prompt};

/// Streamed chat completions: the answer is a stream of server-sent events.
pub trait ChatAdapter: Send + Sync {
    /// The streaming request for `prompt` (messages, tool calls and results, tools offered).
    fn request(
        &self,
        ep: &EndpointConfig,
        http: &reqwest::Client,
        prompt: &Prompt<'_>,
        opts: &LlmOptions,
    ) -> reqwest::RequestBuilder;
    /// Whether a successful answer with this content type is the event stream.
    fn accepts(&self, content_type: &str) -> bool;
    /// One server-sent event's data → text deltas, tool-call pieces, usage, end of answer.
    fn parse_event(&self, data: &str) -> Result<Vec<ChatEvent>, Failure>;
}

/// Streamed speech: the answer body is 24 kHz mono s16le PCM.
pub trait SpeechAdapter: Send + Sync {
    /// The request speaking `text`.
    fn request(
        &self,
        ep: &EndpointConfig,
        http: &reqwest::Client,
        text: &str,
        opts: &TtsOptions,
    ) -> reqwest::RequestBuilder;
    /// Whether a successful answer with this content type is audio.
    fn accepts(&self, content_type: &str) -> bool;
}

/// Transcription of one utterance, sent as a 16 kHz WAV.
pub trait TranscriptionAdapter: Send + Sync {
    /// The request carrying `wav`.
    fn request(
        &self,
        ep: &EndpointConfig,
        http: &reqwest::Client,
        wav: &[u8],
        opts: &SttOptions,
    ) -> reqwest::RequestBuilder;
    /// The transcript out of a successful answer.
    fn parse_answer(&self, content_type: &str, body: &[u8]) -> Result<String, Failure>;
}

/// One vendor's adapters.
pub struct Vendor {
    /// Its name in logs.
    pub name: &'static str,
    /// Chat completions.
    pub chat: &'static dyn ChatAdapter,
    /// Speech.
    pub speech: &'static dyn SpeechAdapter,
    /// Transcription.
    pub transcription: &'static dyn TranscriptionAdapter,
}

impl std::fmt::Debug for Vendor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}
