//! End to end: a provider that trickles forever — an SSE comment, a space, every 500 ms, well
//! inside its 10 s idle timeout — cannot keep a turn open. The turn ends at its deadline
//! (`TURN_DEADLINE_SECS`, 4 s here), the user hears the usual notice (the apology for the LLM,
//! the "didn't catch that" notice for STT), the trickling connection is closed and counted
//! against the provider, and the next question is answered.

use std::time::Duration;

use voice_agent::session::SessionConfig;
use voice_agent::session::metrics::metrics;
use voice_agent_tests::fake_openai::{Behavior, Endpoint};
use voice_agent_tests::livekit::agent;
use voice_agent_tests::livekit::voice::{self, VoiceOptions};

const ANSWER: &str = "It is noon.";
const EVERY: Duration = Duration::from_millis(500);

fn apologies() -> u64 {
    metrics().turns.get_or_create(&[("outcome", "apology")]).get()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickling_provider_ends_the_turn_at_its_deadline_with_the_notice_heard() {
    let _heavy = voice_agent_tests::serial::heavy().await;
    // No filler while the LLM trickles (whether it is rendered in time depends on the
    // machine's pace; the filler has its own tests): the notices are what is heard.
    let session = SessionConfig {
        greeting: None,
        turn_deadline: Duration::from_secs(4),
        thinking_notice: None,
        ..SessionConfig::default()
    };
    let rig = voice::start("trickle", VoiceOptions { session, ..VoiceOptions::default() }).await;
    rig.fake.edit_replies(|r| {
        r.transcript = "what time is it".into();
        r.chat_chunks = vec![ANSWER.into()];
    });
    rig.fake.push(Endpoint::Chat, Behavior::Trickle(EVERY));
    // The first question is transcribed, the second one's transcription trickles, the third
    // is transcribed again (queued up front: no race with the client's pace).
    rig.fake.push(Endpoint::Transcriptions, Behavior::Normal);
    rig.fake.push(Endpoint::Transcriptions, Behavior::Trickle(EVERY));
    let q = rig.question("q", "What time is it?");
    let apologies_before = apologies();
    let client = voice::converse_task(&rig.server, "trickle-room", "frank", &[&q, &q, &q], &[]);

    // Failures in the breaker's window (10 s: watched while they are in it).
    let failures = |cap: &str| {
        let ready = rig.providers.readiness(voice_agent::clock::now());
        ready["capabilities"][cap]["endpoints"][0]["window"]["failures"].as_u64().unwrap_or(0)
    };
    let limit = Duration::from_secs(90);
    // 1. The LLM trickles: a failure, and the apology.
    agent::wait_until("the trickling LLM counted as a failure", limit, || failures("llm") >= 1).await;
    agent::wait_until("the apology was spoken", limit, || apologies() > apologies_before).await;
    // 2. Then the transcription trickles: a failure, and the STT notice.
    agent::wait_until("the trickling STT counted as a failure", limit, || failures("stt") >= 1).await;
    let result = client.await.expect("client");
    println!("client: {result}");

    let q = result["questions"].as_array().expect("questions");
    assert_eq!(q.len(), 3, "{result}");
    for (i, question) in q.iter().enumerate() {
        assert!(question["answer_start"].as_f64().is_some(), "question {i} got no audible reply: {result}");
    }
    let agent_id = result["agent_identity"].as_str().expect("agent identity");
    let said: Vec<&str> = voice::texts(&result, "lk.transcription")
        .into_iter()
        .filter(|t| t["from"] == agent_id)
        .filter_map(|t| t["text"].as_str())
        .collect();
    let d = SessionConfig::default();
    assert_eq!(said, [d.llm_unavailable_message.as_str(), d.stt_unavailable_message.as_str(), ANSWER]);
    // The failed transcription never reached the LLM.
    assert_eq!(rig.fake.requests_to(Endpoint::Chat).len(), 2);
    // Both trickling connections were closed.
    assert!(rig.fake.wait_idle().await, "a trickling response is still open");
    rig.stop().await;
}
