//! Provider settings: per capability an ordered chain of OpenAI-compatible endpoints
//! (`LLM_BASE_URL`, `LLM_FALLBACK_1_BASE_URL` … `_3_`), their keys (never logged; `_FILE`
//! variants for Docker secrets), models, timeouts and request options.

use std::time::Duration;

use super::Capability;
use super::resilience_config::{read_breakers, read_retry};
use crate::core::breaker_config::BreakersConfig;
use crate::core::retry::RetryConfig;
use crate::env::EnvReader;
use crate::secret::Secret;

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

    /// Reads `LLM_*`, `TTS_*`, `STT_*` and their fallbacks, `BREAKER_*` and `RETRY_*`.
    pub fn from_env(env: &mut EnvReader) -> Self {
        let d = Self::default();
        let llm = read_capability(env, Capability::Llm, "gpt-4o-mini", &d.llm);
        let tts = read_capability(env, Capability::Tts, "tts-1", &d.tts);
        let stt = read_capability(env, Capability::Stt, "whisper-1", &d.stt);
        let llm_options = LlmOptions {
            max_tokens: env.ranged("LLM_MAX_TOKENS", d.llm_options.max_tokens, 1, 100_000),
            temperature: env.ranged("LLM_TEMPERATURE", d.llm_options.temperature, 0.0, 2.0),
        };
        let speed = env.raw("TTS_SPEED").is_some().then(|| env.ranged("TTS_SPEED", 1.0f32, 0.25, 4.0));
        let tts_options = TtsOptions { voice: env.string("TTS_VOICE", &d.tts_options.voice), speed };
        let stt_options = SttOptions { language: env.opt_string("STT_LANGUAGE") };
        let max_body_bytes = env.ranged("PROVIDER_MAX_BODY_BYTES", d.max_body_bytes, 4096, 64 << 20);
        let tts_max_audio = env.seconds("TTS_MAX_AUDIO_SECS", d.tts_max_audio, 1.0, 3600.0);
        let breakers = read_breakers(env);
        let retry = read_retry(env);
        Self {
            llm,
            tts,
            stt,
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

fn read_capability(
    env: &mut EnvReader,
    cap: Capability,
    default_model: &str,
    d: &CapabilityConfig,
) -> CapabilityConfig {
    let p = cap.env_prefix();
    let mut endpoints = Vec::new();
    let prefixes =
        std::iter::once(p.to_owned()).chain((1..=MAX_FALLBACKS).map(|i| format!("{p}_FALLBACK_{i}")));
    for (i, prefix) in prefixes.enumerate() {
        let url_var = format!("{prefix}_BASE_URL");
        let key = env.secret(&format!("{prefix}_API_KEY"));
        let model = env.opt_string(&format!("{prefix}_MODEL"));
        let Some(url) = env.opt_string(&url_var) else {
            if key.is_some() || model.is_some() {
                env.error(
                    &url_var,
                    "a base URL such as https://api.openai.com/v1 (key or model set without one)",
                );
            }
            continue;
        };
        if !(url.starts_with("http://") || url.starts_with("https://")) || reqwest::Url::parse(&url).is_err()
        {
            env.error(&url_var, "an http:// or https:// URL such as https://api.openai.com/v1");
            continue;
        }
        if i > 0 && endpoints.is_empty() {
            env.error(&url_var, format!("{p}_BASE_URL set as well (a fallback needs a primary)"));
        }
        // A fallback without a model uses the primary's model.
        let model = model
            .or_else(|| endpoints.first().map(|e: &EndpointConfig| e.model.clone()))
            .unwrap_or_else(|| default_model.to_owned());
        endpoints.push(EndpointConfig {
            base_url: url.trim_end_matches('/').to_owned(),
            api_key: key,
            model,
        });
    }
    CapabilityConfig {
        endpoints,
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
    fn chains_keys_from_files_and_redaction() {
        let dir = std::env::temp_dir().join(format!("va-prov-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("key");
        std::fs::write(&f, "sk-secret-file\n").unwrap();
        let mut env = EnvReader::from_pairs(&[
            ("LLM_BASE_URL", "https://api.openai.com/v1/"),
            ("LLM_API_KEY", "sk-primary"),
            ("LLM_MODEL", "gpt-4o-mini"),
            ("LLM_FALLBACK_1_BASE_URL", "https://api.groq.com/openai/v1"),
            ("LLM_FALLBACK_1_API_KEY_FILE", f.to_str().unwrap()),
            ("LLM_FALLBACK_1_MODEL", "llama-3.1-8b-instant"),
            ("LLM_FALLBACK_2_BASE_URL", "http://127.0.0.1:8000/v1"),
            ("STT_BASE_URL", "http://127.0.0.1:9000/v1"),
            ("STT_LANGUAGE", "en"),
            ("TTS_SPEED", "1.5"),
        ]);
        let c = ProvidersConfig::from_env(&mut env);
        assert!(env.finish().is_ok());
        let e = &c.llm.endpoints;
        assert_eq!(e.len(), 3);
        assert_eq!(e[0].base_url, "https://api.openai.com/v1");
        assert_eq!(e[1].api_key.as_ref().map(Secret::expose), Some("sk-secret-file"));
        assert_eq!(e[2].model, "gpt-4o-mini", "a fallback inherits the primary's model");
        assert_eq!(c.stt.endpoints[0].model, "whisper-1");
        assert_eq!(c.stt_options.language.as_deref(), Some("en"));
        assert_eq!(c.tts_options.speed, Some(1.5));
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("sk-primary") && !dbg.contains("sk-secret-file"), "{dbg}");
    }

    #[test]
    fn every_mistake_is_named() {
        let mut env = EnvReader::from_pairs(&[
            ("LLM_BASE_URL", "api.openai.com"),
            ("TTS_FALLBACK_1_BASE_URL", "http://x/v1"),
            ("STT_API_KEY", "k"),
            ("LLM_MAX_TOKENS", "0"),
            ("TTS_SPEED", "9"),
        ]);
        ProvidersConfig::from_env(&mut env);
        let names: Vec<_> = env.finish().unwrap_err().into_iter().map(|e| e.var).collect();
        assert_eq!(
            names,
            ["LLM_BASE_URL", "TTS_FALLBACK_1_BASE_URL", "STT_BASE_URL", "LLM_MAX_TOKENS", "TTS_SPEED"]
        );
    }
}
