//! Test audio: real speech made with espeak-ng (resampled by sox), WAV reading, and the
//! comparison of what a client sent with what it got back.

use std::path::Path;
use std::process::Command;

/// Sample rate of all test audio.
pub const RATE: u32 = 48_000;

/// Renders `text` as 48 kHz mono s16 speech into `out` (espeak-ng → sox).
pub fn speech(text: &str, out: &Path) {
    speech_with(text, "en-us", 150, out);
}

/// Renders `text` in espeak-ng `voice` at `speed` words per minute as 48 kHz mono s16 into `out`.
pub fn speech_with(text: &str, voice: &str, speed: u32, out: &Path) {
    let raw = out.with_extension("espeak.wav");
    let status = Command::new("espeak-ng")
        .args(["-v", voice, "-s", &speed.to_string(), "-w"])
        .arg(&raw)
        .arg(text)
        .status()
        .expect("espeak-ng is missing: run scripts/setup");
    assert!(status.success(), "espeak-ng -v {voice} failed");
    to_48k(&raw, out);
    let _ = std::fs::remove_file(raw);
}

/// Converts any WAV sox reads (e.g. a 16 kHz fixture) to 48 kHz mono s16 into `out`.
pub fn to_48k(input: &Path, out: &Path) {
    let status = Command::new("sox")
        .arg(input)
        .args(["-r", "48000", "-c", "1", "-b", "16", "-e", "signed-integer"])
        .arg(out)
        .status()
        .expect("sox is missing: run scripts/setup");
    assert!(status.success(), "sox failed on {}", input.display());
}

/// A voiced burst with no words in it (a drawn-out "aah", as a sigh or the start of a cough
/// sounds to a VAD), cut to `secs` of sound, as 48 kHz mono s16 into `out` (espeak-ng → sox).
pub fn burst(secs: f64, out: &Path) {
    let raw = out.with_extension("espeak.wav");
    let status = Command::new("espeak-ng")
        .args(["-v", "en-us", "-s", "80", "-w"])
        .arg(&raw)
        .arg("[[A::::::]]")
        .status()
        .expect("espeak-ng is missing: run scripts/setup");
    assert!(status.success(), "espeak-ng failed");
    let status = Command::new("sox")
        .arg(&raw)
        .args(["-r", "48000", "-c", "1", "-b", "16", "-e", "signed-integer"])
        .arg(out)
        // From the first sound on, `secs` long.
        .args(["silence", "1", "0.01", "1%", "trim", "0", &secs.to_string()])
        .status()
        .expect("sox is missing: run scripts/setup");
    assert!(status.success(), "sox failed");
    let _ = std::fs::remove_file(raw);
}

/// Reads a 16-bit PCM mono WAV (the only kind these tests write).
pub fn read(path: &Path) -> Vec<i16> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WAVE",
        "{}: not a WAV",
        path.display()
    );
    let mut pos = 12;
    let mut format_ok = false;
    while pos + 8 <= bytes.len() {
        let id = &bytes[pos..pos + 4];
        let len =
            u32::from_le_bytes([bytes[pos + 4], bytes[pos + 5], bytes[pos + 6], bytes[pos + 7]]) as usize;
        let body = &bytes[pos + 8..(pos + 8 + len).min(bytes.len())];
        if id == b"fmt " {
            let channels = u16::from_le_bytes([body[2], body[3]]);
            let rate = u32::from_le_bytes([body[4], body[5], body[6], body[7]]);
            let bits = u16::from_le_bytes([body[14], body[15]]);
            assert_eq!((channels, rate, bits), (1, RATE, 16), "{}: need 48 kHz mono s16", path.display());
            format_ok = true;
        } else if id == b"data" {
            assert!(format_ok, "{}: data before fmt", path.display());
            return body.chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]])).collect();
        }
        pos += 8 + len + (len & 1);
    }
    panic!("{}: no data chunk", path.display());
}

/// RMS over 10 ms windows; the span from the first to the last window above `threshold`.
pub fn active_span(samples: &[i16], threshold: f64) -> Option<(usize, usize)> {
    let win = (RATE / 100) as usize;
    let loud: Vec<usize> =
        samples.chunks(win).enumerate().filter(|(_, c)| rms(c) > threshold).map(|(i, _)| i).collect();
    Some((*loud.first()? * win, ((*loud.last()? + 1) * win).min(samples.len())))
}

/// Root mean square.
pub fn rms(samples: &[i16]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    (samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / samples.len() as f64).sqrt()
}

