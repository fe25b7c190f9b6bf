//! Provider settings: per capability an ordered chain of OpenAI-compatible endpoints
//! (`LLM_BASE_URL`, `LLM_FALLBACK_1_BASE_URL` … `_3_`), their keys (never logged; `_FILE`
//! variants for Docker secrets), models, timeouts and request options. The endpoints are
//! chosen and checked through the pipeline builder ([`crate::pipeline`]), whether they come
//! from code or, read by the configuration edge (`config::env_chain`), from the environment.

use std::time::Duration;

use super::Capability;
use super::resilience_config::{read_breakers, read_retry};
use crate::core::breaker_config::BreakersConfig;
use crate::core::retry::RetryConfig;
use crate::env::EnvReader;
use crate::secret::Secret;
use crate::settings::bounds::{MAX_TOKENS, TEMPERATURE, TTS_SPEED};

/// How many fallbacks a chain may list (`<CAP>_FALLBACK_1_…` to `_3_`).
pub const MAX_FALLBACKS: usize = 3;

/// One endpoint of a chain.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointConfig {
    /// Base URL up to and including `/v1`, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    /// Bearer key; `None` sends no `Authorization` header (local servers).
    pub api_key: Option<Secret>,
    /// Model name sent with each request (also prices it).
    pub model: String,
}

/// One capability's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct CapabilityConfig {
    /// Primary first, then fallbacks in order. Empty: not configured.
    pub endpoints: Vec<EndpointConfig>,
    /// Attempt timeout: the longest wait for a response to start, and the longest silence
    /// between two streamed chunks (`<CAP>_TIMEOUT_SECS`, 10 s).
    pub timeout: Duration,
    /// Time to first token/byte above which a call counts as slow (`<CAP>_SLOW_SECS`;
    /// LLM 2 s, TTS 1 s, STT 2 s).
    pub slow: Duration,
}

/// LLM request options.
#[derive(Debug, Clone, PartialEq)]
pub struct LlmOptions {
    /// `max_tokens` (`LLM_MAX_TOKENS`, 300); also the completion reservation for limits.
    pub max_tokens: u32,
    /// `temperature` (`LLM_TEMPERATURE`, 0.7).
    pub temperature: f32,
}

/// TTS request options.
#[derive(Debug, Clone, PartialEq)]
pub struct TtsOptions {
    /// `voice` (`TTS_VOICE`, `alloy`).
    pub voice: String,
    /// `speed` (`TTS_SPEED`, 0.25–4; unset sends none).
    pub speed: Option<f32>,
}

/// STT request options.
#[derive(Debug, Clone, PartialEq)]
pub struct SttOptions {
    /// `language` (`STT_LANGUAGE`, ISO-639-1 such as `en`; unset lets the server detect).
    pub language: Option<String>,
}

/// Every provider setting.
#[derive(Debug, Clone, PartialEq)]
pub struct ProvidersConfig {
    /// Chat completions.
    pub llm: CapabilityConfig,
    /// Speech synthesis.
    pub tts: CapabilityConfig,
    /// Transcription.
    pub stt: CapabilityConfig,
    /// LLM options.
    pub llm_options: LlmOptions,
    /// TTS options.
    pub tts_options: TtsOptions,
    /// STT options.
    pub stt_options: SttOptions,
    /// Breaker settings per capability (`BREAKER_*`).
    pub breakers: BreakersConfig,
    /// Retry delay and budget (`RETRY_*`).
    pub retry: RetryConfig,
    /// Largest response body read whole (STT JSON) and longest SSE line (`PROVIDER_MAX_BODY_BYTES`, 1 MiB).
    pub max_body_bytes: usize,
    /// Most audio one TTS request may return, in seconds at 24 kHz (`TTS_MAX_AUDIO_SECS`, 120).
    pub tts_max_audio: Duration,
}

impl Default for ProvidersConfig {
    fn default() -> Self {
        let cap = |slow| CapabilityConfig { endpoints: Vec::new(), timeout: Duration::from_secs(10), slow };
        Self {
            llm: cap(Duration::from_secs(2)),
            tts: cap(Duration::from_secs(1)),
            stt: cap(Duration::from_secs(2)),
            llm_options: LlmOptions { max_tokens: 300, temperature: 0.7 },
            tts_options: TtsOptions { voice: "alloy".into(), speed: None },
            stt_options: SttOptions { language: None },
            breakers: BreakersConfig::default(),
            retry: RetryConfig::default(),
            max_body_bytes: 1 << 20,
            tts_max_audio: Duration::from_secs(120),
        }
    }
}

