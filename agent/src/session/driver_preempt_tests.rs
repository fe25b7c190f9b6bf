//! Preemptive replies in the session, on paused time with scripted providers and a scripted
//! end-of-turn model that takes 300 ms per verdict: the reply starts before the verdict and is
//! heard only once it comes; when the user goes on, the prepared reply's request is hung up,
//! nothing of it is heard or remembered, and it is counted as a discarded turn.

use super::*;
use crate::core::endpoint::SmartEndpointing;
use crate::core::turn::TurnConfig;
use crate::session::end_of_turn::ScriptedEndOfTurn;
use crate::session::metrics::metrics;

/// What the model takes to answer.
const VERDICT: Duration = Duration::from_millis(300);
/// Time before each scripted LLM delta.
const GAP: Duration = Duration::from_millis(100);

fn smart(preemptive: bool) -> SessionConfig {
    let turn = TurnConfig { smart: Some(SmartEndpointing::default()), preemptive, ..TurnConfig::default() };
    SessionConfig { turn, ..quiet() }
}

fn discarded() -> u64 {
    metrics().turns.get_or_create(&[("outcome", "discarded")]).get()
}

/// Alice asks a finished question; returns how long after the end of her speech the agent's
/// first audio played, and the rig.
async fn first_audio_after(preemptive: bool) -> (Duration, Rig) {
    let model = ScriptedEndOfTurn::new(vec![Ok(0.95)]).with_delay(VERDICT);
    let mut r = start_with(smart(preemptive), &LimitsConfig::default(), Some(Arc::new(model)));
    r.join("alice").await;
    r.providers.answer(Answer::paced(["It is ", "noon. ", "Anything else?"], GAP));
    r.say("alice", 1.0, "what time is it").await;
    let ended = clock::now();
    within("the answer's audio", r.far.wait_played(1)).await;
    (clock::now().saturating_duration_since(ended), r)
}

#[tokio::test(start_paused = true)]
async fn the_reply_starts_before_the_verdict_and_is_heard_once_it_comes() {
    let model = ScriptedEndOfTurn::new(vec![Ok(0.95)]).with_delay(VERDICT);
    let mut r = start_with(smart(true), &LimitsConfig::default(), Some(Arc::new(model.clone())));
    r.join("alice").await;
    r.providers.answer(Answer::paced(["It is ", "noon. ", "Anything else?"], GAP));
    r.say("alice", 1.0, "what time is it").await;
    let ended = clock::now();
    let messages = r.chat_request(1).await;
    assert!(clock::now().saturating_duration_since(ended) < VERDICT, "the LLM was asked before the verdict");
    assert_eq!(user_turns(&messages), ["what time is it"]);
    // Held: nothing heard or shown while the model thinks.
    tokio::time::sleep(VERDICT - Duration::from_millis(50)).await;
    assert_eq!(r.far.playback().played_samples, 0, "played before the turn was confirmed");
    assert!(!r.far.texts().iter().any(|t| t.sender.is_empty() && t.topic == TOPIC_TRANSCRIPTION));
    r.agent_said("It is noon. Anything else?").await;
    // It is the conversation like any answer.
    r.providers.answer(Answer::text(["Bye."]));
    r.say("alice", 0.5, "thanks").await;
    let messages = r.chat_request(2).await;
    assert_eq!(user_turns(&messages), ["what time is it", "thanks"]);
    assert_eq!(assistant_turns(&messages), ["It is noon. Anything else?"]);
    assert_eq!(model.asked().len(), 2);
    r.end().await;
}

#[tokio::test(start_paused = true)]
async fn a_prepared_reply_is_heard_sooner_than_one_started_at_the_verdict() {
    let (ahead, r) = first_audio_after(true).await;
    r.end().await;
    let (after, r) = first_audio_after(false).await;
    r.end().await;
    // Paused time: the LLM's first words (100 ms) came while the model was deciding.
    assert!(ahead >= VERDICT, "never before the turn is confirmed: {ahead:?}");
    assert!(after >= VERDICT + GAP, "{after:?}");
    assert!(ahead + GAP <= after, "preemptive {ahead:?}, not {after:?}");
}

#[tokio::test(start_paused = true)]
async fn when_the_user_goes_on_the_prepared_reply_is_hung_up_and_forgotten() {
    // The first half sounds finished to the model (a mistake it makes), but she goes on
    // before its verdict: the prepared reply to the first half must never be heard.
    let model = ScriptedEndOfTurn::new(vec![Ok(0.97)]).with_delay(Duration::from_millis(600));
    let mut r = start_with(smart(true), &LimitsConfig::default(), Some(Arc::new(model.clone())));
    r.join("alice").await;
    let before = discarded();
    r.providers.answer(Answer::paced(
        ["Which table would ", "you like to book? ", "Inside ", "or ", "outside?"],
        GAP,
    ));
    r.providers.answer(Answer::text(["A table for four, done."]));
    r.say("alice", 1.5, "I'd like to book a table").await;
    // The first half's reply is under way...
    let first = r.chat_request(1).await;
    assert_eq!(user_turns(&first), ["I'd like to book a table"]);
    // ...when she goes on, 300 ms into the pause.
    tokio::time::sleep(Duration::from_millis(300)).await;
    r.say("alice", 0.8, "for four people").await;
    let second = r.chat_request(2).await;
    // The whole sentence, once: the first reply left no trace in the history.
    assert_eq!(user_turns(&second), ["I'd like to book a table for four people"]);
    assert!(assistant_turns(&second).is_empty(), "{second:?}");
    r.agent_said("A table for four, done.").await;
    r.idle().await;
    // Its request was hung up (a cancellation: the guarded providers count it as "ignored",
    // never a breaker failure), and its turn counted as discarded.
    assert_eq!(r.providers.cancelled_chats(), 1);
    assert!(discarded() > before);
    // Nothing of it was heard or shown: one caption, the answer's; only that audio.
    let captions: Vec<_> =
        r.far.texts().into_iter().filter(|t| t.sender.is_empty() && t.topic == TOPIC_TRANSCRIPTION).collect();
    assert_eq!(captions.len(), 1, "{captions:?}");
    assert_eq!(r.far.playback().played_samples, speech_for("A table for four, done.").len() as u64);
    assert_eq!(r.providers.chat_requests().len(), 2);
    r.end().await;
}
