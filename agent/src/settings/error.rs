//! What can be wrong with a pipeline's choices: one variant per kind of mistake, each naming
//! the [`Setting`] it is about, so code sees which choice to fix and the environment edge
//! names the variable that held it.

use std::fmt;

use crate::core::capability::Capability;
use crate::core::quota::{Scope, Unit, Window};

/// A choice of the pipeline, as its errors name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// An endpoint's base URL; `rank` 0 is the primary, 1… the fallbacks in order.
    BaseUrl {
        /// Which chain.
        cap: Capability,
        /// Position in the chain.
        rank: usize,
    },
    /// An endpoint's model name.
    Model {
        /// Which chain.
        cap: Capability,
        /// Position in the chain.
        rank: usize,
    },
    /// A capability's attempt timeout.
    Timeout(Capability),
    /// A capability's slow-call threshold.
    Slow(Capability),
    /// A knob of a capability's breaker (its field in
    /// [`BreakerConfig`](crate::core::breaker_config::BreakerConfig)).
    Breaker {
        /// Which capability's endpoints.
        cap: Capability,
        /// The field, e.g. `failure_rate`.
        field: &'static str,
    },
    /// A knob of the retry policy (its field in [`RetryConfig`](crate::core::retry::RetryConfig)).
    Retry(&'static str),
    /// The LLM's `max_tokens`.
    LlmMaxTokens,
    /// The LLM's `temperature`.
    LlmTemperature,
    /// The TTS `speed`.
    TtsSpeed,
    /// [`VadSettings::activation_threshold`](crate::vad::config::VadSettings::activation_threshold).
    VadActivation,
    /// [`VadSettings::deactivation_threshold`](crate::vad::config::VadSettings::deactivation_threshold).
    VadDeactivation,
    /// [`VadSettings::min_silence`](crate::vad::config::VadSettings::min_silence).
    VadMinSilence,
    /// [`VadSettings::end_padding`](crate::vad::config::VadSettings::end_padding).
    VadEndPadding,
    /// [`VadSettings::max_utterance`](crate::vad::config::VadSettings::max_utterance).
    VadMaxUtterance,
    /// [`VadSettings::max_batch`](crate::vad::config::VadSettings::max_batch).
    VadMaxBatch,
    /// Smart Turn's finished-turn threshold.
    TurnThreshold,
    /// Smart Turn's longest wait after an unfinished turn.
    TurnMaxDelay,
    /// One limit of [`Limits`](super::limits::Limits).
    Limit {
        /// Who it applies to.
        scope: Scope,
        /// What it counts.
        unit: Unit,
        /// Over how long.
        window: Window,
    },
    /// A daily cost cap.
    CostCap(Scope),
    /// The share of a cost cap at which warnings start.
    CostWarnFraction,
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Setting::BaseUrl { cap, rank: 0 } => write!(f, "{cap} base URL"),
            Setting::BaseUrl { cap, rank } => write!(f, "{cap} fallback {rank} base URL"),
            Setting::Model { cap, rank: 0 } => write!(f, "{cap} model"),
            Setting::Model { cap, rank } => write!(f, "{cap} fallback {rank} model"),
            Setting::Timeout(cap) => write!(f, "{cap} timeout"),
            Setting::Slow(cap) => write!(f, "{cap} slow threshold"),
            Setting::Breaker { cap, field } => write!(f, "{cap} breaker {field}"),
            Setting::Retry(field) => write!(f, "retry {field}"),
            Setting::LlmMaxTokens => f.write_str("llm max_tokens"),
            Setting::LlmTemperature => f.write_str("llm temperature"),
            Setting::TtsSpeed => f.write_str("tts speed"),
            Setting::VadActivation => f.write_str("vad activation_threshold"),
            Setting::VadDeactivation => f.write_str("vad deactivation_threshold"),
            Setting::VadMinSilence => f.write_str("vad min_silence"),
            Setting::VadEndPadding => f.write_str("vad end_padding"),
            Setting::VadMaxUtterance => f.write_str("vad max_utterance"),
            Setting::VadMaxBatch => f.write_str("vad max_batch"),
            Setting::TurnThreshold => f.write_str("smart turn threshold"),
            Setting::TurnMaxDelay => f.write_str("smart turn max_delay"),
            Setting::Limit { scope, unit, window } => {
                write!(f, "limit {}/{}/{}", scope.as_str(), unit.as_str(), window.as_str())
            }
            Setting::CostCap(scope) => write!(f, "{} cost cap per day", scope.as_str()),
            Setting::CostWarnFraction => f.write_str("cost warn fraction"),
        }
    }
}

