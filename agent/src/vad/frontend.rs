//! From input frames (any size, i16 or f32, mono or stereo, 48 kHz typically) to 512-sample
//! windows at 16 kHz, with the input checked and cleaned on the way.
//!
//! Frames are validated before any sample is used: an unusable frame is refused whole with a
//! clear error and changes nothing. Usable but damaged samples are repaired and counted:
//! NaN/±Inf become silence, values beyond full scale are clipped. A frame is consumed
//! lazily, window by window ([`Feed::next_window`]), so a caller can await the model between
//! windows and a long frame never needs a buffer of its size.

use crate::core::segmenter::WINDOW;
use crate::vad::resample::{Downsampler, UnsupportedRate};

/// Samples of one frame, interleaved when stereo.
#[derive(Debug, Clone, Copy)]
pub enum Samples<'a> {
    /// 16-bit PCM (full scale ±32768).
    I16(&'a [i16]),
    /// Float PCM (full scale ±1.0).
    F32(&'a [f32]),
}

impl Samples<'_> {
    fn len(&self) -> usize {
        match self {
            Samples::I16(s) => s.len(),
            Samples::F32(s) => s.len(),
        }
    }

    #[inline]
    fn get(&self, i: usize) -> f32 {
        match self {
            Samples::I16(s) => f32::from(s[i]) / 32768.0,
            Samples::F32(s) => s[i],
        }
    }
}

/// One frame of input audio, borrowed, at any supported rate, mono or interleaved stereo
/// (the room's decoded frames are [`crate::livekit::audio::AudioFrame`]).
#[derive(Debug, Clone, Copy)]
pub struct InputFrame<'a> {
    /// The samples.
    pub samples: Samples<'a>,
    /// Samples per second per channel.
    pub sample_rate: u32,
    /// 1 (mono) or 2 (interleaved stereo).
    pub channels: u16,
}

/// A frame that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The sample rate is not one the VAD can resample.
    #[error(transparent)]
    UnsupportedRate(#[from] UnsupportedRate),
    /// The rate changed in the middle of a stream.
    #[error("sample rate changed from {from} Hz to {to} Hz within one stream")]
    RateChanged {
        /// The stream's rate.
        from: u32,
        /// The frame's rate.
        to: u32,
    },
    /// Only mono and stereo are accepted.
    #[error("unsupported channel count {0} (1 or 2 accepted)")]
    UnsupportedChannels(u16),
    /// A stereo frame with an odd number of samples.
    #[error("frame of {len} samples is not a whole number of {channels}-channel frames")]
    PartialFrame {
        /// Samples in the frame.
        len: usize,
        /// Channels claimed.
        channels: u16,
    },
}

/// Repairs made to input so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InputStats {
    /// NaN or infinite samples replaced by silence.
    pub non_finite: u64,
    /// Samples beyond full scale, clipped.
    pub clipped: u64,
    /// Frames refused.
    pub refused_frames: u64,
}

/// Per-stream input stage: resampler plus the window being filled.
#[derive(Debug)]
pub struct FrontEnd {
    resampler: Option<Downsampler>,
    window: [f32; WINDOW],
    filled: usize,
    /// Resampled samples not yet moved into the window.
    pending: [f32; 1024],
    pending_len: usize,
    pending_read: usize,
    stats: InputStats,
}

impl Default for FrontEnd {
    fn default() -> Self {
        Self::new()
    }
}

impl FrontEnd {
    /// A front end whose rate is fixed by the first frame.
    pub fn new() -> Self {
        Self {
            resampler: None,
            window: [0.0; WINDOW],
            filled: 0,
            pending: [0.0; 1024],
            pending_len: 0,
            pending_read: 0,
            stats: InputStats::default(),
        }
    }

    /// Repairs and refusals so far.
    pub fn stats(&self) -> InputStats {
        self.stats
    }

    /// Starts consuming `frame`; pull its windows with [`Feed::next_window`].
    pub fn feed<'f>(&mut self, frame: InputFrame<'f>) -> Result<Feed<'_, 'f>, FrameError> {
        if let Err(e) = self.check(&frame) {
            self.stats.refused_frames += 1;
            return Err(e);
        }
        Ok(Feed { front: self, frame, pos: 0 })
    }

    fn check(&mut self, frame: &InputFrame<'_>) -> Result<(), FrameError> {
        if !(1..=2).contains(&frame.channels) {
            return Err(FrameError::UnsupportedChannels(frame.channels));
        }
        let len = frame.samples.len();
        if !len.is_multiple_of(usize::from(frame.channels)) {
            return Err(FrameError::PartialFrame { len, channels: frame.channels });
        }
        match &self.resampler {
            Some(r) if r.rate() != frame.sample_rate => {
                Err(FrameError::RateChanged { from: r.rate(), to: frame.sample_rate })
            }
            Some(_) => Ok(()),
            None => {
                self.resampler = Some(Downsampler::new(frame.sample_rate)?);
                Ok(())
            }
        }
    }

    /// Moves pending resampled samples into the window; true when the window is full.
    fn drain_pending(&mut self) -> bool {
        let take = (WINDOW - self.filled).min(self.pending_len - self.pending_read);
        self.window[self.filled..self.filled + take]
            .copy_from_slice(&self.pending[self.pending_read..self.pending_read + take]);
        self.filled += take;
        self.pending_read += take;
        if self.pending_read == self.pending_len {
            self.pending_read = 0;
            self.pending_len = 0;
        }
        self.filled == WINDOW
    }

    fn clean(&mut self, x: f32) -> f32 {
        if !x.is_finite() {
            self.stats.non_finite += 1;
            return 0.0;
        }
        if x.abs() > 1.0 {
            self.stats.clipped += 1;
            return x.clamp(-1.0, 1.0);
        }
        x
    }
}

