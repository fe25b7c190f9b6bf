//! End to end provider outage mid-call: the primary LLM fails (its breaker opens) and the
//! fallback LLM answers; then every LLM fails and the user hears the spoken apology (audio
//! rendered while TTS worked); when the fakes heal, answers come back.

use std::time::Duration;

use voice_agent::session::SessionConfig;
use voice_agent::session::metrics::metrics;
use voice_agent_tests::fake_openai::{Behavior, Endpoint};
use voice_agent_tests::livekit::agent;
use voice_agent_tests::livekit::voice::{self, VoiceOptions};

const PRIMARY: &str = "Primary says it is noon.";
const FALLBACK: &str = "Fallback says it is noon.";

fn apologies() -> u64 {
    metrics().turns.get_or_create(&[("outcome", "apology")]).get()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fallback_answers_then_the_apology_is_spoken_then_answers_return() {
    let _heavy = voice_agent_tests::serial::heavy().await;
    let rig = voice::start("outage", VoiceOptions { llm_fallback: true, ..VoiceOptions::default() }).await;
    let fallback = rig.fallback.as_ref().expect("fallback fake");
    rig.fake.edit_replies(|r| {
        r.transcript = "what time is it".into();
        r.chat_chunks = vec![PRIMARY.into()];
    });
    fallback.edit_replies(|r| r.chat_chunks = vec![FALLBACK.into()]);
    rig.fake.set_default(Endpoint::Chat, Behavior::Status(500));
    let q = rig.question("q", "What time is it?");
    let apologies_before = apologies();
    let client = voice::converse_task(&rig.server, "outage-room", "carol", &[&q, &q, &q], &[]);

    // 1. The primary fails, the fallback's answer is spoken; then the fallback fails too.
    let spoken = |f: &voice_agent_tests::fake_openai::FakeOpenAi, text: &str| {
        f.requests_to(Endpoint::Speech).iter().any(|r| r.json.as_ref().is_some_and(|j| j["input"] == text))
    };
    assert!(rig.fake.wait_for(|f| spoken(f, FALLBACK)).await, "the fallback's answer was never spoken");
    fallback.set_default(Endpoint::Chat, Behavior::Status(503));
    // 2. Both down: the apology is spoken. 3. Healed: answers again.
    agent::wait_until("the apology was spoken", Duration::from_secs(60), || apologies() > apologies_before)
        .await;
    rig.fake.heal();
    fallback.heal();
    let result = client.await.expect("client");
    println!("client: {result}");

    let q = result["questions"].as_array().unwrap();
    assert_eq!(q.len(), 3, "{result}");
    for (i, question) in q.iter().enumerate() {
        assert!(question["answer_start"].as_f64().is_some(), "question {i} got no audible answer: {result}");
    }
    let agent_id = result["agent_identity"].as_str().unwrap();
    let said: Vec<&str> = voice::texts(&result, "lk.transcription")
        .into_iter()
        .filter(|t| t["from"] == agent_id)
        .filter_map(|t| t["text"].as_str())
        .collect();
    let apology = SessionConfig::default().llm_unavailable_message;
    assert_eq!(said.len(), 3, "{said:?}");
    assert_eq!(said[0], FALLBACK);
    assert_eq!(said[1], apology);
    assert!(said[2] == PRIMARY || said[2] == FALLBACK, "after healing: {:?}", said[2]);
    // The apology came from the cache: no TTS request was made for it after the prerender.
    let apology_tts = rig
        .fake
        .requests_to(Endpoint::Speech)
        .iter()
        .filter(|r| r.json.as_ref().is_some_and(|j| j["input"] == apology.as_str()))
        .count();
    assert_eq!(apology_tts, 1, "rendered once, at the start");
    // The apology is not part of the conversation the LLM sees.
    let chats: Vec<_> = rig
        .fake
        .requests_to(Endpoint::Chat)
        .into_iter()
        .chain(fallback.requests_to(Endpoint::Chat))
        .collect();
    for c in &chats {
        let messages = c.json.as_ref().unwrap()["messages"].as_array().unwrap();
        assert!(
            messages.iter().all(|m| m["content"] != apology.as_str()),
            "apology in the history: {messages:?}"
        );
    }
    rig.stop().await;
}
