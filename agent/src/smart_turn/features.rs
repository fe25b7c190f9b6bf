//! Whisper log-mel features as Smart Turn v3 is fed them: 80 mel bins, 25 ms window (400
//! samples), 10 ms hop (160 samples), over exactly 8 s of 16 kHz audio (800 frames).
//!
//! The steps are those of the reference in the `pipecat-ai` wheel (`_whisper_features.py`,
//! vendored there from the Whisper feature extractor), in the same order and precision:
//! 1. keep the last 8 s, or pad zeros *in front* to 8 s (`_predict_endpoint`);
//! 2. zero-mean, unit-variance normalisation in `f32` (variance plus 1e-7);
//! 3. reflect-padding by 200 samples each side, periodic Hann window, real FFT, power — in
//!    `f64`, as numpy promotes;
//! 4. Slaney mel filterbank (0–8 kHz, area-normalised), floor 1e-10, `log10`;
//! 5. the last frame dropped, everything clamped to 8 below the maximum, then `(x + 4) / 4`.
//!
//! [`MelExtractor`] plans the FFT and builds the filterbank once and keeps every buffer, so a
//! call allocates nothing. The filterbank is stored as each filter's non-zero run (a few bins
//! each), which makes the projection ~50× cheaper than the dense product and sums the same
//! terms.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};

/// Sample rate the model expects.
pub const SAMPLE_RATE: usize = 16_000;
/// Samples the model sees: the last 8 s.
pub const MAX_SAMPLES: usize = 8 * SAMPLE_RATE;
/// Mel bins.
pub const N_MELS: usize = 80;
/// Frames of 10 ms in 8 s.
pub const N_FRAMES: usize = MAX_SAMPLES / HOP;
/// Floats of one item's features, `[N_MELS][N_FRAMES]` row-major.
pub const FEATURES: usize = N_MELS * N_FRAMES;

const N_FFT: usize = 400;
const HOP: usize = 160;
const BINS: usize = N_FFT / 2 + 1;
const PAD: usize = N_FFT / 2;
const MEL_FLOOR: f64 = 1e-10;
const NORM_EPS: f32 = 1e-7;

/// One mel filter: its weights over `first..first + weights.len()` of the FFT bins.
#[derive(Debug, Clone)]
struct Filter {
    first: usize,
    weights: Vec<f64>,
}

/// Computes Smart Turn's input features; owns its FFT plan and buffers (one per thread).
pub struct MelExtractor {
    fft: Arc<dyn RealToComplex<f64>>,
    window: [f64; N_FFT],
    filters: Vec<Filter>,
    signal: Vec<f32>,
    padded: Vec<f64>,
    frame: Vec<f64>,
    spectrum: Vec<Complex<f64>>,
    scratch: Vec<Complex<f64>>,
    power: [f64; BINS],
    log_mel: Vec<f64>,
}

impl std::fmt::Debug for MelExtractor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MelExtractor").finish_non_exhaustive()
    }
}

impl Default for MelExtractor {
    fn default() -> Self {
        Self::new()
    }
}

