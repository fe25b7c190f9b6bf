//! Simulated users for load runs, on the project's own Rust participant
//! ([`voice_agent::livekit::room`]: str0m WebRTC, Opus through libopus).
//!
//! Each user joins a room of its own, waits for the agent's audio track, and asks questions in
//! a loop: a think pause, a question sent as pre-encoded Opus ([`Question`]: espeak-ng speech
//! encoded once and shared by every user, so no user encodes anything), then it waits for the
//! agent's first audio and for the agent to fall quiet. Only the agent's audio is decoded (to
//! find its first loud frame). One process plays hundreds of users this way.
//!
//! Timing, as the user sees it: *speech end* is when the question's last loud frame has been
//! sent (the room's playback counter passed it), *first audio* when the first loud frame of the
//! agent arrives after that.

use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use voice_agent::clock;
use voice_agent::core::jitter::Jitter;
use voice_agent::livekit::audio::level;
use voice_agent::livekit::audio::opus::{EncodedFrame, EncoderSettings};
use voice_agent::livekit::audio::FRAME_SAMPLES;
use voice_agent::livekit::room::{self, AudioSink, JoinOptions, Listen, RoomEvent};
use voice_agent::livekit::token::room_token;

use crate::livekit::voice::speech_pcm;
use crate::livekit::{API_KEY, API_SECRET};

/// A frame louder than this (dBov) is speech.
const LOUD_DBOV: i8 = -45;
/// The agent has finished answering once it has been quiet this long.
const QUIET: Duration = Duration::from_millis(700);
/// Longest an answer may go on before the user speaks again anyway.
const LONGEST_ANSWER: Duration = Duration::from_secs(20);

/// A spoken question, encoded once.
#[derive(Debug, Clone)]
pub struct Question {
    /// What it says.
    pub text: String,
    /// 20 ms Opus frames.
    pub frames: Vec<EncodedFrame>,
    /// Samples up to the end of its last loud frame (its speech ends once these are sent).
    pub speech_samples: u64,
}

impl Question {
    /// Speaks `text` with espeak-ng at 48 kHz and encodes it.
    pub fn render(text: &str) -> Self {
        let pcm = speech_pcm(text, 48_000);
        let frames = EncodedFrame::encode_all(&pcm, EncoderSettings::default()).expect("opus encoder");
        let last_loud = frames.iter().rposition(|f| f.dbov > LOUD_DBOV).map_or(0, |i| i + 1);
        Self { text: text.to_owned(), frames, speech_samples: (last_loud * FRAME_SAMPLES) as u64 }
    }
}

/// What one simulated user does.
#[derive(Debug, Clone)]
pub struct UserPlan {
    /// Server URL (`ws://…`).
    pub url: String,
    /// Its own room.
    pub room: String,
    /// Its identity.
    pub identity: String,
    /// The questions, asked in turn starting at `first_question`.
    pub questions: Arc<Vec<Question>>,
    /// Index of the first question.
    pub first_question: usize,
    /// Pause before each question, drawn between these.
    pub think: (Duration, Duration),
    /// No question starts after this.
    pub until: Instant,
    /// The agent's audio track must arrive within this of joining.
    pub agent_timeout: Duration,
    /// A question without agent audio within this is unanswered.
    pub answer_timeout: Duration,
}

/// One question asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asked {
    /// When its speech ended (its last loud frame was sent).
    pub speech_end: Instant,
    /// When the agent's first loud frame arrived after that, if it did in time.
    pub first_audio: Option<Instant>,
}

impl Asked {
    /// End of speech → first agent audio, if answered.
    pub fn latency(&self) -> Option<Duration> {
        self.first_audio.map(|t| t.saturating_duration_since(self.speech_end))
    }
}

/// How one user fared.
#[derive(Debug, Clone, Default)]
pub struct UserReport {
    /// The room.
    pub room: String,
    /// When the join was accepted.
    pub joined: Option<Instant>,
    /// When the agent's audio track was subscribed.
    pub agent_ready: Option<Instant>,
    /// Every question asked.
    pub asked: Vec<Asked>,
    /// What went wrong, if something did (the join failed, no agent, the room closed).
    pub error: Option<String>,
}

/// The room's side of a user: the agent's arrival and its loud frames.
struct Ears {
    agent: watch::Receiver<bool>,
    loud: watch::Receiver<Option<Instant>>,
    closed: watch::Receiver<Option<String>>,
}