/// One mistake in a pipeline's choices.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PipelineError {
    /// Not an `http://` or `https://` URL (the URL is not quoted: it may hold a password).
    #[error("{setting}: expected an http:// or https:// URL such as https://api.openai.com/v1")]
    BadUrl {
        /// Which endpoint.
        setting: Setting,
    },
    /// An empty model name.
    #[error("{setting}: expected a model name (it is empty)")]
    EmptyModel {
        /// Which endpoint.
        setting: Setting,
    },
    /// A fallback was chosen for a capability without a primary.
    #[error("{setting}: a fallback needs a primary {cap} endpoint")]
    FallbackWithoutPrimary {
        /// The first fallback.
        setting: Setting,
        /// Its chain.
        cap: Capability,
    },
    /// More fallbacks than a chain may hold.
    #[error("{setting}: at most {max} fallbacks per capability")]
    TooManyFallbacks {
        /// The first fallback too many.
        setting: Setting,
        /// How many are allowed.
        max: usize,
    },
    /// A number outside its range (`NaN` and infinities included).
    #[error("{setting} = {value}: expected a number from {min} to {max}")]
    OutOfRange {
        /// Which number.
        setting: Setting,
        /// What it was.
        value: f64,
        /// Smallest accepted.
        min: f64,
        /// Largest accepted.
        max: f64,
    },
    /// A zero duration where only a positive one makes sense.
    #[error("{setting}: expected a duration above zero")]
    ZeroDuration {
        /// Which duration.
        setting: Setting,
    },
    /// A limit of zero would refuse everything; a limit is turned off with
    /// [`Limits::no_limit`](super::limits::Limits::no_limit).
    #[error(
        "{setting}: expected a limit above zero (a limit is turned off with 0 in the environment, Limits::no_limit in code)"
    )]
    ZeroLimit {
        /// Which limit.
        setting: Setting,
    },
    /// Two settings that do not fit together; `expected` says how they must relate.
    #[error("{setting}: expected {expected}")]
    Inconsistent {
        /// The setting reported.
        setting: Setting,
        /// The rule, e.g. "a threshold not above the activation threshold".
        expected: &'static str,
    },
}

impl PipelineError {
    /// The setting the mistake is about.
    pub fn setting(&self) -> Setting {
        match self {
            PipelineError::BadUrl { setting }
            | PipelineError::EmptyModel { setting }
            | PipelineError::FallbackWithoutPrimary { setting, .. }
            | PipelineError::TooManyFallbacks { setting, .. }
            | PipelineError::OutOfRange { setting, .. }
            | PipelineError::ZeroDuration { setting }
            | PipelineError::ZeroLimit { setting }
            | PipelineError::Inconsistent { setting, .. } => *setting,
        }
    }

    /// What would have been accepted, without the setting's name (the environment edge puts
    /// the variable's name in front).
    pub fn expected(&self) -> String {
        let full = self.to_string();
        let name = self.setting().to_string();
        let rest = full.strip_prefix(&name).unwrap_or(&full);
        let rest = rest.split_once(": expected ").map(|(_, e)| e).unwrap_or(rest);
        rest.trim_start_matches([':', ' ']).to_owned()
    }
}

/// Every mistake [`PipelineBuilder::build`](crate::pipeline::PipelineBuilder::build) found, in the order
/// the choices are checked.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineErrors(pub Vec<PipelineError>);

impl fmt::Display for PipelineErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} pipeline setting error(s)", self.0.len())?;
        for e in &self.0 {
            write!(f, "\n  - {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PipelineErrors {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_setting_and_expected_drops_it() {
        let e = PipelineError::OutOfRange {
            setting: Setting::LlmTemperature,
            value: f64::NAN,
            min: 0.0,
            max: 2.0,
        };
        assert_eq!(e.to_string(), "llm temperature = NaN: expected a number from 0 to 2");
        assert_eq!(e.expected(), "a number from 0 to 2");
        let e = PipelineError::BadUrl { setting: Setting::BaseUrl { cap: Capability::Tts, rank: 2 } };
        assert_eq!(
            e.to_string(),
            "tts fallback 2 base URL: expected an http:// or https:// URL such as https://api.openai.com/v1"
        );
        assert_eq!(e.expected(), "an http:// or https:// URL such as https://api.openai.com/v1");
        let e = PipelineError::FallbackWithoutPrimary {
            setting: Setting::BaseUrl { cap: Capability::Llm, rank: 1 },
            cap: Capability::Llm,
        };
        assert_eq!(e.expected(), "a fallback needs a primary llm endpoint");
        let all = PipelineErrors(vec![e]);
        assert!(all.to_string().starts_with("1 pipeline setting error(s)\n  - llm fallback 1"));
    }
}
