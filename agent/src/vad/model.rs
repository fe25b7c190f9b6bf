//! The Silero model session and batched inference without allocation.
//!
//! The model takes `input` (B, 576) — 64 samples of context then the 512-sample window —
//! `state` (2, B, 128) and `sr` (a scalar), and returns `output` (B, 1) and `stateN`
//! (2, B, 128). One run scores one window for each of B streams, each with its own state.
//!
//! Tensors for each batch size are made the first time that size is used and kept: inputs
//! are filled in place and outputs are preallocated, so a run makes no Rust allocation.

use ort::memory::Allocator;
use ort::session::{HasSelectedOutputs, OutputSelector, RunOptions, Session};
use ort::value::Tensor;

use crate::core::segmenter::{SAMPLE_RATE, WINDOW};

/// Samples of the previous window the model sees before each window.
pub const CONTEXT: usize = 64;
/// One row of the model's input: context then window.
pub const INPUT: usize = CONTEXT + WINDOW;
/// Floats in one stream's recurrent state (2 × 128).
pub const STATE: usize = 2 * HIDDEN;
const HIDDEN: usize = 128;

/// Inference failed inside ONNX Runtime.
#[derive(Debug, Clone, thiserror::Error)]
#[error("Silero inference failed: {0}")]
pub struct InferenceFailed(pub String);

impl InferenceFailed {
    fn from<E: std::fmt::Display>(e: E) -> Self {
        Self(e.to_string())
    }
}

/// One stream's recurrent state and input row, carried from window to window.
#[derive(Clone)]
pub struct StreamState {
    /// Context (the previous window's last 64 samples) then the current window.
    pub input: [f32; INPUT],
    /// The LSTM state, layer-major as the model lays it out for one stream.
    pub state: [f32; STATE],
}

impl Default for StreamState {
    fn default() -> Self {
        Self { input: [0.0; INPUT], state: [0.0; STATE] }
    }
}

impl std::fmt::Debug for StreamState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamState").finish_non_exhaustive()
    }
}

impl StreamState {
    /// Puts the next window after the context.
    pub fn set_window(&mut self, window: &[f32; WINDOW]) {
        self.input[CONTEXT..].copy_from_slice(window);
    }

    /// After a run: the window's tail becomes the next context.
    fn roll_context(&mut self) {
        self.input.copy_within(WINDOW.., 0);
    }
}

struct BatchTensors {
    input: Tensor<f32>,
    state: Tensor<f32>,
    sr: Tensor<i64>,
    run: RunOptions<HasSelectedOutputs>,
}

impl BatchTensors {
    fn new(batch: usize) -> Result<Self, InferenceFailed> {
        let alloc = Allocator::default();
        let b = batch as i64;
        let mut sr = Tensor::<i64>::new(&alloc, [0i64; 0]).map_err(InferenceFailed::from)?;
        sr.extract_tensor_mut().1[0] = i64::from(SAMPLE_RATE);
        let outputs = OutputSelector::default()
            .preallocate("output", Tensor::<f32>::new(&alloc, [b, 1]).map_err(InferenceFailed::from)?)
            .preallocate(
                "stateN",
                Tensor::<f32>::new(&alloc, [2, b, HIDDEN as i64]).map_err(InferenceFailed::from)?,
            );
        Ok(Self {
            input: Tensor::new(&alloc, [b, INPUT as i64]).map_err(InferenceFailed::from)?,
            state: Tensor::new(&alloc, [2, b, HIDDEN as i64]).map_err(InferenceFailed::from)?,
            sr,
            run: RunOptions::new().map_err(InferenceFailed::from)?.with_outputs(outputs),
        })
    }
}

/// The loaded Silero session with its per-batch-size tensors.
pub struct SileroModel {
    session: Session,
    /// Index = batch size.
    tensors: Vec<Option<BatchTensors>>,
}

impl std::fmt::Debug for SileroModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sizes: Vec<usize> = (0..self.tensors.len()).filter(|&i| self.tensors[i].is_some()).collect();
        f.debug_struct("SileroModel").field("batch_sizes_ready", &sizes).finish()
    }
}

impl SileroModel {
    /// Wraps a session; checks it has the Silero interface.
    pub fn new(session: Session) -> Result<Self, InferenceFailed> {
        let inputs: Vec<&str> = session.inputs().iter().map(|i| i.name()).collect();
        let outputs: Vec<&str> = session.outputs().iter().map(|o| o.name()).collect();
        if inputs != ["input", "state", "sr"] || outputs != ["output", "stateN"] {
            return Err(InferenceFailed(format!(
                "unexpected model interface: inputs {inputs:?}, outputs {outputs:?}"
            )));
        }
        Ok(Self { session, tensors: Vec::new() })
    }

    /// Scores one window (already placed with [`StreamState::set_window`]) and advances the state.
    pub fn infer_one(&mut self, stream: &mut StreamState) -> Result<f32, InferenceFailed> {
        let mut p = 0.0;
        self.infer(std::slice::from_mut(stream), std::slice::from_mut(&mut p))?;
        Ok(p)
    }

    /// Scores one window for each stream in one run; `probs[i]` gets stream `i`'s probability.
    pub fn infer(&mut self, streams: &mut [StreamState], probs: &mut [f32]) -> Result<(), InferenceFailed> {
        let n = streams.len();
        if n == 0 {
            return Ok(());
        }
        if probs.len() < n {
            return Err(InferenceFailed(format!("{n} streams but room for {} probabilities", probs.len())));
        }
        if self.tensors.len() <= n {
            self.tensors.resize_with(n + 1, || None);
        }
        if self.tensors[n].is_none() {
            self.tensors[n] = Some(BatchTensors::new(n)?);
        }
        let Some(t) = self.tensors[n].as_mut() else { unreachable!("made above") };
        {
            let (_, input) = t.input.extract_tensor_mut();
            let (_, state) = t.state.extract_tensor_mut();
            for (i, s) in streams.iter().enumerate() {
                input[i * INPUT..(i + 1) * INPUT].copy_from_slice(&s.input);
                state[i * HIDDEN..(i + 1) * HIDDEN].copy_from_slice(&s.state[..HIDDEN]);
                state[(n + i) * HIDDEN..(n + i + 1) * HIDDEN].copy_from_slice(&s.state[HIDDEN..]);
            }
        }
        let outputs = self
            .session
            .run_with_options(ort::inputs![&t.input, &t.state, &t.sr], &t.run)
            .map_err(InferenceFailed::from)?;
        let (_, out) = outputs[0].try_extract_tensor::<f32>().map_err(InferenceFailed::from)?;
        let (_, next) = outputs[1].try_extract_tensor::<f32>().map_err(InferenceFailed::from)?;
        for (i, s) in streams.iter_mut().enumerate() {
            s.state[..HIDDEN].copy_from_slice(&next[i * HIDDEN..(i + 1) * HIDDEN]);
            s.state[HIDDEN..].copy_from_slice(&next[(n + i) * HIDDEN..(n + i + 1) * HIDDEN]);
            s.roll_context();
            probs[i] = out[i];
        }
        Ok(())
    }
}
