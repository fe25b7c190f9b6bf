//! The session's seam to the providers: what a turn asks of STT, the LLM and TTS, as one
//! object-safe trait. The guarded [`Providers`] implement it for real; [`super::scripted`]
//! implements it in-process (no sockets) for tests of the session and of agent logic.
//!
//! Streams come back as boxed [`ChatSource`] / [`SpeechSource`]: anything that yields answer
//! pieces ([`ChatChunk`]: text, tool-call deltas, usage) or 48 kHz PCM can stand behind them —
//! the guarded HTTP streams, or a script. A chat request is a whole [`Prompt`]: instructions,
//! the conversation with tool calls and results, the tools offered.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;

use crate::providers::{
    Call, Capability, ChatChunk, ChatStream, Prompt, ProviderError, Providers, SpeechStream, Transcription,
};

/// A streamed LLM answer.
pub trait ChatSource: Send {
    /// The next piece (text or a tool-call delta); `None` at the end. Usage is read with
    /// [`ChatSource::usage`] at the end.
    fn next(&mut self) -> BoxFuture<'_, Option<Result<ChatChunk, ProviderError>>>;
    /// The endpoint that answers (`name` or `chain/name`).
    fn provider(&self) -> Arc<str>;
    /// Request → first token, once it came.
    fn first_token_latency(&self) -> Option<Duration>;
    /// `(prompt, completion)` tokens, once reported.
    fn usage(&self) -> Option<(u32, u32)>;
}

/// Streamed speech for one sentence: mono 48 kHz PCM chunks.
pub trait SpeechSource: Send {
    /// The next chunk; `None` at the end.
    fn next(&mut self) -> BoxFuture<'_, Option<Result<Vec<i16>, ProviderError>>>;
    /// Request → first audio byte, once it came.
    fn first_byte_latency(&self) -> Option<Duration>;
}

/// What a voice session asks of its providers.
pub trait SessionProviders: Send + Sync {
    /// Transcribes an utterance (16 kHz mono).
    fn transcribe<'a>(
        &'a self,
        call: &'a Call,
        pcm: &'a [i16],
    ) -> BoxFuture<'a, Result<Transcription, ProviderError>>;
    /// Starts a streamed answer to `prompt` (a follow-up step of a turn is charged tokens but
    /// no turn).
    fn chat<'a>(
        &'a self,
        call: &'a Call,
        prompt: &'a Prompt<'a>,
    ) -> BoxFuture<'a, Result<Box<dyn ChatSource>, ProviderError>>;
    /// Starts speech for one sentence.
    fn speak<'a>(
        &'a self,
        call: &'a Call,
        text: &'a str,
    ) -> BoxFuture<'a, Result<Box<dyn SpeechSource>, ProviderError>>;
    /// Whether `cap` could serve a call now.
    fn is_available(&self, cap: Capability, now: Instant) -> bool;
    /// A sentence for the system prompt when something is degraded.
    fn degraded_summary(&self, now: Instant) -> Option<String>;
}

impl ChatSource for ChatStream {
    fn next(&mut self) -> BoxFuture<'_, Option<Result<ChatChunk, ProviderError>>> {
        Box::pin(ChatStream::next_chunk(self))
    }
    fn provider(&self) -> Arc<str> {
        ChatStream::provider(self).clone()
    }
    fn first_token_latency(&self) -> Option<Duration> {
        ChatStream::first_token_latency(self)
    }
    fn usage(&self) -> Option<(u32, u32)> {
        ChatStream::usage(self)
    }
}

impl SpeechSource for SpeechStream {
    fn next(&mut self) -> BoxFuture<'_, Option<Result<Vec<i16>, ProviderError>>> {
        Box::pin(SpeechStream::next(self))
    }
    fn first_byte_latency(&self) -> Option<Duration> {
        SpeechStream::first_byte_latency(self)
    }
}

impl SessionProviders for Providers {
    fn transcribe<'a>(
        &'a self,
        call: &'a Call,
        pcm: &'a [i16],
    ) -> BoxFuture<'a, Result<Transcription, ProviderError>> {
        Box::pin(Providers::transcribe(self, call, pcm))
    }
    fn chat<'a>(
        &'a self,
        call: &'a Call,
        prompt: &'a Prompt<'a>,
    ) -> BoxFuture<'a, Result<Box<dyn ChatSource>, ProviderError>> {
        Box::pin(async move {
            let stream = Providers::chat_prompt(self, call, prompt).await?;
            Ok(Box::new(stream) as Box<dyn ChatSource>)
        })
    }
    fn speak<'a>(
        &'a self,
        call: &'a Call,
        text: &'a str,
    ) -> BoxFuture<'a, Result<Box<dyn SpeechSource>, ProviderError>> {
        Box::pin(async move {
            let stream = Providers::speak(self, call, text).await?;
            Ok(Box::new(stream) as Box<dyn SpeechSource>)
        })
    }
    fn is_available(&self, cap: Capability, now: Instant) -> bool {
        Providers::is_available(self, cap, now)
    }
    fn degraded_summary(&self, now: Instant) -> Option<String> {
        Providers::degraded_summary(self, now)
    }
}
