//! [`Providers`]: the one object every session of a worker shares to transcribe, chat and
//! speak, plus what it knows about provider health.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::adapter::Vendor;
use super::chain::Chain;
use super::endpoint::Endpoint;
use super::error::ProviderError;
use super::guard::Guard;
use super::llm::{ChatBounds, ChatDecoder, ChatStream, estimate_prompt_tokens};
use super::metrics::ProviderMetrics;
use super::prompt::{ChatItem, Prompt, ToolChoice};
use super::stream::Started;
use super::tts::{SpeechDecoder, SpeechStream};
use super::{Call, Capability, ChatMessage, ProvidersConfig, Transcription, health, http, stt};
use crate::clock;
use crate::core::breaker::Outcome;
use crate::core::quota::Usage;
use crate::limits::{Limiter, ResilienceMetrics};

/// Building the providers failed.
#[derive(Debug, thiserror::Error)]
pub enum ProvidersError {
    /// The HTTP client could not be built (TLS setup).
    #[error("building the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

/// Guarded STT, LLM and TTS with fallback chains. One per worker (`Arc<Providers>`).
pub struct Providers {
    http: reqwest::Client,
    guard: Arc<Guard>,
    llm: Chain,
    tts: Chain,
    stt: Chain,
    cfg: ProvidersConfig,
}

impl std::fmt::Debug for Providers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Providers")
            .field("llm", &self.llm)
            .field("tts", &self.tts)
            .field("stt", &self.stt)
            .finish()
    }
}

impl Providers {
    /// Builds the chains and the shared HTTP client.
    pub fn new(
        cfg: &ProvidersConfig,
        limiter: Arc<Limiter>,
        metrics: ResilienceMetrics,
        provider_metrics: ProviderMetrics,
    ) -> Result<Self, ProvidersError> {
        let now = clock::now();
        let connect = cfg.llm.timeout.min(cfg.tts.timeout).min(cfg.stt.timeout).min(Duration::from_secs(5));
        let http = http::client(connect)?;
        let b = &cfg.breakers;
        Ok(Self {
            http,
            guard: Arc::new(Guard { limiter, metrics: provider_metrics }),
            llm: Chain::new(Capability::Llm, &cfg.llm, &b.llm, &cfg.retry, &metrics, now),
            tts: Chain::new(Capability::Tts, &cfg.tts, &b.tts, &cfg.retry, &metrics, now),
            stt: Chain::new(Capability::Stt, &cfg.stt, &b.stt, &cfg.retry, &metrics, now),
            cfg: cfg.clone(),
        })
    }

    fn chain(&self, cap: Capability) -> &Chain {
        match cap {
            Capability::Llm => &self.llm,
            Capability::Tts => &self.tts,
            Capability::Stt => &self.stt,
        }
    }

    fn chains(&self) -> [&Chain; 3] {
        [&self.stt, &self.llm, &self.tts]
    }

    /// Some endpoint is configured for `cap`.
    pub fn is_configured(&self, cap: Capability) -> bool {
        self.chain(cap).is_configured()
    }

    /// Some breaker of `cap`'s chain would admit a call now.
    pub fn is_available(&self, cap: Capability, now: Instant) -> bool {
        self.chain(cap).first_available(now).is_some()
    }

    /// A sentence for the LLM's system prompt when something is degraded; `None` when all is well.
    pub fn degraded_summary(&self, now: Instant) -> Option<String> {
        health::summary(&self.chains(), self.guard.limiter.mode(), now)
    }

    /// Per capability and breaker: state, reason, open time left, auth failures (for `/readyz`).
    pub fn readiness(&self, now: Instant) -> serde_json::Value {
        health::readiness(&self.chains(), now)
    }

    /// Some endpoint answered 401/403 and has not succeeded since.
    pub fn auth_failed(&self) -> bool {
        self.chains().iter().flat_map(|c| c.endpoints.iter()).any(|e| e.auth_failed())
    }

