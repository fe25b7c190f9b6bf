//! The front end as both stream kinds use it: refusals and repairs are published to the VAD
//! metrics exactly once, whichever way windows are scored afterwards.

use crate::vad::frontend::{Feed, FrontEnd, InputFrame, InputStats};
use crate::vad::{VadError, metrics};

/// A [`FrontEnd`] that reports to the metrics.
#[derive(Debug, Default)]
pub(crate) struct Intake {
    front: FrontEnd,
    /// Repairs already added to the counter.
    published: u64,
}

impl Intake {
    /// Starts consuming `frame`; a refused frame is counted and changes nothing.
    pub(crate) fn feed<'f>(&mut self, frame: InputFrame<'f>) -> Result<Feed<'_, 'f>, VadError> {
        self.front.feed(frame).map_err(|e| {
            metrics::metrics().refused_frames.inc();
            e.into()
        })
    }

    /// Adds the repairs made since the last call to the counter.
    pub(crate) fn publish_repairs(&mut self) {
        let s = self.front.stats();
        let total = s.non_finite + s.clipped;
        metrics::metrics().repaired_samples.inc_by(total - self.published);
        self.published = total;
    }

    /// Repairs and refusals so far.
    pub(crate) fn stats(&self) -> InputStats {
        self.front.stats()
    }
}
