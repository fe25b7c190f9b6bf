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
//! By default every transcript is the word "words". With `--whisper` each utterance the VAD
//! closes is transcribed by the local stack's Whisper (`scripts/setup --local`; only its STT
//! engine is started), so the turn machine sees the real words, and the question rule (an
//! "unfinished" verdict on words ending with `?` waits `TURN_QUESTION_DELAY_SECS`, not the
//! maximum) is exercised. Its transcripts still arrive at once — the moment the VAD closes the
//! utterance, as in the default mode, so the delays compare — unless `--stt-time` is given:
//! then each arrives as long after as Whisper really took on this machine. Three modes side by
//! side: the VAD alone, Smart Turn with the question rule off (`TURN_QUESTION_DELAY_SECS=0`),
//! Smart Turn with it (the default); then the exposure (paused sentences whose words at the
//! pause end with `?`) and every cut-off with what the agent would have answered.
//!
//!     . scripts/env.sh && cargo run --release -p voice-agent-tests --bin bench-turns [-- --whisper [--stt-time]]

#[path = "bench_turns/questions.rs"]
mod questions;
#[path = "bench_turns/sim.rs"]
mod sim;
#[path = "bench_turns/words.rs"]
mod words;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use voice_agent::core::endpoint::SmartEndpointing;
use voice_agent::smart_turn::SmartTurn;
use voice_agent::vad::Vad;
use voice_agent_tests::livekit::tool;

use sim::{Mode, RATE, Run, TAIL, Utterance};
use words::Words;

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
            let text = u["text"].as_str().unwrap_or_default().to_owned();
            Utterance { text, pcm, pause, speech_end: n(&u["speech_end"]) }
        })
        .collect()
}

fn percentile(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() { f64::NAN } else { v[((v.len() as f64 - 1.0) * q).round() as usize] }
}

/// Whether the agent answered `u` before it ended.
pub fn cut_off(u: &Utterance, r: &Run) -> bool {
    r.answered.is_some_and(|a| a < u.speech_end)
}

/// Samples as milliseconds.
pub fn ms(samples: u64) -> f64 {
    samples as f64 / RATE as f64 * 1000.0
}

/// One mode's summary: cut-offs, whole sentences' delay, Smart Turn's calls and first verdicts.
fn report(name: &str, corpus: &[Utterance], runs: &[Run]) {
    let hesitant = corpus.iter().filter(|u| u.pause.is_some()).count();
    let complete = corpus.len() - hesitant;
    let (mut cut, mut early, mut delays, mut missed, mut calls) = (0, 0, Vec::new(), 0, Vec::new());
    // The model's first verdict: on the first half of paused sentences, on whole ones.
    let (mut p_cut, mut p_whole) = (Vec::new(), Vec::new());
    for (u, r) in corpus.iter().zip(runs) {
        calls.extend(r.predictions.iter().map(|d| d.as_secs_f64() * 1000.0));
        if let Some(p) = r.first_p {
            if u.pause.is_some() { &mut p_cut } else { &mut p_whole }.push(f64::from(p));
        }
        match (u.pause, r.answered) {
            (Some(_), Some(a)) if a < u.speech_end => cut += 1,
            (None, Some(a)) if a < u.speech_end => early += 1,
            (None, Some(a)) => delays.push(ms(a - u.speech_end)),
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

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let whisper = args.iter().any(|a| a == "--whisper");
    let timed = args.iter().any(|a| a == "--stt-time");
    if let Some(a) = args.iter().find(|a| !matches!(a.as_str(), "--whisper" | "--stt-time")) {
        eprintln!("bench-turns: unknown argument {a:?} (--whisper [--stt-time])");
        std::process::exit(64);
    }
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
    let smart = SmartEndpointing::default();
    let vad_only = ("TURN_DETECTION=vad (0.45 s VAD + 0.5 s)", Mode { smart: None, whole_file: whisper });
    if !whisper {
        let mut words = Words::Fixed;
        for (name, mode) in
            [vad_only, ("TURN_DETECTION=smart", Mode { smart: Some((&model, smart)), whole_file: false })]
        {
            let runs: Vec<Run> = corpus.iter().map(|u| sim::run(&vad, mode, u, &mut words)).collect();
            report(name, &corpus, &runs);
        }
        return;
    }
    let mut words = Words::whisper(timed);
    println!(
        "transcripts: the local stack's Whisper, each delivered {}",
        if timed {
            "as long after the VAD closed the utterance as Whisper took"
        } else {
            "the moment the VAD closed the utterance"
        }
    );
    let off = SmartEndpointing { question_delay: Duration::ZERO, ..smart };
    let modes = [
        vad_only,
        (
            "TURN_DETECTION=smart, TURN_QUESTION_DELAY_SECS=0 (question rule off)",
            Mode { smart: Some((&model, off)), whole_file: true },
        ),
        (
            "TURN_DETECTION=smart (question rule: 1 s)",
            Mode { smart: Some((&model, smart)), whole_file: true },
        ),
    ];
    let mut all = Vec::new();
    for (name, mode) in modes {
        let runs: Vec<Run> = corpus.iter().map(|u| sim::run(&vad, mode, u, &mut words)).collect();
        report(name, &corpus, &runs);
        questions::list_cut_offs(&corpus, &runs);
        all.push(runs);
    }
    questions::exposure(&corpus, &all[1], smart.question_delay);
    questions::whole_changes(&corpus, &all[1], &all[2]);
    let added: Vec<&Utterance> = corpus
        .iter()
        .enumerate()
        .filter(|&(i, u)| cut_off(u, &all[2][i]) && !cut_off(u, &all[1][i]))
        .map(|(_, u)| u)
        .collect();
    let removed =
        corpus.iter().enumerate().filter(|&(i, u)| !cut_off(u, &all[2][i]) && cut_off(u, &all[1][i])).count();
    println!("cut-offs the question rule adds: {} (and removes: {removed})", added.len());
    for u in added {
        println!("  {:?}", u.text);
    }
    let mut calls: Vec<f64> = words.calls().iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    let (c50, c95) = (percentile(&mut calls, 0.5), percentile(&mut calls, 0.95));
    println!("Whisper calls: {} (wall p50 {c50:.0} ms, p95 {c95:.0} ms)", calls.len());
}
