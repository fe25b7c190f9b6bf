//! End to end barge-in: while the agent reads a long answer, the user asks something else.
//! The agent's audio stops while the user is still speaking, the LLM/TTS requests of the old
//! answer are cancelled (and not counted as provider failures), the history keeps only what
//! was heard of it, and the next answer follows the new question.

use std::time::Duration;

use voice_agent::session::metrics::metrics;
use voice_agent_tests::fake_openai::{Behavior, Endpoint};
use voice_agent_tests::livekit::voice::{self, VoiceOptions};

const Q1: &str = "tell me a long story";
const A1: &str = "Once upon a time there was a fox. The fox lived in a deep forest. Every day it hunted for food. \
One day it met a wise old owl. The owl told it a secret. The secret changed everything.";
const Q2: &str = "what is two plus two";
const A2: &str = "Two plus two is four.";

fn chunks(text: &str) -> Vec<String> {
    text.split_inclusive(' ').map(String::from).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speaking_over_the_agent_stops_it_and_the_new_question_is_answered() {
    let _heavy = voice_agent_tests::serial::heavy().await;
    let rig = voice::start("barge-in", VoiceOptions::default()).await;
    rig.fake.edit_replies(|r| {
        r.transcript = Q1.into();
        r.chat_chunks = chunks(A1);
    });
    // The story streams word by word (about 4 s), so the barge-in cancels it mid-stream.
    rig.fake.set_default(Endpoint::Chat, Behavior::ChunkDelay(Duration::from_millis(100)));
    let (q1, q2) = (rig.question("q1", "Tell me a long story."), rig.question("q2", "What is two plus two?"));
    let interruptions_before = metrics().interruptions.get();
    let client =
        voice::converse_task(&rig.server, "barge-room", "bob", &[&q1, &q2], &["--barge-after", "1.5"]);
    // Once the story is being spoken, the next transcript and answer are the new ones.
    assert!(
        rig.fake
            .wait_for(|f| f
                .requests_to(Endpoint::Speech)
                .iter()
                .any(|r| r.json.as_ref().is_some_and(|j| j["input"] == "Once upon a time there was a fox.")))
            .await,
        "the story was never spoken"
    );
    rig.fake.edit_replies(|r| {
        r.transcript = Q2.into();
        r.chat_chunks = chunks(A2);
    });
    let result = client.await.expect("client");
    println!("client: {result}");

    let q = result["questions"].as_array().unwrap();
    assert_eq!(q.len(), 2, "{result}");
    let (barge_start, barge_end) = (q[1]["start"].as_f64().unwrap(), q[1]["end"].as_f64().unwrap());
    let spurts: Vec<(f64, f64)> = result["spurts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s[0].as_f64().unwrap(), s[1].as_f64().unwrap()))
        .collect();
    // The story was playing when the user spoke up, and stopped before they finished.
    let story = spurts.iter().find(|(a, b)| *a < barge_start && *b > barge_start - 0.1);
    let (_, story_end) = story.unwrap_or_else(|| panic!("agent silent when the user barged in: {spurts:?}"));
    assert!(*story_end < barge_end, "the agent kept talking over the user ({story_end} vs {barge_end})");
    // The new question got an answer after it ended.
    let answer =
        q[1]["answer_start"].as_f64().unwrap_or_else(|| panic!("no answer to the second question: {result}"));
    assert!(answer > barge_end - 0.2);
    assert!(metrics().interruptions.get() > interruptions_before);

    // The second LLM request asks the new question, with only the heard part of the story.
    let chats = rig.fake.requests_to(Endpoint::Chat);
    assert_eq!(chats.len(), 2, "two LLM requests");
    let messages = chats[1].json.as_ref().unwrap()["messages"].as_array().unwrap().clone();
    let roles: Vec<&str> = messages.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["system", "user", "assistant", "user"]);
    assert_eq!(messages[1]["content"], Q1);
    assert_eq!(messages[3]["content"], Q2);
    let heard = messages[2]["content"].as_str().unwrap();
    assert!(A1.starts_with(heard) && heard.len() < A1.len() && !heard.is_empty(), "heard part: {heard:?}");
    // Not every sentence of the story was synthesised: the rest was cancelled.
    let story_tts = rig
        .fake
        .requests_to(Endpoint::Speech)
        .iter()
        .filter(|r| r.json.as_ref().is_some_and(|j| j["input"].as_str().is_some_and(|t| A1.contains(t))))
        .count();
    assert!(story_tts < 6, "all {story_tts} sentences of the story were synthesised");

    // Transcripts: the story's stream ended as interrupted, the new answer's completed.
    let texts = voice::texts(&result, "lk.transcription");
    let story = texts
        .iter()
        .find(|t| t["attributes"]["lk.interrupted"] == "true")
        .unwrap_or_else(|| panic!("no interrupted caption: {texts:?}"));
    // It ends at what was heard, and closes normally (final) so front ends keep it.
    let shown = story["text"].as_str().unwrap();
    assert!(A1.starts_with(shown) && shown.len() < A1.len(), "{story}");
    assert_eq!(
        (story["status"].as_str(), story["attributes"]["lk.transcription_final"].as_str()),
        (Some("complete"), Some("true"))
    );
    assert!(texts.iter().any(|t| t["text"] == A2 && t["status"] == "complete"), "{texts:?}");
    assert!(texts.iter().any(|t| t["text"] == Q2 && t["from"] == "bob"), "{texts:?}");
    assert!(rig.fake.wait_idle().await, "provider responses left running");
    // The cancelled requests are not provider failures: no breaker counted one.
    assert_eq!(rig.breaker_failures(), (0, vec![]), "cancellations counted as failures");
    rig.stop().await;
}
