//! Speech segmenter: per-window speech probabilities → start/end of utterances (sans-IO).
//!
//! The decisions follow the Silero reference (`get_speech_timestamps` of the `silero-vad`
//! package) window for window, so a stream cut into utterances here matches the reference
//! run over the whole file:
//! - speech starts at the first window with probability ≥ the activation threshold;
//! - while speaking, windows at or above the deactivation threshold keep the speech going
//!   (hysteresis); the speech ends at the first window below it once the silence has lasted
//!   the minimum silence, and the end is placed where that silence began;
//! - an utterance shorter than the minimum speech is dropped; because we stream, a start is
//!   only *announced* once the speech has lasted that long, and it is announced in the very
//!   window that proves it (barge-in needs it at once);
//! - an utterance longer than the maximum is cut cleanly at its longest inner pause (the
//!   reference's rule), or at the current window when it has none, and continues.
//!
//! Positions are sample indices at 16 kHz counted from the stream's first sample; the caller
//! maps them to time. Nothing here reads a clock or allocates per window: the prefix is a
//! fixed ring, and the utterance buffer is bounded by the maximum utterance length.

use std::time::Duration;

/// Samples per model window (32 ms at 16 kHz).
pub const WINDOW: usize = 512;
/// The model's sample rate.
pub const SAMPLE_RATE: u32 = 16_000;
/// A pause inside an utterance must last longer than this to be a cut point at max length
/// (the reference's `min_silence_at_max_speech`, 98 ms).
const MIN_CUT_PAUSE: u64 = SAMPLE_RATE as u64 * 98 / 1000;

/// Segmenter thresholds and durations (see `VadSettings::from_env` for the variables).
#[derive(Debug, Clone, PartialEq)]
pub struct SegmenterConfig {
    /// A window at or above this probability starts speech (default 0.5).
    pub activation_threshold: f32,
    /// While speaking, a window below this is silence (default 0.35).
    pub deactivation_threshold: f32,
    /// Shorter speech is ignored (default 50 ms).
    pub min_speech: Duration,
    /// Speech ends after this much silence (default 450 ms: within the session's 0.5 s
    /// endpointing delay, so the endpointing delay decides when the agent answers).
    pub min_silence: Duration,
    /// Audio kept before the speech start in the utterance (default 500 ms).
    pub prefix_padding: Duration,
    /// Audio kept after the speech end in the utterance (default 100 ms, ≤ `min_silence`).
    pub end_padding: Duration,
    /// Longer speech is cut into several utterances (default 30 s).
    pub max_utterance: Duration,
}

impl Default for SegmenterConfig {
    fn default() -> Self {
        Self {
            activation_threshold: 0.5,
            deactivation_threshold: 0.35,
            min_speech: Duration::from_millis(50),
            min_silence: Duration::from_millis(450),
            prefix_padding: Duration::from_millis(500),
            end_padding: Duration::from_millis(100),
            max_utterance: Duration::from_secs(30),
        }
    }
}

/// Why an utterance ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// The speaker paused for the minimum silence.
    Silence,
    /// The utterance reached the maximum length and was cut.
    MaxLength,
    /// The stream ended while the user was speaking.
    StreamEnded,
}

/// One finished utterance.
#[derive(Debug, Clone, PartialEq)]
pub struct Utterance {
    /// First sample of speech (16 kHz, from the stream's start).
    pub start: u64,
    /// First sample after the speech (where the silence began).
    pub end: u64,
    /// Sample position of `pcm[0]` (the start minus the prefix padding).
    pub pcm_start: u64,
    /// 16 kHz mono PCM from `pcm_start` to `end` plus the end padding.
    pub pcm: Vec<i16>,
    /// Why it ended.
    pub reason: EndReason,
}

