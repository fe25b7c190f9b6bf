//! The browser playground in a real browser: Debian's chromium (driven by playwright-core)
//! opens the page against a real livekit-server and the agent (fake paid providers), with a
//! spoken question (espeak-ng) as its fake microphone. The page shows the agent's state
//! changing, the user's caption and the agent's, receives the agent's audio (WebRTC
//! inbound-rtp stats), and a typed message gets an answer. Screenshots of each step are kept in
//! `target/playground-e2e/`.

use voice_agent_tests::fake_openai::Endpoint;
use voice_agent_tests::livekit::browser::Playground;
use voice_agent_tests::livekit::voice::{self, VoiceOptions};
use voice_agent_tests::livekit::workspace_root;

const QUESTION: &str = "What is the weather like today?";
const ANSWER: &str = "It is sunny and warm today.";
const TYPED: &str = "And tomorrow?";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_talks_and_types_to_the_agent_in_the_playground() {
    let _heavy = voice_agent_tests::serial::heavy().await;
    let rig = voice::start("browser", VoiceOptions::default()).await;
    rig.fake.edit_replies(|r| {
        r.transcript = QUESTION.into();
        r.chat_chunks = vec!["It is sunny ".into(), "and warm today.".into()];
    });
    let wav = rig.question("question", QUESTION);
    let out = workspace_root().join("target/playground-e2e");
    let _ = std::fs::remove_dir_all(&out);
    let playground = Playground::start(&rig.server, "playground");
    let result = tokio::task::spawn_blocking({
        let out = out.clone();
        move || playground.drive(&wav, TYPED, &out)
    })
    .await
    .expect("driver");
    println!("driver: {result:#}");
    assert!(result["error"].is_null(), "a step failed: {}", result["error"]);

    // The agent's state as the page showed it: ready, then a turn.
    let states: Vec<&str> = result["states"].as_array().unwrap().iter().filter_map(|s| s.as_str()).collect();
    let pos = |s: &str| {
        states.iter().position(|x| *x == s).unwrap_or_else(|| panic!("{s} never shown: {states:?}"))
    };
    assert!(pos("listening") < pos("speaking"), "{states:?}");
    assert!(states.contains(&"thinking"), "{states:?}");
    assert_eq!(states.last(), Some(&"listening"), "{states:?}");

    // Captions of both sides, final, in order; the typed message and its answer.
    let captions: Vec<(String, String)> = result["captions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["final"] == true)
        .map(|c| (c["speaker"].as_str().unwrap().to_owned(), c["text"].as_str().unwrap().to_owned()))
        .collect();
    let expected: Vec<(String, String)> =
        [("user", QUESTION), ("agent", ANSWER), ("user", TYPED), ("agent", ANSWER)]
            .iter()
            .map(|(s, t)| (s.to_string(), t.to_string()))
            .collect();
    assert_eq!(captions, expected);

    // The agent's voice arrived over WebRTC, with sound in it.
    let audio = &result["audio"];
    assert!(audio["packetsReceived"].as_u64().unwrap_or(0) > 50, "{audio}");
    assert!(audio["totalAudioEnergy"].as_f64().unwrap_or(0.0) > 0.0, "{audio}");

    // The typed message reached the LLM as the user's turn (no transcription for it).
    let chats = rig.fake.requests_to(Endpoint::Chat);
    assert_eq!(chats.len(), 2, "two answers");
    let last = chats[1].json.as_ref().unwrap()["messages"].as_array().unwrap().last().cloned().unwrap();
    assert_eq!((last["role"].as_str(), last["content"].as_str()), (Some("user"), Some(TYPED)));
    assert_eq!(rig.fake.requests_to(Endpoint::Transcriptions).len(), 1, "only the spoken question");
    for step in ["agent-listening", "user-caption", "agent-speaking", "agent-caption", "typed-answer"] {
        assert!(result["steps"].as_array().unwrap().iter().any(|s| s == step), "step {step} missing");
    }
    rig.stop().await;
}
