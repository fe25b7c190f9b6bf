//! VAD settings from the environment: segmenter thresholds and batching.

use std::time::Duration;

use crate::core::segmenter::SegmenterConfig;
use crate::env::EnvReader;

/// Everything the VAD can be tuned with (model paths are in `config::ModelConfig`).
#[derive(Debug, Clone, PartialEq)]
pub struct VadConfig {
    /// Thresholds and durations of the speech segmenter.
    pub segmenter: SegmenterConfig,
    /// Most streams scored in one model run (default 64).
    pub max_batch: usize,
}

impl Default for VadConfig {
    fn default() -> Self {
        Self { segmenter: SegmenterConfig::default(), max_batch: 64 }
    }
}

impl VadConfig {
    /// Reads `VAD_ACTIVATION_THRESHOLD` (0.5), `VAD_DEACTIVATION_THRESHOLD` (0.35, not above
    /// the activation threshold), `VAD_MIN_SPEECH_SECS` (0.05), `VAD_MIN_SILENCE_SECS` (0.45),
    /// `VAD_PREFIX_PADDING_SECS` (0.5), `VAD_END_PADDING_SECS` (0.1, not above the minimum
    /// silence), `VAD_MAX_UTTERANCE_SECS` (30) and `VAD_MAX_BATCH` (64).
    pub fn from_env(env: &mut EnvReader) -> Self {
        Self::from_env_with_silence(env, SegmenterConfig::default().min_silence)
    }

    /// [`VadConfig::from_env`] with another default for `VAD_MIN_SILENCE_SECS` (shorter with
    /// an end-of-turn model, which decides what a pause means).
    pub fn from_env_with_silence(env: &mut EnvReader, min_silence: Duration) -> Self {
        let d = SegmenterConfig { min_silence, ..SegmenterConfig::default() };
        let activation_threshold = env.ranged("VAD_ACTIVATION_THRESHOLD", d.activation_threshold, 0.01, 0.99);
        let mut deactivation_threshold =
            env.ranged("VAD_DEACTIVATION_THRESHOLD", d.deactivation_threshold, 0.01, 0.99);
        if deactivation_threshold > activation_threshold {
            env.error("VAD_DEACTIVATION_THRESHOLD", "a number not above VAD_ACTIVATION_THRESHOLD");
            deactivation_threshold = activation_threshold;
        }
        let min_speech = env.seconds("VAD_MIN_SPEECH_SECS", d.min_speech, 0.0, 10.0);
        let min_silence = env.seconds("VAD_MIN_SILENCE_SECS", d.min_silence, 0.032, 10.0);
        let prefix_padding = env.seconds("VAD_PREFIX_PADDING_SECS", d.prefix_padding, 0.0, 5.0);
        let mut end_padding = env.seconds("VAD_END_PADDING_SECS", d.end_padding, 0.0, 10.0);
        if end_padding > min_silence {
            env.error("VAD_END_PADDING_SECS", "a number of seconds not above VAD_MIN_SILENCE_SECS");
            end_padding = min_silence;
        }
        let mut max_utterance = env.seconds("VAD_MAX_UTTERANCE_SECS", d.max_utterance, 1.0, 600.0);
        if max_utterance <= min_speech {
            env.error("VAD_MAX_UTTERANCE_SECS", "a number of seconds above VAD_MIN_SPEECH_SECS");
            max_utterance = d.max_utterance.max(min_speech + Duration::from_secs(1));
        }
        Self {
            segmenter: SegmenterConfig {
                activation_threshold,
                deactivation_threshold,
                min_speech,
                min_silence,
                prefix_padding,
                end_padding,
                max_utterance,
                // Set by the application with Smart Turn and preemptive replies.
                early_pause: d.early_pause,
            },
            max_batch: env.ranged("VAD_MAX_BATCH", 64, 1, 512),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(pairs: &[(&str, &str)]) -> (VadConfig, Vec<String>) {
        let mut env = EnvReader::from_pairs(pairs);
        let c = VadConfig::from_env(&mut env);
        (c, env.errors().iter().map(|e| e.var.clone()).collect())
    }

    #[test]
    fn defaults_are_the_design_values() {
        let (c, errs) = read(&[]);
        assert!(errs.is_empty());
        assert_eq!(c, VadConfig::default());
        assert_eq!(c.segmenter.min_silence, Duration::from_millis(450));
    }

    #[test]
    fn values_are_read_and_every_mistake_named() {
        let (c, errs) = read(&[("VAD_ACTIVATION_THRESHOLD", "0.6"), ("VAD_MIN_SILENCE_SECS", "0.3")]);
        assert!(errs.is_empty());
        assert_eq!(c.segmenter.activation_threshold, 0.6);
        assert_eq!(c.segmenter.min_silence, Duration::from_millis(300));
        let (_, errs) = read(&[
            ("VAD_ACTIVATION_THRESHOLD", "0.3"),
            ("VAD_DEACTIVATION_THRESHOLD", "0.4"),
            ("VAD_MIN_SPEECH_SECS", "x"),
            ("VAD_END_PADDING_SECS", "2"),
            ("VAD_MAX_BATCH", "0"),
        ]);
        assert_eq!(
            errs,
            ["VAD_DEACTIVATION_THRESHOLD", "VAD_MIN_SPEECH_SECS", "VAD_END_PADDING_SECS", "VAD_MAX_BATCH"]
        );
    }
}
