//! The rules a pipeline's choices must follow — one place for each, whether the choice came
//! from code or from the environment: number ranges (the environment edge reads numbers
//! with these same [`Bounds`]), positive durations, and the settings that must fit together.

use std::time::Duration;

use crate::core::breaker_config::BreakerConfig;
use crate::core::endpoint::SmartEndpointing;
use crate::core::retry::RetryConfig;
use crate::providers::{Capability, ProvidersConfig};
use crate::settings::error::{PipelineError, Setting};
use crate::vad::config::VadSettings;

pub use crate::settings::bounds::*;

/// Provider options, timeouts, breakers and retries (the endpoints are checked as the
/// chains are resolved).
pub fn providers(p: &ProvidersConfig, errors: &mut Vec<PipelineError>) {
    for cap in Capability::ALL {
        let c = p.capability(cap);
        positive(Setting::Timeout(cap), c.timeout, errors);
        positive(Setting::Slow(cap), c.slow, errors);
        let b = match cap {
            Capability::Llm => &p.breakers.llm,
            Capability::Tts => &p.breakers.tts,
            Capability::Stt => &p.breakers.stt,
        };
        breaker(cap, b, errors);
    }
    retry(&p.retry, errors);
    MAX_TOKENS.check(Setting::LlmMaxTokens, p.llm_options.max_tokens, errors);
    TEMPERATURE.check(Setting::LlmTemperature, p.llm_options.temperature, errors);
    if let Some(speed) = p.tts_options.speed {
        TTS_SPEED.check(Setting::TtsSpeed, speed, errors);
    }
}

/// A breaker's rates, window and open times.
pub fn breaker(cap: Capability, b: &BreakerConfig, errors: &mut Vec<PipelineError>) {
    let s = |field| Setting::Breaker { cap, field };
    BREAKER_RATE.check(s("failure_rate"), b.failure_rate, errors);
    BREAKER_RATE.check(s("slow_rate"), b.slow_rate, errors);
    BREAKER_JITTER.check(s("jitter"), b.jitter, errors);
    BREAKER_BUCKETS.check(s("buckets"), b.buckets, errors);
    BREAKER_MIN_CALLS.check(s("min_calls"), b.min_calls, errors);
    positive(s("window"), b.window, errors);
    positive(s("open_base"), b.open_base, errors);
    positive(s("probe_timeout"), b.probe_timeout, errors);
    if b.open_max < b.open_base {
        let expected = "a longest open time not below the first open time";
        errors.push(PipelineError::Inconsistent { setting: s("open_max"), expected });
    }
}

/// The retry delays and budget.
pub fn retry(r: &RetryConfig, errors: &mut Vec<PipelineError>) {
    RETRY_RATIO.check(Setting::Retry("ratio"), r.ratio, errors);
    RETRY_PER_SEC.check(Setting::Retry("per_sec"), r.per_sec, errors);
    RETRY_MAX_TOKENS.check(Setting::Retry("max_tokens"), r.max_tokens, errors);
    if r.max_delay < r.min_delay {
        let expected = "a longest delay not below the shortest delay";
        errors.push(PipelineError::Inconsistent { setting: Setting::Retry("max_delay"), expected });
    }
}

/// The VAD's thresholds and durations, and how they relate, resolved for the turn detection
/// (`smart`: Smart Turn is used).
pub fn vad(v: &VadSettings, smart: bool, errors: &mut Vec<PipelineError>) {
    let min_silence = v.min_silence_for(smart);
    VAD_THRESHOLD.check(Setting::VadActivation, v.activation_threshold, errors);
    VAD_THRESHOLD.check(Setting::VadDeactivation, v.deactivation_threshold, errors);
    VAD_MAX_BATCH.check(Setting::VadMaxBatch, v.max_batch, errors);
    if v.deactivation_threshold > v.activation_threshold {
        let expected = "a threshold not above the activation threshold";
        errors.push(PipelineError::Inconsistent { setting: Setting::VadDeactivation, expected });
    }
    if min_silence < VAD_MIN_SILENCE_FLOOR {
        let expected = "at least 0.032 s (one VAD window)";
        errors.push(PipelineError::Inconsistent { setting: Setting::VadMinSilence, expected });
    }
    if v.end_padding_for(smart) > min_silence {
        let expected = "an end padding not above the minimum silence";
        errors.push(PipelineError::Inconsistent { setting: Setting::VadEndPadding, expected });
    }
    if v.max_utterance <= v.min_speech {
        let expected = "a longest utterance above the minimum speech";
        errors.push(PipelineError::Inconsistent { setting: Setting::VadMaxUtterance, expected });
    }
}

/// Smart Turn's threshold and delays.
pub fn smart_endpointing(e: &SmartEndpointing, errors: &mut Vec<PipelineError>) {
    TURN_THRESHOLD.check(Setting::TurnThreshold, e.threshold, errors);
    if e.max_delay < e.min_delay {
        let expected = "a longest wait not below the minimum delay";
        errors.push(PipelineError::Inconsistent { setting: Setting::TurnMaxDelay, expected });
    }
}

/// A duration that must be above zero.
fn positive(setting: Setting, d: Duration, errors: &mut Vec<PipelineError>) {
    if d.is_zero() {
        errors.push(PipelineError::ZeroDuration { setting });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_refuse_nan_infinities_and_outsiders() {
        let mut errors = Vec::new();
        for v in [f32::NAN, f32::INFINITY, -0.1, 2.5] {
            TEMPERATURE.check(Setting::LlmTemperature, v, &mut errors);
        }
        for v in [0.0, 0.7, 2.0] {
            TEMPERATURE.check(Setting::LlmTemperature, v, &mut errors);
        }
        assert_eq!(errors.len(), 4, "{errors:?}");
        MAX_TOKENS.check(Setting::LlmMaxTokens, 0, &mut errors);
        assert_eq!(errors[4].to_string(), "llm max_tokens = 0: expected a number from 1 to 100000");
    }

    #[test]
    fn defaults_follow_every_rule() {
        let mut errors = Vec::new();
        providers(&ProvidersConfig::default(), &mut errors);
        let v = VadSettings::default();
        vad(&v, false, &mut errors);
        vad(&v, true, &mut errors);
        smart_endpointing(&SmartEndpointing::default(), &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
    }
}
