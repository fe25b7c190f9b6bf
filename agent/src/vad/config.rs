//! VAD settings: the segmenter's thresholds and durations and the batching, as chosen
//! ([`VadSettings`], in code or from the environment) and as run ([`VadConfig`]).

use std::time::Duration;

use crate::core::segmenter::SegmenterConfig;
use crate::env::EnvReader;
use crate::settings::bounds::{VAD_MAX_BATCH, VAD_THRESHOLD};

/// The VAD's silence wait with Smart Turn (`VAD_MIN_SILENCE_SECS` default): the model, not
/// the silence, decides whether a pause ends the turn, so the pause is reported early. Shorter
/// than the 0.2 s Smart Turn's reference pipeline waits: the segmenter decides at the start of
/// a 32 ms window, so 150 ms of silence is heard 192 ms after the speech (200 ms: 256 ms), and
/// the model still hears the finished questions as finished (bench-turns, bench-session).
pub const SMART_VAD_MIN_SILENCE: Duration = Duration::from_millis(150);

/// How the VAD finds speech, as a developer or operator chooses it. The rules these must
/// follow (ranges, the deactivation threshold not above the activation threshold, …) are
/// checked when the pipeline is built ([`crate::pipeline`]).
///
/// ```
/// use std::time::Duration;
/// use voice_agent::vad::config::VadSettings;
/// let calm = VadSettings { activation_threshold: 0.6, min_silence: Some(Duration::from_millis(600)), ..VadSettings::default() };
/// assert_eq!(calm.min_silence_for(true), Duration::from_millis(600));
/// assert_eq!(VadSettings::default().min_silence_for(false), Duration::from_millis(450));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VadSettings {
    /// A window at or above this probability starts speech (0.5).
    pub activation_threshold: f32,
    /// While speaking, a window below this is silence (0.35; not above the activation).
    pub deactivation_threshold: f32,
    /// Shorter speech is ignored (50 ms).
    pub min_speech: Duration,
    /// Speech ends after this much silence; `None`: 450 ms, or 150 ms with Smart Turn (the
    /// model, not the silence, decides what a pause means).
    pub min_silence: Option<Duration>,
    /// Audio kept before the speech start (500 ms).
    pub prefix_padding: Duration,
    /// Audio kept after the speech end (not above the minimum silence); `None`: 100 ms, or
    /// with Smart Turn the whole minimum silence — the utterance keeps the pause the VAD
    /// waited for, as Smart Turn's reference pipeline feeds it to the model.
    pub end_padding: Option<Duration>,
    /// Longer speech is cut into several utterances (30 s).
    pub max_utterance: Duration,
    /// Most streams scored in one model run (64).
    pub max_batch: usize,
}

impl Default for VadSettings {
    fn default() -> Self {
        let d = SegmenterConfig::default();
        Self {
            activation_threshold: d.activation_threshold,
            deactivation_threshold: d.deactivation_threshold,
            min_speech: d.min_speech,
            min_silence: None,
            prefix_padding: d.prefix_padding,
            end_padding: None,
            max_utterance: d.max_utterance,
            max_batch: 64,
        }
    }
}

impl VadSettings {
    /// The minimum silence, resolved for the turn detection (`smart`: Smart Turn is used).
    pub fn min_silence_for(&self, smart: bool) -> Duration {
        self.min_silence.unwrap_or(match smart {
            true => SMART_VAD_MIN_SILENCE,
            false => SegmenterConfig::default().min_silence,
        })
    }

    /// The end padding, resolved for the turn detection (`smart`: Smart Turn is used).
    pub fn end_padding_for(&self, smart: bool) -> Duration {
        self.end_padding.unwrap_or(match smart {
            true => self.min_silence_for(true),
            false => SegmenterConfig::default().end_padding,
        })
    }

    /// The settings as the VAD runs them.
    pub fn resolve(&self, smart: bool) -> VadConfig {
        VadConfig {
            segmenter: SegmenterConfig {
                activation_threshold: self.activation_threshold,
                deactivation_threshold: self.deactivation_threshold,
                min_speech: self.min_speech,
                min_silence: self.min_silence_for(smart),
                prefix_padding: self.prefix_padding,
                end_padding: self.end_padding_for(smart),
                max_utterance: self.max_utterance,
            },
            max_batch: self.max_batch,
        }
    }