/// A frame being consumed window by window.
#[derive(Debug)]
pub struct Feed<'a, 'f> {
    front: &'a mut FrontEnd,
    frame: InputFrame<'f>,
    /// Next sample frame (not sample) of the input to read.
    pos: usize,
}

impl Feed<'_, '_> {
    /// The next complete 16 kHz window, or `None` when the frame is used up (a partial
    /// window stays for the next frame).
    pub fn next_window(&mut self) -> Option<[f32; WINDOW]> {
        let channels = usize::from(self.frame.channels);
        let frames = self.frame.samples.len() / channels;
        loop {
            if self.front.drain_pending() {
                self.front.filled = 0;
                return Some(self.front.window);
            }
            if self.pos >= frames {
                return None;
            }
            // Resample until a chunk's output lands in `pending` or the frame ends.
            let front = &mut *self.front;
            while self.pos < frames && front.pending_len == 0 {
                let base = self.pos * channels;
                let mut x = 0.0;
                for c in 0..channels {
                    x += front.clean(self.frame.samples.get(base + c));
                }
                let x = x / channels as f32;
                self.pos += 1;
                let resampler = front.resampler.as_mut()?;
                let (pending, len) = (&mut front.pending, &mut front.pending_len);
                resampler.push(x, &mut |out: &[f32]| {
                    let n = out.len().min(pending.len() - *len);
                    pending[*len..*len + n].copy_from_slice(&out[..n]);
                    *len += n;
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn windows(front: &mut FrontEnd, frame: InputFrame<'_>) -> Vec<[f32; WINDOW]> {
        let mut feed = front.feed(frame).unwrap();
        std::iter::from_fn(|| feed.next_window()).collect()
    }

    fn mono16(s: &[i16]) -> InputFrame<'_> {
        InputFrame { samples: Samples::I16(s), sample_rate: 16_000, channels: 1 }
    }

    #[test]
    fn windows_span_frames_of_any_size() {
        let mut front = FrontEnd::new();
        let audio: Vec<i16> = (0..2000).map(|i| i as i16).collect();
        let mut got = Vec::new();
        for chunk in audio.chunks(37) {
            got.extend(windows(&mut front, mono16(chunk)));
        }
        assert_eq!(got.len(), 3, "2000 samples hold 3 whole windows");
        assert_eq!(got[1][0], 512.0 / 32768.0);
        assert_eq!(got[2][511], 1535.0 / 32768.0);
    }

    #[test]
    fn empty_frames_are_fine_and_bad_frames_are_refused_whole() {
        let mut front = FrontEnd::new();
        assert!(windows(&mut front, mono16(&[])).is_empty());
        let stereo = InputFrame { samples: Samples::I16(&[1, 2, 3]), sample_rate: 16_000, channels: 2 };
        assert_eq!(front.feed(stereo).unwrap_err(), FrameError::PartialFrame { len: 3, channels: 2 });
        let six = InputFrame { samples: Samples::I16(&[0; 12]), sample_rate: 16_000, channels: 6 };
        assert_eq!(front.feed(six).unwrap_err(), FrameError::UnsupportedChannels(6));
        let other = InputFrame { samples: Samples::I16(&[0; 10]), sample_rate: 48_000, channels: 1 };
        assert_eq!(front.feed(other).unwrap_err(), FrameError::RateChanged { from: 16_000, to: 48_000 });
        assert_eq!(front.stats().refused_frames, 3);
        let mut fresh = FrontEnd::new();
        let odd = InputFrame { samples: Samples::F32(&[0.0; 10]), sample_rate: 11_025, channels: 1 };
        let err = fresh.feed(odd).unwrap_err();
        assert!(err.to_string().contains("unsupported sample rate 11025 Hz"), "{err}");
    }

    #[test]
    fn stereo_is_averaged_and_broken_samples_repaired() {
        let mut front = FrontEnd::new();
        let mut s = vec![0.5f32; 2 * WINDOW];
        s[1] = -0.5; // frame 0: L 0.5, R -0.5 → 0
        s[2] = f32::NAN; // frame 1: NaN → 0, R 0.5 → 0.25
        s[4] = 9.0; // frame 2: clipped to 1, R 0.5 → 0.75
        s[6] = f32::NEG_INFINITY;
        let w =
            windows(&mut front, InputFrame { samples: Samples::F32(&s), sample_rate: 16_000, channels: 2 });
        assert_eq!(&w[0][..4], &[0.0, 0.25, 0.75, 0.25]);
        assert_eq!(front.stats(), InputStats { non_finite: 2, clipped: 1, refused_frames: 0 });
    }

    #[test]
    fn a_48k_stream_gives_a_third_of_the_windows() {
        let mut front = FrontEnd::new();
        let frame = [0i16; 960]; // 20 ms
        let mut n = 0;
        for _ in 0..100 {
            n += windows(
                &mut front,
                InputFrame { samples: Samples::I16(&frame), sample_rate: 48_000, channels: 1 },
            )
            .len();
        }
        // 2 s = 32000 samples at 16 kHz = 62.5 windows, less the resampler's delay.
        assert!((60..=62).contains(&n), "{n}");
    }

    #[test]
    fn a_huge_frame_is_consumed_without_a_buffer_of_its_size() {
        let mut front = FrontEnd::new();
        let frame = vec![0.1f32; 48_000 * 60];
        let mut feed = front
            .feed(InputFrame { samples: Samples::F32(&frame), sample_rate: 48_000, channels: 1 })
            .unwrap();
        let mut n = 0;
        while feed.next_window().is_some() {
            n += 1;
        }
        assert!((1870..=1875).contains(&n), "{n}");
    }
}
