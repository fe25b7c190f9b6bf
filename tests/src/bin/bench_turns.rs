//! Turn-taking benchmark: cut-offs and answer delay, Smart Turn vs silence alone, side by side.
//!
//! The corpus (tests/py/turn_corpus.py, made fresh in a scratch directory) is 40 espeak-ng
//! sentences, each whole and with a pause of 0.5–1.2 s before a word in the middle. Each file
//! runs through the real Silero VAD and segmenter, the real turn machine and — in the smart
//! mode — the real Smart Turn model, exactly as a session wires them, on simulated time: the
//! audio position is the clock, transcripts arrive at once (instant STT), and each Smart Turn
//! verdict arrives as long after the question as the model really took on this machine.
//!
//! - cut-off: the agent would have answered before the sentence ended (in the pause, or at a
//!   shorter pause of the voice between words);
//! - delay: from the end of a whole sentence's speech (its last loud sample) to the agent's
//!   decision to answer (what the session then starts the LLM with) — the endpointing part of
//!   the latency a user hears; never answered within the 3.5 s after it counts as a miss.
//!
//!     . scripts/env.sh && cargo run --release -p voice-agent-tests --bin bench-turns

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use voice_agent::clock;
use voice_agent::core::endpoint::SmartEndpointing;
use voice_agent::core::segmenter::SegmenterConfig;
use voice_agent::core::turn::{Command as Cmd, Transcript, TurnConfig, TurnMachine};
use voice_agent::smart_turn::config::SMART_VAD_MIN_SILENCE;
use voice_agent::smart_turn::{MelExtractor, SmartTurn};
use voice_agent::vad::{InputFrame, Samples, SegmentEvent, Vad};
use voice_agent_tests::livekit::tool;

const RATE: u64 = 16_000;
/// Silence fed after each file: enough for the longest wait (3 s) to run out.
const TAIL: Duration = Duration::from_millis(3500);

struct Utterance {
    pcm: Vec<i16>,
    /// (pause start, resume) for hesitant sentences, in samples.
    pause: Option<(u64, u64)>,
    speech_end: u64,
}

fn corpus(dir: &Path) -> Vec<Utterance> {
    let python = std::env::var("VOICE_AGENT_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&python)
        .arg(tool("tests/py/turn_corpus.py"))
        .arg(dir)
        .status()
        .expect("python (run scripts/setup and source scripts/env.sh)")
        .success();
    assert!(ok, "tests/py/turn_corpus.py failed");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).expect("manifest")).expect("json");
    let n = |v: &serde_json::Value| v.as_u64().expect("sample position");
    manifest["utterances"]
        .as_array()
        .expect("utterances")
        .iter()
        .map(|u| {
            let bytes = std::fs::read(dir.join(u["file"].as_str().expect("file"))).expect("wav");
            // Python's wave module: a 44-byte header, then the samples.
            let pcm = bytes[44..].chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]])).collect();
            let pause = u.get("pause_start").map(|p| (n(p), n(&u["resume"])));
            Utterance { pcm, pause, speech_end: n(&u["speech_end"]) }
        })
        .collect()
}

/// What happened to one file.
struct Run {
    /// When the agent decided to answer first, in samples from the file's start.
    answered: Option<u64>,
    /// Smart Turn calls and their wall time.
    predictions: Vec<Duration>,
    /// The probability of the first pause's verdict.
    first_p: Option<f32>,
}

