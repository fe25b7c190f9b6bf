//! Provider endpoints chosen in code: [`OpenAiCompatible`] (any server speaking OpenAI's
//! HTTP API: OpenAI, Groq, Together, vLLM, llama.cpp, Ollama, faster-whisper, most TTS
//! servers), and a capability's chain of them — a primary and up to
//! [`MAX_FALLBACKS`] fallbacks — resolved into the [`EndpointConfig`]s the guarded providers
//! run.

use super::error::{PipelineError, Setting};
use crate::providers::config::MAX_FALLBACKS;
use crate::providers::{Capability, EndpointConfig};
use crate::secret::Secret;

/// An endpoint speaking OpenAI's HTTP API: its base URL (up to and including `/v1`), an
/// optional API key, and the model. Nothing is checked until the pipeline is built.
///
/// ```
/// use voice_agent::pipeline::OpenAiCompatible;
/// let groq = OpenAiCompatible::new("https://api.groq.com/openai/v1")
///     .model("llama-3.1-8b-instant")
///     .api_key("gsk-…");
/// assert!(!format!("{groq:?}").contains("gsk-"), "keys never print");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct OpenAiCompatible {
    base_url: String,
    api_key: Option<Secret>,
    model: Option<String>,
}

impl OpenAiCompatible {
    /// An endpoint at `base_url`, e.g. `https://api.openai.com/v1` or
    /// `http://127.0.0.1:8080/v1`; no key, the capability's default model (`gpt-4o-mini`,
    /// `tts-1`, `whisper-1`; a fallback: its primary's).
    pub fn new(base_url: impl Into<String>) -> Self {
        Self { base_url: base_url.into(), api_key: None, model: None }
    }

    /// The model sent with each request (it also prices the usage for cost caps).
    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// The bearer key (never logged; without one, no `Authorization` header is sent).
    pub fn api_key(mut self, key: impl Into<Secret>) -> Self {
        self.api_key = Some(key.into());
        self
    }
}

impl From<&EndpointConfig> for OpenAiCompatible {
    fn from(e: &EndpointConfig) -> Self {
        Self { base_url: e.base_url.clone(), api_key: e.api_key.clone(), model: Some(e.model.clone()) }
    }
}

/// A capability's chosen endpoints: the primary, then the fallbacks in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ChainChoice {
    pub primary: Option<OpenAiCompatible>,
    pub fallbacks: Vec<OpenAiCompatible>,
}

impl ChainChoice {
    /// The chain of an already resolved configuration.
    pub fn of(endpoints: &[EndpointConfig]) -> Self {
        let mut all = endpoints.iter().map(OpenAiCompatible::from);
        Self { primary: all.next(), fallbacks: all.collect() }
    }

    /// The endpoints as the providers run them; every mistake goes to `errors`.
    pub fn resolve(&self, cap: Capability, errors: &mut Vec<PipelineError>) -> Vec<EndpointConfig> {
        let rank = |rank| Setting::BaseUrl { cap, rank };
        if self.primary.is_none() && !self.fallbacks.is_empty() {
            errors.push(PipelineError::FallbackWithoutPrimary { setting: rank(1), cap });
        }
        if self.fallbacks.len() > MAX_FALLBACKS {
            errors.push(PipelineError::TooManyFallbacks {
                setting: rank(MAX_FALLBACKS + 1),
                max: MAX_FALLBACKS,
            });
        }
        let mut out: Vec<EndpointConfig> = Vec::new();
        let Some(primary) = &self.primary else { return out };
        let chosen = std::iter::once(primary).chain(&self.fallbacks).enumerate();
        for (i, e) in chosen {
            let base_url = e.base_url.trim().trim_end_matches('/').to_owned();
            let http = base_url.starts_with("http://") || base_url.starts_with("https://");
            if !http || reqwest::Url::parse(&base_url).is_err() {
                errors.push(PipelineError::BadUrl { setting: rank(i) });
            }
            if e.model.as_deref().is_some_and(|m| m.trim().is_empty()) {
                errors.push(PipelineError::EmptyModel { setting: Setting::Model { cap, rank: i } });
            }
            // A fallback without a model uses the primary's.
            let model = e.model.clone().or_else(|| out.first().map(|p| p.model.clone()));
            let model = model.unwrap_or_else(|| default_model(cap).to_owned());
            out.push(EndpointConfig { base_url, api_key: e.api_key.clone(), model });
        }
        out
    }
}

/// The model of an endpoint chosen without one.
pub fn default_model(cap: Capability) -> &'static str {
    match cap {
        Capability::Llm => "gpt-4o-mini",
        Capability::Tts => "tts-1",
        Capability::Stt => "whisper-1",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(c: &ChainChoice) -> (Vec<EndpointConfig>, Vec<PipelineError>) {
        let mut errors = Vec::new();
        (c.resolve(Capability::Llm, &mut errors), errors)
    }

    #[test]
    fn models_default_and_fallbacks_inherit() {
        let c = ChainChoice {
            primary: Some(OpenAiCompatible::new("https://api.openai.com/v1/").api_key("sk-1")),
            fallbacks: vec![
                OpenAiCompatible::new("http://127.0.0.1:8080/v1").model("qwen"),
                OpenAiCompatible::new("http://127.0.0.1:8081/v1"),
            ],
        };
        let (eps, errors) = resolve(&c);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(eps[0].base_url, "https://api.openai.com/v1");
        assert_eq!(eps[0].api_key.as_ref().map(Secret::expose), Some("sk-1"));
        let models: Vec<&str> = eps.iter().map(|e| e.model.as_str()).collect();
        assert_eq!(models, ["gpt-4o-mini", "qwen", "gpt-4o-mini"]);
        assert_eq!(ChainChoice::of(&eps).resolve(Capability::Llm, &mut Vec::new()), eps);
    }

    #[test]
    fn every_endpoint_mistake_is_named() {
        let bad = ChainChoice {
            primary: Some(OpenAiCompatible::new("api.openai.com/v1")),
            fallbacks: vec![
                OpenAiCompatible::new("http://").model(" "),
                OpenAiCompatible::new("https://x/v1"),
                OpenAiCompatible::new("https://y/v1"),
                OpenAiCompatible::new("https://z/v1"),
            ],
        };
        let (_, errors) = resolve(&bad);
        let named: Vec<String> = errors.iter().map(|e| e.setting().to_string()).collect();
        assert_eq!(
            named,
            ["llm fallback 4 base URL", "llm base URL", "llm fallback 1 base URL", "llm fallback 1 model"]
        );
        let orphan = ChainChoice { primary: None, fallbacks: vec![OpenAiCompatible::new("https://x/v1")] };
        let (eps, errors) = resolve(&orphan);
        assert!(eps.is_empty());
        assert!(matches!(errors[..], [PipelineError::FallbackWithoutPrimary { .. }]));
    }
}
