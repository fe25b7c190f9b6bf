//! The voice pipeline a session runs, chosen in code: STT, LLM and TTS endpoints with their
//! fallbacks, request options and timeouts, the VAD, turn detection, and the limits and
//! cost caps that guard every provider call.
//!
//! [`Pipeline::builder`] starts from the defaults; `config.pipeline.to_builder()` starts from
//! what the environment chose (the operator's path, [`crate::config::Config`], reads the
//! environment into this same builder). Either way [`PipelineBuilder::build`] checks every
//! choice against one set of rules and returns every mistake at once as typed
//! [`PipelineError`]s — a bad URL, a zero limit, a `NaN` — never a panic. The result is the
//! one thing the worker builds its providers, limiter, VAD and turn detection from, so the
//! breakers, retries, token buckets and cost caps guard code-chosen providers exactly as they
//! guard those of the environment.
//!
//! ```
//! use std::time::Duration;
//! use voice_agent::core::quota::{Scope, Unit, Window};
//! use voice_agent::pipeline::{Limits, OpenAiCompatible, Pipeline, PipelineError, TurnDetection, VadSettings};
//! use voice_agent::providers::Capability;
//!
//! let local = "http://127.0.0.1:8080/v1";
//! let pipeline = Pipeline::builder()
//!     .llm(OpenAiCompatible::new("https://api.openai.com/v1").model("gpt-4o-mini").api_key("sk-…"))
//!     .llm_fallback(OpenAiCompatible::new(local).model("qwen2.5-1.5b-instruct"))
//!     .stt(OpenAiCompatible::new("http://127.0.0.1:8000/v1").model("whisper-1"))
//!     .tts(OpenAiCompatible::new("http://127.0.0.1:8880/v1").model("kokoro"))
//!     .tts_voice("af_heart")
//!     .llm_temperature(0.3)
//!     .timeout(Capability::Llm, Duration::from_secs(5))
//!     .vad(VadSettings { activation_threshold: 0.6, ..VadSettings::default() })
//!     .turn_detection(TurnDetection::Vad)
//!     .limits(Limits::default().limit(Scope::Participant, Unit::Turns, Window::Minute, 10))
//!     .build()
//!     .expect("valid choices");
//! assert_eq!(pipeline.providers().llm.endpoints.len(), 2);
//! assert_eq!(pipeline.smart_endpointing(), None, "turns end on silence alone");
//!
//! // Mistakes come back typed, all at once.
//! let errors = Pipeline::builder()
//!     .llm(OpenAiCompatible::new("api.openai.com"))
//!     .llm_temperature(f32::NAN)
//!     .limits(Limits::default().limit(Scope::Room, Unit::Turns, Window::Minute, 0))
//!     .build()
//!     .unwrap_err();
//! assert!(matches!(errors.0[..], [
//!     PipelineError::BadUrl { .. },
//!     PipelineError::OutOfRange { .. },
//!     PipelineError::ZeroLimit { .. },
//! ]));
//! ```
//!
//! - [`endpoint`]: [`OpenAiCompatible`] and a capability's chain of them.
//! - [`limits`](mod@limits): [`Limits`], quotas and cost caps in code.
//! - [`check`]: the rules, and the number ranges the environment edge reads with.
//! - [`error`]: [`PipelineError`], [`PipelineErrors`], the [`Setting`] each is about.

pub mod check;
pub mod endpoint;

pub use crate::settings::{error, limits};

use std::time::Duration;

pub use endpoint::OpenAiCompatible;
pub use error::{PipelineError, PipelineErrors, Setting};
pub use limits::Limits;

pub use crate::core::breaker_config::BreakerConfig;
pub use crate::core::endpoint::SmartEndpointing;
pub use crate::core::retry::RetryConfig;
pub use crate::smart_turn::TurnDetection;
pub use crate::vad::config::VadSettings;

use crate::limits::LimitsConfig;
use crate::providers::{Capability, ProvidersConfig};
use crate::smart_turn::TurnDetectionConfig;
use crate::vad::VadConfig;
use endpoint::ChainChoice;

/// Checked choices of providers, VAD, turn detection and limits: what the worker builds its
/// sessions from. Made by [`PipelineBuilder::build`] (or [`Pipeline::default`]: no provider,
/// the default VAD, Smart Turn, the seed limits).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pipeline {
    providers: ProvidersConfig,
    vad: VadSettings,
    turn: TurnDetectionConfig,
    limits: LimitsConfig,
}

impl Pipeline {
    /// A builder starting from the defaults.
    pub fn builder() -> PipelineBuilder {
        Pipeline::default().to_builder()
    }

