//! End to end with two people in one room, speaking over each other: one session answers
//! both, each user message reaches the LLM labelled with its speaker, the system prompt says
//! several people are in the call, and both hear an answer after their question.

use voice_agent_tests::fake_openai::Endpoint;
use voice_agent_tests::livekit::voice::{self, VoiceOptions};

const HEARD: &str = "what will the weather be like tomorrow";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_speakers_in_one_room_are_both_heard_and_answered() {
    let _heavy = voice_agent_tests::serial::heavy().await;
    let rig = voice::start("speakers", VoiceOptions::default()).await;
    rig.fake.edit_replies(|r| {
        r.transcript = HEARD.into();
        r.chat_chunks = vec!["It will be sunny.".into()];
    });
    // Long questions, the second starting half a second after the first: they overlap.
    let q = rig.question("q", "Please tell me what the weather will be like tomorrow in the city.");
    let alice = voice::converse_task(&rig.server, "duo-room", "alice", &[&q], &["--lead-in", "3"]);
    let bob = voice::converse_task(&rig.server, "duo-room", "bob", &[&q], &["--lead-in", "3.5"]);
    let (alice, bob) = (alice.await.expect("alice"), bob.await.expect("bob"));
    println!("alice: {alice}\nbob: {bob}");
    for (who, r) in [("alice", &alice), ("bob", &bob)] {
        assert!(r["questions"][0]["answer_start"].as_f64().is_some(), "{who} heard no answer: {r}");
    }

    let chats = rig.fake.requests_to(Endpoint::Chat);
    assert!(!chats.is_empty(), "the LLM was asked");
    let mut user_text = String::new();
    for c in &chats {
        let messages = c.json.as_ref().and_then(|j| j["messages"].as_array()).cloned().unwrap_or_default();
        let system = messages.first().and_then(|m| m["content"].as_str()).unwrap_or_default();
        assert!(system.contains("Several people are in this call"), "{system}");
        for m in messages.iter().filter(|m| m["role"] == "user") {
            let text = m["content"].as_str().unwrap_or_default();
            assert!(text.starts_with("alice: ") || text.starts_with("bob: "), "unlabelled: {text}");
            user_text.push_str(text);
            user_text.push('\n');
        }
    }
    for who in ["alice", "bob"] {
        assert!(user_text.contains(&format!("{who}: {HEARD}")), "{who} reached the LLM: {user_text}");
    }
    rig.stop().await;
}
