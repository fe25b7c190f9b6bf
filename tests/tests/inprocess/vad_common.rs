//! Shared helpers for the VAD integration tests: the real model, fixtures, golden data.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use voice_agent::vad::{InputFrame, Samples, SegmentEvent, SegmenterConfig, Utterance, Vad};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_owned()
}

pub fn ort_path() -> PathBuf {
    root().join("models/libonnxruntime.so.1.31.1")
}

pub fn model_path() -> PathBuf {
    root().join("models/silero_vad.onnx")
}

/// The real model; fails (never skips) when setup has not been run.
pub fn vad() -> Vad {
    for p in [ort_path(), model_path()] {
        assert!(p.exists(), "{} is missing: run scripts/setup", p.display());
    }
    Vad::load(&ort_path(), &model_path()).unwrap_or_else(|e| panic!("{e} (run scripts/setup)"))
}

/// A committed fixture as 16 kHz mono i16.
pub fn fixture(name: &str) -> Vec<i16> {
    let path = root().join("tests/fixtures").join(name);
    let mut r = hound::WavReader::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let spec = r.spec();
    assert_eq!((spec.sample_rate, spec.channels, spec.bits_per_sample), (16_000, 1, 16), "{name}");
    r.samples::<i16>().map(|s| s.expect("valid sample")).collect()
}

/// The Silero reference output (tests/golden/silero_reference.json).
pub fn golden() -> serde_json::Value {
    let path = root().join("tests/golden/silero_reference.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("golden JSON")
}

pub fn fixture_names(golden: &serde_json::Value) -> Vec<String> {
    golden["fixtures"].as_object().expect("fixtures").keys().cloned().collect()
}

pub fn golden_probs(golden: &serde_json::Value, name: &str) -> Vec<f32> {
    golden["fixtures"][name]["probabilities"]
        .as_array()
        .expect("probabilities")
        .iter()
        .map(|v| v.as_f64().expect("number") as f32)
        .collect()
}

pub fn golden_segments(golden: &serde_json::Value, name: &str, key: &str) -> Vec<(u64, u64)> {
    golden["fixtures"][name][key]
        .as_array()
        .expect("segments")
        .iter()
        .map(|s| (s["start"].as_u64().expect("start"), s["end"].as_u64().expect("end")))
        .collect()
}

/// The reference's settings (tests/golden/make_golden.py) as a segmenter config.
pub fn reference_config(max_utterance: Duration) -> SegmenterConfig {
    SegmenterConfig {
        activation_threshold: 0.5,
        deactivation_threshold: 0.35,
        min_speech: Duration::from_millis(50),
        min_silence: Duration::from_millis(550),
        prefix_padding: Duration::from_millis(500),
        end_padding: Duration::from_millis(100),
        max_utterance,
    }
}

/// `pcm` as 20 ms mono frames at `rate`.
pub fn frames(pcm: &[i16], rate: u32) -> impl Iterator<Item = InputFrame<'_>> {
    pcm.chunks(rate as usize / 50).map(move |c| InputFrame {
        samples: Samples::I16(c),
        sample_rate: rate,
        channels: 1,
    })
}

/// What a stream reported.
#[derive(Debug, Default)]
pub struct Outcome {
    pub probs: Vec<f32>,
    pub starts: Vec<u64>,
    pub utterances: Vec<Utterance>,
}

impl Outcome {
    pub fn add(&mut self, events: &mut Vec<SegmentEvent>) {
        for e in events.drain(..) {
            match e {
                SegmentEvent::Window { index, probability, .. } => {
                    assert_eq!(index as usize, self.probs.len(), "windows arrive in order");
                    self.probs.push(probability);
                }
                SegmentEvent::SpeechStarted { start, .. } => self.starts.push(start),
                SegmentEvent::SpeechEnded(u) => self.utterances.push(u),
            }
        }
    }

    pub fn segments(&self) -> Vec<(u64, u64)> {
        self.utterances.iter().map(|u| (u.start, u.end)).collect()
    }
}

/// Runs 16 kHz `pcm` through a direct stream in 20 ms frames.
pub fn run_direct(vad: &Vad, pcm: &[i16], cfg: SegmenterConfig) -> Outcome {
    let mut stream = vad.stream(cfg);
    let mut out = Outcome::default();
    let mut events = Vec::new();
    for frame in frames(pcm, 16_000) {
        stream.push(frame, &mut events).expect("push");
        out.add(&mut events);
    }
    stream.finish(&mut events);
    out.add(&mut events);
    out
}

/// Asserts two segment lists agree within `tolerance` samples at every boundary.
pub fn assert_segments_close(name: &str, ours: &[(u64, u64)], reference: &[(u64, u64)], tolerance: u64) {
    assert_eq!(ours.len(), reference.len(), "{name}: segments ours {ours:?} reference {reference:?}");
    for (a, b) in ours.iter().zip(reference) {
        assert!(
            a.0.abs_diff(b.0) <= tolerance && a.1.abs_diff(b.1) <= tolerance,
            "{name}: segment {a:?} vs reference {b:?} (tolerance {tolerance} samples); all: {ours:?} vs {reference:?}"
        );
    }
}
