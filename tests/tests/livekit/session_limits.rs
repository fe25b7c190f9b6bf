//! End to end limits: a participant over their turns-per-minute limit hears the spoken notice
//! instead of an answer, while a participant in another room is answered as usual.

use voice_agent::core::quota::{Scope, Unit, Window};
use voice_agent::limits::LimitsConfig;
use voice_agent_tests::fake_openai::Endpoint;
use voice_agent_tests::livekit::voice::{self, VoiceOptions};

const ANSWER: &str = "Here is a short answer.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_turn_limit_the_notice_is_spoken_and_others_are_unaffected() {
    let _heavy = voice_agent_tests::serial::heavy().await;
    let mut limits = LimitsConfig::default();
    limits.quotas.set(Scope::Participant, Unit::Turns, Window::Minute, 1);
    let rig = voice::start("limits", VoiceOptions { limits, ..VoiceOptions::default() }).await;
    rig.fake.edit_replies(|r| {
        r.transcript = "say something".into();
        r.chat_chunks = vec![ANSWER.into()];
    });
    let q = rig.question("q", "Say something please.");
    let dave = voice::converse_task(&rig.server, "limit-room-a", "dave", &[&q, &q], &[]);
    let erin = voice::converse_task(&rig.server, "limit-room-b", "erin", &[&q], &["--lead-in", "3"]);
    let (dave, erin) = (dave.await.expect("dave"), erin.await.expect("erin"));
    println!("dave: {dave}\nerin: {erin}");

    let agent_said = |r: &serde_json::Value| -> Vec<String> {
        let agent = r["agent_identity"].as_str().unwrap_or_default().to_owned();
        voice::texts(r, "lk.transcription")
            .into_iter()
            .filter(|t| t["from"] == agent.as_str())
            .filter_map(|t| t["text"].as_str().map(String::from))
            .collect()
    };
    // Dave: answered once, then told (audibly) to slow down.
    let said = agent_said(&dave);
    assert_eq!(said.len(), 2, "{said:?}");
    assert_eq!(said[0], ANSWER);
    assert!(said[1].starts_with("You're speaking faster than I can keep up"), "{said:?}");
    for (i, q) in dave["questions"].as_array().unwrap().iter().enumerate() {
        assert!(q["answer_start"].as_f64().is_some(), "dave's question {i} got no audible reply: {dave}");
    }
    // Erin, another participant in another room: answered.
    assert_eq!(agent_said(&erin), [ANSWER]);
    assert!(erin["questions"][0]["answer_start"].as_f64().is_some(), "{erin}");
    // Only the allowed turns reached the LLM.
    assert_eq!(rig.fake.requests_to(Endpoint::Chat).len(), 2);
    rig.stop().await;
}
