//! Scratch probe: the load bench's questions through Opus, the VAD, segmenter and turn machine;
//! Smart Turn's probability on the audio the session would send, with variants.

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

const QUESTIONS: [&str; 4] = [
    "What time is it?",
    "What is the weather like today?",
    "Tell me something interesting.",
    "How far away is the moon?",
];

fn write_wav(path: &std::path::Path, pcm: &[i16]) {
    let mut b = Vec::with_capacity(44 + pcm.len() * 2);
    let data = (pcm.len() * 2) as u32;
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&16000u32.to_le_bytes());
    b.extend_from_slice(&32000u32.to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&16u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data.to_le_bytes());
    for s in pcm {
        b.extend_from_slice(&s.to_le_bytes());
    }
    std::fs::write(path, b).expect("wav");
}

fn main() {
    if let Some(m) = std::env::var("PROBE_MEM").ok() {
        mem(m == "keep");
        return;
    }
    let root = tool("models");
    let ort = root.join("libonnxruntime.so.1.31.1");
    let vad = Vad::load(&ort, &root.join("silero_vad.onnx")).expect("Silero");
    let model = SmartTurn::load(&ort, &root.join("smart-turn-v3.2-cpu.onnx"), 1).expect("Smart Turn");
    let out_dir = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "/tmp/probe".into()));
    std::fs::create_dir_all(&out_dir).unwrap();
    let end_pad: u64 = std::env::var("END_PAD_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    let mut x = MelExtractor::new();
    let p_of = |x: &mut MelExtractor, pcm: &[i16]| {
        let a: Vec<f32> = pcm.iter().map(|&s| f32::from(s) / 32768.0).collect();
        model.predict(x, &a).unwrap()
    };
    for (qi, q) in QUESTIONS.iter().enumerate() {
        let pcm48 = speech_pcm(q, 48_000);
        let pcm16 = speech_pcm(q, 16_000);
        let frames = EncodedFrame::encode_all(&pcm48, EncoderSettings::default()).unwrap();
        let mut dec = OpusDecoder::new().unwrap();
        let seg = SegmenterConfig {
            min_silence: SMART_VAD_MIN_SILENCE,
            end_padding: Duration::from_millis(end_pad),
            ..SegmenterConfig::default()
        };
        let mut stream = vad.stream(seg);
        let cfg = TurnConfig { smart: Some(SmartEndpointing::default()), ..TurnConfig::default() };
        let mut machine = TurnMachine::new(cfg);
        let who: Arc<str> = Arc::from("u");
        let t0 = clock::now();
        let at = |pos: u64| t0 + Duration::from_micros(pos * 1_000_000 / 16_000);
        let mut out = Vec::new();
        let mut fed48 = 0u64;
        let mut decoded = Vec::new();
        let silence = vec![0u8; 0];
        let _ = silence;
        let mut preds = Vec::new();
        // 200 ms of silence before, the question, 2 s of silence after.
        let zero = [0i16; 960];
        let mut inputs: Vec<Vec<i16>> = (0..10).map(|_| zero.to_vec()).collect();
        for f in &frames {
            inputs.push(dec.decode(&f.packet).unwrap().to_vec());
        }
        for _ in 0..100 {
            inputs.push(zero.to_vec());
        }
        for frame in &inputs {
            decoded.extend_from_slice(frame);
            stream
                .push(InputFrame { samples: Samples::I16(frame), sample_rate: 48_000, channels: 1 }, &mut out)
                .unwrap();
            fed48 += frame.len() as u64;
            let now = at(fed48 / 3);
            for ev in out.drain(..) {
                match ev {
                    SegmentEvent::SpeechStarted { start, .. } => machine.speech_started(&who, at(start), now),
                    SegmentEvent::SpeechEnded(u) => {
                        println!(
                            "  [{q}] utterance start {:.3}s end {:.3}s pcm {} samples ({:.3}s from {:.3}s)",
                            u.start as f64 / 16e3,
                            u.end as f64 / 16e3,
                            u.pcm.len(),
                            u.pcm.len() as f64 / 16e3,
                            u.pcm_start as f64 / 16e3
                        );
                        machine.speech_ended(&who, u.pcm, at(u.end), now)
                    }
                    SegmentEvent::Window { .. } => {}
                }
            }
            while let Some(cmd) = machine.poll_command() {
                if let Cmd::Predict { pcm, .. } = cmd {
                    preds.push(pcm);
                }
            }
        }
        for (k, pcm) in preds.iter().enumerate() {
            let p = p_of(&mut x, pcm);
            write_wav(&out_dir.join(format!("q{qi}_pred{k}.wav")), pcm);
            let mut tails = String::new();
            for ms in [100usize, 200, 300, 500] {
                let mut v = pcm.clone();
                v.extend(std::iter::repeat_n(0i16, ms * 16));
                tails += &format!(" +{ms}ms0 {:.3}", p_of(&mut x, &v));
            }
            println!("{q:35} predict#{k} {:.2}s p={p:.3} |{tails}", pcm.len() as f64 / 16e3);
        }
        // The espeak file at 16 kHz as is (its own trailing silence).
        write_wav(&out_dir.join(format!("q{qi}_espeak16.wav")), &pcm16);
        let last_loud = pcm16.iter().rposition(|&s| s.unsigned_abs() > 300).unwrap_or(0);
        let trail = (pcm16.len() - last_loud) as f64 / 16e3;
        println!(
            "{q:35} espeak 16k file {:.2}s (trailing quiet {trail:.2}s) p={:.3}",
            pcm16.len() as f64 / 16e3,
            p_of(&mut x, &pcm16)
        );
        for cut_ms in [0usize, 100, 200, 300] {
            let end = (last_loud + cut_ms * 16).min(pcm16.len());
            println!("    espeak cut at last loud +{cut_ms}ms: p={:.3}", p_of(&mut x, &pcm16[..end]));
        }
    }
}

/// RSS of this process, MB.
fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

fn mem(keep: bool) {
    use voice_agent::smart_turn::model::Arena;
    use voice_agent::smart_turn::{FEATURES, SmartTurnModel};
    let root = tool("models");
    let ort = root.join("libonnxruntime.so.1.31.1");
    let arena = if keep { Arena::Keep } else { Arena::Release };
    println!("start rss {:.1} MB", rss_mb());
    let mut m = SmartTurnModel::load_with(&ort, &root.join("smart-turn-v3.2-cpu.onnx"), 1, arena).unwrap();
    println!("loaded ({arena:?}) rss {:.1} MB", rss_mb());
    let feats = vec![0.1f32; 16 * FEATURES];
    for n in [1usize, 1, 2, 4, 8, 16, 1, 1] {
        let mut p = vec![0.0; n];
        let t = clock::now();
        m.infer(&feats[..n * FEATURES], &mut p).unwrap();
        println!(
            "batch {n:2}: {:.0} ms, rss after {:.1} MB",
            (clock::now() - t).as_secs_f64() * 1e3,
            rss_mb()
        );
    }
}