impl ProvidersConfig {
    /// The API key of every endpoint of every capability.
    pub fn api_keys(&self) -> impl Iterator<Item = &Secret> {
        [&self.llm, &self.tts, &self.stt]
            .into_iter()
            .flat_map(|c| c.endpoints.iter().filter_map(|e| e.api_key.as_ref()))
    }

    /// Reads the options and timeouts of `LLM_*`, `TTS_*` and `STT_*`, `BREAKER_*` and
    /// `RETRY_*`; the endpoints are read with the configuration edge (`config::env_chain`) and chosen through the
    /// pipeline builder ([`crate::pipeline`]), which checks them.
    pub fn from_env(env: &mut EnvReader) -> Self {
        let d = Self::default();
        let (t, n, sp) = (TEMPERATURE, MAX_TOKENS, TTS_SPEED);
        let llm_options = LlmOptions {
            max_tokens: env.ranged("LLM_MAX_TOKENS", d.llm_options.max_tokens, n.min, n.max),
            temperature: env.ranged("LLM_TEMPERATURE", d.llm_options.temperature, t.min, t.max),
        };
        let speed = env.raw("TTS_SPEED").is_some().then(|| env.ranged("TTS_SPEED", 1.0f32, sp.min, sp.max));
        let tts_options = TtsOptions { voice: env.string("TTS_VOICE", &d.tts_options.voice), speed };
        let stt_options = SttOptions { language: env.opt_string("STT_LANGUAGE") };
        let max_body_bytes = env.ranged("PROVIDER_MAX_BODY_BYTES", d.max_body_bytes, 4096, 64 << 20);
        let tts_max_audio = env.seconds("TTS_MAX_AUDIO_SECS", d.tts_max_audio, 1.0, 3600.0);
        let breakers = read_breakers(env);
        let retry = read_retry(env);
        Self {
            llm: read_timeouts(env, Capability::Llm, &d.llm),
            tts: read_timeouts(env, Capability::Tts, &d.tts),
            stt: read_timeouts(env, Capability::Stt, &d.stt),
            llm_options,
            tts_options,
            stt_options,
            breakers,
            retry,
            max_body_bytes,
            tts_max_audio,
        }
    }

    /// The settings of one capability.
    pub fn capability(&self, cap: Capability) -> &CapabilityConfig {
        match cap {
            Capability::Llm => &self.llm,
            Capability::Tts => &self.tts,
            Capability::Stt => &self.stt,
        }
    }
}

fn read_timeouts(env: &mut EnvReader, cap: Capability, d: &CapabilityConfig) -> CapabilityConfig {
    let p = cap.env_prefix();
    CapabilityConfig {
        endpoints: Vec::new(),
        timeout: env.seconds(&format!("{p}_TIMEOUT_SECS"), d.timeout, 0.1, 600.0),
        slow: env.seconds(&format!("{p}_SLOW_SECS"), d.slow, 0.01, 600.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_set_means_not_configured_with_defaults() {
        let mut env = EnvReader::from_pairs(&[]);
        let c = ProvidersConfig::from_env(&mut env);
        assert!(env.finish().is_ok());
        assert_eq!(c, ProvidersConfig::default());
        assert!(c.llm.endpoints.is_empty());
        assert_eq!(c.tts.slow, Duration::from_secs(1));
    }

    #[test]
    fn every_option_mistake_is_named() {
        let mut env = EnvReader::from_pairs(&[
            ("LLM_MAX_TOKENS", "0"),
            ("TTS_SPEED", "9"),
            ("LLM_TEMPERATURE", "NaN"),
            ("STT_TIMEOUT_SECS", "0"),
        ]);
        ProvidersConfig::from_env(&mut env);
        let names: Vec<_> = env.finish().unwrap_err().into_iter().map(|e| e.var).collect();
        assert_eq!(names, ["LLM_MAX_TOKENS", "LLM_TEMPERATURE", "TTS_SPEED", "STT_TIMEOUT_SECS"]);
    }
}
