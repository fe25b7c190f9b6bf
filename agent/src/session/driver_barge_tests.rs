//! The session on paused time with false interruptions (the default: speech over the agent
//! pauses it, its transcript decides) and a user who goes away.

use super::*;
use crate::core::away::AwayConfig;
use crate::livekit::room::attributes::ATTR_AGENT_STATE;

const FIRST: &str = "One two three four five.";
const ANSWER: [&str; 3] = [FIRST, " Six seven eight nine ten.", " Eleven twelve thirteen fourteen."];

/// The answer's audio: each sentence as the scripted TTS renders it.
fn answer_samples() -> u64 {
    ANSWER.iter().map(|s| speech_for(s.trim()).len() as u64).sum()
}

/// Alice asks; returns once the first sentence of the answer has been heard.
async fn answer_playing(r: &mut Rig) {
    r.join("alice").await;
    r.providers.answer(Answer::text(ANSWER));
    r.say("alice", 1.0, "count for me").await;
    within("first sentence played", r.far.wait_played(speech_for(FIRST).len() as u64)).await;
}

/// What the agent's next LLM request remembers it said.
async fn remembered(r: &Rig, n: usize) -> Vec<String> {
    r.providers.answer(Answer::text(["Sure."]));
    r.say("alice", 1.0, "thanks").await;
    assistant_turns(&r.chat_request(n).await).into_iter().map(String::from).collect()
}

#[tokio::test(start_paused = true)]
async fn a_noise_burst_over_the_answer_holds_it_and_the_whole_answer_is_heard() {
    let mut r = start(quiet(), &LimitsConfig::default());
    answer_playing(&mut r).await;
    // A 1.5 s noise (a door, a cough fit) that STT hears as nothing.
    r.providers.transcript("");
    assert!(r.ears.speech_started("alice", clock::now()).await);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let held = r.far.playback();
    assert!(held.paused, "held after the minimum speech: {held:?}");
    assert_eq!(r.far.attributes()[ATTR_AGENT_STATE], "listening", "listening while held");
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(r.far.playback().played_samples, held.played_samples, "nothing played while held");
    assert!(r.ears.speech_ended("alice", clock::now(), vec![0; 24_000]).await);

    // No words: it plays on from where it stopped, in the same caption, to the end.
    let t = r.agent_said(&ANSWER.concat()).await;
    assert!(!t.attributes.contains_key(ATTR_INTERRUPTED), "{t:?}");
    r.idle().await;
    let state = r.far.playback();
    assert_eq!((state.played_samples, state.discarded_samples), (answer_samples(), 0), "heard whole, once");
    assert!(!state.paused);
    // The history has the whole answer, and the noise is no question.
    assert_eq!(remembered(&r, 2).await, [ANSWER.concat()]);
    assert_eq!(user_turns(&r.chat_request(2).await), ["count for me", "thanks"]);
    r.end().await;
}

#[tokio::test(start_paused = true)]
async fn a_back_channel_under_the_minimum_words_does_not_stop_the_answer() {
    let mut cfg = quiet();
    cfg.turn.interrupt_min_words = 2;
    let mut r = start(cfg, &LimitsConfig::default());
    answer_playing(&mut r).await;
    r.say("alice", 0.7, "mm-hm").await;
    let t = r.agent_said(&ANSWER.concat()).await;
    assert!(!t.attributes.contains_key(ATTR_INTERRUPTED), "{t:?}");
    assert_eq!(remembered(&r, 2).await, [ANSWER.concat()]);
    r.end().await;
}