/// What the segmenter reports.
#[derive(Debug, Clone, PartialEq)]
pub enum SegmentEvent {
    /// A window was scored (for metrics and debugging).
    Window {
        /// Window number from the stream's start.
        index: u64,
        /// The model's speech probability.
        probability: f32,
        /// Whether an announced utterance is in progress after this window.
        speaking: bool,
    },
    /// Speech has started (announced once it has lasted the minimum speech).
    SpeechStarted {
        /// First sample of speech.
        start: u64,
        /// Sample position at which this was known (end of the deciding window).
        detected_at: u64,
    },
    /// An announced utterance ended.
    SpeechEnded(Utterance),
}

/// The segmenter for one stream.
#[derive(Debug)]
pub struct Segmenter {
    cfg: SegmenterConfig,
    min_speech: u64,
    min_silence: u64,
    prefix: usize,
    end_pad: u64,
    max_len: u64,
    /// The last `prefix` samples, written for every window.
    ring: Vec<i16>,
    ring_pos: usize,
    /// Windows scored so far.
    windows: u64,
    /// Where the last emitted utterance's PCM ended: a new prefix never reaches back past it.
    emitted_until: u64,
    speech: Option<Speech>,
}

/// The utterance in progress (the reference's `triggered` state).
#[derive(Debug)]
struct Speech {
    start: u64,
    announced: bool,
    /// Start of the current silence run, if one is going on.
    silence_since: Option<u64>,
    /// The longest finished inner pause: (its start, its length).
    best_pause: Option<(u64, u64)>,
    pcm_start: u64,
    pcm: Vec<i16>,
}

impl Speech {
    /// The finished utterance, its speech ending at `end`, with all the PCM kept.
    fn into_utterance(self, end: u64, reason: EndReason) -> Utterance {
        Utterance { start: self.start, end, pcm_start: self.pcm_start, pcm: self.pcm, reason }
    }
}

fn samples(d: Duration) -> u64 {
    (d.as_secs_f64() * f64::from(SAMPLE_RATE)).round() as u64
}

fn to_i16(x: f32) -> i16 {
    // The inverse of i16 → f32 (÷ 32768), so 16-bit input comes back sample-exact. NaN maps
    // to 0 through the saturating cast, which also clips.
    (x * 32768.0).round() as i16
}

impl Segmenter {
    /// A segmenter at stream position 0.
    pub fn new(cfg: SegmenterConfig) -> Self {
        let prefix = samples(cfg.prefix_padding) as usize;
        Self {
            min_speech: samples(cfg.min_speech),
            min_silence: samples(cfg.min_silence),
            end_pad: samples(cfg.end_padding).min(samples(cfg.min_silence)),
            max_len: samples(cfg.max_utterance).max(WINDOW as u64),
            prefix,
            ring: vec![0; prefix],
            ring_pos: 0,
            windows: 0,
            emitted_until: 0,
            speech: None,
            cfg,
        }
    }

    /// The settings in use.
    pub fn config(&self) -> &SegmenterConfig {
        &self.cfg
    }

    /// Whether an announced utterance is in progress.
    pub fn is_speaking(&self) -> bool {
        self.speech.as_ref().is_some_and(|s| s.announced)
    }

    /// Samples consumed so far (16 kHz).
    pub fn position(&self) -> u64 {
        self.windows * WINDOW as u64
    }

    /// Feeds one scored window; pushes what happened onto `out`.
    pub fn push_window(&mut self, pcm: &[f32; WINDOW], probability: f32, out: &mut Vec<SegmentEvent>) {
        // A broken score must not start speech nor keep it going.
        let p = if probability.is_finite() { probability } else { 0.0 };
        let cur = self.position();
        let end_of_window = cur + WINDOW as u64;
        self.step(pcm, p, cur, out);
        if let Some(s) = &mut self.speech
            && !s.announced
            && s.silence_since.is_none()
            && end_of_window - s.start > self.min_speech
        {
            s.announced = true;
            out.push(SegmentEvent::SpeechStarted { start: s.start, detected_at: end_of_window });
        }
        self.write_ring(pcm);
        self.windows += 1;
        out.push(SegmentEvent::Window { index: self.windows - 1, probability, speaking: self.is_speaking() });
    }

