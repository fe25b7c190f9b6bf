//! The Smart Turn v3.2 session: reading and checking the model file, and batched inference.
//!
//! The model takes `input_features` (B, 80, 800) — the Whisper log-mel features of 8 s of
//! audio — and returns (B, 1): the probability that the speaker has finished their turn (the
//! output is named `logits`, but the graph ends in a sigmoid, as the reference reads it).

use std::path::{Path, PathBuf};

use ort::session::Session;
use ort::value::TensorRef;

use super::features::{FEATURES, N_FRAMES, N_MELS};
pub use crate::vad::load::Arena;
use crate::vad::load::{self as ort_load, LoadError};

/// sha256 of `smart-turn-v3.2-cpu.onnx` (pipecat-ai 1.14.0) this code was verified against.
pub const MODEL_SHA256: &str = "2bb026316b14a660486a75b1733cd3fbab8c2fd0314dc9af7be49f8cca967e4f";

/// Why the Smart Turn model could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TurnLoadError {
    /// ONNX Runtime itself could not be loaded or refused the session.
    #[error(transparent)]
    Runtime(#[from] LoadError),
    /// The model file cannot be read.
    #[error("TURN_MODEL_PATH={}: cannot read the Smart Turn model ({source}); run scripts/setup", .path.display())]
    ModelUnreadable {
        /// The path tried.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not the expected model.
    #[error("TURN_MODEL_PATH={}: sha256 {found} is not the Smart Turn v3.2 model expected ({MODEL_SHA256}); run scripts/setup", .path.display())]
    ModelChecksum {
        /// The path tried.
        path: PathBuf,
        /// The file's sha256.
        found: String,
    },
    /// The session does not have the Smart Turn interface.
    #[error("TURN_MODEL_PATH={}: {detail}", .path.display())]
    Interface {
        /// The path tried.
        path: PathBuf,
        /// What differs.
        detail: String,
    },
}

/// Inference failed inside ONNX Runtime.
#[derive(Debug, Clone, thiserror::Error)]
#[error("Smart Turn inference failed: {0}")]
pub struct InferenceFailed(pub String);

/// Reads the model and checks it is the expected Smart Turn model.
pub fn read_model(path: &Path) -> Result<Vec<u8>, TurnLoadError> {
    let bytes = std::fs::read(path)
        .map_err(|source| TurnLoadError::ModelUnreadable { path: path.to_owned(), source })?;
    let found = ort_load::sha256_hex(&bytes);
    if found != MODEL_SHA256 {
        return Err(TurnLoadError::ModelChecksum { path: path.to_owned(), found });
    }
    Ok(bytes)
}

/// The loaded session.
pub struct SmartTurnModel {
    session: Session,
}

impl std::fmt::Debug for SmartTurnModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmartTurnModel").finish_non_exhaustive()
    }
}

impl SmartTurnModel {
    /// Loads ONNX Runtime from `ort_dylib` (once per process) and the model from `path`
    /// (sha256-checked), with `threads` intra-op threads. Runs keep no memory between them
    /// ([`Arena::Release`]): batches vary in size, and an arena would hold on to the largest.
    pub fn load(ort_dylib: &Path, path: &Path, threads: usize) -> Result<Self, TurnLoadError> {
        Self::load_with(ort_dylib, path, threads, Arena::Release)
    }

    /// [`SmartTurnModel::load`] with another memory policy (benchmarks compare them).
    pub fn load_with(
        ort_dylib: &Path,
        path: &Path,
        threads: usize,
        arena: Arena,
    ) -> Result<Self, TurnLoadError> {
        let env = ort_load::runtime(ort_dylib)?;
        let bytes = read_model(path)?;
        let session = ort_load::build_session(&env, &bytes, threads, arena, "load the Smart Turn model")?;
        let inputs: Vec<&str> = session.inputs().iter().map(|i| i.name()).collect();
        let outputs: Vec<&str> = session.outputs().iter().map(|o| o.name()).collect();
        if inputs != ["input_features"] || outputs.len() != 1 {
            return Err(TurnLoadError::Interface {
                path: path.to_owned(),
                detail: format!("unexpected model interface: inputs {inputs:?}, outputs {outputs:?}"),
            });
        }
        Ok(Self { session })
    }

    /// Scores `probs.len()` items whose features lie one after the other in `features`
    /// (`FEATURES` floats each); `probs[i]` gets item `i`'s probability of a finished turn.
    pub fn infer(&mut self, features: &[f32], probs: &mut [f32]) -> Result<(), InferenceFailed> {
        let n = probs.len();
        if n == 0 {
            return Ok(());
        }
        if features.len() != n * FEATURES {
            return Err(InferenceFailed(format!("{} floats for {n} items", features.len())));
        }
        let fail = |e: ort::Error| InferenceFailed(e.to_string());
        let input = TensorRef::from_array_view(([n, N_MELS, N_FRAMES], features)).map_err(fail)?;
        let outputs = self.session.run(ort::inputs!["input_features" => input]).map_err(fail)?;
        let (_, out) = outputs[0].try_extract_tensor::<f32>().map_err(fail)?;
        if out.len() != n {
            return Err(InferenceFailed(format!("{} outputs for {n} items", out.len())));
        }
        probs.copy_from_slice(out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_wrong_models_name_the_variable() {
        let err = read_model(Path::new("/nonexistent/smart-turn.onnx")).unwrap_err();
        assert!(
            err.to_string().starts_with("TURN_MODEL_PATH=/nonexistent/smart-turn.onnx: cannot read"),
            "{err}"
        );
        let p = std::env::temp_dir().join(format!("va-not-smart-turn-{}.onnx", std::process::id()));
        std::fs::write(&p, b"not a model").unwrap();
        let err = read_model(&p).unwrap_err();
        assert!(matches!(err, TurnLoadError::ModelChecksum { .. }));
        assert!(err.to_string().contains("is not the Smart Turn v3.2 model expected"), "{err}");
        std::fs::remove_file(&p).ok();
    }
}
