//! Mono resampling of the input rate (48 kHz from WebRTC) to the model's 16 kHz.
//!
//! `rubato`'s synchronous FFT resampler does the work: a fixed 3:1 ratio, a proper
//! anti-aliasing filter, and `process_into_buffer` that writes into our buffers, so a
//! running stream does not allocate. It takes fixed 10 ms chunks; frames of any size are
//! gathered into those chunks here. The resampler's own delay is dropped from the start of
//! the output so 16 kHz sample positions line up with the input's.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler as _};

use crate::core::segmenter::SAMPLE_RATE;

/// Input rates the VAD accepts (all resample exactly to 16 kHz in 10 ms chunks).
pub const SUPPORTED_RATES: [u32; 7] = [8_000, 16_000, 24_000, 32_000, 44_100, 48_000, 96_000];

/// The input rate cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported sample rate {rate} Hz (supported: 8000, 16000, 24000, 32000, 44100, 48000, 96000)")]
pub struct UnsupportedRate {
    /// The rate offered.
    pub rate: u32,
}

/// Resamples one mono stream to 16 kHz.
pub struct Downsampler {
    rate: u32,
    /// `None` at 16 kHz: samples pass through.
    fft: Option<Fft<f32>>,
    chunk_in: Vec<f32>,
    filled: usize,
    chunk_out: Vec<f32>,
    /// Output samples still to drop at the start (the resampler's delay).
    skip: usize,
}

impl std::fmt::Debug for Downsampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Downsampler").field("rate", &self.rate).field("filled", &self.filled).finish()
    }
}

impl Downsampler {
    /// A resampler from `rate` to 16 kHz.
    pub fn new(rate: u32) -> Result<Self, UnsupportedRate> {
        if !SUPPORTED_RATES.contains(&rate) {
            return Err(UnsupportedRate { rate });
        }
        if rate == SAMPLE_RATE {
            return Ok(Self {
                rate,
                fft: None,
                chunk_in: Vec::new(),
                filled: 0,
                chunk_out: Vec::new(),
                skip: 0,
            });
        }
        let chunk = rate as usize / 100;
        let fft = Fft::<f32>::new(rate as usize, SAMPLE_RATE as usize, chunk, 1, FixedSync::Both)
            .map_err(|_| UnsupportedRate { rate })?;
        Ok(Self {
            rate,
            chunk_in: vec![0.0; fft.input_frames_next()],
            chunk_out: vec![0.0; fft.output_frames_max()],
            skip: fft.output_delay(),
            filled: 0,
            fft: Some(fft),
        })
    }

    /// The input rate.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// Takes one input sample; when a chunk completes, hands its 16 kHz output to `out`.
    #[inline]
    pub fn push(&mut self, sample: f32, out: &mut impl FnMut(&[f32])) {
        let Some(fft) = self.fft.as_mut() else {
            out(std::slice::from_ref(&sample));
            return;
        };
        self.chunk_in[self.filled] = sample;
        self.filled += 1;
        if self.filled < self.chunk_in.len() {
            return;
        }
        self.filled = 0;
        let frames_in = self.chunk_in.len();
        let frames_out = self.chunk_out.len();
        let produced = match (
            InterleavedSlice::new(&self.chunk_in[..], 1, frames_in),
            InterleavedSlice::new_mut(&mut self.chunk_out[..], 1, frames_out),
        ) {
            (Ok(input), Ok(mut output)) => match fft.process_into_buffer(&input, &mut output, None) {
                Ok((_, written)) => written,
                // Sizes are fixed at construction, so this cannot happen; drop the chunk if it does.
                Err(_) => 0,
            },
            _ => 0,
        };
        let drop = self.skip.min(produced);
        self.skip -= drop;
        if produced > drop {
            out(&self.chunk_out[drop..produced]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(rate: u32, input: &[f32]) -> Vec<f32> {
        let mut d = Downsampler::new(rate).unwrap();
        let mut out = Vec::new();
        for &x in input {
            d.push(x, &mut |s| out.extend_from_slice(s));
        }
        out
    }

    fn sine(rate: u32, hz: f32, secs: f32) -> Vec<f32> {
        let n = (rate as f32 * secs) as usize;
        (0..n).map(|i| 0.5 * (2.0 * std::f32::consts::PI * hz * i as f32 / rate as f32).sin()).collect()
    }

    #[test]
    fn unsupported_rates_are_refused_with_the_rate() {
        let err = Downsampler::new(22_050).unwrap_err();
        assert_eq!(err.rate, 22_050);
        assert!(err.to_string().starts_with("unsupported sample rate 22050 Hz"));
        assert!(Downsampler::new(0).is_err());
    }

    #[test]
    fn sixteen_khz_passes_through() {
        let x = sine(16_000, 440.0, 0.1);
        assert_eq!(run(16_000, &x), x);
    }

    #[test]
    fn a_48k_tone_comes_out_at_16k_in_phase() {
        let out = run(48_000, &sine(48_000, 440.0, 1.0));
        let expect = sine(16_000, 440.0, 1.0);
        // One second in, 10 ms chunks: everything but the delayed tail comes out.
        assert!(out.len() >= 15_800 && out.len() <= 16_000, "{}", out.len());
        let err = out.iter().zip(&expect).skip(400).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(err < 0.01, "max error {err}: delay not compensated or filter wrong");
    }

    #[test]
    fn content_above_8khz_is_filtered_out() {
        let out = run(48_000, &sine(48_000, 12_000.0, 0.5));
        let rms = (out.iter().skip(400).map(|x| x * x).sum::<f32>() / out.len() as f32).sqrt();
        assert!(rms < 0.01, "aliasing: rms {rms}");
    }
}
