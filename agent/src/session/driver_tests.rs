//! The session loop and its replies on paused time: an in-memory room, scripted providers and
//! scripted ears, no sockets and no real waiting — each test is a whole conversation that
//! runs in milliseconds. What a test checks is what a participant or the LLM would see: audio
//! played, text streams, and the messages of each chat request (the history).

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::registry::Registry;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::captions::ATTR_INTERRUPTED;
use super::hearing::ScriptedEars;
use super::scripted::{Answer, ScriptedProviders, speech_for};
use super::transcript::{TOPIC_CHAT, TOPIC_TRANSCRIPTION};
use super::{Session, SessionConfig};
use crate::agent::Agents;
use crate::clock;
use crate::core::quota::{Scope, Unit, Window};
use crate::limits::{Limiter, LimitsConfig};
use crate::livekit::job::JobError;
use crate::livekit::room::memory::{self, FarEnd, SentText};
use crate::livekit::room::text_stream::ATTR_SEGMENT_ID;
use crate::livekit::room::{AudioFrame, CloseReason};
use crate::providers::{ChatMessage, ProviderError, Role};
use tokio::sync::mpsc;

pub(super) const AGENT: &str = "agent";
/// Virtual time a test may take before it counts as hung (paused time: no real wait).
const PATIENCE: Duration = Duration::from_secs(120);

pub(super) struct Rig {
    pub(super) far: FarEnd,
    pub(super) ears: ScriptedEars,
    pub(super) providers: ScriptedProviders,
    pub(super) cancel: CancellationToken,
    pub(super) session: JoinHandle<Result<(), JobError>>,
    /// Microphones of the joined participants (kept open: dropping one ends the track).
    pub(super) mics: Vec<mpsc::Sender<AudioFrame>>,
}

pub(super) fn limiter(cfg: &LimitsConfig) -> Arc<Limiter> {
    let mut registry = Registry::default();
    let metrics = crate::limits::register_metrics(&mut registry);
    Arc::new(Limiter::new(cfg, metrics, "test-worker", clock::now()).expect("limiter"))
}

pub(super) fn quiet() -> SessionConfig {
    SessionConfig { greeting: None, ..SessionConfig::default() }
}

pub(super) fn start(cfg: SessionConfig, limits: &LimitsConfig) -> Rig {
    start_with(cfg, limits, None)
}

/// [`start`] with an end-of-turn model.
pub(super) fn start_with(
    cfg: SessionConfig,
    limits: &LimitsConfig,
    model: Option<Arc<dyn super::EndOfTurn>>,
) -> Rig {
    start_full(cfg, limits, None, model)
}

/// [`start`] with the agents of `agents` in place of the settings' prompt.
pub(super) fn start_agent(cfg: SessionConfig, limits: &LimitsConfig, agents: Agents) -> Rig {
    start_full(cfg, limits, Some(agents), None)
}

/// A session in an in-memory room, with its agents (default: the settings' prompt) and
/// end-of-turn model.
fn start_full(
    cfg: SessionConfig,
    limits: &LimitsConfig,
    agents: Option<Agents>,
    model: Option<Arc<dyn super::EndOfTurn>>,
) -> Rig {
    let (room, far) = memory::pair("room", AGENT);
    let providers = ScriptedProviders::new();
    let ears = ScriptedEars::new();
    let mut session = Session::new(cfg, Arc::new(providers.clone()), Arc::new(ears.clone()), limiter(limits));
    if let Some(agents) = agents {
        session = session.with_agents(agents);
    }
    if let Some(model) = model {
        session = session.with_end_of_turn(model);
    }
    let cancel = CancellationToken::new();
    let run = session.clone();
    let token = cancel.clone();
    let session = tokio::spawn(async move { run.run(room, token).await });
    Rig { far, ears, providers, cancel, session, mics: Vec::new() }
}

pub(super) async fn within<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(PATIENCE, f).await.unwrap_or_else(|_| panic!("{what}: nothing after {PATIENCE:?}"))
}