    /// Ends the stream: an utterance in progress is emitted if it lasted the minimum speech.
    pub fn finish(&mut self, out: &mut Vec<SegmentEvent>) {
        let end = self.position();
        let Some(s) = self.speech.take() else { return };
        if end - s.start <= self.min_speech {
            return;
        }
        if !s.announced {
            out.push(SegmentEvent::SpeechStarted { start: s.start, detected_at: end });
        }
        out.push(SegmentEvent::SpeechEnded(s.into_utterance(end, EndReason::StreamEnded)));
        self.emitted_until = end;
    }

    fn step(&mut self, pcm: &[f32; WINDOW], p: f32, cur: u64, out: &mut Vec<SegmentEvent>) {
        let (act, deact) = (self.cfg.activation_threshold, self.cfg.deactivation_threshold);
        let Some(s) = &mut self.speech else {
            if p >= act {
                self.begin(cur, pcm);
            }
            return;
        };
        if p >= act
            && let Some(since) = s.silence_since.take()
        {
            let pause = cur - since;
            if pause > MIN_CUT_PAUSE && s.best_pause.is_none_or(|(_, len)| pause > len) {
                s.best_pause = Some((since, pause));
            }
        }
        s.pcm.extend(pcm.iter().map(|&x| to_i16(x)));
        if cur + WINDOW as u64 - s.start > self.max_len && !self.cut_at_max(cur, out) {
            return;
        }
        let Some(s) = &mut self.speech else { return };
        if p < deact {
            let since = *s.silence_since.get_or_insert(cur);
            if cur - since >= self.min_silence {
                self.end(since, EndReason::Silence, out);
            }
        }
    }

    fn begin(&mut self, start: u64, pcm: &[f32; WINDOW]) {
        let reach = (start - self.emitted_until.min(start)).min(self.prefix as u64) as usize;
        let mut buf = Vec::with_capacity(reach + 4 * SAMPLE_RATE as usize);
        self.copy_ring_tail(reach, &mut buf);
        buf.extend(pcm.iter().map(|&x| to_i16(x)));
        self.speech = Some(Speech {
            start,
            announced: false,
            silence_since: None,
            best_pause: None,
            pcm_start: start - reach as u64,
            pcm: buf,
        });
    }

    /// Ends the current utterance at `end`; only announced speech is reported.
    fn end(&mut self, end: u64, reason: EndReason, out: &mut Vec<SegmentEvent>) {
        let Some(mut s) = self.speech.take() else { return };
        if !s.announced {
            return;
        }
        let keep = (end + self.end_pad - s.pcm_start).min(s.pcm.len() as u64) as usize;
        s.pcm.truncate(keep);
        self.emitted_until = s.pcm_start + keep as u64;
        out.push(SegmentEvent::SpeechEnded(s.into_utterance(end, reason)));
    }

    /// Cuts an utterance that reached the maximum length. Returns whether the current window
    /// still counts for the utterance that follows (as in the reference).
    fn cut_at_max(&mut self, cur: u64, out: &mut Vec<SegmentEvent>) -> bool {
        let Some(s) = &mut self.speech else { return false };
        if !s.announced {
            // Only possible inside a pause; speech this long is speech.
            s.announced = true;
            out.push(SegmentEvent::SpeechStarted { start: s.start, detected_at: cur + WINDOW as u64 });
        }
        let Some((pause_start, pause_len)) = s.best_pause else {
            // No pause to cut at: cut here; the next speech window starts a new utterance.
            self.end(cur, EndReason::MaxLength, out);
            return false;
        };
        let resume = pause_start + pause_len;
        let tail_from = (pause_start + self.end_pad).min(resume);
        let tail_start = resume.saturating_sub(self.prefix as u64).max(tail_from);
        let split = (tail_start - s.pcm_start) as usize;
        let mut tail = Vec::with_capacity(s.pcm.len() - split + 4 * SAMPLE_RATE as usize);
        tail.extend_from_slice(&s.pcm[split..]);
        self.end(pause_start, EndReason::MaxLength, out);
        // The words after the pause go on as a new utterance, already proven to be speech.
        self.speech = Some(Speech {
            start: resume,
            announced: true,
            silence_since: None,
            best_pause: None,
            pcm_start: tail_start,
            pcm: tail,
        });
        out.push(SegmentEvent::SpeechStarted { start: resume, detected_at: cur + WINDOW as u64 });
        true
    }

