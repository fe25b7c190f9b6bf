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
use voice_agent::livekit::audio::FRAME_SAMPLES;
use voice_agent::livekit::audio::level;
use voice_agent::livekit::audio::opus::{EncodedFrame, EncoderSettings};
use voice_agent::livekit::room::{self, AudioSink, JoinOptions, Listen, RoomEvent};
use voice_agent::livekit::token::room_token;

use crate::livekit::voice::speech_pcm;
use crate::livekit::{API_KEY, API_SECRET};

/// A frame louder than this (dBov) is speech.
const LOUD_DBOV: i8 = -45;
/// The agent has finished answering once it has been quiet this long.
const QUIET: Duration = Duration::from_millis(700);
/// Loud frames closer than this belong to one talk spurt.
const SPURT_GAP: Duration = Duration::from_millis(300);
/// Talk spurts remembered per user.
const MAX_SPURTS: usize = 256;
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
    /// When the agent's first text on `lk.chat` arrived after that, if it did in time.
    pub first_text: Option<Instant>,
}

impl Asked {
    /// End of speech → first agent audio, if answered.
    pub fn latency(&self) -> Option<Duration> {
        self.first_audio.map(|t| t.saturating_duration_since(self.speech_end))
    }

    /// End of speech → the first sign of the agent (audio or text), if any came.
    pub fn first_sign(&self) -> Option<Duration> {
        let first = match (self.first_audio, self.first_text) {
            (Some(a), Some(t)) => Some(a.min(t)),
            (a, t) => a.or(t),
        };
        first.map(|t| t.saturating_duration_since(self.speech_end))
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

/// What the room tells a user: the agent's arrival, its loud frames and its chat texts.
struct Ears {
    /// The agent's talk spurts (first and last loud frame), oldest first.
    spurts: Arc<std::sync::Mutex<Vec<(Instant, Instant)>>>,
    agent: watch::Receiver<bool>,
    loud: watch::Receiver<Option<Instant>>,
    text: watch::Receiver<Option<(Instant, String)>>,
    closed: watch::Receiver<Option<String>>,
}

/// Keeps the room's events flowing (a room whose events are not read stalls), notes the
/// agent's track, every loud frame it sends and its chat texts; leaves when `leave` fires.
fn listen(mut room: room::Room, leave: CancellationToken) -> Ears {
    let (agent_tx, agent) = watch::channel(false);
    let (loud_tx, loud) = watch::channel(None);
    let (text_tx, text) = watch::channel(None);
    let (closed_tx, closed) = watch::channel(None);
    let loud_tx = Arc::new(loud_tx);
    let spurts: Arc<std::sync::Mutex<Vec<(Instant, Instant)>>> = Arc::default();
    let spurts_in = spurts.clone();
    tokio::spawn(async move {
        loop {
            let event = tokio::select! {
                e = room.next_event() => e,
                _ = leave.cancelled() => break,
            };
            match event {
                Some(RoomEvent::TrackSubscribed { identity, mut audio, .. })
                    if identity.starts_with("agent") =>
                {
                    agent_tx.send_replace(true);
                    let (loud_tx, spurts) = (loud_tx.clone(), spurts_in.clone());
                    tokio::spawn(async move {
                        while let Some(f) = audio.recv().await {
                            if level::dbov(&f.samples) > LOUD_DBOV {
                                let now = clock::now();
                                loud_tx.send_replace(Some(now));
                                let mut s = spurts.lock().unwrap_or_else(|e| e.into_inner());
                                let goes_on =
                                    s.last().is_some_and(|l| now.saturating_duration_since(l.1) < SPURT_GAP);
                                if goes_on {
                                    if let Some(last) = s.last_mut() {
                                        last.1 = now;
                                    }
                                } else if s.len() < MAX_SPURTS {
                                    s.push((now, now));
                                }
                            }
                        }
                    });
                }
                Some(RoomEvent::Chat(m)) if m.from.starts_with("agent") => {
                    text_tx.send_replace(Some((clock::now(), m.text)));
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
    Ears { spurts, agent, loud, text, closed }
}

/// A simulated user in a room of its own, with the agent there.
pub struct SimUser {
    sink: AudioSink,
    ears: Ears,
    _leave: tokio_util::sync::DropGuard,
    /// When the join was accepted.
    pub joined: Instant,
    /// When the agent's audio track was subscribed.
    pub agent_ready: Instant,
}

impl SimUser {
    /// Joins `room` as `identity` and waits (up to `agent_timeout`) for the agent's audio.
    pub async fn join(
        url: &str,
        room: &str,
        identity: &str,
        agent_timeout: Duration,
    ) -> Result<Self, String> {
        let token = room_token(API_KEY, API_SECRET, room, identity, Duration::from_secs(7200))
            .map_err(|e| e.to_string())?;
        let options = JoinOptions { listen: Listen::Everyone, ..JoinOptions::new(url, &token, clock::now()) };
        let joined_room = room::join(options).await.map_err(|e| format!("join: {e}"))?;
        let joined = clock::now();
        let sink = joined_room.audio_sink();
        let leave = CancellationToken::new();
        let mut ears = listen(joined_room, leave.clone());
        let agent = ears.agent.wait_for(|&a| a);
        if !matches!(tokio::time::timeout(agent_timeout, agent).await, Ok(Ok(_))) {
            leave.cancel();
            return Err("no agent audio track".into());
        }
        Ok(Self { sink, ears, _leave: leave.drop_guard(), joined, agent_ready: clock::now() })
    }

    /// Why the room ended, if it has.
    pub fn closed(&self) -> Option<String> {
        self.ears.closed.borrow().clone()
    }

    /// The agent's talk spurts so far (first and last loud frame), oldest first.
    pub fn spurts(&self) -> Vec<(Instant, Instant)> {
        self.ears.spurts.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The agent's last chat text and when it came.
    pub fn last_text(&self) -> Option<(Instant, String)> {
        self.ears.text.borrow().clone()
    }

    /// Asks `q`, waits (up to `answer_timeout`) for the agent's first audio or text, then for
    /// its answer to end. `None` if the room closed meanwhile.
    pub async fn ask(&mut self, q: &Question, answer_timeout: Duration) -> Option<Asked> {
        let before = self.sink.state().played_samples;
        self.sink.play_opus(q.frames.clone()).await.ok()?;
        self.sink.wait_played(before + q.speech_samples).await;
        let speech_end = clock::now();
        let (mut loud, mut text) = (self.ears.loud.clone(), self.ears.text.clone());
        let heard = loud.wait_for(|t| t.is_some_and(|t| t > speech_end));
        let read = text.wait_for(|t| t.as_ref().is_some_and(|(t, _)| *t > speech_end));
        let _ = tokio::time::timeout(answer_timeout, async {
            tokio::select! {
                _ = heard => {}
                _ = read => {}
            }
        })
        .await;
        let after = |t: Option<Instant>| t.filter(|t| *t > speech_end);
        let first_audio = after(*self.ears.loud.borrow());
        let first_text = after(self.ears.text.borrow().as_ref().map(|(t, _)| *t));
        // Let the answer finish (quiet for a while), within reason.
        if first_audio.is_some() || first_text.is_some() {
            let give_up = clock::now() + LONGEST_ANSWER;
            while clock::now() < give_up {
                let last = (*self.ears.loud.borrow()).unwrap_or(speech_end);
                if clock::now().saturating_duration_since(last) >= QUIET {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        self.sink.wait_idle().await;
        Some(Asked { speech_end, first_audio, first_text })
    }
}

/// Plays one user to the end of its plan.
pub async fn run_user(plan: UserPlan) -> UserReport {
    let mut report = UserReport { room: plan.room.clone(), ..UserReport::default() };
    let mut user = match SimUser::join(&plan.url, &plan.room, &plan.identity, plan.agent_timeout).await {
        Ok(u) => u,
        Err(e) => {
            report.error = Some(e);
            return report;
        }
    };
    report.joined = Some(user.joined);
    report.agent_ready = Some(user.agent_ready);
    let seed = BuildHasherDefault::<DefaultHasher>::default().hash_one(&plan.room);
    let mut jitter = Jitter::new(seed);
    let mut k = plan.first_question;
    loop {
        let pause = jitter.between(plan.think.0, plan.think.1);
        if clock::now() + pause >= plan.until {
            break;
        }
        tokio::time::sleep(pause).await;
        if let Some(reason) = user.closed() {
            report.error = Some(format!("room closed: {reason}"));
            break;
        }
        let q = &plan.questions[k % plan.questions.len()];
        match user.ask(q, plan.answer_timeout).await {
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
