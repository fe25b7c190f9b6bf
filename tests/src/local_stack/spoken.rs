//! Questions as a user would say them: espeak-ng speech in a chosen voice, at 48 kHz (the
//! rate the LiveKit client publishes), clean or mixed with pink noise at a given
//! signal-to-noise ratio.
//!
//! The noise is deterministic (a seeded generator), so every run of the benchmark hears the
//! same audio. Its level is set against the speech's active level: the RMS of the 10 ms frames
//! within 30 dB of the loudest one, so pauses do not lower the speech level.

use std::path::Path;

use crate::livekit::wav;

/// How a question is heard.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Condition {
    /// As synthesised.
    Clean,
    /// Pink noise added at this signal-to-noise ratio (dB).
    Noisy {
        /// Speech active level over noise RMS, in dB.
        snr_db: f64,
    },
}

/// Speaks `text` with espeak-ng `voice` at `speed` words per minute, applies `condition` and
/// writes a 48 kHz mono s16 WAV to `out`. `seed` picks the noise.
pub fn question_wav(text: &str, voice: &str, speed: u32, condition: Condition, seed: u64, out: &Path) {
    wav::speech_with(text, voice, speed, out);
    if let Condition::Noisy { snr_db } = condition {
        let mut samples = wav::read(out);
        add_noise(&mut samples, snr_db, seed);
        std::fs::write(out, super::wav_bytes(&samples, wav::RATE)).expect("writing the noisy question");
    }
}

/// Mixes pink noise into `samples` at `snr_db` below the speech's active level.
pub fn add_noise(samples: &mut [i16], snr_db: f64, seed: u64) {
    let level = active_rms(samples);
    let noise = pink_noise(samples.len(), seed);
    let noise_rms = (noise.iter().map(|x| x * x).sum::<f64>() / noise.len().max(1) as f64).sqrt();
    if noise_rms == 0.0 {
        return;
    }
    let gain = level / 10f64.powf(snr_db / 20.0) / noise_rms;
    for (s, n) in samples.iter_mut().zip(noise) {
        *s = (f64::from(*s) + n * gain).round().clamp(-32768.0, 32767.0) as i16;
    }
}

/// RMS of the 10 ms frames (at 48 kHz) within 30 dB of the loudest frame.
pub fn active_rms(samples: &[i16]) -> f64 {
    let frames: Vec<f64> = samples
        .chunks(480)
        .map(|f| f.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / f.len() as f64)
        .collect();
    let loudest = frames.iter().copied().fold(0.0, f64::max);
    let active: Vec<f64> = frames.into_iter().filter(|&p| p > loudest / 1000.0).collect();
    if active.is_empty() {
        return 0.0;
    }
    (active.iter().sum::<f64>() / active.len() as f64).sqrt()
}

/// Pink (1/f) noise: white noise from a xorshift generator through Paul Kellet's economy
/// filter (within 0.5 dB of -3 dB/octave above 40 Hz at 48 kHz).
pub fn pink_noise(n: usize, seed: u64) -> Vec<f64> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut white = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    };
    let (mut b0, mut b1, mut b2) = (0.0, 0.0, 0.0);
    (0..n)
        .map(|_| {
            let w = white();
            b0 = 0.99765 * b0 + w * 0.0990460;
            b1 = 0.96300 * b1 + w * 0.2965164;
            b2 = 0.57000 * b2 + w * 1.0526913;
            b0 + b1 + b2 + w * 0.1848
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(x: f64) -> f64 {
        20.0 * x.log10()
    }

    #[test]
    fn noise_is_mixed_at_the_asked_ratio() {
        // A tone burst with silence around it: the silence must not lower the speech level.
        let mut s = vec![0i16; 48_000];
        for (i, x) in s[12_000..36_000].iter_mut().enumerate() {
            *x = (8000.0 * (i as f64 * 0.05).sin()) as i16;
        }
        let clean = s.clone();
        add_noise(&mut s, 10.0, 7);
        let noise: Vec<i16> = s.iter().zip(&clean).map(|(a, b)| a - b).collect();
        let noise_rms =
            (noise.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / noise.len() as f64).sqrt();
        let snr = db(active_rms(&clean) / noise_rms);
        assert!((snr - 10.0).abs() < 0.3, "SNR {snr:.2} dB");
    }

    #[test]
    fn the_noise_is_deterministic_and_pink() {
        assert_eq!(pink_noise(1000, 3), pink_noise(1000, 3));
        assert_ne!(pink_noise(1000, 3), pink_noise(1000, 4));
        // Pink: much power in low frequencies (white noise keeps ~2% below 500 Hz).
        let n = pink_noise(48_000, 1);
        let total: f64 = n.iter().map(|x| x * x).sum();
        let smooth: Vec<f64> = n.chunks(48).map(|c| c.iter().sum::<f64>() / 48.0).collect();
        let low: f64 = smooth.iter().map(|x| x * x).sum::<f64>() * 48.0;
        assert!(low / total > 0.15, "below 500 Hz holds {:.2} of the power", low / total);
    }
}