impl Rig {
    pub(super) async fn join(&mut self, who: &str) {
        let mic = self.far.join(who).await;
        self.mics.push(mic);
        within("listening", async {
            while !self.ears.listening(who) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
    }

    /// `who` speaks for `secs` (the scripted STT hears `heard`).
    pub(super) async fn say(&self, who: &str, secs: f64, heard: &str) {
        self.providers.transcript(heard);
        assert!(self.ears.speech_started(who, clock::now()).await, "{who} is not heard");
        tokio::time::sleep(Duration::from_secs_f64(secs)).await;
        let pcm = vec![0; (secs * 16_000.0) as usize];
        assert!(self.ears.speech_ended(who, clock::now(), pcm).await);
    }

    /// The agent's transcript that ended with `text` (closed with any reason).
    pub(super) async fn agent_said(&self, text: &str) -> SentText {
        within(&format!("agent saying {text:?}"), self.far.wait_text(|t| is_agent_transcript(t, text))).await
    }

    /// Waits for the `n`-th chat request (1-based) and returns its messages.
    pub(super) async fn chat_request(&self, n: usize) -> Vec<ChatMessage> {
        within(&format!("chat request {n}"), async {
            loop {
                if let Some(m) = self.providers.chat_requests().get(n - 1) {
                    return m.clone();
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
    }

    pub(super) async fn idle(&self) {
        // Everything queued has played out and nothing else is pending.
        tokio::time::sleep(Duration::from_secs(5)).await;
    }

    pub(super) async fn end(self) {
        self.far.close(CloseReason::Disconnected("test over".into())).await;
        let result = within("session end", self.session).await.expect("session task");
        assert!(result.is_ok(), "{result:?}");
        assert!(self.far.agent_left(), "the agent leaves the room");
        drop(self.cancel);
    }
}

pub(super) fn is_agent_transcript(t: &SentText, text: &str) -> bool {
    t.topic == TOPIC_TRANSCRIPTION && t.sender.is_empty() && t.closed.is_some() && t.text == text
}

pub(super) fn assistant_turns(messages: &[ChatMessage]) -> Vec<&str> {
    messages.iter().filter(|m| m.role == Role::Assistant).map(|m| m.content.as_str()).collect()
}

pub(super) fn user_turns(messages: &[ChatMessage]) -> Vec<&str> {
    messages.iter().filter(|m| m.role == Role::User).map(|m| m.content.as_str()).collect()
}

#[tokio::test(start_paused = true)]
async fn the_greeting_is_spoken_remembered_and_a_question_answered() {
    let mut r = start(SessionConfig::default(), &LimitsConfig::default());
    r.join("alice").await;
    let greeting = crate::session::config::DEFAULT_GREETING;
    let t = r.agent_said(greeting).await;
    assert_eq!(t.closed.as_deref(), Some(""));
    assert!(t.attributes[ATTR_SEGMENT_ID].starts_with("SG_agent_"), "{t:?}");
    r.idle().await;
    assert!(r.far.playback().played_samples >= speech_for(greeting).len() as u64, "the greeting was heard");

    r.providers.answer(Answer::text(["It is ", "noon. ", "Anything else?"]));
    r.say("alice", 1.0, "what time is it").await;
    let messages = r.chat_request(1).await;
    assert_eq!(messages[0].role, Role::System);
    assert_eq!(assistant_turns(&messages), [greeting], "the greeting is part of the conversation");
    assert_eq!(user_turns(&messages), ["what time is it"]);
    r.agent_said("It is noon. Anything else?").await;
    let user = r.far.wait_text(|t| t.topic == TOPIC_TRANSCRIPTION && t.sender == "alice").await;
    assert_eq!(user.text, "what time is it");
    r.end().await;
}

#[tokio::test(start_paused = true)]
async fn barge_in_stops_the_answer_and_history_keeps_only_what_was_heard() {
    let mut r = start(quiet(), &LimitsConfig::default());
    r.join("alice").await;
    let first = "One two three four five.";
    let answer = [first, " Six seven eight nine ten.", " Eleven twelve thirteen fourteen."];
    r.providers.answer(Answer::text(answer));
    r.say("alice", 1.0, "count for me").await;
    // Speak over the agent once the first sentence has been heard.
    let baseline = r.far.playback().played_samples;
    within("first sentence played", r.far.wait_played(baseline + speech_for(first).len() as u64)).await;
    r.providers.answer(Answer::text(["Sure."]));
    r.say("alice", 1.0, "stop please").await;

    let interrupted = within(
        "interrupted transcript",
        r.far.wait_text(|t| {
            t.sender.is_empty() && t.closed.is_some() && t.attributes.contains_key(ATTR_INTERRUPTED)
        }),
    )
    .await;
    assert!(interrupted.text.starts_with(first), "{interrupted:?}");
    assert!(!interrupted.text.contains("Eleven"), "the caption ends at what was heard: {interrupted:?}");
    let messages = r.chat_request(2).await;
    let heard = assistant_turns(&messages);
    assert_eq!(heard.len(), 1, "{messages:?}");
    assert!(heard[0].starts_with(first), "the first sentence was heard: {heard:?}");
    assert!(!heard[0].contains("Eleven"), "the unplayed sentence was never heard: {heard:?}");
    assert!(heard[0].len() < answer.concat().len(), "{heard:?}");
    assert_eq!(user_turns(&messages), ["count for me", "stop please"]);
    r.agent_said("Sure.").await;
    r.end().await;
}

#[tokio::test(start_paused = true)]
async fn with_tts_down_the_answer_goes_out_as_text_and_is_remembered() {
    let mut r = start(quiet(), &LimitsConfig::default());
    r.providers.set_tts_down(true);
    r.join("alice").await;
    r.providers.answer(Answer::text(["It is sunny. ", "Take a hat."]));
    r.say("alice", 1.0, "what is the weather").await;
    let chat = within("text reply", r.far.wait_text(|t| t.topic == TOPIC_CHAT && t.closed.is_some())).await;
    assert_eq!(chat.text, "It is sunny. Take a hat.");
    r.agent_said("It is sunny. Take a hat.").await;
    assert_eq!(r.far.playback().played_samples, 0, "nothing could be spoken");

    r.providers.answer(Answer::text(["Yes."]));
    r.say("alice", 1.0, "really").await;
    let messages = r.chat_request(2).await;
    assert_eq!(assistant_turns(&messages), ["It is sunny. Take a hat."]);
    r.end().await;
}

#[tokio::test(start_paused = true)]
async fn an_llm_outage_is_apologised_for_and_the_apology_is_not_history() {
    let mut r = start(quiet(), &LimitsConfig::default());
    r.join("alice").await;
    r.providers.answer(Answer::unavailable());
    r.say("alice", 1.0, "are you there").await;
    let apology = crate::session::config::DEFAULT_LLM_UNAVAILABLE;
    r.agent_said(apology).await;
    r.idle().await;
    assert!(r.far.playback().played_samples >= speech_for(apology).len() as u64, "the apology is heard");

    r.providers.answer(Answer::text(["I am back."]));
    r.say("alice", 1.0, "hello again").await;
    let messages = r.chat_request(2).await;
    assert!(assistant_turns(&messages).is_empty(), "{messages:?}");
    // The unanswered question was taken back: the next answer is to the next question only.
    assert_eq!(user_turns(&messages), ["hello again"]);
    r.agent_said("I am back.").await;
    r.end().await;
}

#[tokio::test(start_paused = true)]
async fn a_slow_answer_gets_the_filler_once_and_then_the_answer() {
    let mut r = start(quiet(), &LimitsConfig::default());
    r.join("alice").await;
    let filler = crate::session::config::DEFAULT_THINKING_FILLER;
    // Rendered ahead, with the notices.
    within("filler rendered", async {
        while !r.providers.spoken().iter().any(|s| s == filler) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    // The LLM's first word comes 8 s after it is asked.
    r.providers.answer(Answer::paced(["It is noon."], Duration::from_secs(8)));
    r.say("alice", 1.0, "what time is it").await;
    let asked = clock::now();
    r.chat_request(1).await;
    tokio::time::sleep_until((asked + Duration::from_secs(2)).into()).await;
    assert_eq!(r.far.playback().played_samples, 0, "nothing before the filler time (2.5 s)");
    tokio::time::sleep_until((asked + Duration::from_secs(7)).into()).await;
    let one = speech_for(filler).len() as u64;
    assert_eq!(r.far.playback().played_samples, one, "the filler, once, while the LLM thinks");
    let t = r.agent_said("One moment. It is noon.").await;
    assert_eq!(t.closed.as_deref(), Some(""));
    r.idle().await;
    assert_eq!(r.far.playback().played_samples, one + speech_for("It is noon.").len() as u64);
    // The filler is not part of what the agent answered.
    r.providers.answer(Answer::text(["Yes."]));
    r.say("alice", 1.0, "thanks").await;
    assert_eq!(assistant_turns(&r.chat_request(2).await), ["It is noon."]);
    r.end().await;
}

#[tokio::test(start_paused = true)]
async fn an_llm_that_never_answers_gets_the_filler_then_the_apology() {
    let mut r = start(quiet(), &LimitsConfig::default());
    r.join("alice").await;
    // The stream stays silent until the turn's deadline cuts it.
    r.providers
        .answer(Answer::Stalled { after: Duration::from_secs(30), error: ProviderError::DeadlineExceeded });
    r.say("alice", 1.0, "hello").await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let filler = crate::session::config::DEFAULT_THINKING_FILLER;
    assert_eq!(r.far.playback().played_samples, speech_for(filler).len() as u64, "the filler meanwhile");
    let apology = crate::session::config::DEFAULT_LLM_UNAVAILABLE;
    let t = r.agent_said(&format!("{filler} {apology}")).await;
    assert_eq!(t.closed.as_deref(), Some(""));
    r.idle().await;
    let heard = (speech_for(filler).len() + speech_for(apology).len()) as u64;
    assert_eq!(r.far.playback().played_samples, heard, "filler then apology, nothing else");
    r.end().await;
}

#[tokio::test(start_paused = true)]
async fn a_slow_llm_has_its_first_clause_spoken_before_the_sentence_ends() {
    let mut r = start(quiet(), &LimitsConfig::default());
    r.join("alice").await;
    let deltas = ["Well, let me think about that, ", "since it is a ", "hard one. ", "It is noon."];
    r.providers.answer(Answer::paced(deltas, Duration::from_secs(1)));
    r.say("alice", 1.0, "what time is it").await;
    r.agent_said("Well, let me think about that, since it is a hard one. It is noon.").await;
    let spoken = r.providers.spoken();
    let asked: Vec<&str> = spoken.iter().map(String::as_str).skip_while(|s| !s.starts_with("Well")).collect();
    assert_eq!(asked, ["Well, let me think about that,", "since it is a hard one.", "It is noon."]);
    r.end().await;
}

#[tokio::test(start_paused = true)]
async fn with_first_words_set_a_slow_llm_is_heard_after_its_first_words() {
    let mut r = start(SessionConfig { first_words: 3, ..quiet() }, &LimitsConfig::default());
    r.join("alice").await;
    let deltas = ["The capital ", "of France ", "is Paris. ", "It is lovely."];
    r.providers.answer(Answer::paced(deltas, Duration::from_secs(1)));
    r.say("alice", 1.0, "what is the capital of france").await;
    r.agent_said("The capital of France is Paris. It is lovely.").await;
    let spoken = r.providers.spoken();
    let asked: Vec<&str> = spoken.iter().map(String::as_str).skip_while(|s| !s.starts_with("The")).collect();
    // Three words asked; "of" leans on the next, so the cut comes one word later.
    assert_eq!(
        asked,
        ["The capital of France", "is Paris.", "It is lovely."],
        "only the first words go early"
    );
    r.end().await;
}

#[tokio::test(start_paused = true)]
async fn a_limited_turn_speaks_its_sentence_and_a_full_room_refuses_with_a_notice() {
    let mut limits = LimitsConfig::default();
    limits.quotas.set(Scope::Room, Unit::Sessions, Window::Concurrent, 1);
    let mut r = start(quiet(), &limits);
    r.join("alice").await;

    let sentence = "You have asked a lot this minute; please wait a moment.";
    let rejection = crate::core::ledger::Rejection {
        scope: Scope::Participant,
        unit: Unit::Turns,
        window: Window::Minute,
        retry_after: Duration::from_secs(30),
    };
    r.providers.answer(Answer::Fail(ProviderError::Limited { rejection, sentence: sentence.into() }));
    r.say("alice", 1.0, "one more").await;
    r.agent_said(sentence).await;
    r.idle().await;

    // A second participant finds the room full: told so, and not listened to.
    let _mic = r.far.join("bob").await;
    let notice = within(
        "room-full notice",
        r.far.wait_text(|t| t.sender.is_empty() && t.closed.is_some() && t.text != sentence),
    )
    .await;
    assert!(!notice.text.is_empty(), "{notice:?}");
    r.idle().await;
    assert!(!r.ears.listening("bob"), "bob is not listened to");

    r.providers.answer(Answer::text(["Here you go."]));
    r.say("alice", 1.0, "now please").await;
    let messages = r.chat_request(2).await;
    assert!(assistant_turns(&messages).is_empty(), "notices are not history: {messages:?}");
    r.agent_said("Here you go.").await;
    r.end().await;
}

#[tokio::test(start_paused = true)]
async fn two_speakers_are_answered_together_each_labelled() {
    let mut r = start(quiet(), &LimitsConfig::default());
    r.join("alice").await;
    r.join("bob").await;
    r.providers.answer(Answer::text(["Both noted."]));
    r.providers.transcript("I want tea");
    r.providers.transcript("I want coffee");
    // Overlapping: bob starts before alice stops; the agent waits for both.
    let now = clock::now();
    assert!(r.ears.speech_started("alice", now).await);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(r.ears.speech_started("bob", clock::now()).await);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(r.ears.speech_ended("alice", clock::now(), vec![0; 16_000]).await);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(r.ears.speech_ended("bob", clock::now(), vec![0; 19_200]).await);

    let messages = r.chat_request(1).await;
    // In the order they ended, each labelled; consecutive user lines share one history entry.
    assert_eq!(user_turns(&messages), ["alice: I want tea bob: I want coffee"]);
    assert!(messages[0].content.contains("Several people are in this call"), "{}", messages[0].content);
    assert_eq!(r.providers.chat_requests().len(), 1, "one answer for both");
    r.agent_said("Both noted.").await;
    r.end().await;
}

#[tokio::test(start_paused = true)]
async fn cancelling_the_job_ends_the_session_and_leaves_the_room() {
    let mut r = start(quiet(), &LimitsConfig::default());
    r.join("alice").await;
    r.providers.answer(Answer::paced(["A very long answer. ", "It goes on."], Duration::from_secs(3)));
    r.say("alice", 1.0, "tell me everything").await;
    r.chat_request(1).await;
    r.cancel.cancel();
    let result = within("session end", r.session).await.expect("session task");
    assert!(result.is_ok(), "{result:?}");
    assert!(r.far.agent_left());
}

#[tokio::test(start_paused = true)]
async fn a_failed_transcription_is_announced_to_the_speaker_and_not_remembered() {
    let mut r = start(quiet(), &LimitsConfig::default());
    r.join("alice").await;
    let outage =
        ProviderError::Unavailable { capability: crate::providers::Capability::Stt, detail: "down".into() };
    r.providers.transcript_fails(outage);
    assert!(r.ears.speech_started("alice", clock::now()).await);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(r.ears.speech_ended("alice", clock::now(), vec![0; 16_000]).await);
    r.agent_said(crate::session::config::DEFAULT_STT_UNAVAILABLE).await;
    assert!(r.providers.chat_requests().is_empty(), "nothing to answer");

    r.providers.answer(Answer::text(["Now I hear you."]));
    r.say("alice", 1.0, "can you hear me").await;
    let messages = r.chat_request(1).await;
    assert!(assistant_turns(&messages).is_empty(), "{messages:?}");
    assert_eq!(user_turns(&messages), ["can you hear me"]);
    r.end().await;
}

#[tokio::test(start_paused = true)]
async fn the_last_participant_leaving_stops_the_answer_at_once() {
    let mut r = start(quiet(), &LimitsConfig::default());
    r.join("alice").await;
    let long = "This answer goes on and on for a good while, far longer than anyone would wait.";
    r.providers.answer(Answer::text([long]));
    r.say("alice", 1.0, "tell me").await;
    within("answer playing", r.far.wait_played(48_000)).await;
    r.far.leave("alice").await;
    let cut = within(
        "answer stopped",
        r.far.wait_text(|t| {
            t.sender.is_empty() && t.closed.is_some() && t.attributes.contains_key(ATTR_INTERRUPTED)
        }),
    )
    .await;
    assert!(long.starts_with(&cut.text) && cut.text.len() < long.len(), "ends at what was heard: {cut:?}");
    let state = r.far.playback();
    assert!(state.discarded_samples > 0, "the rest was dropped, not played: {state:?}");
    assert!(state.played_samples < speech_for(long).len() as u64, "{state:?}");
    assert!(!r.ears.listening("alice"), "nobody is listened to any more");
    r.end().await;
}

#[path = "driver_barge_tests.rs"]
mod barge;
#[path = "driver_turn_tests.rs"]
mod end_of_turn;
#[path = "driver_preempt_tests.rs"]
mod preempt;