    /// A builder starting from these choices (e.g. the environment's, in
    /// `config.pipeline`), to override some in code.
    pub fn to_builder(&self) -> PipelineBuilder {
        let p = &self.providers;
        PipelineBuilder {
            chains: [
                ChainChoice::of(&p.stt.endpoints),
                ChainChoice::of(&p.llm.endpoints),
                ChainChoice::of(&p.tts.endpoints),
            ],
            providers: p.clone(),
            vad: self.vad,
            turn: self.turn.clone(),
            limits: self.limits.clone(),
            pending: Vec::new(),
        }
    }

    /// STT, LLM and TTS endpoints, options, timeouts, breakers and retries.
    pub fn providers(&self) -> &ProvidersConfig {
        &self.providers
    }

    /// The VAD as chosen.
    pub fn vad_settings(&self) -> &VadSettings {
        &self.vad
    }

    /// The VAD as it runs (its silence wait resolved for the turn detection).
    pub fn vad(&self) -> VadConfig {
        self.vad.resolve(self.turn.mode == TurnDetection::Smart)
    }

    /// Turn detection: the mode, Smart Turn's model and how it runs.
    pub fn turn(&self) -> &TurnDetectionConfig {
        &self.turn
    }

    /// How the session uses Smart Turn's answers; `None` with [`TurnDetection::Vad`].
    pub fn smart_endpointing(&self) -> Option<SmartEndpointing> {
        (self.turn.mode == TurnDetection::Smart).then_some(self.turn.endpointing)
    }

    /// Limits, cost caps, prices, spoken rejections, the shared store.
    pub fn limits(&self) -> &LimitsConfig {
        &self.limits
    }
}

/// Chooses a [`Pipeline`] step by step; see the [module docs](self). Nothing is checked until
/// [`PipelineBuilder::build`].
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until built"]
pub struct PipelineBuilder {
    /// Options, timeouts, breakers, retries (the endpoints come from `chains`).
    providers: ProvidersConfig,
    /// Indexed like [`Capability::ALL`]: STT, LLM, TTS.
    chains: [ChainChoice; 3],
    vad: VadSettings,
    turn: TurnDetectionConfig,
    limits: LimitsConfig,
    /// Mistakes found while choosing (in [`Limits`]).
    pending: Vec<PipelineError>,
}

fn index(cap: Capability) -> usize {
    match cap {
        Capability::Stt => 0,
        Capability::Llm => 1,
        Capability::Tts => 2,
    }
}

impl PipelineBuilder {
    /// The primary endpoint of `cap`; fallbacks chosen before are forgotten (a chain chosen
    /// in code replaces the environment's whole chain).
    pub fn primary(mut self, cap: Capability, endpoint: OpenAiCompatible) -> Self {
        self.chains[index(cap)] = ChainChoice { primary: Some(endpoint), fallbacks: Vec::new() };
        self
    }

    /// A fallback of `cap`, tried after the primary and the fallbacks before it.
    pub fn fallback(mut self, cap: Capability, endpoint: OpenAiCompatible) -> Self {
        self.chains[index(cap)].fallbacks.push(endpoint);
        self
    }

    /// No endpoint for `cap` (with none for any capability, the worker runs announced echo).
    pub fn without(mut self, cap: Capability) -> Self {
        self.chains[index(cap)] = ChainChoice::default();
        self
    }

    /// The primary LLM ([`PipelineBuilder::primary`]).
    pub fn llm(self, endpoint: OpenAiCompatible) -> Self {
        self.primary(Capability::Llm, endpoint)
    }

    /// An LLM fallback.
    pub fn llm_fallback(self, endpoint: OpenAiCompatible) -> Self {
        self.fallback(Capability::Llm, endpoint)
    }

    /// The primary STT.
    pub fn stt(self, endpoint: OpenAiCompatible) -> Self {
        self.primary(Capability::Stt, endpoint)
    }

    /// An STT fallback.
    pub fn stt_fallback(self, endpoint: OpenAiCompatible) -> Self {
        self.fallback(Capability::Stt, endpoint)
    }

    /// The primary TTS.
    pub fn tts(self, endpoint: OpenAiCompatible) -> Self {
        self.primary(Capability::Tts, endpoint)
    }

    /// A TTS fallback.
    pub fn tts_fallback(self, endpoint: OpenAiCompatible) -> Self {
        self.fallback(Capability::Tts, endpoint)
    }

    /// `max_tokens` of each LLM request (300; 1–100 000); also what limits reserve.
    pub fn llm_max_tokens(mut self, max_tokens: u32) -> Self {
        self.providers.llm_options.max_tokens = max_tokens;
        self
    }

    /// `temperature` of each LLM request (0.7; 0–2).
    pub fn llm_temperature(mut self, temperature: f32) -> Self {
        self.providers.llm_options.temperature = temperature;
        self
    }

    /// The TTS voice (`alloy`).
    pub fn tts_voice(mut self, voice: impl Into<String>) -> Self {
        self.providers.tts_options.voice = voice.into();
        self
    }

    /// The TTS speed (0.25–4; none sent unless chosen).
    pub fn tts_speed(mut self, speed: f32) -> Self {
        self.providers.tts_options.speed = Some(speed);
        self
    }

