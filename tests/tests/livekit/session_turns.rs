//! End to end, Smart Turn deciding the end of the user's turn (the real model, a real room,
//! real speech): a sentence with a 1 s pause in the middle is answered once, after the whole
//! sentence — silence alone (`TURN_DETECTION=vad`: 0.45 s VAD wait + 0.5 s endpointing) would
//! cut the user off in the pause and answer the first half.

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
    // Both halves were transcribed; one answer was asked for.
    assert!(rig.fake.requests_to(Endpoint::Transcriptions).len() >= 2, "the pause split the speech");
    assert_eq!(rig.fake.requests_to(Endpoint::Chat).len(), 1, "answered once");
    rig.stop().await;
}
