//! Streamed TTS audio: little-endian s16 bytes → samples (an odd byte carried to the next
//! chunk), and the 24 kHz → 48 kHz ×2 upsampler that makes them ready for the room.
//!
//! The upsampler is a polyphase half-band interpolator: even outputs are the input samples,
//! odd outputs are a windowed-sinc estimate of the point halfway between two inputs. Its
//! delay is [`TAPS_PER_SIDE`] input samples (a third of a millisecond); [`Upsampler2x::flush`]
//! returns the tail at the end of a stream. No allocation per chunk beyond the output vector.

/// Input samples used on each side of an interpolated point.
pub const TAPS_PER_SIDE: usize = 8;
const TAPS: usize = 2 * TAPS_PER_SIDE;

/// The stream ended in the middle of a sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the audio stream ended with an odd byte (half a 16-bit sample)")]
pub struct OddByte;

/// Bytes → samples, across chunk boundaries.
#[derive(Debug, Default, Clone)]
pub struct PcmDecoder {
    carry: Option<u8>,
}

impl PcmDecoder {
    /// Decodes `bytes`, appending whole samples to `out`.
    pub fn decode(&mut self, mut bytes: &[u8], out: &mut Vec<i16>) {
        out.reserve(bytes.len() / 2 + 1);
        if let Some(lo) = self.carry.take() {
            match bytes.split_first() {
                Some((&hi, rest)) => {
                    out.push(i16::from_le_bytes([lo, hi]));
                    bytes = rest;
                }
                None => {
                    self.carry = Some(lo);
                    return;
                }
            }
        }
        let mut pairs = bytes.chunks_exact(2);
        out.extend(pairs.by_ref().map(|p| i16::from_le_bytes([p[0], p[1]])));
        self.carry = pairs.remainder().first().copied();
    }

    /// Ends the stream: an odd byte left over is an error.
    pub fn finish(&mut self) -> Result<(), OddByte> {
        match self.carry.take() {
            Some(_) => Err(OddByte),
            None => Ok(()),
        }
    }
}

/// The ×2 interpolator (24 kHz → 48 kHz).
#[derive(Debug, Clone)]
pub struct Upsampler2x {
    taps: [f32; TAPS],
    /// The last `TAPS` inputs, oldest first.
    hist: [f32; TAPS],
    /// Inputs seen, capped at `TAPS` (the first `TAPS_PER_SIDE` outputs are the filter delay).
    seen: usize,
}

impl Default for Upsampler2x {
    fn default() -> Self {
        Self::new()
    }
}

impl Upsampler2x {
    /// A fresh upsampler.
    pub fn new() -> Self {
        let mut taps = [0f32; TAPS];
        let m = TAPS_PER_SIDE as f64;
        for (k, t) in taps.iter_mut().enumerate() {
            // Distance of input k from the midpoint between inputs M-1 and M.
            let x = k as f64 - (m - 0.5);
            let sinc = (std::f64::consts::PI * x).sin() / (std::f64::consts::PI * x);
            // Blackman window over the 2M taps.
            let n = (k as f64 + 0.5) / TAPS as f64;
            let w = 0.42 - 0.5 * (2.0 * std::f64::consts::PI * n).cos()
                + 0.08 * (4.0 * std::f64::consts::PI * n).cos();
            *t = (sinc * w) as f32;
        }
        let sum: f32 = taps.iter().sum();
        for t in &mut taps {
            *t /= sum;
        }
        Self { taps, hist: [0.0; TAPS], seen: 0 }
    }

    fn push(&mut self, s: f32, out: &mut Vec<i16>) {
        self.hist.copy_within(1.., 0);
        self.hist[TAPS - 1] = s;
        self.seen = (self.seen + 1).min(TAPS + 1);
        if self.seen <= TAPS_PER_SIDE {
            return;
        }
        let mid: f32 = self.taps.iter().zip(&self.hist).map(|(t, h)| t * h).sum();
        out.push(self.hist[TAPS_PER_SIDE - 1] as i16);
        out.push(mid.round().clamp(i16::MIN as f32, i16::MAX as f32) as i16);
    }

    /// Upsamples `input`, appending to `out` (twice as many samples, minus the start delay).
    pub fn process(&mut self, input: &[i16], out: &mut Vec<i16>) {
        out.reserve(input.len() * 2);
        for &s in input {
            self.push(f32::from(s), out);
        }
    }

    /// The samples still inside the filter, at the end of a stream.
    pub fn flush(&mut self, out: &mut Vec<i16>) {
        // M more inputs bring the last real one to the filter's centre.
        let pending = if self.seen > 0 { TAPS_PER_SIDE } else { 0 };
        for _ in 0..pending {
            self.push(0.0, out);
        }
        self.seen = 0;
        self.hist = [0.0; TAPS];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_bytes_carry_over_and_a_final_odd_byte_is_an_error() {
        let samples: Vec<i16> = vec![1, -2, 300, -32768, 32767];
        let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        for step in 1..bytes.len() {
            let mut d = PcmDecoder::default();
            let mut out = Vec::new();
            for c in bytes.chunks(step) {
                d.decode(c, &mut out);
            }
            assert_eq!(out, samples, "chunks of {step}");
            assert!(d.finish().is_ok());
        }
        let mut d = PcmDecoder::default();
        let mut out = Vec::new();
        d.decode(&bytes[..3], &mut out);
        d.decode(&[], &mut out);
        assert_eq!(out, vec![1]);
        assert_eq!(d.finish(), Err(OddByte));
    }

    #[test]
    fn upsampling_doubles_length_and_keeps_a_tone() {
        let input: Vec<i16> = (0..2400)
            .map(|i| ((i as f64 * 2.0 * std::f64::consts::PI * 440.0 / 24_000.0).sin() * 10_000.0) as i16)
            .collect();
        let mut u = Upsampler2x::new();
        let mut out = Vec::new();
        for c in input.chunks(7) {
            u.process(c, &mut out);
        }
        u.flush(&mut out);
        assert_eq!(out.len(), input.len() * 2);
        // Even outputs are the inputs; odd outputs lie close to the true 48 kHz tone.
        for (i, pair) in out.chunks(2).enumerate().skip(20).take(2000) {
            assert_eq!(pair[0], input[i]);
            let t = (2 * i + 1) as f64 / 48_000.0;
            let want = (t * 2.0 * std::f64::consts::PI * 440.0).sin() * 10_000.0;
            assert!((f64::from(pair[1]) - want).abs() < 60.0, "sample {i}: {} vs {want}", pair[1]);
        }
    }

    #[test]
    fn full_scale_input_does_not_overflow() {
        let input: Vec<i16> = (0..1000).map(|i| if i % 2 == 0 { i16::MAX } else { i16::MIN }).collect();
        let mut u = Upsampler2x::new();
        let mut out = Vec::new();
        u.process(&input, &mut out);
        u.flush(&mut out);
        assert_eq!(out.len(), 2000);
        for n in 0..20 {
            let mut u = Upsampler2x::new();
            let mut out = Vec::new();
            u.process(&input[..n], &mut out);
            u.flush(&mut out);
            assert_eq!(out.len(), 2 * n, "short input of {n}");
        }
    }
}
