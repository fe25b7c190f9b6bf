//! End to end degraded mode: never silence.
//!
//! Speech synthesis fails from the first question on (after the filler and the notices were
//! rendered).
//! 1. STT fails too: the user still *hears* the spoken notice (its audio was cached).
//! 2. STT works again: the answer cannot be spoken, so it arrives as text on `lk.chat` (and
//!    as the agent's transcript); these failures open the TTS breaker.
//! 3. The next LLM request carries the degraded-service summary in its system prompt, and
//!    the answer again arrives as text.

use voice_agent::core::breaker_config::{BreakerConfig, BreakersConfig};
use voice_agent::session::SessionConfig;
use voice_agent_tests::fake_openai::{Behavior, Endpoint};
use voice_agent_tests::livekit::voice::{self, VoiceOptions};

const Q2: &str = "is it sunny";
const A2: &str = "Yes, it is sunny today.";
const A3: &str = "It will rain tomorrow.";

fn system_prompt(request: &voice_agent_tests::fake_openai::LoggedRequest) -> String {
    let json = request.json.as_ref().expect("a JSON chat request");
    assert_eq!(json["messages"][0]["role"], "system");
    json["messages"][0]["content"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tts_down_replies_as_text_stt_down_is_spoken_and_the_prompt_knows() {
    let _heavy = voice_agent_tests::serial::heavy().await;
    // The TTS breaker opens on the first failed request and stays open for the rest of the test.
    let tts = BreakerConfig {
        consecutive_failures: 1,
        open_base: std::time::Duration::from_secs(120),
        open_max: std::time::Duration::from_secs(120),
        ..BreakersConfig::default().tts
    };
    let opts = VoiceOptions {
        breakers: BreakersConfig { tts, ..BreakersConfig::default() },
        ..VoiceOptions::default()
    };
    let rig = voice::start("degraded", opts).await;
    rig.fake.edit_replies(|r| {
        r.transcript = Q2.into();
        r.chat_chunks = vec![A2.into()];
    });
    let q = rig.question("q", "Is it sunny?");
    let client =
        voice::converse_task(&rig.server, "degraded-room", "gina", &[&q, &q, &q], &["--chat-answers"]);
    // The session renders its notices while TTS works; from then on every TTS request fails,
    // and the first transcription fails (attempt and retry).
    // (The thinking filler and the two notices.)
    assert!(rig.fake.wait_requests(Endpoint::Speech, 3).await, "the notices were never rendered");
    assert!(rig.fake.wait_idle().await, "rendering the notices never finished");
    rig.fake.set_default(Endpoint::Speech, Behavior::Status(500));
    rig.fake.push_n(Endpoint::Transcriptions, Behavior::Status(500), 2);
    // The third answer is another one (changed once the second answer went to TTS).
    assert!(
        rig.fake
            .wait_for(|f| f
                .requests_to(Endpoint::Speech)
                .iter()
                .any(|r| r.json.as_ref().is_some_and(|j| j["input"] == A2)))
            .await,
        "the second answer never reached TTS"
    );
    rig.fake.edit_replies(|r| r.chat_chunks = vec![A3.into()]);
    let result = client.await.expect("client");
    println!("client: {result}");

    let q = result["questions"].as_array().expect("questions");
    assert_eq!(q.len(), 3, "{result}");
    // 1. STT down: the notice was heard (audio), not sent as text.
    assert!(q[0]["answer_start"].as_f64().is_some(), "the STT notice was not spoken: {result}");
    // 2./3. TTS down: the answers came as text in the chat, with no audio.
    for (i, question) in q.iter().enumerate().skip(1) {
        assert!(question["chat_answer"].as_f64().is_some(), "question {i}: no text reply: {result}");
        assert!(question["answer_start"].is_null(), "question {i}: audio although TTS is down: {result}");
    }
    let agent_id = result["agent_identity"].as_str().expect("agent identity");
    let from_agent = |topic: &str| -> Vec<String> {
        voice::texts(&result, topic)
            .into_iter()
            .filter(|t| t["from"] == agent_id)
            .filter_map(|t| t["text"].as_str().map(String::from))
            .collect()
    };
    let notice = SessionConfig::default().stt_unavailable_message;
    assert_eq!(from_agent("lk.transcription"), [notice.as_str(), A2, A3]);
    assert_eq!(from_agent("lk.chat"), [A2, A3]);

    // The LLM heard of the outage only once the TTS breaker had opened.
    let chats = rig.fake.requests_to(Endpoint::Chat);
    assert_eq!(chats.len(), 2, "the failed transcription must not reach the LLM");
    let (healthy, degraded) = (system_prompt(&chats[0]), system_prompt(&chats[1]));
    assert!(!healthy.contains("Service status"), "all was well: {healthy}");
    assert!(degraded.starts_with(SessionConfig::default().system_prompt.as_str()), "{degraded}");
    assert!(degraded.contains("speech synthesis is unavailable"), "{degraded}");
    let tts = &rig.providers.readiness(voice_agent::clock::now())["capabilities"]["tts"];
    assert_eq!(tts["health"], "unavailable", "{tts}");
    assert!(rig.fake.wait_idle().await, "provider responses left running");
    rig.stop().await;
}