impl MelExtractor {
    /// Plans the FFT and builds the filterbank.
    pub fn new() -> Self {
        let fft = RealFftPlanner::<f64>::new().plan_fft_forward(N_FFT);
        let mut window = [0.0; N_FFT];
        for (n, w) in window.iter_mut().enumerate() {
            // np.hanning(401)[:-1]: the periodic Hann window of torch.hann_window.
            *w = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / N_FFT as f64).cos();
        }
        Self {
            spectrum: fft.make_output_vec(),
            scratch: fft.make_scratch_vec(),
            frame: fft.make_input_vec(),
            fft,
            window,
            filters: mel_filters(),
            signal: vec![0.0; MAX_SAMPLES],
            padded: vec![0.0; MAX_SAMPLES + 2 * PAD],
            power: [0.0; BINS],
            log_mel: vec![0.0; FEATURES],
        }
    }

    /// Features of the last ≤ 8 s of `audio` (16 kHz, full scale ±1.0) into `out`
    /// (`FEATURES` floats, `[mel][frame]`).
    ///
    /// # Panics
    /// If `out` is not `FEATURES` long.
    pub fn compute(&mut self, audio: &[f32], out: &mut [f32]) {
        assert_eq!(out.len(), FEATURES, "features buffer");
        self.load(audio.iter().copied(), audio.len());
        self.finish(out);
    }

    /// The same for 16-bit PCM (÷ 32768, as the reference converts it).
    pub fn compute_i16(&mut self, pcm: &[i16], out: &mut [f32]) {
        assert_eq!(out.len(), FEATURES, "features buffer");
        self.load(pcm.iter().map(|&s| f32::from(s) / 32768.0), pcm.len());
        self.finish(out);
    }

    /// Takes the last 8 s into `signal`, zeros in front.
    fn load(&mut self, samples: impl Iterator<Item = f32>, len: usize) {
        let skip = len.saturating_sub(MAX_SAMPLES);
        let front = MAX_SAMPLES - (len - skip);
        self.signal[..front].fill(0.0);
        for (dst, x) in self.signal[front..].iter_mut().zip(samples.skip(skip)) {
            // A broken sample must not poison the mean of the whole window.
            *dst = if x.is_finite() { x } else { 0.0 };
        }
    }

    fn finish(&mut self, out: &mut [f32]) {
        self.normalise();
        self.pad();
        let mut max = f64::NEG_INFINITY;
        for t in 0..N_FRAMES {
            self.power_spectrum(t);
            for (m, f) in self.filters.iter().enumerate() {
                let e: f64 = f.weights.iter().zip(&self.power[f.first..]).map(|(w, p)| w * p).sum();
                let l = e.max(MEL_FLOOR).log10();
                max = max.max(l);
                self.log_mel[m * N_FRAMES + t] = l;
            }
        }
        let floor = max - 8.0;
        for (o, &l) in out.iter_mut().zip(&self.log_mel) {
            *o = ((l.max(floor) + 4.0) / 4.0) as f32;
        }
    }

    /// `(x - mean) / sqrt(var + 1e-7)`, statistics summed in `f64`, arithmetic in `f32`.
    fn normalise(&mut self) {
        let n = self.signal.len() as f64;
        let mean = self.signal.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
        let mean32 = mean as f32;
        let var = self.signal.iter().map(|&x| (f64::from(x) - mean).powi(2)).sum::<f64>() / n;
        let scale = (var as f32 + NORM_EPS).sqrt();
        for x in &mut self.signal {
            *x = (*x - mean32) / scale;
        }
    }

    /// numpy's `pad(mode="reflect")`: the edge sample is not repeated.
    fn pad(&mut self) {
        let s = &self.signal;
        let p = &mut self.padded;
        for (i, &x) in s.iter().enumerate() {
            p[PAD + i] = f64::from(x);
        }
        for k in 1..=PAD {
            p[PAD - k] = f64::from(s[k]);
            p[PAD + MAX_SAMPLES - 1 + k] = f64::from(s[MAX_SAMPLES - 1 - k]);
        }
    }

    fn power_spectrum(&mut self, t: usize) {
        let start = t * HOP;
        for ((f, &x), &w) in self.frame.iter_mut().zip(&self.padded[start..start + N_FFT]).zip(&self.window) {
            *f = x * w;
        }
        // Lengths are the plan's own, so this cannot fail.
        let _ = self.fft.process_with_scratch(&mut self.frame, &mut self.spectrum, &mut self.scratch);
        for (p, c) in self.power.iter_mut().zip(&self.spectrum) {
            *p = c.norm_sqr();
        }
    }
}

fn hz_to_mel(f: f64) -> f64 {
    if f >= 1000.0 { 15.0 + (f / 1000.0).ln() * (27.0 / 6.4f64.ln()) } else { 3.0 * f / 200.0 }
}

fn mel_to_hz(m: f64) -> f64 {
    if m >= 15.0 { 1000.0 * ((6.4f64.ln() / 27.0) * (m - 15.0)).exp() } else { 200.0 * m / 3.0 }
}

/// numpy's `linspace`: `start + i * step`, the last point exactly `stop`.
fn linspace(start: f64, stop: f64, n: usize) -> Vec<f64> {
    let step = (stop - start) / (n - 1) as f64;
    let mut v: Vec<f64> = (0..n).map(|i| start + i as f64 * step).collect();
    v[n - 1] = stop;
    v
}