#[tokio::test(start_paused = true)]
async fn words_over_the_held_answer_stop_it_and_no_more_of_it_is_synthesised() {
    // No filler: the LLM's sentences come slowly, the last ones while the agent is held. No
    // endpointing delay: the new question is due the moment its words stop the old answer, so
    // its request must wait for the old turn to report what was heard (history in order).
    let mut cfg = SessionConfig { thinking_notice: None, ..quiet() };
    cfg.turn.endpointing_delay = Duration::ZERO;
    let mut r = start(cfg, &LimitsConfig::default());
    r.join("alice").await;
    r.providers.answer(Answer::paced(ANSWER, Duration::from_secs(3)));
    r.say("alice", 1.0, "count for me").await;
    within("first sentence played", r.far.wait_played(speech_for(FIRST).len() as u64)).await;
    r.providers.answer(Answer::text(["Sure."]));
    r.say("alice", 3.0, "stop please").await;
    let cut = within(
        "interrupted caption",
        r.far.wait_text(|t| {
            t.sender.is_empty() && t.closed.is_some() && t.attributes.contains_key(ATTR_INTERRUPTED)
        }),
    )
    .await;
    assert!(cut.text.starts_with(FIRST) && !cut.text.contains("Eleven"), "{cut:?}");
    r.agent_said("Sure.").await;
    let spoken = r.providers.spoken();
    assert!(!spoken.iter().any(|s| s.starts_with("Eleven")), "synthesised while held: {spoken:?}");
    let messages = r.chat_request(2).await;
    let heard = assistant_turns(&messages);
    assert!(heard[0].starts_with(FIRST) && !heard[0].contains("Eleven"), "{heard:?}");
    assert_eq!(user_turns(&messages), ["count for me", "stop please"]);
    r.end().await;
}

#[tokio::test(start_paused = true)]
async fn with_the_window_off_a_barge_in_stops_the_agent_while_the_user_still_speaks() {
    let mut cfg = quiet();
    cfg.turn.false_interruption = None;
    let mut r = start(cfg, &LimitsConfig::default());
    answer_playing(&mut r).await;
    r.providers.transcript("");
    assert!(r.ears.speech_started("alice", clock::now()).await);
    within("stopped at once", r.far.wait_text(|t| t.attributes.contains_key(ATTR_INTERRUPTED))).await;
    assert!(r.far.playback().discarded_samples > 0);
    r.end().await;
}

fn away() -> SessionConfig {
    let away = AwayConfig {
        check_in_after: Duration::from_secs(20),
        leave_after: Duration::from_secs(30),
        ..AwayConfig::default()
    };
    SessionConfig { away, ..SessionConfig::default() }
}

#[tokio::test(start_paused = true)]
async fn a_user_who_goes_quiet_is_checked_on_then_the_agent_says_goodbye_and_leaves() {
    let mut r = start(away(), &LimitsConfig::default());
    r.join("alice").await;
    r.agent_said(crate::session::config::DEFAULT_GREETING).await;
    let greeted = clock::now();
    let check_in = r.agent_said(crate::core::away::DEFAULT_CHECK_IN).await;
    assert_eq!(check_in.closed.as_deref(), Some(""));
    assert!(clock::now() >= greeted + Duration::from_secs(20), "not before 20 s of quiet");
    assert!(!r.far.agent_left());
    r.agent_said(crate::core::away::DEFAULT_GOODBYE).await;
    // The goodbye is heard, then the job ends by itself and the agent leaves.
    let result = within("session end", r.session).await.expect("session task");
    assert!(result.is_ok(), "{result:?}");
    assert!(r.far.agent_left());
    let heard = (speech_for(crate::session::config::DEFAULT_GREETING).len()
        + speech_for(crate::core::away::DEFAULT_CHECK_IN).len()
        + speech_for(crate::core::away::DEFAULT_GOODBYE).len()) as u64;
    assert_eq!(r.far.playback().played_samples, heard, "every word of all three");
}

#[tokio::test(start_paused = true)]
async fn answering_the_check_in_keeps_the_agent_and_it_is_remembered() {
    let mut r = start(SessionConfig { greeting: None, ..away() }, &LimitsConfig::default());
    r.join("alice").await;
    r.agent_said(crate::core::away::DEFAULT_CHECK_IN).await;
    r.idle().await;
    r.providers.answer(Answer::text(["Welcome back."]));
    r.say("alice", 1.0, "yes, I am here").await;
    let messages = r.chat_request(1).await;
    assert_eq!(assistant_turns(&messages), [crate::core::away::DEFAULT_CHECK_IN]);
    r.agent_said("Welcome back.").await;
    // 25 s later (after the answer): the clock started over, so a second check-in, no goodbye.
    tokio::time::sleep(Duration::from_secs(25)).await;
    let check_ins =
        r.far.texts().iter().filter(|t| is_agent_transcript(t, crate::core::away::DEFAULT_CHECK_IN)).count();
    assert_eq!(check_ins, 2);
    assert!(!r.far.agent_left());
    r.end().await;
}
