//! Semantic end of turn: the Smart Turn v3.2 model through ONNX Runtime.
//!
//! Silence alone cannot tell "I'd like a table for… \[pause] four" from "What time is it?
//! \[pause]". Smart Turn hears the last ≤ 8 s of a speaker's audio and says how likely it is
//! that they have finished; the turn machine ([`crate::core::turn`]) asks it at each pause.
//!
//! - [`SmartTurn`]: the model, loaded once per process ([`SmartTurn::load`], sha256-checked)
//!   and shared; [`SmartTurn::predict`] scores audio in the caller's thread (tests, tools).
//! - [`TurnDetector`]: the same for async code: a dedicated std thread computes the features
//!   and scores every pending request of every session in one model run.
//!
//! Inside: [`features`] computes the Whisper log-mel features in Rust, [`model`] runs the
//! session, [`metrics`] counts and times it.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::path::Path;
//! use voice_agent::smart_turn::{MelExtractor, SmartTurn};
//!
//! let model = SmartTurn::load(
//!     Path::new("models/libonnxruntime.so.1.31.1"),
//!     Path::new("models/smart-turn-v3.2-cpu.onnx"),
//!     1,
//! )?;
//! let audio = vec![0.0f32; 16_000]; // 1 s at 16 kHz, ±1.0
//! let p = model.predict(&mut MelExtractor::new(), &audio)?;
//! println!("finished with probability {p:.2}");
//! # Ok(())
//! # }
//! ```

pub mod config;
pub mod features;
pub mod metrics;
pub mod model;
mod service;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

pub use config::{TurnDetection, TurnDetectionConfig};
pub use features::{FEATURES, MAX_SAMPLES, MelExtractor};
pub use metrics::register_metrics;
pub use model::{InferenceFailed, MODEL_SHA256, SmartTurnModel, TurnLoadError};
pub use service::{DetectError, TurnDetector};

/// The shared Smart Turn model. Cloning is cheap; all clones use the one session.
#[derive(Clone)]
pub struct SmartTurn {
    model: Arc<Mutex<SmartTurnModel>>,
}

impl std::fmt::Debug for SmartTurn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmartTurn").finish_non_exhaustive()
    }
}

/// The process's model: (model path, handle).
static SHARED: Mutex<Option<(PathBuf, SmartTurn)>> = Mutex::new(None);

impl SmartTurn {
    /// Loads ONNX Runtime from `ort_dylib` (`ORT_DYLIB_PATH`) and the model from `model`
    /// (`TURN_MODEL_PATH`, sha256-checked) with `threads` intra-op threads, once per process:
    /// later calls with the same path return the same handle.
    pub fn load(ort_dylib: &Path, model: &Path, threads: usize) -> Result<Self, TurnLoadError> {
        let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((path, turn)) = shared.as_ref()
            && path == model
        {
            return Ok(turn.clone());
        }
        let loaded = SmartTurnModel::load(ort_dylib, model, threads)?;
        let turn = Self { model: Arc::new(Mutex::new(loaded)) };
        *shared = Some((model.to_owned(), turn.clone()));
        Ok(turn)
    }

    /// Whether the model has been loaded in this process (for readiness).
    pub fn is_loaded() -> bool {
        SHARED.lock().map(|s| s.is_some()).unwrap_or(false)
    }

    /// Exclusive use of the session.
    pub fn model(&self) -> MutexGuard<'_, SmartTurnModel> {
        // Each run rewrites its inputs: a panic while holding the lock leaves nothing behind.
        self.model.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The probability that the speaker of `audio` (16 kHz, ±1.0; the last 8 s are used) has
    /// finished their turn, computed in this thread.
    pub fn predict(&self, extractor: &mut MelExtractor, audio: &[f32]) -> Result<f32, InferenceFailed> {
        let mut features = vec![0.0; FEATURES];
        extractor.compute(audio, &mut features);
        let mut p = [0.0];
        self.model().infer(&features, &mut p)?;
        Ok(p[0])
    }
}
