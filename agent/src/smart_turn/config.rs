//! Smart Turn settings from the environment: whether it is used, where the model is, how it
//! runs, and how the turn machine uses its answers (threshold and delays, handed to
//! [`crate::core::turn::TurnConfig::smart`]).

use std::path::PathBuf;

use crate::core::endpoint::SmartEndpointing;
use crate::env::EnvReader;
use crate::settings::bounds::TURN_THRESHOLD;

pub use crate::vad::config::SMART_VAD_MIN_SILENCE;

/// How the end of a user's turn is decided (`TURN_DETECTION`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnDetection {
    /// Smart Turn is asked at each pause; silence alone ends a turn only after the maximum
    /// wait (`smart`, the default).
    Smart,
    /// Silence alone: the VAD's end of speech plus the endpointing delay (`vad`).
    Vad,
}

/// Everything Smart Turn is set up with.
#[derive(Debug, Clone, PartialEq)]
pub struct TurnDetectionConfig {
    /// `TURN_DETECTION`: `smart` (default) or `vad`.
    pub mode: TurnDetection,
    /// `TURN_MODEL_PATH`: the model (default `models/smart-turn-v3.2-cpu.onnx`).
    pub model: PathBuf,
    /// `TURN_THREADS`: intra-op threads of the model run (default 1).
    pub threads: usize,
    /// `TURN_MAX_BATCH`: most requests scored in one run (default 1: a batch costs as much CPU
    /// per item as single runs, makes every answer in it wait for the whole run, and needs
    /// ~19 MB more memory per item).
    pub max_batch: usize,
    /// `TURN_THRESHOLD` (0.5), `TURN_MIN_DELAY_SECS` (0.2), `TURN_MAX_DELAY_SECS` (3),
    /// `TURN_MODEL_WAIT_SECS` (0.5), `TURN_QUESTION_DELAY_SECS` (1; 0: off).
    pub endpointing: SmartEndpointing,
}

impl Default for TurnDetectionConfig {
    fn default() -> Self {
        Self {
            mode: TurnDetection::Smart,
            model: PathBuf::from("models/smart-turn-v3.2-cpu.onnx"),
            threads: 1,
            max_batch: 1,
            endpointing: SmartEndpointing::default(),
        }
    }
}

impl TurnDetectionConfig {
    /// Reads `TURN_DETECTION`, `TURN_MODEL_PATH`, `TURN_THREADS`, `TURN_MAX_BATCH`,
    /// `TURN_THRESHOLD`, `TURN_MIN_DELAY_SECS`, `TURN_MAX_DELAY_SECS` (not below the
    /// minimum: checked with the pipeline, [`crate::pipeline`]), `TURN_MODEL_WAIT_SECS` and
    /// `TURN_QUESTION_DELAY_SECS` (kept between the minimum and the maximum where it is used).
    pub fn from_env(env: &mut EnvReader) -> Self {
        let d = Self::default();
        let e = d.endpointing;
        let t = TURN_THRESHOLD;
        let endpointing = SmartEndpointing {
            threshold: env.ranged("TURN_THRESHOLD", e.threshold, t.min, t.max),
            min_delay: env.seconds("TURN_MIN_DELAY_SECS", e.min_delay, 0.0, 10.0),
            max_delay: env.seconds("TURN_MAX_DELAY_SECS", e.max_delay, 0.0, 60.0),
            model_wait: env.seconds("TURN_MODEL_WAIT_SECS", e.model_wait, 0.0, 10.0),
            question_delay: env.seconds("TURN_QUESTION_DELAY_SECS", e.question_delay, 0.0, 60.0),
        };
        Self {
            endpointing,
            mode: env.choice(
                "TURN_DETECTION",
                d.mode,
                &[("smart", TurnDetection::Smart), ("vad", TurnDetection::Vad)],
            ),
            model: env.string("TURN_MODEL_PATH", &d.model.to_string_lossy()).into(),
            threads: env.ranged("TURN_THREADS", d.threads, 1, 64),
            max_batch: env.ranged("TURN_MAX_BATCH", d.max_batch, 1, 256),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn read(pairs: &[(&str, &str)]) -> (TurnDetectionConfig, Vec<String>) {
        let mut env = EnvReader::new(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
        let c = TurnDetectionConfig::from_env(&mut env);
        (c, env.errors().iter().map(|e| e.var.clone()).collect())
    }

    #[test]
    fn defaults_values_and_mistakes() {
        let (c, errs) = read(&[]);
        assert!(errs.is_empty());
        assert_eq!(c, TurnDetectionConfig::default());
        let (c, errs) =
            read(&[("TURN_DETECTION", "vad"), ("TURN_THREADS", "2"), ("TURN_MODEL_PATH", "/m.onnx")]);
        assert!(errs.is_empty());
        assert_eq!((c.mode, c.threads, c.model), (TurnDetection::Vad, 2, PathBuf::from("/m.onnx")));
        let (c, errs) = read(&[("TURN_THRESHOLD", "0.7"), ("TURN_MIN_DELAY_SECS", "0.1")]);
        assert!(errs.is_empty());
        let e = c.endpointing;
        assert_eq!(
            (e.threshold, e.min_delay, e.max_delay, e.question_delay),
            (0.7, Duration::from_millis(100), Duration::from_secs(3), Duration::from_secs(1))
        );
        for (value, delay) in [("0.6", Duration::from_millis(600)), ("0", Duration::ZERO)] {
            let (c, errs) = read(&[("TURN_QUESTION_DELAY_SECS", value)]);
            assert!(errs.is_empty(), "{value}: {errs:?}");
            assert_eq!(c.endpointing.question_delay, delay);
        }
        let (_, errs) = read(&[
            ("TURN_DETECTION", "semantic"),
            ("TURN_MAX_BATCH", "0"),
            ("TURN_THRESHOLD", "1.5"),
            ("TURN_MIN_DELAY_SECS", "-2"),
            ("TURN_QUESTION_DELAY_SECS", "soon"),
        ]);
        assert_eq!(
            errs,
            [
                "TURN_THRESHOLD",
                "TURN_MIN_DELAY_SECS",
                "TURN_QUESTION_DELAY_SECS",
                "TURN_DETECTION",
                "TURN_MAX_BATCH"
            ]
        );
        let (_, errs) = read(&[("TURN_QUESTION_DELAY_SECS", "-1")]);
        assert_eq!(errs, ["TURN_QUESTION_DELAY_SECS"]);
    }
}