/// Keeps the room's events flowing (a room whose events are not read stalls), notes the
/// agent's track and every loud frame it sends; leaves when `leave` fires.
fn listen(mut room: room::Room, leave: CancellationToken) -> Ears {
    let (agent_tx, agent) = watch::channel(false);
    let (loud_tx, loud) = watch::channel(None);
    let (closed_tx, closed) = watch::channel(None);
    let loud_tx = Arc::new(loud_tx);
    tokio::spawn(async move {
        loop {
            let event = tokio::select! {
                e = room.next_event() => e,
                _ = leave.cancelled() => break,
            };
            match event {
                Some(RoomEvent::TrackSubscribed { identity, mut audio, .. }) if identity.starts_with("agent") => {
                    agent_tx.send_replace(true);
                    let loud_tx = loud_tx.clone();
                    tokio::spawn(async move {
                        while let Some(f) = audio.recv().await {
                            if level::dbov(&f.samples) > LOUD_DBOV {
                                loud_tx.send_replace(Some(clock::now()));
                            }
                        }
                    });
                }
                Some(RoomEvent::Closed(reason)) => {
                    closed_tx.send_replace(Some(format!("{reason:?}")));
                    break;
                }
                None => {
                    closed_tx.send_replace(Some("room ended".into()));
                    break;
                }
                Some(_) => {}
            }
        }
        room.leave().await;
    });
    Ears { agent, loud, closed }
}

/// Asks `q` and waits for the answer to start and end.
async fn ask(sink: &AudioSink, ears: &mut Ears, q: &Question, answer_timeout: Duration) -> Option<Asked> {
    let before = sink.state().played_samples;
    sink.play_opus(q.frames.clone()).await.ok()?;
    sink.wait_played(before + q.speech_samples).await;
    let speech_end = clock::now();
    let heard = ears.loud.wait_for(|t| t.is_some_and(|t| t > speech_end));
    let first_audio = match tokio::time::timeout(answer_timeout, heard).await {
        Ok(Ok(t)) => *t,
        _ => None,
    };
    // Let the answer finish (quiet for a while), within reason.
    if first_audio.is_some() {
        let give_up = clock::now() + LONGEST_ANSWER;
        while clock::now() < give_up {
            let last = (*ears.loud.borrow()).unwrap_or(speech_end);
            if clock::now().saturating_duration_since(last) >= QUIET {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    sink.wait_idle().await;
    Some(Asked { speech_end, first_audio })
}

/// Plays one user to the end of its plan.
pub async fn run_user(plan: UserPlan) -> UserReport {
    let mut report = UserReport { room: plan.room.clone(), ..UserReport::default() };
    let token = match room_token(API_KEY, API_SECRET, &plan.room, &plan.identity, Duration::from_secs(7200)) {
        Ok(t) => t,
        Err(e) => {
            report.error = Some(e.to_string());
            return report;
        }
    };
    let options = JoinOptions { listen: Listen::Everyone, ..JoinOptions::new(&plan.url, &token, clock::now()) };
    let room = match room::join(options).await {
        Ok(r) => r,
        Err(e) => {
            report.error = Some(format!("join: {e}"));
            return report;
        }
    };
    report.joined = Some(clock::now());
    let sink = room.audio_sink();
    let leave = CancellationToken::new();
    let _leave_on_drop = leave.clone().drop_guard();
    let mut ears = listen(room, leave);
    let agent = ears.agent.wait_for(|&a| a);
    if !matches!(tokio::time::timeout(plan.agent_timeout, agent).await, Ok(Ok(_))) {
        report.error = Some("no agent audio track".into());
        return report;
    }
    report.agent_ready = Some(clock::now());
    let seed = BuildHasherDefault::<DefaultHasher>::default().hash_one(&plan.room);
    let mut jitter = Jitter::new(seed);
    let mut k = plan.first_question;
    loop {
        let pause = jitter.between(plan.think.0, plan.think.1);
        if clock::now() + pause >= plan.until {
            break;
        }
        tokio::time::sleep(pause).await;
        if let Some(reason) = ears.closed.borrow().clone() {
            report.error = Some(format!("room closed: {reason}"));
            break;
        }
        let q = &plan.questions[k % plan.questions.len()];
        match ask(&sink, &mut ears, q, plan.answer_timeout).await {
            Some(a) => report.asked.push(a),
            None => {
                report.error = Some("the room closed while asking".into());
                break;
            }
        }
        k += 1;
    }
    report
}