fn run(vad: &Vad, model: Option<&SmartTurn>, u: &Utterance) -> Run {
    let smart = model.is_some();
    let segmenter = SegmenterConfig {
        min_silence: if smart { SMART_VAD_MIN_SILENCE } else { SegmenterConfig::default().min_silence },
        end_padding: if smart { SMART_VAD_MIN_SILENCE } else { SegmenterConfig::default().end_padding },
        ..SegmenterConfig::default()
    };
    let cfg = TurnConfig { smart: smart.then(SmartEndpointing::default), ..TurnConfig::default() };
    let mut machine = TurnMachine::new(cfg);
    let mut stream = vad.stream(segmenter);
    let mut extractor = MelExtractor::new();
    let t0 = clock::now();
    let at = |pos: u64| t0 + Duration::from_micros(pos * 1_000_000 / RATE);
    let who: Arc<str> = Arc::from("user");
    let mut audio = u.pcm.clone();
    audio.extend(std::iter::repeat_n(0, (TAIL.as_secs_f64() * RATE as f64) as usize));
    let (mut out, mut verdicts, mut predictions) =
        (Vec::new(), Vec::<(Instant, u64, f32)>::new(), Vec::new());
    let mut first_p = None;
    let mut fed = 0u64;
    for frame in audio.chunks(320) {
        let frame_in = InputFrame { samples: Samples::I16(frame), sample_rate: 16_000, channels: 1 };
        stream.push(frame_in, &mut out).expect("VAD");
        fed += frame.len() as u64;
        let now = at(fed);
        // Verdicts due by now, then timers, then the VAD's news.
        verdicts.retain(|&(due, part, p)| {
            if due <= now {
                machine.end_of_turn(part, Some(p), due);
            }
            due > now
        });
        while let Some(t) = machine.poll_timeout().filter(|&t| t <= now) {
            machine.handle_timeout(t);
        }
        for ev in out.drain(..) {
            match ev {
                SegmentEvent::SpeechStarted { start, .. } => machine.speech_started(&who, at(start), now),
                SegmentEvent::SpeechEnded(utt) => machine.speech_ended(&who, utt.pcm, at(utt.end), now),
                SegmentEvent::Window { .. } => {}
            }
        }
        while let Some(cmd) = machine.poll_command() {
            match cmd {
                Cmd::Transcribe { part, .. } => {
                    machine.transcribed(part, Transcript::Text("words".into()), now)
                }
                Cmd::Predict { part, pcm, .. } => {
                    let audio: Vec<f32> = pcm.iter().map(|&s| f32::from(s) / 32768.0).collect();
                    let started = clock::now();
                    let p = model.expect("smart").predict(&mut extractor, &audio).expect("Smart Turn");
                    let took = clock::now().saturating_duration_since(started);
                    predictions.push(took);
                    first_p.get_or_insert(p);
                    verdicts.push((now + took, part, p));
                }
                // A preemptive reply played once the turn is confirmed counts from its release.
                Cmd::Respond { .. } | Cmd::Release { .. } | Cmd::Say { .. } => {
                    return Run { answered: Some(fed), predictions, first_p };
                }
                Cmd::Prepare { .. }
                | Cmd::Discard { .. }
                | Cmd::Interrupt { .. }
                | Cmd::Pause { .. }
                | Cmd::Resume { .. }
                | Cmd::Leave => {}
            }
        }
    }
    Run { answered: None, predictions, first_p }
}

fn percentile(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() { f64::NAN } else { v[((v.len() as f64 - 1.0) * q).round() as usize] }
}

fn main() {
    let root = tool("models");
    let ort = root.join("libonnxruntime.so.1.31.1");
    let vad = Vad::load(&ort, &root.join("silero_vad.onnx")).expect("Silero (run scripts/setup)");
    let model = SmartTurn::load(&ort, &root.join("smart-turn-v3.2-cpu.onnx"), 1).expect("Smart Turn");
    let dir: PathBuf = std::env::temp_dir().join(format!("voice-agent-turn-corpus-{}", std::process::id()));
    let corpus = corpus(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    let hesitant = corpus.iter().filter(|u| u.pause.is_some()).count();
    let complete = corpus.len() - hesitant;
    println!("corpus: {hesitant} sentences with a 0.5-1.2 s pause in the middle, {complete} whole ones");
    for (name, m) in
        [("TURN_DETECTION=vad (0.45 s VAD + 0.5 s)", None), ("TURN_DETECTION=smart", Some(&model))]
    {
        let (mut cut, mut early, mut delays, mut missed, mut calls) = (0, 0, Vec::new(), 0, Vec::new());
        // The model's first verdict: on the first half of paused sentences, on whole ones.
        let (mut p_cut, mut p_whole) = (Vec::new(), Vec::new());
        for u in &corpus {
            let r = run(&vad, m, u);
            calls.extend(r.predictions.iter().map(|d| d.as_secs_f64() * 1000.0));
            if let Some(p) = r.first_p {
                if u.pause.is_some() { &mut p_cut } else { &mut p_whole }.push(f64::from(p));
            }
            match (u.pause, r.answered) {
                (Some(_), Some(a)) if a < u.speech_end => cut += 1,
                (None, Some(a)) if a < u.speech_end => early += 1,
                (None, Some(a)) => delays.push((a - u.speech_end) as f64 / RATE as f64 * 1000.0),
                (None, None) => missed += 1,
                _ => {}
            }
        }
        println!("== {name} ==");
        println!(
            "cut-offs: {cut}/{hesitant} paused sentences and {early}/{complete} whole ones answered \
             before they ended"
        );
        let (p50, p95) = (percentile(&mut delays, 0.5), percentile(&mut delays, 0.95));
        println!(
            "whole sentences: end of speech -> decision to answer p50 {p50:.0} ms, p95 {p95:.0} ms \
             (n={}, not answered within {} s: {missed})",
            delays.len(),
            TAIL.as_secs_f64()
        );
        if !calls.is_empty() {
            let (c50, c95) = (percentile(&mut calls, 0.5), percentile(&mut calls, 0.95));
            println!("Smart Turn calls: {} (wall p50 {c50:.0} ms, p95 {c95:.0} ms)", calls.len());
            let finished = |v: &[f64]| v.iter().filter(|&&p| p >= 0.5).count();
            println!(
                "first verdict: the first half of paused sentences heard as finished {}/{} (median p {:.2}); \
                 whole sentences at their first pause {}/{} (median p {:.2})",
                finished(&p_cut),
                p_cut.len(),
                percentile(&mut p_cut, 0.5),
                finished(&p_whole),
                p_whole.len(),
                percentile(&mut p_whole, 0.5)
            );
        }
    }
}
