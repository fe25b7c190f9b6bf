//! One participant's audio through the VAD with direct (unbatched) model calls.

use crate::clock;
use crate::core::segmenter::{SegmentEvent, Segmenter, SegmenterConfig};
use crate::vad::frontend::{InputFrame, InputStats};
use crate::vad::intake::Intake;
use crate::vad::model::StreamState;
use crate::vad::{Vad, VadError, metrics};

/// A stream: frames in, [`SegmentEvent`]s out. Each complete window is scored at once.
#[derive(Debug)]
pub struct VadStream {
    vad: Vad,
    front: Intake,
    state: StreamState,
    segmenter: Segmenter,
}

impl VadStream {
    /// A new stream at position 0.
    pub fn new(vad: Vad, segmenter: SegmenterConfig) -> Self {
        Self {
            vad,
            front: Intake::default(),
            state: StreamState::default(),
            segmenter: Segmenter::new(segmenter),
        }
    }

    /// Consumes one frame; events go to `out` (reuse it: no allocation once it is large enough).
    /// A refused frame leaves the stream unchanged.
    pub fn push(&mut self, frame: InputFrame<'_>, out: &mut Vec<SegmentEvent>) -> Result<(), VadError> {
        let mut feed = self.front.feed(frame)?;
        while let Some(window) = feed.next_window() {
            self.state.set_window(&window);
            let started = clock::now();
            let p = self.vad.model().infer_one(&mut self.state);
            metrics::metrics().runs.record(clock::now().saturating_duration_since(started), 1);
            let p = p.inspect_err(|_| {
                metrics::metrics().runs.inference_errors.inc();
            })?;
            self.segmenter.push_window(&window, p, out);
        }
        self.front.publish_repairs();
        Ok(())
    }

    /// Ends the stream: speech in progress is emitted as an utterance.
    pub fn finish(&mut self, out: &mut Vec<SegmentEvent>) {
        self.segmenter.finish(out);
    }

    /// Whether an announced utterance is in progress.
    pub fn is_speaking(&self) -> bool {
        self.segmenter.is_speaking()
    }

    /// Input repairs and refusals so far.
    pub fn input_stats(&self) -> InputStats {
        self.front.stats()
    }
}