    /// Reads `VAD_ACTIVATION_THRESHOLD` (0.5), `VAD_DEACTIVATION_THRESHOLD` (0.35),
    /// `VAD_MIN_SPEECH_SECS` (0.05), `VAD_MIN_SILENCE_SECS` (0.45; 0.15 with Smart Turn),
    /// `VAD_PREFIX_PADDING_SECS` (0.5), `VAD_END_PADDING_SECS` (0.1; the minimum silence with
    /// Smart Turn), `VAD_MAX_UTTERANCE_SECS`
    /// (30) and `VAD_MAX_BATCH` (64). How they relate is checked with the pipeline.
    pub fn from_env(env: &mut EnvReader) -> Self {
        let d = Self::default();
        let (t, b) = (VAD_THRESHOLD, VAD_MAX_BATCH);
        let silence_default = SegmenterConfig::default().min_silence;
        let min_silence = env
            .raw("VAD_MIN_SILENCE_SECS")
            .is_some()
            .then(|| env.seconds("VAD_MIN_SILENCE_SECS", silence_default, 0.0, 10.0));
        let pad_default = SegmenterConfig::default().end_padding;
        Self {
            activation_threshold: env.ranged(
                "VAD_ACTIVATION_THRESHOLD",
                d.activation_threshold,
                t.min,
                t.max,
            ),
            deactivation_threshold: env.ranged(
                "VAD_DEACTIVATION_THRESHOLD",
                d.deactivation_threshold,
                t.min,
                t.max,
            ),
            min_speech: env.seconds("VAD_MIN_SPEECH_SECS", d.min_speech, 0.0, 10.0),
            min_silence,
            prefix_padding: env.seconds("VAD_PREFIX_PADDING_SECS", d.prefix_padding, 0.0, 5.0),
            end_padding: env
                .raw("VAD_END_PADDING_SECS")
                .is_some()
                .then(|| env.seconds("VAD_END_PADDING_SECS", pad_default, 0.0, 10.0)),
            max_utterance: env.seconds("VAD_MAX_UTTERANCE_SECS", d.max_utterance, 1.0, 600.0),
            max_batch: env.ranged("VAD_MAX_BATCH", d.max_batch, b.min, b.max),
        }
    }
}

/// The VAD as it runs: the segmenter and the batching (model paths are in
/// `config::ModelConfig`).
#[derive(Debug, Clone, PartialEq)]
pub struct VadConfig {
    /// Thresholds and durations of the speech segmenter.
    pub segmenter: SegmenterConfig,
    /// Most streams scored in one model run (default 64).
    pub max_batch: usize,
}

impl Default for VadConfig {
    fn default() -> Self {
        VadSettings::default().resolve(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(pairs: &[(&str, &str)]) -> (VadSettings, Vec<String>) {
        let mut env = EnvReader::from_pairs(pairs);
        let c = VadSettings::from_env(&mut env);
        (c, env.errors().iter().map(|e| e.var.clone()).collect())
    }

    #[test]
    fn defaults_are_the_design_values() {
        let (c, errs) = read(&[]);
        assert!(errs.is_empty());
        assert_eq!(c, VadSettings::default());
        assert_eq!(c.resolve(false).segmenter, SegmenterConfig::default());
        assert_eq!(c.resolve(false).segmenter.min_silence, Duration::from_millis(450));
        assert_eq!(c.resolve(true).segmenter.min_silence, SMART_VAD_MIN_SILENCE);
    }

    #[test]
    fn with_smart_turn_the_utterance_keeps_the_whole_pause() {
        let ms = Duration::from_millis;
        let (c, _) = read(&[]);
        assert_eq!(c.resolve(false).segmenter.end_padding, ms(100));
        assert_eq!(c.resolve(true).segmenter.end_padding, SMART_VAD_MIN_SILENCE);
        let (c, _) = read(&[("VAD_MIN_SILENCE_SECS", "0.3")]);
        assert_eq!(c.resolve(true).segmenter.end_padding, ms(300), "the configured pause");
        let (c, errs) = read(&[("VAD_END_PADDING_SECS", "0.05")]);
        assert!(errs.is_empty());
        assert_eq!(c.resolve(true).segmenter.end_padding, ms(50), "an explicit padding wins");
    }

    #[test]
    fn values_are_read_and_every_mistake_named() {
        let (c, errs) = read(&[("VAD_ACTIVATION_THRESHOLD", "0.6"), ("VAD_MIN_SILENCE_SECS", "0.3")]);
        assert!(errs.is_empty());
        assert_eq!(c.activation_threshold, 0.6);
        assert_eq!(c.resolve(true).segmenter.min_silence, Duration::from_millis(300), "chosen wins");
        let (_, errs) = read(&[
            ("VAD_ACTIVATION_THRESHOLD", "1.3"),
            ("VAD_MIN_SPEECH_SECS", "x"),
            ("VAD_END_PADDING_SECS", "NaN"),
            ("VAD_MAX_BATCH", "0"),
        ]);
        assert_eq!(
            errs,
            ["VAD_ACTIVATION_THRESHOLD", "VAD_MIN_SPEECH_SECS", "VAD_END_PADDING_SECS", "VAD_MAX_BATCH"]
        );
    }
}
