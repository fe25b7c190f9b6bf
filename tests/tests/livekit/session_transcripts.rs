//! End to end transcript hygiene: a runaway transcript is capped before it reaches the LLM
//! (and the room), and a noise-only transcript ("[BLANK_AUDIO]") is no question at all —
//! no LLM request, no answer, no user transcript.

use voice_agent::limits::LimitsConfig;
use voice_agent_tests::fake_openai::Endpoint;
use voice_agent_tests::livekit::voice::{self, VoiceOptions};

const ANSWER: &str = "That was a lot of words.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_transcripts_are_capped_and_noise_is_ignored() {
    let _heavy = voice_agent_tests::serial::heavy().await;
    let cap = LimitsConfig::default().transcript_max_chars;
    let runaway = "blah ".repeat(cap); // five times the cap
    let rig = voice::start("transcripts", VoiceOptions::default()).await;
    rig.fake.edit_replies(|r| {
        r.transcript = runaway.clone();
        r.chat_chunks = vec![ANSWER.into()];
    });
    let q = rig.question("q", "Blah blah blah.");
    // The second question gets no answer: the client gives up waiting after 6 s.
    let client =
        voice::converse_task(&rig.server, "transcripts-room", "hana", &[&q, &q], &["--answer-timeout", "6"]);
    assert!(
        rig.fake.wait_for(|f| f.requests_to(Endpoint::Chat).len() == 1).await,
        "the first question never reached the LLM"
    );
    rig.fake.edit_replies(|r| r.transcript = " [BLANK_AUDIO] ".into());
    let result = client.await.expect("client");
    println!("client: {result}");

    // The capped question was answered; the noise was transcribed but not answered.
    let q = result["questions"].as_array().expect("questions");
    assert_eq!(q.len(), 2, "{result}");
    assert!(q[0]["answer_start"].as_f64().is_some(), "the first question got no answer: {result}");
    assert!(q[1]["answer_start"].is_null(), "noise was answered: {result}");
    assert_eq!(rig.fake.requests_to(Endpoint::Transcriptions).len(), 2, "both utterances were transcribed");
    let chats = rig.fake.requests_to(Endpoint::Chat);
    assert_eq!(chats.len(), 1, "noise reached the LLM");
    let messages = chats[0].json.as_ref().expect("JSON")["messages"].as_array().expect("messages").clone();
    let asked = messages.last().and_then(|m| m["content"].as_str()).unwrap_or_default();
    let n = asked.chars().count();
    assert!(n <= cap && n >= cap * 4 / 5, "capped question of {n} chars");
    assert!(
        runaway.starts_with(asked) && asked.ends_with("blah"),
        "cut at a word boundary: …{:?}",
        &asked[n - 8..]
    );

    // The room saw the capped question once, and nothing for the noise.
    let from_user: Vec<&str> = voice::texts(&result, "lk.transcription")
        .into_iter()
        .filter(|t| t["from"] == "hana")
        .filter_map(|t| t["text"].as_str())
        .collect();
    assert_eq!(from_user, [asked], "user transcripts");
    assert!(rig.fake.wait_idle().await, "provider responses left running");
    rig.stop().await;
}
