//! One corpus file through the real VAD, segmenter, turn machine and (in the smart modes)
//! Smart Turn, on simulated time: the audio position is the clock.

use std::sync::Arc;
use std::time::{Duration, Instant};

use voice_agent::clock;
use voice_agent::core::endpoint::SmartEndpointing;
use voice_agent::core::segmenter::SegmenterConfig;
use voice_agent::core::turn::{Command as Cmd, Said, Transcript, TurnConfig, TurnMachine};
use voice_agent::smart_turn::config::SMART_VAD_MIN_SILENCE;
use voice_agent::smart_turn::{MelExtractor, SmartTurn};
use voice_agent::vad::{InputFrame, Samples, SegmentEvent, Vad};

use super::words::Words;

/// Samples per second.
pub const RATE: u64 = 16_000;
/// Silence fed after each file: enough for the longest wait (3 s) to run out.
pub const TAIL: Duration = Duration::from_millis(3500);

/// One corpus file.
pub struct Utterance {
    /// The sentence spoken.
    pub text: String,
    /// 16 kHz mono.
    pub pcm: Vec<i16>,
    /// (pause start, resume) for hesitant sentences, in samples.
    pub pause: Option<(u64, u64)>,
    /// The last loud sample.
    pub speech_end: u64,
}

/// How turns end: the VAD alone, or Smart Turn with these settings.
#[derive(Clone, Copy)]
pub struct Mode<'a> {
    /// The end-of-turn model and how it is used; `None`: the VAD delay alone.
    pub smart: Option<(&'a SmartTurn, SmartEndpointing)>,
    /// Keep listening after the answer until the sentence is over, so that every utterance of
    /// it is transcribed (for the words at each pause).
    pub whole_file: bool,
}

/// One utterance the VAD closed.
pub struct Segment {
    /// Where its speech ended, in samples from the file's start.
    pub end: u64,
    /// Its transcript.
    pub text: String,
    /// Smart Turn's probability that the speaker had finished at its end.
    pub p: Option<f32>,
}

/// What happened to one file.
pub struct Run {
    /// When the agent decided to answer first, in samples from the file's start.
    pub answered: Option<u64>,
    /// The words that first answer responds to.
    pub said: Vec<String>,
    /// Smart Turn calls (up to the answer) and their wall time.
    pub predictions: Vec<Duration>,
    /// The probability of the first pause's verdict.
    pub first_p: Option<f32>,
    /// The utterances, in the order they ended.
    pub segments: Vec<Segment>,
}

fn texts(said: &[Said]) -> Vec<String> {
    said.iter().map(|s| s.text.clone()).collect()
}

/// Runs `u` through the pipeline of `mode`; transcripts come from `words`.
pub fn run(vad: &Vad, mode: Mode, u: &Utterance, words: &mut Words) -> Run {
    let smart = mode.smart.is_some();
    let segmenter = SegmenterConfig {
        min_silence: if smart { SMART_VAD_MIN_SILENCE } else { SegmenterConfig::default().min_silence },
        end_padding: if smart { SMART_VAD_MIN_SILENCE } else { SegmenterConfig::default().end_padding },
        ..SegmenterConfig::default()
    };
    let cfg = TurnConfig { smart: mode.smart.map(|(_, s)| s), ..TurnConfig::default() };
    let mut machine = TurnMachine::new(cfg);
    let mut stream = vad.stream(segmenter);
    let mut extractor = MelExtractor::new();
    let t0 = clock::now();
    let at = |pos: u64| t0 + Duration::from_micros(pos * 1_000_000 / RATE);
    let who: Arc<str> = Arc::from("user");
    let mut audio = u.pcm.clone();
    audio.extend(std::iter::repeat_n(0, (TAIL.as_secs_f64() * RATE as f64) as usize));
    let mut r = Run {
        answered: None,
        said: Vec::new(),
        predictions: Vec::new(),
        first_p: None,
        segments: Vec::new(),
    };
    let mut out = Vec::new();
    let mut verdicts = Vec::<(Instant, u64, f32)>::new();
    let mut transcripts = Vec::<(Instant, u64, String)>::new();
    // The segment the VAD closed last (its transcript and verdict are asked for at once).
    let mut open = 0;
    let mut fed = 0u64;
    for frame in audio.chunks(320) {
        if r.answered.is_some() && fed > u.speech_end + RATE {
            break;
        }
        let frame_in = InputFrame { samples: Samples::I16(frame), sample_rate: 16_000, channels: 1 };
        stream.push(frame_in, &mut out).expect("VAD");
        fed += frame.len() as u64;
        let now = at(fed);
        // Verdicts and transcripts due by now, then timers, then the VAD's news.
        verdicts.retain(|&(due, part, p)| {
            if due <= now {
                machine.end_of_turn(part, Some(p), due);
            }
            due > now
        });
        transcripts.retain(|(due, part, text)| {
            if *due <= now {
                machine.transcribed(*part, Transcript::Text(text.clone()), *due);
            }
            *due > now
        });
        while let Some(t) = machine.poll_timeout().filter(|&t| t <= now) {
            machine.handle_timeout(t);
        }
        for ev in out.drain(..) {
            match ev {
                SegmentEvent::SpeechStarted { start, .. } => machine.speech_started(&who, at(start), now),
                SegmentEvent::SpeechEnded(utt) => {
                    open = r.segments.len();
                    r.segments.push(Segment { end: utt.end, text: String::new(), p: None });
                    machine.speech_ended(&who, utt.pcm, at(utt.end), now)
                }
                SegmentEvent::Window { .. } => {}
            }
        }
        while let Some(cmd) = machine.poll_command() {
            match cmd {
                Cmd::Transcribe { part, pcm, .. } => {
                    let (text, took) = words.transcribe(&pcm);
                    if let Some(s) = r.segments.get_mut(open) {
                        s.text.clone_from(&text);
                    }
                    if took.is_zero() {
                        machine.transcribed(part, Transcript::Text(text), now);
                    } else {
                        transcripts.push((now + took, part, text));
                    }
                }
                Cmd::Predict { part, pcm, .. } => {
                    let audio: Vec<f32> = pcm.iter().map(|&s| f32::from(s) / 32768.0).collect();
                    let started = clock::now();
                    let (model, _) = mode.smart.expect("smart");
                    let p = model.predict(&mut extractor, &audio).expect("Smart Turn");
                    let took = clock::now().saturating_duration_since(started);
                    if let Some(s) = r.segments.get_mut(open) {
                        s.p = Some(p);
                    }
                    if r.answered.is_none() {
                        r.predictions.push(took);
                        r.first_p.get_or_insert(p);
                    }
                    verdicts.push((now + took, part, p));
                }
                // A preemptive reply played once the turn is confirmed counts from its release.
                Cmd::Respond { said, .. } | Cmd::Release { said, .. } if r.answered.is_none() => {
                    r.answered = Some(fed);
                    r.said = texts(&said);
                    if !mode.whole_file {
                        return r;
                    }
                }
                Cmd::Say { .. } if r.answered.is_none() => {
                    r.answered = Some(fed);
                    if !mode.whole_file {
                        return r;
                    }
                }
                Cmd::Respond { .. }
                | Cmd::Release { .. }
                | Cmd::Say { .. }
                | Cmd::Prepare { .. }
                | Cmd::Discard { .. }
                | Cmd::Interrupt { .. }
                | Cmd::Pause { .. }
                | Cmd::Resume { .. }
                | Cmd::Leave => {}
            }
        }
    }
    r
}
