//! A capability's chain of endpoints as the environment lists them (`<CAP>_BASE_URL`,
//! `_API_KEY` or `_API_KEY_FILE`, `_MODEL`, then `<CAP>_FALLBACK_{1..3}_…`), read into the
//! pipeline builder's [`OpenAiCompatible`] endpoints, with the variables that held them.

use crate::env::EnvReader;
use crate::pipeline::OpenAiCompatible;
use crate::providers::Capability;
use crate::providers::config::MAX_FALLBACKS;

/// One capability's endpoints as the environment lists them (`<CAP>_BASE_URL`, `_API_KEY`
/// or `_API_KEY_FILE`, `_MODEL`, then `<CAP>_FALLBACK_{1..3}_…`), and the variables that
/// held them, so the pipeline's mistakes are reported by variable.
#[derive(Debug, Clone)]
pub struct EnvChain {
    /// Which capability.
    pub cap: Capability,
    /// The endpoints found, in order, with the prefix of their variables (`LLM`,
    /// `LLM_FALLBACK_2`, …).
    pub endpoints: Vec<(String, OpenAiCompatible)>,
}

impl EnvChain {
    /// Reads `cap`'s endpoints. A key or model without a base URL is a mistake here; what
    /// the URLs and models must be is the pipeline's to check.
    pub fn read(env: &mut EnvReader, cap: Capability) -> Self {
        let p = cap.env_prefix();
        let prefixes =
            std::iter::once(p.to_owned()).chain((1..=MAX_FALLBACKS).map(|i| format!("{p}_FALLBACK_{i}")));
        let mut endpoints = Vec::new();
        for prefix in prefixes {
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
            let mut e = OpenAiCompatible::new(url);
            if let Some(key) = key {
                e = e.api_key(key);
            }
            if let Some(model) = model {
                e = e.model(model);
            }
            endpoints.push((prefix, e));
        }
        Self { cap, endpoints }
    }

    /// Whether the first endpoint found is the primary (`<CAP>_BASE_URL`).
    pub fn has_primary(&self) -> bool {
        self.endpoints.first().is_some_and(|(prefix, _)| prefix == self.cap.env_prefix())
    }

    /// The prefix of the variables of the endpoint the pipeline ranks `rank` (0: the
    /// primary; with no primary set, the fallbacks are ranked from 1).
    pub fn prefix(&self, rank: usize) -> String {
        let i = if self.has_primary() { Some(rank) } else { rank.checked_sub(1) };
        i.and_then(|i| self.endpoints.get(i))
            .map(|(prefix, _)| prefix.clone())
            .unwrap_or_else(|| format!("{}_FALLBACK_{rank}", self.cap.env_prefix()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::ProvidersConfig;

    #[test]
    fn chains_are_read_with_their_variables() {
        let mut env = EnvReader::from_pairs(&[
            ("LLM_BASE_URL", "https://api.openai.com/v1/"),
            ("LLM_API_KEY", "sk-primary"),
            ("LLM_FALLBACK_2_BASE_URL", "http://127.0.0.1:8000/v1"),
            ("TTS_FALLBACK_1_BASE_URL", "http://x/v1"),
            ("STT_API_KEY", "k"),
            ("STT_LANGUAGE", "en"),
            ("TTS_SPEED", "1.5"),
        ]);
        let llm = EnvChain::read(&mut env, Capability::Llm);
        let tts = EnvChain::read(&mut env, Capability::Tts);
        let stt = EnvChain::read(&mut env, Capability::Stt);
        let c = ProvidersConfig::from_env(&mut env);
        assert_eq!(
            (llm.has_primary(), llm.prefix(0), llm.prefix(1)),
            (true, "LLM".into(), "LLM_FALLBACK_2".into())
        );
        assert_eq!((tts.has_primary(), tts.prefix(1)), (false, "TTS_FALLBACK_1".into()));
        assert!(stt.endpoints.is_empty());
        assert_eq!(c.stt_options.language.as_deref(), Some("en"));
        assert_eq!(c.tts_options.speed, Some(1.5));
        assert!(!format!("{llm:?}").contains("sk-primary"));
        let names: Vec<_> = env.finish().unwrap_err().into_iter().map(|e| e.var).collect();
        assert_eq!(names, ["STT_BASE_URL"], "a key without a URL");
    }
}
