//! Smart Turn settings from the environment: whether it is used, where the model is, and how
//! it runs. (How the turn machine uses its answers — threshold and delays — is part of
//! [`crate::core::turn::TurnConfig`].)

use std::path::PathBuf;

use crate::env::EnvReader;

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
    /// `TURN_MAX_BATCH`: most requests scored in one run (default 16).
    pub max_batch: usize,
}

impl Default for TurnDetectionConfig {
    fn default() -> Self {
        Self {
            mode: TurnDetection::Smart,
            model: PathBuf::from("models/smart-turn-v3.2-cpu.onnx"),
            threads: 1,
            max_batch: 16,
        }
    }
}

impl TurnDetectionConfig {
    /// Reads `TURN_DETECTION`, `TURN_MODEL_PATH`, `TURN_THREADS` and `TURN_MAX_BATCH`.
    pub fn from_env(env: &mut EnvReader) -> Self {
        let d = Self::default();
        Self {
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
        let (_, errs) = read(&[("TURN_DETECTION", "semantic"), ("TURN_MAX_BATCH", "0")]);
        assert_eq!(errs, ["TURN_DETECTION", "TURN_MAX_BATCH"]);
    }
}
