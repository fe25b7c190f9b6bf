//! End to end, Smart Turn deciding the end of the user's turn (the real model, a real room,
//! real speech), with preemptive replies on (the default): a sentence with a 1 s pause in the
//! middle is answered once, after the whole sentence — silence alone (`TURN_DETECTION=vad`:
//! 0.45 s VAD wait + 0.5 s endpointing) would cut the user off in the pause and answer the
//! first half; and a complete question is answered sooner than silence alone can answer it.

use std::time::Duration;

use voice_agent_tests::fake_openai::Endpoint;
use voice_agent_tests::livekit::voice::{self, VoiceOptions};
use voice_agent_tests::livekit::wav;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_mid_sentence_does_not_cut_the_user_off() {
    let _heavy = voice_agent_tests::serial::heavy().await;
    // The model's verdict on this synthetic voice moves with the Opus round trip (seen on the
    // first half: 0.04-0.11, and once above 0.5), so the bar for "finished" is raised to 0.9:
    // the first half must still be heard as unfinished, and the whole sentence is answered
    // within TURN_MAX_DELAY_SECS (3 s) whatever the model says about it.
    let mut opts = VoiceOptions::smart();
    if let Some(smart) = opts.session.turn.smart.as_mut() {
        smart.threshold = 0.9;
    }
    let rig = voice::start("turns", opts).await;
    rig.fake.edit_replies(|r| {
        r.transcript = "the weather".into();
        r.chat_chunks = vec!["Sunny in Paris tomorrow.".into()];
    });
    // "What is the weather like in … Paris tomorrow?", a 1 s pause before "Paris"
    // (tests/fixtures/make_hesitation_fixtures.py: synthesised whole, so the first half sounds
    // unfinished).
    let q = rig.dir.join("hesitation.wav");
    wav::to_48k(&voice_agent_tests::livekit::tool("tests/fixtures/hesitation/weather_in_paris.wav"), &q);
    // Quiet for 4 s after the question: time for a late (wrong) answer to show up.
    let result = voice::converse_task(&rig.server, "turn-room", "alice", &[&q], &["--quiet-secs", "4"])
        .await
        .expect("client");
    println!("client: {result}");
    let asked = &result["questions"][0];
    let (start, end) = (asked["start"].as_f64().unwrap(), asked["speech_end"].as_f64().unwrap());
    let answer = asked["answer_start"].as_f64().unwrap_or_else(|| panic!("never answered: {result}"));
    assert!(answer > end, "the agent spoke before the sentence ended: {result}");
    // No agent audio at all while the user was still talking (in the pause included).
    let spurts: Vec<f64> =
        result["spurts"].as_array().unwrap().iter().map(|s| s[0].as_f64().unwrap()).collect();
    assert!(
        spurts.iter().all(|&s| s < start || s > end),
        "agent audio during the user's sentence: spurts {spurts:?}, sentence {start}..{end}"
    );
    // Both halves were transcribed; the answer was for the whole sentence. A reply prepared
    // for the first half (if its transcript came before the model's verdict) was dropped
    // unheard, as the spurts above show.
    assert!(rig.fake.requests_to(Endpoint::Transcriptions).len() >= 2, "the pause split the speech");
    let chats: Vec<String> = rig.fake.requests_to(Endpoint::Chat).iter().map(last_user_message).collect();
    assert!(matches!(chats.len(), 1 | 2), "answered once: {chats:?}");
    assert_eq!(chats.last().map(String::as_str), Some("the weather the weather"), "{chats:?}");
    rig.stop().await;
}

/// The last user message of a logged chat request.
fn last_user_message(r: &voice_agent_tests::fake_openai::LoggedRequest) -> String {
    let messages = r.json.as_ref().and_then(|j| j["messages"].as_array().cloned()).unwrap_or_default();
    let user = messages.iter().rev().find(|m| m["role"] == "user");
    user.and_then(|m| m["content"].as_str()).unwrap_or_default().to_owned()
}

/// Seconds from the end of each question's speech to the first agent audio, as the client
/// heard them.
fn latencies(result: &serde_json::Value) -> Vec<f64> {
    let qs = result["questions"].as_array().cloned().unwrap_or_default();
    qs.iter()
        .map(|q| {
            let answer = q["answer_start"].as_f64().unwrap_or_else(|| panic!("never answered: {result}"));
            answer - q["speech_end"].as_f64().expect("speech end")
        })
        .collect()
}

/// Asks "What time is it?" three times with Smart Turn (and preemptive replies) or with
/// silence alone, the silence set to `silence`; returns the client-heard latencies.
async fn ask_three_times(smart: bool, silence: Duration) -> Vec<f64> {
    let mut opts = if smart { VoiceOptions::smart() } else { VoiceOptions::default() };
    opts.session.turn.endpointing_delay = silence;
    if let Some(smart) = opts.session.turn.smart.as_mut() {
        // This synthetic voice's complete question scores 0.3–0.9 with the model: a low bar
        // keeps it a finished turn, and an unfinished verdict waits no longer than silence.
        smart.threshold = 0.2;
        smart.max_delay = silence;
        // A slow model on a busy machine still gets its say, well inside the silence.
        smart.model_wait = silence;
    }
    assert!(opts.session.turn.preemptive, "preemptive replies are the default");
    let rig = voice::start(if smart { "complete-smart" } else { "complete-vad" }, opts).await;
    rig.fake.edit_replies(|r| {
        r.transcript = "what time is it".into();
        r.chat_chunks = vec!["It is noon.".into()];
    });
    let q = rig.question("complete", "What time is it?");
    let qs = [q.as_path(), q.as_path(), q.as_path()];
    let room = if smart { "complete-smart" } else { "complete-vad" };
    let result = voice::converse_task(&rig.server, room, "alice", &qs, &["--quiet-secs", "1.0"])
        .await
        .expect("client");
    println!("{room}: {result}");
    rig.stop().await;
    latencies(&result)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_complete_question_is_answered_sooner_than_by_silence_alone() {
    let _heavy = voice_agent_tests::serial::heavy().await;
    // Silence alone cannot answer before this much silence after the speech (plus the VAD's
    // own wait, within it). The same delay bounds Smart Turn's waits, so the only way to
    // answer sooner is the model's "finished" verdict — with the reply prepared meanwhile.
    let silence = Duration::from_millis(1500);
    let vad = ask_three_times(false, silence).await;
    let smart = ask_three_times(true, silence).await;
    println!("client-heard end of speech -> first agent audio: vad {vad:?}, smart {smart:?}");
    // The VAD's end of speech and the client's last loud frame differ by a few 10 ms frames.
    let floor = silence.as_secs_f64() - 0.15;
    assert!(vad.iter().all(|&v| v >= floor), "silence alone answered early: {vad:?}");
    // The median of three, so one turn the model hears as unfinished cannot decide it.
    let mut sorted = smart.clone();
    sorted.sort_by(f64::total_cmp);
    assert!(
        sorted[1] < floor,
        "Smart Turn with preemptive replies was not sooner than silence alone: {smart:?} vs {vad:?}"
    );
}