    /// The STT language, ISO-639-1 such as `en` (unset: the server detects it).
    pub fn stt_language(mut self, language: impl Into<String>) -> Self {
        self.providers.stt_options.language = Some(language.into());
        self
    }

    /// The attempt timeout of `cap`: the longest wait for an answer to start, and the
    /// longest silence between two streamed chunks (10 s).
    pub fn timeout(mut self, cap: Capability, timeout: Duration) -> Self {
        self.capability(cap).timeout = timeout;
        self
    }

    /// Time to first token or byte above which a call of `cap` counts as slow for its
    /// breaker (LLM 2 s, TTS 1 s, STT 2 s).
    pub fn slow_after(mut self, cap: Capability, slow: Duration) -> Self {
        self.capability(cap).slow = slow;
        self
    }

    /// The breaker of every endpoint of `cap` (5 consecutive failures, or 50 % failed or slow
    /// of at least 10 calls in 10 s; open 5 s doubling to 60 s; one probe when half-open).
    pub fn breaker(mut self, cap: Capability, breaker: BreakerConfig) -> Self {
        let b = &mut self.providers.breakers;
        *match cap {
            Capability::Llm => &mut b.llm,
            Capability::Tts => &mut b.tts,
            Capability::Stt => &mut b.stt,
        } = breaker;
        self
    }

    /// The retry policy: at most one retry before the first byte, with full jitter between
    /// its delays, from a budget (10 % of calls + 1 a second).
    pub fn retry(mut self, retry: RetryConfig) -> Self {
        self.providers.retry = retry;
        self
    }

    fn capability(&mut self, cap: Capability) -> &mut crate::providers::CapabilityConfig {
        match cap {
            Capability::Llm => &mut self.providers.llm,
            Capability::Tts => &mut self.providers.tts,
            Capability::Stt => &mut self.providers.stt,
        }
    }

    /// How the VAD finds speech.
    pub fn vad(mut self, vad: VadSettings) -> Self {
        self.vad = vad;
        self
    }

    /// How the end of a user's turn is decided: Smart Turn at each pause (the default), or
    /// silence alone.
    pub fn turn_detection(mut self, mode: TurnDetection) -> Self {
        self.turn.mode = mode;
        self
    }

    /// How Smart Turn's answers are used (threshold and delays).
    pub fn smart_endpointing(mut self, endpointing: SmartEndpointing) -> Self {
        self.turn.endpointing = endpointing;
        self
    }

    /// Rate limits, session caps and cost caps (prices, spoken rejections and the shared
    /// store stay as they were).
    pub fn limits(mut self, limits: Limits) -> Self {
        let (quotas, errors) = limits.into_parts();
        self.limits.quotas = quotas;
        self.pending.extend(errors);
        self
    }

    /// Changes some limits and keeps the rest as chosen so far (e.g. the environment's):
    /// `edit` gets the current ones.
    pub fn edit_limits(self, edit: impl FnOnce(Limits) -> Limits) -> Self {
        let current = Limits::from(self.limits.quotas.clone());
        self.limits(edit(current))
    }

    /// Every limiter setting at once: quotas, prices, messages, the shared store.
    pub(crate) fn limits_config(mut self, limits: LimitsConfig) -> Self {
        self.limits = limits;
        self
    }

    /// Options, timeouts, breakers and retries (the endpoints are chosen with
    /// [`PipelineBuilder::primary`] and [`PipelineBuilder::fallback`]; those in `providers`
    /// are ignored).
    pub(crate) fn provider_settings(mut self, providers: ProvidersConfig) -> Self {
        self.providers = providers;
        self
    }

    /// Turn detection's whole settings (mode, model, threads, batching, endpointing).
    pub(crate) fn turn_config(mut self, turn: TurnDetectionConfig) -> Self {
        self.turn = turn;
        self
    }

    /// Checks every choice; every mistake comes back at once.
    pub fn build(self) -> Result<Pipeline, PipelineErrors> {
        let Self { mut providers, chains, vad, turn, limits, pending } = self;
        let mut errors = Vec::new();
        for cap in Capability::ALL {
            let endpoints = chains[index(cap)].resolve(cap, &mut errors);
            match cap {
                Capability::Llm => providers.llm.endpoints = endpoints,
                Capability::Tts => providers.tts.endpoints = endpoints,
                Capability::Stt => providers.stt.endpoints = endpoints,
            }
        }
        check::providers(&providers, &mut errors);
        check::vad(&vad, turn.mode == TurnDetection::Smart, &mut errors);
        check::smart_endpointing(&turn.endpointing, &mut errors);
        errors.extend(pending);
        match errors.is_empty() {
            true => Ok(Pipeline { providers, vad, turn, limits }),
            false => Err(PipelineErrors(errors)),
        }
    }
}

#[cfg(test)]
mod tests;
