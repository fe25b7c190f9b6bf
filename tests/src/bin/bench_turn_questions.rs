//! What Smart Turn says about the load benchmark's questions, on the audio a session sends it:
//! each espeak-ng question (`bench-load`'s four) rendered at 48 kHz, encoded to Opus and
//! decoded as the agent receives it, through the real Silero VAD and segmenter (Smart Turn's
//! pause) and the turn machine, whose `Predict` audio is scored by the real model — in
//! Rust, and by the `pipecat-ai` wheel's Python reference on the same samples.
//!
//! Two end paddings side by side: 0.1 s (the VAD's default, what the model heard before) and
//! the whole pause (0.15 s, the Smart Turn default now: the audio up to the moment the VAD
//! reported the pause, as the reference pipeline feeds it). Each question is rendered three
//! times and each rendering played at two offsets (0 and 16 ms of leading silence): sox
//! dithers its 16-bit output at random, and where the VAD's 32 ms windows fall moves the
//! segment's edges by a few ms, and this int8 model's verdict on a synthetic voice can turn
//! on differences that small.
//!
//!     . scripts/env.sh && cargo run --release -p voice-agent-tests --bin bench-turn-questions

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use voice_agent::clock;
use voice_agent::core::endpoint::SmartEndpointing;
use voice_agent::core::segmenter::SegmenterConfig;
use voice_agent::core::turn::{Command as Cmd, TurnConfig, TurnMachine};
use voice_agent::livekit::audio::opus::{EncodedFrame, EncoderSettings, OpusDecoder};
use voice_agent::smart_turn::config::SMART_VAD_MIN_SILENCE;
use voice_agent::smart_turn::{MelExtractor, SmartTurn};
use voice_agent::vad::{InputFrame, Samples, SegmentEvent, Vad};
use voice_agent_tests::livekit::tool;
use voice_agent_tests::livekit::voice::speech_pcm;
use voice_agent_tests::livekit::wav;

const QUESTIONS: [&str; 4] = [
    "What time is it?",
    "What is the weather like today?",
    "Tell me something interesting.",
    "How far away is the moon?",
];
/// 20 ms at 48 kHz.
const FRAME: usize = 960;

/// The audio of each `Predict` the turn machine sends for `frames` (decoded Opus, 48 kHz)
/// played after `lead` samples of silence and followed by 2 s of it.
fn predicted_audio(vad: &Vad, frames: &[EncodedFrame], lead: usize, end_padding: Duration) -> Vec<Vec<i16>> {
    let segmenter =
        SegmenterConfig { min_silence: SMART_VAD_MIN_SILENCE, end_padding, ..SegmenterConfig::default() };
    let mut stream = vad.stream(segmenter);
    let cfg = TurnConfig { smart: Some(SmartEndpointing::default()), ..TurnConfig::default() };
    let mut machine = TurnMachine::new(cfg);
    let who: Arc<str> = Arc::from("user");
    let t0 = clock::now();
    let at = |pos16: u64| t0 + Duration::from_micros(pos16 * 1_000_000 / 16_000);
    let mut decoder = OpusDecoder::new().expect("opus decoder");
    let mut input: Vec<i16> = vec![0; 10 * FRAME + lead];
    for f in frames {
        input.extend_from_slice(decoder.decode(&f.packet).expect("decode"));
    }
    input.extend(std::iter::repeat_n(0, 100 * FRAME));
    let (mut out, mut asked, mut fed) = (Vec::new(), Vec::new(), 0u64);
    for frame in input.chunks(FRAME) {
        let samples = InputFrame { samples: Samples::I16(frame), sample_rate: 48_000, channels: 1 };
        stream.push(samples, &mut out).expect("VAD");
        fed += frame.len() as u64;
        let now = at(fed / 3);
        for ev in out.drain(..) {
            match ev {
                SegmentEvent::SpeechStarted { start, .. } => machine.speech_started(&who, at(start), now),
                SegmentEvent::SpeechEnded(u) => machine.speech_ended(&who, u.pcm, at(u.end), now),
                SegmentEvent::Window { .. } => {}
            }
        }
        while let Some(cmd) = machine.poll_command() {
            if let Cmd::Predict { pcm, .. } = cmd {
                asked.push(pcm);
            }
        }
    }
    asked
}

/// The Python reference's probability for a 16 kHz WAV file.
fn reference(wav: &Path) -> Option<f64> {
    let python = std::env::var("VOICE_AGENT_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(python)
        .arg(tool("tests/bench/smart_turn_python.py"))
        .arg(wav)
        .args(["--repeat", "1"])
        .output()
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    v["probability"].as_f64()
}

fn main() {
    let models = tool("models");
    let ort = models.join("libonnxruntime.so.1.31.1");
    let vad = Vad::load(&ort, &models.join("silero_vad.onnx")).expect("Silero (run scripts/setup)");
    let model = SmartTurn::load(&ort, &models.join("smart-turn-v3.2-cpu.onnx"), 1).expect("Smart Turn");
    let dir = std::env::temp_dir().join(format!("voice-agent-turn-questions-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let mut extractor = MelExtractor::new();
    println!(
        "| question | end padding | Rust p (3 renderings × offsets 0, 16 ms) | Python reference p | heard as finished |"
    );
    println!("|---|---|---|---|---|");
    for (qi, q) in QUESTIONS.iter().enumerate() {
        let renderings: Vec<Vec<EncodedFrame>> = (0..3)
            .map(|_| {
                EncodedFrame::encode_all(&speech_pcm(q, 48_000), EncoderSettings::default()).expect("opus")
            })
            .collect();
        for (name, pad) in [("0.1 s", Duration::from_millis(100)), ("whole pause", SMART_VAD_MIN_SILENCE)] {
            let (mut ours, mut theirs, mut finished, mut asked) = (Vec::new(), Vec::new(), 0, 0);
            let plays = renderings.iter().flat_map(|f| [(f, 0usize), (f, 16)]);
            for (k, (frames, lead_ms)) in plays.enumerate() {
                for (j, pcm) in predicted_audio(&vad, frames, lead_ms * 48, pad).iter().enumerate() {
                    let audio: Vec<f32> = pcm.iter().map(|&s| f32::from(s) / 32768.0).collect();
                    let p = model.predict(&mut extractor, &audio).expect("Smart Turn");
                    let file = dir.join(format!("q{qi}-{}-{k}-{j}.wav", pad.as_millis()));
                    wav::write_at(&file, pcm, 16_000);
                    theirs.push(reference(&file).map_or("?".to_owned(), |r| format!("{r:.2}")));
                    ours.push(format!("{p:.2}"));
                    asked += 1;
                    finished += usize::from(p >= SmartEndpointing::default().threshold);
                }
            }
            println!("| {q} | {name} | {} | {} | {finished}/{asked} |", ours.join(" / "), theirs.join(" / "));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