    fn write_ring(&mut self, pcm: &[f32; WINDOW]) {
        if self.prefix == 0 {
            return;
        }
        for &x in pcm.iter().skip(WINDOW.saturating_sub(self.prefix)) {
            self.ring[self.ring_pos] = to_i16(x);
            self.ring_pos = (self.ring_pos + 1) % self.prefix;
        }
    }

    /// Appends the newest `n` samples of the ring, oldest first.
    fn copy_ring_tail(&self, n: usize, buf: &mut Vec<i16>) {
        let n = n.min(self.prefix).min(self.position() as usize);
        let start = (self.ring_pos + self.prefix - n) % self.prefix.max(1);
        if start + n <= self.prefix {
            buf.extend_from_slice(&self.ring[start..start + n]);
        } else {
            buf.extend_from_slice(&self.ring[start..]);
            buf.extend_from_slice(&self.ring[..n - (self.prefix - start)]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: u64 = WINDOW as u64;

    /// Window `i` carries the constant sample value `(i % 1000) / 32768`, so PCM slices can
    /// be traced back to the windows they came from.
    fn window(i: u64) -> [f32; WINDOW] {
        [(i % 1000) as f32 / 32768.0; WINDOW]
    }

    fn run(seg: &mut Segmenter, probs: &[f32]) -> Vec<SegmentEvent> {
        let mut out = Vec::new();
        for &p in probs {
            let i = seg.position() / W;
            seg.push_window(&window(i), p, &mut out);
        }
        out.retain(|e| !matches!(e, SegmentEvent::Window { .. }));
        out
    }

    fn seq(parts: &[(f32, usize)]) -> Vec<f32> {
        parts.iter().flat_map(|&(p, n)| std::iter::repeat_n(p, n)).collect()
    }

    fn ended(e: &SegmentEvent) -> &Utterance {
        match e {
            SegmentEvent::SpeechEnded(u) => u,
            other => panic!("expected SpeechEnded, got {other:?}"),
        }
    }

    #[test]
    fn start_is_announced_in_the_window_that_proves_min_speech() {
        let mut seg = Segmenter::new(SegmenterConfig::default());
        let ev = run(&mut seg, &seq(&[(0.0, 20), (0.9, 1)]));
        assert!(ev.is_empty(), "one 32 ms window is shorter than 50 ms: {ev:?}");
        let ev = run(&mut seg, &[0.9]);
        assert_eq!(ev, [SegmentEvent::SpeechStarted { start: 20 * W, detected_at: 22 * W }]);
        assert!(seg.is_speaking());
    }

    #[test]
    fn zero_min_speech_announces_in_the_first_window() {
        let cfg = SegmenterConfig { min_speech: Duration::ZERO, ..Default::default() };
        let mut seg = Segmenter::new(cfg);
        let ev = run(&mut seg, &seq(&[(0.1, 3), (0.7, 1)]));
        assert_eq!(ev, [SegmentEvent::SpeechStarted { start: 3 * W, detected_at: 4 * W }]);
    }

    #[test]
    fn a_blip_shorter_than_min_speech_is_dropped() {
        let mut seg = Segmenter::new(SegmenterConfig::default());
        let ev = run(&mut seg, &seq(&[(0.9, 1), (0.0, 40), (0.2, 5)]));
        assert!(ev.is_empty(), "{ev:?}");
        assert!(!seg.is_speaking());
    }

    #[test]
    fn hysteresis_keeps_speech_between_the_thresholds_and_does_not_start_it() {
        let mut seg = Segmenter::new(SegmenterConfig::default());
        // 0.45 never starts speech...
        assert!(run(&mut seg, &seq(&[(0.45, 30)])).is_empty());
        // ...but keeps it going once started, for far longer than the minimum silence.
        let ev = run(&mut seg, &seq(&[(0.8, 3), (0.4, 40)]));
        assert_eq!(ev.len(), 1);
        assert!(seg.is_speaking());
        let ev = run(&mut seg, &seq(&[(0.1, 19)]));
        assert_eq!(ended(&ev[0]).start, 30 * W);
        assert_eq!(ended(&ev[0]).end, 73 * W, "the end is where the silence began");
    }

    #[test]
    fn speech_ends_after_min_silence_at_the_start_of_the_silence() {
        let mut seg = Segmenter::new(SegmenterConfig::default());
        let ev = run(&mut seg, &seq(&[(0.0, 30), (0.9, 10), (0.1, 15)]));
        assert_eq!(ev.len(), 1, "the 15th silent window starts 448 ms after the silence: not yet: {ev:?}");
        let ev = run(&mut seg, &[0.1]);
        let u = ended(&ev[0]);
        assert_eq!((u.start, u.end, u.reason), (30 * W, 40 * W, EndReason::Silence));
    }

    #[test]
    fn a_short_pause_does_not_end_speech_and_speech_can_resume() {
        let mut seg = Segmenter::new(SegmenterConfig::default());
        let ev = run(&mut seg, &seq(&[(0.9, 5), (0.1, 10), (0.9, 5), (0.1, 19)]));
        assert_eq!(ev.len(), 2);
        assert_eq!((ended(&ev[1]).start, ended(&ev[1]).end), (0, 20 * W));
    }

    #[test]
    fn pcm_has_prefix_and_end_padding_and_matches_the_windows() {
        let mut seg = Segmenter::new(SegmenterConfig::default());
        let ev = run(&mut seg, &seq(&[(0.0, 40), (0.9, 10), (0.0, 19)]));
        let u = ended(&ev[1]);
        assert_eq!(u.pcm_start, 40 * W - 8000, "500 ms of prefix");
        assert_eq!(u.pcm.len() as u64, 50 * W + 1600 - u.pcm_start, "ends 100 ms after the speech");
        for (k, &s) in u.pcm.iter().enumerate() {
            let window = (u.pcm_start + k as u64) / W;
            assert_eq!(i64::from(s), (window % 1000) as i64, "sample {k}");
        }
    }

    #[test]
    fn prefix_is_clamped_at_the_stream_start_and_the_previous_utterance() {
        let cfg = SegmenterConfig { prefix_padding: Duration::from_secs(1), ..Default::default() };
        let mut seg = Segmenter::new(cfg);
        let ev = run(&mut seg, &seq(&[(0.0, 3), (0.9, 5), (0.0, 19), (0.9, 5), (0.0, 19)]));
        let (a, b) = (ended(&ev[1]), ended(&ev[3]));
        assert_eq!(a.pcm_start, 0);
        assert_eq!(b.pcm_start, a.pcm_start + a.pcm.len() as u64, "no sample is in two utterances");
        assert_eq!(b.start, 27 * W);
    }

    #[test]
    fn max_length_cuts_at_the_longest_pause_and_goes_on() {
        let cfg = SegmenterConfig { max_utterance: Duration::from_secs(2), ..Default::default() };
        let mut seg = Segmenter::new(cfg);
        // 2 s = 62.5 windows. Pauses of 4 and 8 windows (both > 98 ms) inside the speech.
        let ev = run(&mut seg, &seq(&[(0.9, 10), (0.1, 4), (0.9, 10), (0.1, 8), (0.9, 40)]));
        assert_eq!(ev.len(), 3, "{ev:?}");
        let u = ended(&ev[1]);
        assert_eq!((u.start, u.end, u.reason), (0, 24 * W, EndReason::MaxLength));
        assert_eq!(ev[2], SegmentEvent::SpeechStarted { start: 32 * W, detected_at: 63 * W });
        assert!(seg.is_speaking());
        let ev = run(&mut seg, &seq(&[(0.1, 19)]));
        let v = ended(&ev[0]);
        assert_eq!((v.start, v.end), (32 * W, 72 * W));
        assert_eq!(v.pcm_start, u.pcm_start + u.pcm.len() as u64);
    }

    #[test]
    fn max_length_without_a_pause_cuts_hard_and_restarts_on_speech() {
        let cfg = SegmenterConfig { max_utterance: Duration::from_secs(1), ..Default::default() };
        let mut seg = Segmenter::new(cfg);
        let ev = run(&mut seg, &seq(&[(0.9, 40)]));
        let u = ended(&ev[1]);
        // 1 s = 31.25 windows: window 31 would make it longer.
        assert_eq!((u.start, u.end, u.reason), (0, 31 * W, EndReason::MaxLength));
        assert!(u.pcm.len() as u64 <= 16_000 + W);
        assert_eq!(ev[2], SegmentEvent::SpeechStarted { start: 32 * W, detected_at: 34 * W });
    }

    #[test]
    fn stream_end_mid_utterance_flushes_it() {
        let mut seg = Segmenter::new(SegmenterConfig::default());
        let mut out = Vec::new();
        run(&mut seg, &seq(&[(0.9, 10), (0.1, 5)]));
        seg.finish(&mut out);
        let u = ended(&out[0]);
        assert_eq!((u.start, u.end, u.reason), (0, 15 * W, EndReason::StreamEnded));
        assert_eq!(u.pcm.len() as u64, 15 * W);
        out.clear();
        seg.finish(&mut out);
        assert!(out.is_empty(), "a second finish has nothing left");
    }

    #[test]
    fn stream_end_announces_unannounced_speech_that_was_long_enough() {
        let mut seg = Segmenter::new(SegmenterConfig::default());
        run(&mut seg, &seq(&[(0.9, 1), (0.1, 1)]));
        let mut out = Vec::new();
        seg.finish(&mut out);
        assert!(matches!(out[0], SegmentEvent::SpeechStarted { start: 0, .. }));
        assert_eq!(ended(&out[1]).end, 2 * W);
    }

    #[test]
    fn non_finite_probabilities_are_silence() {
        let mut seg = Segmenter::new(SegmenterConfig::default());
        assert!(run(&mut seg, &[f32::NAN, f32::INFINITY, f32::NAN]).is_empty());
        run(&mut seg, &seq(&[(0.9, 5)]));
        let ev = run(&mut seg, &seq(&[(f32::NAN, 19)]));
        assert_eq!(ended(&ev[0]).end, 8 * W);
    }

    #[test]
    fn clipped_and_broken_samples_are_stored_safely() {
        let mut seg = Segmenter::new(SegmenterConfig { min_speech: Duration::ZERO, ..Default::default() });
        let mut out = Vec::new();
        let mut w = [2.5f32; WINDOW];
        w[1] = -7.0;
        w[2] = f32::NAN;
        seg.push_window(&w, 0.9, &mut out);
        seg.finish(&mut out);
        let u = out.iter().find_map(|e| if let SegmentEvent::SpeechEnded(u) = e { Some(u) } else { None });
        assert_eq!(&u.unwrap().pcm[..3], &[32767, -32768, 0]);
    }

    #[test]
    fn an_hour_of_silence_keeps_memory_bounded() {
        let mut seg = Segmenter::new(SegmenterConfig::default());
        let mut out = Vec::with_capacity(1);
        let silence = [0.0f32; WINDOW];
        for _ in 0..(3600 * 16_000 / WINDOW) {
            seg.push_window(&silence, 0.01, &mut out);
            out.clear();
        }
        assert_eq!(out.capacity(), 1);
        assert_eq!(seg.ring.len(), 8000);
        assert!(seg.speech.is_none());
    }
}