    /// Transcribes an utterance (16 kHz mono).
    pub async fn transcribe(
        &self,
        call: &Call,
        pcm_16k_mono: &[i16],
    ) -> Result<Transcription, ProviderError> {
        let millis = pcm_16k_mono.len() as u64 * 1000 / u64::from(stt::STT_RATE);
        let usage = Usage { stt_millis: millis, ..Usage::default() };
        let mut admitted = self.guard.admit(&self.stt, call, usage).await?;
        let wav = stt::wav_bytes(pcm_16k_mono);
        let opts = &self.cfg.stt_options;
        let build = |ep: &Endpoint| ep.vendor.transcription.request(&ep.cfg, &self.http, &wav, opts);
        let opened = self.guard.open(&self.stt, call, &build).await?;
        let ep = std::sync::Arc::clone(opened.lease.endpoint());
        let ct = http::content_type(&opened.resp);
        let body = http::read_bounded(
            opened.resp,
            self.cfg.max_body_bytes,
            self.stt.cfg.timeout,
            call.deadline,
            &call.cancel,
        )
        .await;
        let text = body.and_then(|b| ep.vendor.transcription.parse_answer(&ct, &b));
        let now = clock::now();
        let latency = now.saturating_duration_since(opened.started);
        match text {
            Ok(text) => {
                let outcome = if latency > self.stt.cfg.slow { Outcome::Slow } else { Outcome::Success };
                opened.lease.finish(outcome, now);
                self.guard.metrics.first_byte(Capability::Stt, &ep.name, latency);
                self.guard.metrics.served(Capability::Stt, &ep.name, latency);
                admitted.settlement.settle(&ep.cfg.model, usage).await;
                Ok(Transcription { text, provider: std::sync::Arc::clone(&ep.name), latency })
            }
            Err(f) => {
                self.guard.fail(opened.lease, &f).await;
                admitted.settlement.settle(&ep.cfg.model, usage).await;
                Err(f.into_stream_error(&ep.name))
            }
        }
    }

    /// Starts a streamed chat answer to plain messages (no tools).
    pub async fn chat(&self, call: &Call, messages: &[ChatMessage]) -> Result<ChatStream, ProviderError> {
        let items: Vec<ChatItem> = messages.iter().map(ChatItem::from).collect();
        let prompt = Prompt {
            system: None,
            items: &items,
            tools: &[],
            tool_choice: ToolChoice::Auto,
            follow_up: false,
        };
        self.chat_prompt(call, &prompt).await
    }

    /// Starts a streamed chat answer to a prompt with tools, tool calls and results: read it
    /// with [`ChatStream::next_chunk`]. A follow-up step of a turn is charged its tokens
    /// but not another turn.
    pub async fn chat_prompt(&self, call: &Call, prompt: &Prompt<'_>) -> Result<ChatStream, ProviderError> {
        let prompt_estimate = estimate_prompt_tokens(prompt);
        let usage = Usage {
            turns: u64::from(!prompt.follow_up),
            input_tokens: prompt_estimate,
            output_tokens: u64::from(self.cfg.llm_options.max_tokens),
            ..Usage::default()
        };
        let opts = &self.cfg.llm_options;
        let build = |ep: &Endpoint| ep.vendor.chat.request(&ep.cfg, &self.http, prompt, opts);
        let accepts = |v: &Vendor, ct: &str| v.chat.accepts(ct);
        let started = self.start(&self.llm, call, usage, &build, "an event stream", accepts).await?;
        let chat = started.opened.lease.endpoint().vendor.chat;
        let bounds = ChatBounds::new(self.cfg.llm_options.max_tokens, self.cfg.max_body_bytes);
        let decoder = ChatDecoder::new(chat, bounds, prompt_estimate, usage.turns);
        Ok(ChatStream::new(started, decoder))
    }

    /// Starts streamed speech for one sentence.
    pub async fn speak(&self, call: &Call, text: &str) -> Result<SpeechStream, ProviderError> {
        let usage = Usage { tts_chars: text.chars().count() as u64, ..Usage::default() };
        let opts = &self.cfg.tts_options;
        let build = |ep: &Endpoint| ep.vendor.speech.request(&ep.cfg, &self.http, text, opts);
        let accepts = |v: &Vendor, ct: &str| v.speech.accepts(ct);
        let started = self.start(&self.tts, call, usage, &build, "audio", accepts).await?;
        Ok(SpeechStream::new(started, SpeechDecoder::new(self.cfg.tts_max_audio, usage)))
    }

    /// What every streamed call does first: reserve `usage`, walk the chain until an endpoint
    /// answers, and check that the answer is what a stream of this kind reads.
    async fn start(
        &self,
        chain: &Chain,
        call: &Call,
        usage: Usage,
        build: &(dyn Fn(&Endpoint) -> reqwest::RequestBuilder + Sync),
        expected: &str,
        accepts: fn(&Vendor, &str) -> bool,
    ) -> Result<Started, ProviderError> {
        let admitted = self.guard.admit(chain, call, usage).await?;
        let opened = self.guard.open(chain, call, build).await?;
        let vendor = opened.lease.endpoint().vendor;
        let opened = self.guard.expect_content_type(opened, expected, |ct| accepts(vendor, ct)).await?;
        Ok(Started {
            opened,
            guard: Arc::clone(&self.guard),
            settlement: admitted.settlement,
            cancel: call.cancel.clone(),
            idle: chain.cfg.timeout,
            deadline: call.deadline,
            slow: chain.cfg.slow,
        })
    }
}
