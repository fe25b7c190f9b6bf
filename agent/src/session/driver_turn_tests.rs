//! The session with an end-of-turn model (scripted), on paused time: a pause mid-sentence is
//! not answered, the whole sentence is answered once and sooner than the VAD delay, and a
//! model that fails leaves the VAD delay in charge; a question it hears as unfinished waits
//! only the question delay, its reply prepared meanwhile; after a long wait for the user to go
//! on, the answer gets its own moment before the filler would be said in front of it.

use super::*;
use crate::core::endpoint::SmartEndpointing;
use crate::core::turn::TurnConfig;
use crate::session::config::{DEFAULT_THINKING_FILLER, FILLER_GRACE};
use crate::session::end_of_turn::ScriptedEndOfTurn;
use crate::smart_turn::DetectError;

fn smart() -> SessionConfig {
    let turn = TurnConfig { smart: Some(SmartEndpointing::default()), ..TurnConfig::default() };
    SessionConfig { turn, ..quiet() }
}

#[tokio::test(start_paused = true)]
async fn a_pause_mid_sentence_is_not_answered_and_the_whole_sentence_is_answered_once() {
    // The model hears the first half as unfinished, the whole sentence as finished.
    let model = ScriptedEndOfTurn::new(vec![Ok(0.03), Ok(0.97)]);
    let mut r = start_with(smart(), &LimitsConfig::default(), Some(Arc::new(model.clone())));
    r.join("alice").await;
    // Twice: once more in case a reply is prepared for the first half.
    r.providers.answer(Answer::text(["A table for four, done."]));
    r.providers.answer(Answer::text(["A table for four, done."]));
    r.say("alice", 1.5, "I'd like to book a table for").await;
    // A 1 s pause: twice the VAD delay, and still no answer (a reply prepared ahead of the
    // verdict, if the transcript came first, is not heard).
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(r.far.playback().played_samples, 0, "answered in the middle of a sentence");
    let asked = r.providers.chat_requests().len();
    assert!(asked <= 1, "{asked} requests for the first half");
    r.say("alice", 0.5, "four people").await;
    let ended = clock::now();
    let messages = r.chat_request(asked + 1).await;
    let waited = clock::now().saturating_duration_since(ended);
    // Both halves, one user message (the history joins a speaker's consecutive words).
    assert_eq!(user_turns(&messages), ["I'd like to book a table for four people"]);
    assert!(waited < Duration::from_millis(500), "a finished sentence beats the VAD delay: {waited:?}");
    // The model heard the first half, then the whole turn.
    assert_eq!(model.asked(), [24_000, 32_000]);
    r.agent_said("A table for four, done.").await;
    r.idle().await;
    assert_eq!(r.providers.chat_requests().len(), asked + 1, "answered once");
    let captions =
        r.far.texts().into_iter().filter(|t| t.sender.is_empty() && t.topic == TOPIC_TRANSCRIPTION);
    assert_eq!(captions.count(), 1, "one answer heard");
    r.end().await;
}

#[tokio::test(start_paused = true)]
async fn a_failing_model_leaves_the_vad_delay_in_charge() {
    let model = ScriptedEndOfTurn::new(vec![Err(DetectError::Busy)]);
    let mut r = start_with(smart(), &LimitsConfig::default(), Some(Arc::new(model.clone())));
    r.join("alice").await;
    r.providers.answer(Answer::text(["Yes."]));
    r.say("alice", 1.0, "are you there").await;
    let ended = clock::now();
    // The reply may be prepared at once; it is heard only after the VAD delay.
    within("the answer's audio", r.far.wait_played(1)).await;
    let waited = clock::now().saturating_duration_since(ended);
    let messages = r.chat_request(1).await;
    assert_eq!(user_turns(&messages), ["are you there"]);
    assert!(waited >= Duration::from_millis(500), "{waited:?}");
    assert_eq!(model.asked().len(), 1);
    r.end().await;
}

#[tokio::test(start_paused = true)]
async fn without_smart_settings_the_model_is_never_asked() {
    let model = ScriptedEndOfTurn::new(vec![Ok(0.0)]);
    let mut r = start_with(quiet(), &LimitsConfig::default(), Some(Arc::new(model.clone())));
    r.join("alice").await;
    r.providers.answer(Answer::text(["Yes."]));
    r.say("alice", 1.0, "are you there").await;
    r.chat_request(1).await;
    assert!(model.asked().is_empty());
    r.end().await;
}

