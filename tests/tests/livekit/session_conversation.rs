//! End to end: a real LiveKit client asks a question in a real room; the voice session hears
//! it (Silero VAD), transcribes it, streams the LLM's answer sentence by sentence through TTS,
//! and the client hears the agent's voice after its question and receives both transcripts
//! as LiveKit text streams on `lk.transcription`.

use std::time::Duration;

use voice_agent::session::SessionConfig;
use voice_agent_tests::fake_openai::Endpoint;
use voice_agent_tests::livekit::agent;
use voice_agent_tests::livekit::voice::{self, VoiceOptions};

const QUESTION: &str = "what is the capital of france";
const ANSWER: [&str; 3] =
    ["The capital of France is Paris.", " It has about 2.1 million people.", " Mr. Macron lives there."];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_is_answered_with_speech_and_transcripts() {
    let _heavy = voice_agent_tests::serial::heavy().await;
    let opts = VoiceOptions {
        session: SessionConfig {
            greeting: Some("Hi, I'm listening.".into()),
            ..VoiceOptions::default().session
        },
        ..VoiceOptions::default()
    };
    let rig = voice::start("conversation", opts).await;
    rig.fake.edit_replies(|r| {
        r.transcript = QUESTION.into();
        r.chat_chunks = ANSWER.iter().flat_map(|s| s.split_inclusive(' ')).map(String::from).collect();
    });
    let question = rig.question("q1", "What is the capital of France?");
    // A long lead-in: the greeting is heard out before the question.
    let result = voice::converse_task(&rig.server, "talk-room", "alice", &[&question], &["--lead-in", "4"])
        .await
        .expect("client");
    println!("client: {result}");

    // The agent answered with audio after the question ended (within the client's 20 s guard).
    let q = &result["questions"][0];
    let (q_end, answer) = (q["end"].as_f64().unwrap(), q["answer_start"].as_f64());
    let answer = answer.unwrap_or_else(|| panic!("no agent audio after the question: {result}"));
    assert!(answer > q_end - 0.2, "agent audio before the question ended");

    // The provider saw the transcript as the user's message, after the system prompt.
    let chats = rig.fake.requests_to(Endpoint::Chat);
    assert_eq!(chats.len(), 1, "one LLM request");
    let messages = chats[0].json.as_ref().unwrap()["messages"].as_array().unwrap().clone();
    assert_eq!(messages[0]["role"], "system");
    assert_eq!(messages.last().unwrap()["content"], QUESTION);
    assert_eq!(messages.last().unwrap()["role"], "user");
    // One TTS request per sentence (greeting + 3), each as soon as its sentence was complete.
    let spoken: Vec<String> = rig.fake.speech_inputs();
    // The thinking filler and the notices for outages were rendered while TTS worked (so they
    // stay audible later).
    let notices = [
        &SessionConfig::default().thinking_filler,
        &SessionConfig::default().llm_unavailable_message,
        &SessionConfig::default().stt_unavailable_message,
    ];
    let (prerendered, spoken): (Vec<String>, Vec<String>) =
        spoken.into_iter().partition(|s| notices.contains(&s));
    assert_eq!(prerendered.len(), 3, "{prerendered:?}");
    assert_eq!(spoken, ["Hi, I'm listening.", ANSWER[0], ANSWER[1].trim(), ANSWER[2].trim()]);

    // Transcripts of both sides arrived as final text streams on lk.transcription.
    let texts = voice::texts(&result, "lk.transcription");
    let user = texts
        .iter()
        .find(|t| t["text"] == QUESTION)
        .unwrap_or_else(|| panic!("no user transcript: {texts:?}"));
    assert_eq!(user["attributes"]["lk.transcription_final"], "true");
    assert!(
        user["attributes"]["lk.transcribed_track_id"].as_str().unwrap_or("").starts_with("TR_"),
        "{user}"
    );
    assert_eq!(user["from"], "alice");
    let agent_id = result["agent_identity"].as_str().unwrap();
    let full = ANSWER.concat();
    let reply = texts
        .iter()
        .find(|t| t["text"] == full.as_str())
        .unwrap_or_else(|| panic!("no agent transcript: {texts:?}"));
    assert_eq!(reply["from"], agent_id);
    assert!(reply["attributes"]["lk.segment_id"].as_str().is_some_and(|s| !s.is_empty()));
    // As front ends expect: interim in the header, final in the trailer, the agent's own track.
    assert_eq!(reply["header_attributes"]["lk.transcription_final"], "false", "{reply}");
    assert_eq!(reply["attributes"]["lk.transcription_final"], "true", "{reply}");
    let agent_track = reply["attributes"]["lk.transcribed_track_id"].as_str().unwrap_or("");
    assert!(
        agent_track.starts_with("TR_") && agent_track != user["attributes"]["lk.transcribed_track_id"],
        "{reply}"
    );
    // Paced with the voice: the answer's caption starts once its audio does, and grows with it.
    let question_end = result["questions"][0]["end"].as_f64().unwrap();
    let chunks: Vec<f64> = reply["chunks"].as_array().unwrap().iter().filter_map(|c| c.as_f64()).collect();
    assert!(chunks.len() > 3, "written word by word: {reply}");
    assert!(chunks[0] > question_end, "no caption before the question ended: {reply}");
    let answer_start = result["questions"][0]["answer_start"].as_f64().unwrap();
    assert!(
        chunks.last().unwrap() > &answer_start,
        "the caption still grows while the answer plays: {reply}"
    );
    assert!(
        texts.iter().any(|t| t["text"] == "Hi, I'm listening." && t["from"] == agent_id),
        "greeting transcript"
    );

    // Ending the room ends the job.
    let server = rig.server.clone();
    tokio::task::spawn_blocking(move || {
        voice_agent_tests::livekit::client::delete_room(&server, "talk-room")
    })
    .await
    .unwrap();
    let status = rig.worker.status.clone();
    agent::wait_until("job ended", Duration::from_secs(20), || status.running_jobs() == 0).await;
    assert!(rig.fake.wait_idle().await, "provider responses left running");
    rig.stop().await;
}