/// How well a received recording matches what was sent.
#[derive(Debug, Clone, Copy)]
pub struct Match {
    /// Duration of the sent speech (active span), seconds.
    pub sent_secs: f64,
    /// Duration of the received speech (active span), seconds.
    pub received_secs: f64,
    /// Peak of the normalized cross-correlation over the whole utterance (1.0 = identical
    /// up to gain). Any small time shift inside the recording (a receiver's jitter buffer
    /// stretching audio) lowers it.
    pub correlation: f64,
    /// Median over 250 ms windows of each window's correlation peak (±30 ms around the global
    /// alignment): waveform similarity that tolerates such shifts.
    pub window_correlation: f64,
    /// Received RMS over its active span relative to the sent one, dB.
    pub level_db: f64,
}

/// Compares sent and received speech. Both are reduced to 8 kHz (block averages, a crude
/// low-pass) so the correlation search stays cheap; speech energy sits below 4 kHz anyway.
pub fn compare(sent: &[i16], received: &[i16], threshold: f64) -> Option<Match> {
    let (s0, s1) = active_span(sent, threshold)?;
    let (r0, r1) = active_span(received, threshold)?;
    let a = decimate(&sent[s0..s1], 6);
    let b = decimate(&received[r0..r1], 6);
    // Align on the active spans, then search ±50 ms around that.
    let (mut best, mut best_lag) = (0.0f64, 0i64);
    for lag in -400i64..=400 {
        let c = normalized_correlation(&a, &b, lag);
        if c > best {
            (best, best_lag) = (c, lag);
        }
    }
    // 250 ms windows at 8 kHz, skipping the quiet ones.
    let mut windows: Vec<f64> = Vec::new();
    for start in (0..a.len().saturating_sub(2000)).step_by(2000) {
        let w = &a[start..start + 2000];
        if (w.iter().map(|x| x * x).sum::<f64>() / w.len() as f64).sqrt() < threshold {
            continue;
        }
        let peak = (-240i64..=240)
            .map(|d| normalized_correlation(w, &b, start as i64 + best_lag + d))
            .fold(0.0f64, f64::max);
        windows.push(peak);
    }
    windows.sort_by(f64::total_cmp);
    let window_correlation = windows.get(windows.len() / 2).copied().unwrap_or(0.0);
    Some(Match {
        sent_secs: (s1 - s0) as f64 / f64::from(RATE),
        received_secs: (r1 - r0) as f64 / f64::from(RATE),
        correlation: best,
        window_correlation,
        level_db: 20.0 * (rms(&received[r0..r1]) / rms(&sent[s0..s1]).max(1.0)).log10(),
    })
}

fn decimate(x: &[i16], factor: usize) -> Vec<f64> {
    x.chunks(factor).map(|c| c.iter().map(|&s| f64::from(s)).sum::<f64>() / c.len() as f64).collect()
}

/// Correlation of `a` with `b` shifted by `lag` (b[i + lag] against a[i]), normalized over
/// the overlap.
fn normalized_correlation(a: &[f64], b: &[f64], lag: i64) -> f64 {
    let (mut dot, mut ea, mut eb) = (0.0, 0.0, 0.0);
    for (i, &x) in a.iter().enumerate() {
        let j = i as i64 + lag;
        if j < 0 || j as usize >= b.len() {
            continue;
        }
        let y = b[j as usize];
        dot += x * y;
        ea += x * x;
        eb += y * y;
    }
    if ea == 0.0 || eb == 0.0 { 0.0 } else { dot / (ea * eb).sqrt() }
}

/// Writes 48 kHz mono s16 samples as a WAV file.
pub fn write(path: &Path, samples: &[i16]) {
    write_at(path, samples, RATE);
}

/// Writes mono s16 samples at `rate` Hz as a WAV file.
pub fn write_at(path: &Path, samples: &[i16], rate: u32) {
    let data_len = (samples.len() * 2) as u32;
    let mut bytes = Vec::with_capacity(44 + samples.len() * 2);
    bytes.extend_from_slice(b"RIFF");
    bytes.extend_from_slice(&(36 + data_len).to_le_bytes());
    bytes.extend_from_slice(b"WAVEfmt ");
    bytes.extend_from_slice(&16u32.to_le_bytes());
    bytes.extend_from_slice(&1u16.to_le_bytes()); // PCM
    bytes.extend_from_slice(&1u16.to_le_bytes()); // mono
    bytes.extend_from_slice(&rate.to_le_bytes());
    bytes.extend_from_slice(&(rate * 2).to_le_bytes());
    bytes.extend_from_slice(&2u16.to_le_bytes());
    bytes.extend_from_slice(&16u16.to_le_bytes());
    bytes.extend_from_slice(b"data");
    bytes.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        bytes.extend_from_slice(&s.to_le_bytes());
    }
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}