/// Alice says `heard` (1 s of speech); the model hears it as unfinished. Returns when the LLM
/// was asked and when the answer was first heard, after the end of her speech.
async fn unfinished(heard: &str) -> (Duration, Duration) {
    let model = ScriptedEndOfTurn::new(vec![Ok(0.05)]);
    let mut r = start_with(smart(), &LimitsConfig::default(), Some(Arc::new(model.clone())));
    r.join("alice").await;
    r.providers.answer(Answer::text(["Here."]));
    r.say("alice", 1.0, heard).await;
    let ended = clock::now();
    let messages = r.chat_request(1).await;
    let asked = clock::now().saturating_duration_since(ended);
    assert_eq!(user_turns(&messages), [heard]);
    within("the answer's audio", r.far.wait_played(1)).await;
    let heard_at = clock::now().saturating_duration_since(ended);
    assert_eq!(model.asked().len(), 1);
    r.end().await;
    (asked, heard_at)
}

#[tokio::test(start_paused = true)]
async fn an_unfinished_verdict_on_a_question_waits_the_question_delay_with_the_reply_ready() {
    let s = SmartEndpointing::default();
    // Paused time: the reply is asked for during the wait, and heard once the question's
    // delay is over — not after the maximum.
    let (asked, heard) = unfinished("Where do we live?").await;
    assert!(asked < s.question_delay, "the LLM was asked only at {asked:?}");
    assert!(heard >= s.question_delay && heard < s.max_delay, "{heard:?}");
    // Without the question mark, the model's "unfinished" stands: nothing is started before
    // the maximum.
    let (asked, heard) = unfinished("where do we live").await;
    assert!(asked >= s.max_delay && heard >= s.max_delay, "asked {asked:?}, heard {heard:?}");
}

/// Waits until the session has rendered its filler (with the notices, at the start).
async fn filler_rendered(r: &Rig) {
    within("filler rendered", async {
        while !r.providers.spoken().iter().any(|s| s == DEFAULT_THINKING_FILLER) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}

/// Alice says `heard` (1 s of speech), the model hears it as unfinished, the LLM gives
/// `answer`. Returns once the LLM was asked, with when her speech ended.
async fn heard_as_unfinished(cfg: SessionConfig, heard: &str, answer: Answer) -> (Rig, std::time::Instant) {
    let model = ScriptedEndOfTurn::new(vec![Ok(0.05)]);
    let mut r = start_with(cfg, &LimitsConfig::default(), Some(Arc::new(model)));
    r.join("alice").await;
    filler_rendered(&r).await;
    r.providers.answer(answer);
    r.say("alice", 1.0, heard).await;
    let ended = clock::now();
    r.chat_request(1).await;
    (r, ended)
}

#[tokio::test(start_paused = true)]
async fn after_the_maximum_wait_an_answer_about_to_come_is_not_put_behind_the_filler() {
    let s = SmartEndpointing::default();
    let (r, ended) = heard_as_unfinished(smart(), "where do we live", Answer::text(["Here."])).await;
    // Taken at the maximum: the filler's time (2.5 s after the speech) has passed meanwhile.
    assert!(clock::now() >= ended + s.max_delay);
    r.agent_said("Here.").await;
    r.idle().await;
    assert_eq!(r.far.playback().played_samples, speech_for("Here.").len() as u64, "the answer alone");
    r.end().await;
}

#[tokio::test(start_paused = true)]
async fn after_the_maximum_wait_a_slow_answer_gets_the_filler_after_its_moment() {
    let slow = Answer::paced(["It is noon."], Duration::from_secs(4));
    let (r, _) = heard_as_unfinished(smart(), "what time is it", slow).await;
    let taken = clock::now();
    tokio::time::sleep_until((taken + FILLER_GRACE - Duration::from_millis(100)).into()).await;
    assert_eq!(r.far.playback().played_samples, 0, "the answer's own moment first");
    tokio::time::sleep_until((taken + FILLER_GRACE + Duration::from_millis(200)).into()).await;
    assert!(r.far.playback().played_samples > 0, "then the filler, while the LLM thinks");
    r.agent_said(&format!("{DEFAULT_THINKING_FILLER} It is noon.")).await;
    r.end().await;
}

#[tokio::test(start_paused = true)]
async fn a_prepared_reply_released_after_the_filler_time_gets_its_moment_too() {
    // The question's delay ends after the filler's time (2.5 s): the reply, prepared at the
    // pause, is released then, and its first words come 0.3 s later.
    let question_delay = Duration::from_millis(2900);
    let smart_cfg = SmartEndpointing { question_delay, ..SmartEndpointing::default() };
    let turn = TurnConfig { smart: Some(smart_cfg), ..TurnConfig::default() };
    let cfg = SessionConfig { turn, ..quiet() };
    let answer = Answer::paced(["Here."], question_delay + Duration::from_millis(100));
    let (r, ended) = heard_as_unfinished(cfg, "Where do we live?", answer).await;
    assert!(clock::now() < ended + question_delay, "prepared during the wait");
    r.agent_said("Here.").await;
    r.idle().await;
    assert_eq!(r.far.playback().played_samples, speech_for("Here.").len() as u64, "the answer alone");
    r.end().await;
}
