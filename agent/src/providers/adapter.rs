//! Vendor adapters: what differs between provider APIs — how a request is built and how an
//! answer is read — one trait per capability. Everything else (limits, fallback chains,
//! breakers, deadlines, retries, streaming, cancellation, metrics) is shared and never sees a
//! vendor. Each endpoint carries its [`Vendor`], so a chain may mix vendors (an OpenAI
//! primary, another vendor as fallback).
//!
//! [`OPENAI_COMPATIBLE`] is the vendor so far (OpenAI, Groq, Together, vLLM, llama.cpp,
//! Ollama, faster-whisper and most TTS servers). Another (Deepgram, ElevenLabs, Cartesia,
//! Anthropic) implements these three traits — or those of the capabilities it offers — and
//! gets a [`Vendor`] of its own.

use super::config::{EndpointConfig, LlmOptions, SttOptions, TtsOptions};
use super::error::Failure;
use super::llm::{self, ChunkEvent};
use super::prompt::Prompt;
use super::{stt, tts};

/// Streamed chat completions.
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
    /// One server-sent event's data → text and tool-call deltas, usage, end of answer.
    fn parse_event(&self, data: &str) -> Result<Vec<ChunkEvent>, Failure>;
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

/// The OpenAI API shape: `/chat/completions` (SSE), `/audio/speech` (`pcm`),
/// `/audio/transcriptions` (multipart).
#[derive(Debug, Clone, Copy)]
pub struct OpenAiCompatible;

impl ChatAdapter for OpenAiCompatible {
    fn request(
        &self,
        ep: &EndpointConfig,
        http: &reqwest::Client,
        prompt: &Prompt<'_>,
        opts: &LlmOptions,
    ) -> reqwest::RequestBuilder {
        llm::request(ep, http, prompt, opts)
    }

    fn accepts(&self, content_type: &str) -> bool {
        content_type == "text/event-stream"
    }

    fn parse_event(&self, data: &str) -> Result<Vec<ChunkEvent>, Failure> {
        llm::parse_chunk(data)
    }
}

impl SpeechAdapter for OpenAiCompatible {
    fn request(
        &self,
        ep: &EndpointConfig,
        http: &reqwest::Client,
        text: &str,
        opts: &TtsOptions,
    ) -> reqwest::RequestBuilder {
        tts::request(ep, http, text, opts)
    }

    fn accepts(&self, content_type: &str) -> bool {
        tts::accepts_content_type(content_type)
    }
}

impl TranscriptionAdapter for OpenAiCompatible {
    fn request(
        &self,
        ep: &EndpointConfig,
        http: &reqwest::Client,
        wav: &[u8],
        opts: &SttOptions,
    ) -> reqwest::RequestBuilder {
        stt::request(ep, http, wav, opts)
    }

    fn parse_answer(&self, content_type: &str, body: &[u8]) -> Result<String, Failure> {
        stt::parse_answer(content_type, body)
    }
}

/// The OpenAI-compatible vendor.
pub static OPENAI_COMPATIBLE: Vendor = Vendor {
    name: "openai-compatible",
    chat: &OpenAiCompatible,
    speech: &OpenAiCompatible,
    transcription: &OpenAiCompatible,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_openai_vendor_reads_its_own_answers() {
        let v = &OPENAI_COMPATIBLE;
        assert!(v.chat.accepts("text/event-stream"));
        assert!(!v.chat.accepts("text/html"));
        assert_eq!(
            v.chat.parse_event(r#"{"choices":[{"delta":{"content":"Hi"}}]}"#).unwrap(),
            vec![ChunkEvent::Delta("Hi".into())]
        );
        assert!(v.speech.accepts("audio/pcm"));
        assert!(!v.speech.accepts("application/json"));
        assert_eq!(
            v.transcription.parse_answer("application/json", br#"{"text":"hello"}"#).unwrap(),
            "hello"
        );
        assert!(v.transcription.parse_answer("application/json", b"<html>").is_err());
        assert_eq!(format!("{v:?}"), "openai-compatible");
    }
}
