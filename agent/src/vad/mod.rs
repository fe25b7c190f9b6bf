//! Silero VAD through ONNX Runtime: loading, per-stream windows, batched inference.
//!
//! - [`Vad`]: the model, loaded once per process ([`Vad::load`]) and shared; readiness asks
//!   [`Vad::is_loaded`].
//! - [`VadStream`]: one participant's audio → [`SegmentEvent`]s, scoring each window with a
//!   direct model call (tests, tools, single streams).
//! - [`VadService`] / [`BatchedStream`]: the same per-participant stream for async code; a
//!   dedicated std thread scores the pending windows of all streams in one model run.
//!
//! Inside: [`frontend`] checks and cleans frames and cuts 16 kHz windows, [`resample`]
//! brings 48 kHz to 16 kHz, [`model`] runs the session with per-stream state, and
//! [`crate::core::segmenter`] turns probabilities into utterances. [`load`] (ONNX Runtime) and
//! [`model_runs`] (run metrics) serve Smart Turn too.

pub mod batch;
pub mod config;
pub mod frontend;
mod intake;
pub mod load;
pub mod metrics;
pub mod model;
pub mod model_runs;
pub mod resample;
pub mod stream;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

pub use crate::core::segmenter::{EndReason, SegmentEvent, SegmenterConfig, Utterance};
pub use batch::{BatchedStream, VadService};
pub use config::VadConfig;
pub use frontend::{FrameError, InputFrame, InputStats, Samples};
pub use load::{LoadError, MODEL_SHA256};
pub use metrics::register_metrics;
pub use model::{InferenceFailed, SileroModel, StreamState};
pub use stream::VadStream;

/// Why a stream could not go on.
#[derive(Debug, Clone, thiserror::Error)]
pub enum VadError {
    /// The frame was refused (nothing of it was used).
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The model failed on a window.
    #[error(transparent)]
    Inference(#[from] InferenceFailed),
    /// The batching service has stopped.
    #[error("the VAD batching service has stopped")]
    ServiceStopped,
}

/// The shared Silero model. Cloning is cheap; all clones use the one session.
#[derive(Clone)]
pub struct Vad {
    model: Arc<Mutex<SileroModel>>,
}

impl std::fmt::Debug for Vad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vad").finish_non_exhaustive()
    }
}

/// The process's model: (model path, handle).
static SHARED: Mutex<Option<(PathBuf, Vad)>> = Mutex::new(None);

impl Vad {
    /// Loads ONNX Runtime from `ort_dylib` (`ORT_DYLIB_PATH`) and the Silero model from
    /// `model` (`VAD_MODEL_PATH`, sha256-checked), once per process: later calls with the same
    /// paths return the same handle.
    pub fn load(ort_dylib: &Path, model: &Path) -> Result<Self, LoadError> {
        let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((path, vad)) = shared.as_ref()
            && path == model
        {
            return Ok(vad.clone());
        }
        let env = load::runtime(ort_dylib)?;
        let bytes = load::read_model(model)?;
        let session = load::session(&env, &bytes)?;
        let silero = SileroModel::new(session)
            .map_err(|e| LoadError::Session { step: "use the Silero model", detail: e.0 })?;
        let vad = Self { model: Arc::new(Mutex::new(silero)) };
        *shared = Some((model.to_owned(), vad.clone()));
        Ok(vad)
    }

    /// Whether the model has been loaded in this process (for readiness).
    pub fn is_loaded() -> bool {
        SHARED.lock().map(|s| s.is_some()).unwrap_or(false)
    }

    /// Exclusive use of the session (runs are not thread-safe in ONNX Runtime).
    pub fn model(&self) -> MutexGuard<'_, SileroModel> {
        // A panic while holding the lock cannot leave the model half-updated in a way that
        // matters: each run rewrites its inputs.
        self.model.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A stream that scores windows with direct model calls.
    pub fn stream(&self, segmenter: SegmenterConfig) -> VadStream {
        VadStream::new(self.clone(), segmenter)
    }
}