/// The Slaney-normalised triangular filterbank of the reference, as non-zero runs.
fn mel_filters() -> Vec<Filter> {
    let nyquist = (SAMPLE_RATE / 2) as f64;
    let mel = linspace(hz_to_mel(0.0), hz_to_mel(nyquist), N_MELS + 2);
    let hz: Vec<f64> = mel.into_iter().map(mel_to_hz).collect();
    let fft_freqs = linspace(0.0, nyquist, BINS);
    (0..N_MELS)
        .map(|m| {
            let enorm = 2.0 / (hz[m + 2] - hz[m]);
            let weight = |f: f64| {
                let down = -(hz[m] - f) / (hz[m + 1] - hz[m]);
                let up = (hz[m + 2] - f) / (hz[m + 2] - hz[m + 1]);
                0f64.max(down.min(up)) * enorm
            };
            let all: Vec<f64> = fft_freqs.iter().map(|&f| weight(f)).collect();
            let first = all.iter().position(|&w| w > 0.0).unwrap_or(0);
            let last = all.iter().rposition(|&w| w > 0.0).map_or(first, |l| l + 1);
            Filter { first, weights: all[first..last].to_vec() }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filterbank_is_the_slaney_one() {
        let f = mel_filters();
        assert_eq!(f.len(), N_MELS);
        // Every filter covers a few bins, low filters fewer than high ones.
        assert!(f.iter().all(|f| !f.weights.is_empty() && f.first + f.weights.len() <= BINS));
        assert!(f[0].weights.len() <= f[79].weights.len());
        // Area normalisation: each filter's weights times the bin spacing integrate to about 1
        // (a triangle of height 2/width over its width), except where bins are coarse.
        let area = |i: usize| f[i].weights.iter().sum::<f64>() * 40.0;
        assert!((area(60) - 1.0).abs() < 0.05, "{}", area(60));
        // The breakpoint of the Slaney scale.
        assert!((hz_to_mel(1000.0) - 15.0).abs() < 1e-12);
        assert!((mel_to_hz(hz_to_mel(5000.0)) - 5000.0).abs() < 1e-9);
    }

    #[test]
    fn silence_gives_the_floor_everywhere() {
        let mut x = MelExtractor::new();
        let mut out = vec![0.0; FEATURES];
        x.compute(&[0.0; 1000], &mut out);
        // All zeros: every energy is the floor, log10(1e-10) = -10 → (−10 + 4) / 4.
        assert!(out.iter().all(|&v| (v - (-1.5)).abs() < 1e-6), "{}", out[0]);
    }

    #[test]
    fn a_tone_lights_its_mel_bin_and_only_the_end_is_kept() {
        let mut x = MelExtractor::new();
        let mut out = vec![0.0; FEATURES];
        // 10 s of 1 kHz: only the last 8 s count, so every frame sees the tone.
        let tone: Vec<f32> = (0..10 * SAMPLE_RATE)
            .map(|i| (i as f32 * 2.0 * std::f32::consts::PI * 1000.0 / 16_000.0).sin() * 0.5)
            .collect();
        x.compute(&tone, &mut out);
        let col = |t: usize| (0..N_MELS).map(|m| out[m * N_FRAMES + t]).collect::<Vec<_>>();
        let peak = |c: &[f32]| {
            c.iter().enumerate().fold((0, f32::MIN), |a, (i, &v)| if v > a.1 { (i, v) } else { a }).0
        };
        let (p0, p1) = (peak(&col(5)), peak(&col(700)));
        assert_eq!(p0, p1);
        // 1 kHz is mel 15; the 80 filters span 0..~45.2 mel, so its filter is near 26.
        assert!((24..=28).contains(&p0), "{p0}");
        // A short tone is padded in front: the early frames are the padding's floor.
        let short = &tone[..SAMPLE_RATE];
        x.compute(short, &mut out);
        assert!(out[10] < out[26 * N_FRAMES + 750], "padding quieter than the tone");
    }

    #[test]
    fn i16_and_f32_inputs_agree_and_broken_samples_are_silence() {
        let mut x = MelExtractor::new();
        let pcm: Vec<i16> = (0..16_000).map(|i| ((i * 37 % 2000) as i16 - 1000) * 8).collect();
        let f: Vec<f32> = pcm.iter().map(|&s| f32::from(s) / 32768.0).collect();
        let (mut a, mut b) = (vec![0.0; FEATURES], vec![0.0; FEATURES]);
        x.compute_i16(&pcm, &mut a);
        x.compute(&f, &mut b);
        assert_eq!(a, b);
        let mut broken = f.clone();
        broken[5] = f32::NAN;
        x.compute(&broken, &mut b);
        assert!(b.iter().all(|v| v.is_finite()));
    }
}
