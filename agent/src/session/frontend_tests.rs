//! What LiveKit front ends see of a session, on paused time (in-memory room, scripted
//! providers): `lk.agent.state` following what the user hears, typed messages as user turns,
//! pre-connect audio in front of the microphone, and the session ending when the last user
//! leaves.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::captions::ATTR_INTERRUPTED;
use super::driver_tests::{AGENT, Rig, limiter, quiet, start, user_turns, within};
use super::hearing::Hearing;
use super::scripted::{Answer, ScriptedProviders};
use super::transcript::{TOPIC_CHAT, TOPIC_TRANSCRIPTION};
use super::{Event, Session, SessionConfig};
use crate::clock;
use crate::limits::LimitsConfig;
use crate::livekit::room::attributes::ATTR_AGENT_STATE;
use crate::livekit::room::memory::{self, FarEnd};
use crate::livekit::room::{AudioStream, ChatMessage, PreConnectAudio, RoomEvent};

/// Records every value of `lk.agent.state`, in order, until the session ends.
fn record_states(far: &FarEnd) -> Arc<Mutex<Vec<String>>> {
    let states = Arc::new(Mutex::new(Vec::new()));
    let mut watch = far.watch_attributes();
    let out = states.clone();
    tokio::spawn(async move {
        loop {
            let state = watch.borrow_and_update().get(ATTR_AGENT_STATE).cloned();
            if let Some(s) = state {
                let mut v = out.lock().unwrap();
                if v.last() != Some(&s) {
                    v.push(s);
                }
            }
            if watch.changed().await.is_err() {
                return;
            }
        }
    });
    states
}

fn states(s: &Arc<Mutex<Vec<String>>>) -> Vec<String> {
    s.lock().unwrap().clone()
}

async fn wait_state(r: &Rig, state: &str) {
    within(
        &format!("state {state}"),
        r.far.wait_attributes(|a| a.get(ATTR_AGENT_STATE).is_some_and(|s| s == state)),
    )
    .await;
}

async fn typed(r: &Rig, who: &str, text: &str) {
    let message = ChatMessage { from: who.into(), text: text.into(), truncated: false };
    r.far.event(RoomEvent::Chat(message)).await;
}

#[tokio::test(start_paused = true)]
async fn the_state_walks_through_a_turn_as_the_user_hears_it() {
    let mut r = start(quiet(), &LimitsConfig::default());
    let seen = record_states(&r.far);
    wait_state(&r, "listening").await;
    r.join("alice").await;
    // Thinking lasts while the LLM takes its time (longer than the 0.5 s endpointing delay:
    // a reply prepared during it is not heard, nor seen thinking, before the turn is taken);
    // speaking from the first audio packet.
    r.providers
        .answer(Answer::paced(["Sure, here it is. ", "And a second sentence."], Duration::from_millis(800)));
    r.say("alice", 1.0, "tell me something").await;
    wait_state(&r, "thinking").await;
    assert_eq!(r.far.playback().played_samples, 0, "nothing heard while thinking");
    wait_state(&r, "speaking").await;
    assert!(r.far.playback().played_samples > 0, "speaking once audio plays");
    r.agent_said("Sure, here it is. And a second sentence.").await;
    wait_state(&r, "listening").await;
    assert_eq!(r.far.playback().queued_samples, 0, "listening once playback has ended");
    assert_eq!(states(&seen), ["listening", "thinking", "speaking", "listening"]);
    r.end().await;
}

#[tokio::test(start_paused = true)]
async fn a_barge_in_goes_from_speaking_to_listening() {
    let mut r = start(quiet(), &LimitsConfig::default());
    let seen = record_states(&r.far);
    r.join("alice").await;
    r.providers.answer(Answer::text(["This is a long answer that keeps going and going for quite a while."]));
    r.say("alice", 1.0, "talk to me").await;
    wait_state(&r, "speaking").await;
    r.providers.answer(Answer::text(["Okay."]));
    r.providers.transcript("wait a moment");
    // The user speaks over the agent: once it may be a barge-in the agent holds and listens;
    // her words then stop it.
    assert!(r.ears.speech_started("alice", clock::now()).await);
    wait_state(&r, "listening").await;
    assert!(r.far.playback().paused, "held while the user speaks");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(r.ears.speech_ended("alice", clock::now(), vec![0; 16_000]).await);
    within("barge-in", r.far.wait_text(|t| t.attributes.contains_key(ATTR_INTERRUPTED))).await;
    r.agent_said("Okay.").await;
    let walk = states(&seen);
    assert_eq!(&walk[..4], ["listening", "thinking", "speaking", "listening"], "{walk:?}");
    r.end().await;
}

#[tokio::test(start_paused = true)]
async fn a_typed_message_is_a_user_turn_answered_by_voice_and_interrupts_the_agent() {
    let mut r = start(quiet(), &LimitsConfig::default());
    r.join("alice").await;
    r.providers.answer(Answer::text(["A long spoken answer that the next message will cut short, surely."]));
    typed(&r, "alice", "first typed question").await;
    wait_state(&r, "speaking").await;
    r.providers.answer(Answer::text(["Second answer."]));
    typed(&r, "alice", "second typed question").await;
    r.agent_said("Second answer.").await;
    let cut = r.far.texts().into_iter().find(|t| t.attributes.contains_key(ATTR_INTERRUPTED));
    assert!(cut.is_some(), "the typed message interrupted the first answer: {:?}", r.far.texts());
    let messages = r.chat_request(2).await;
    // (Nothing of the first answer was heard, so both questions stand together.)
    let asked = user_turns(&messages).join(" ");
    assert!(asked.ends_with("first typed question second typed question"), "{messages:?}");
    assert!(r.far.playback().played_samples > 0, "answered by voice");
    // No transcription for typed text, and no user transcript echoed for it.
    assert!(!r.far.texts().iter().any(|t| t.topic == TOPIC_TRANSCRIPTION && t.sender == "alice"));
    r.end().await;
}

