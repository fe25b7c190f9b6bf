//! End to end with no fake anywhere: a real LiveKit client asks, in a real room, a question
//! spoken by espeak-ng; the agent's voice session hears it (Silero VAD), transcribes it with the
//! local Whisper, asks the local llama-server and speaks the answer with hibari. What the
//! client heard is transcribed back with the local Whisper and must name Paris. The follow-up
//! ("And what is its population?") names neither Paris nor France: an answer that does can only
//! come from the conversation's history.
#![allow(clippy::unwrap_used)] // a test: a failed unwrap is a failed test

use voice_agent_tests::local_stack::room::{self, agent_said};
use voice_agent_tests::local_stack::words;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spoken_question_and_a_follow_up_are_answered_by_the_local_stack() {
    let _heavy = voice_agent_tests::serial::heavy().await;
    let rig = room::start("local-talk").await;
    let questions = [
        rig.question("q1", "What is the capital of France?"),
        rig.question("q2", "And what is its population?"),
    ];
    let result = rig.converse("local-talk", &questions, &[]).await;
    println!("client: {result}");

    let heard_back = rig.heard_answers(&result, 2).await;

    // The user's side as the agent transcribed it (local Whisper on the room's audio).
    let agent = result["agent_identity"].as_str().unwrap();
    let heard: Vec<Vec<String>> = voice_agent_tests::livekit::voice::texts(&result, "lk.transcription")
        .into_iter()
        .filter(|t| t["from"] != agent)
        .filter_map(|t| t["text"].as_str().map(words))
        .collect();
    assert!(
        heard.iter().any(|w| w.contains(&"capital".into()) && w.contains(&"france".into())),
        "the agent did not hear the question: {heard:?}"
    );

    // What the client heard, transcribed back with the local Whisper.
    let (first, second) = (&heard_back[0], &heard_back[1]);
    println!("heard: {first:?} / {second:?}; agent said: {:?}", agent_said(&result));
    assert!(words(first).contains(&"paris".into()), "the first answer sounded like {first:?}");
    let w2 = words(second);
    assert!(
        w2.contains(&"paris".into()) || w2.contains(&"france".into()),
        "the follow-up's answer does not refer back to the first turn: {second:?}"
    );

    // The agent's own transcripts say the same.
    let said = agent_said(&result);
    assert_eq!(said.len(), 2, "{said:?}");
    assert!(said[0].contains("Paris"), "{said:?}");
    rig.stop().await;
}