#[tokio::test(start_paused = true)]
async fn a_long_typed_message_is_cut_to_the_cap_with_a_notice() {
    let limits = LimitsConfig { transcript_max_chars: 40, ..LimitsConfig::default() };
    let mut r = start(quiet(), &limits);
    r.join("alice").await;
    r.providers.answer(Answer::text(["Noted."]));
    typed(&r, "alice", &"word ".repeat(100)).await;
    let messages = r.chat_request(1).await;
    let asked = user_turns(&messages)[0];
    assert!(asked.chars().count() <= 40 && asked.starts_with("word word"), "{asked:?}");
    let notice = within("cap notice", r.far.wait_text(|t| t.topic == TOPIC_CHAT && t.closed.is_some())).await;
    assert!(notice.text.contains("too long"), "{notice:?}");
    r.agent_said("Noted.").await;
    r.end().await;
}

#[tokio::test(start_paused = true)]
async fn a_text_only_participant_is_answered_too() {
    let r = start(quiet(), &LimitsConfig::default());
    r.far.event(RoomEvent::ParticipantJoined { identity: "bob".into(), name: "Bob".into() }).await;
    r.providers.answer(Answer::text(["Hello Bob."]));
    typed(&r, "bob", "hi, I have no microphone").await;
    r.agent_said("Hello Bob.").await;
    r.end().await;
}

#[tokio::test(start_paused = true)]
async fn the_session_ends_at_once_when_the_last_user_leaves() {
    let mut r = start(quiet(), &LimitsConfig::default());
    r.join("alice").await;
    r.join("bob").await;
    r.far.leave("alice").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!r.far.agent_left(), "bob is still here");
    r.far.leave("bob").await;
    within("agent leaves", async {
        while !r.far.agent_left() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let result = within("session end", r.session).await.expect("session task");
    assert!(result.is_ok(), "{result:?}");
}

#[tokio::test(start_paused = true)]
async fn with_a_grace_period_a_user_who_comes_back_keeps_the_session() {
    let cfg = SessionConfig { leave_grace: Duration::from_secs(10), ..quiet() };
    let mut r = start(cfg, &LimitsConfig::default());
    r.join("alice").await;
    r.far.leave("alice").await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    r.join("alice").await;
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert!(!r.far.agent_left(), "she came back within the grace");
    r.far.leave("alice").await;
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert!(r.far.agent_left(), "gone for longer than the grace");
    let result = within("session end", r.session).await.expect("session task");
    assert!(result.is_ok(), "{result:?}");
}

/// Ears that keep the first sample of every frame they get (to see what was heard in order).
#[derive(Clone, Default)]
struct FrameEars {
    heard: Arc<Mutex<Vec<i16>>>,
}

impl Hearing for FrameEars {
    fn listen(
        &self,
        _who: Arc<str>,
        mut audio: AudioStream,
        _events: mpsc::Sender<Event>,
    ) -> BoxFuture<'static, ()> {
        let heard = self.heard.clone();
        Box::pin(async move {
            while let Some(frame) = audio.recv().await {
                heard.lock().unwrap().push(frame.samples[0]);
            }
        })
    }
}

#[tokio::test(start_paused = true)]
async fn pre_connect_audio_is_heard_before_the_live_microphone() {
    let (room, far) = memory::pair("room", AGENT);
    let ears = FrameEars::default();
    let session = Session::new(
        quiet(),
        Arc::new(ScriptedProviders::new()),
        Arc::new(ears.clone()),
        limiter(&LimitsConfig::default()),
    );
    let cancel = CancellationToken::new();
    let token = cancel.clone();
    let task = tokio::spawn(async move { session.run(room, token).await });
    let mic = far.join_with("alice", true).await;
    // Live audio arrives first (value 7), the recording a moment later (value 3, 24 kHz PCM).
    for i in 0..5u64 {
        let frame = crate::livekit::room::AudioFrame {
            samples: vec![7; 960],
            rtp_time: 48_000 + i * 960,
            recovered: false,
        };
        mic.send(frame).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pcm: Vec<u8> = std::iter::repeat_n(3i16.to_le_bytes(), 24_000 / 10).flatten().collect();
    let attributes = [("trackId", "TR_alice"), ("sampleRate", "24000"), ("channels", "1")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let audio = PreConnectAudio::new("alice".into(), "audio/pcm", &attributes, pcm, clock::now()).unwrap();
    far.event(RoomEvent::PreConnectAudio(audio)).await;
    within("frames heard", async {
        while ears.heard.lock().unwrap().len() < 10 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let heard = ears.heard.lock().unwrap().clone();
    // 0.1 s of recording = 5 frames of 20 ms at 48 kHz, then the 5 live frames.
    let first_live = heard.iter().position(|&v| v == 7).unwrap();
    assert_eq!(first_live, 5, "{heard:?}");
    assert!(heard[1..5].iter().all(|&v| (2..=4).contains(&v)), "the recording (resampled): {heard:?}");
    cancel.cancel();
    assert!(within("session end", task).await.unwrap().is_ok());
}
