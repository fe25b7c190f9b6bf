//! End to end, an agent written on the library with tools: the example front desk runs in a
//! real room, dispatched by name with metadata (its branch). The user asks (espeak-ng speech);
//! the fake LLM calls `book_table`; the tool books in the front desk's store (the side effect
//! a test can see); the LLM's follow-up reads the tool's result back, and the client hears an
//! answer whose transcript and speech requests carry the booking reference.

use std::time::Duration;

use front_desk::{FrontDesk, Store};
use serde_json::json;
use voice_agent::agent::Agents;
use voice_agent_tests::fake_openai::{ChatReply, Endpoint, LAST_TOOL_RESULT};
use voice_agent_tests::livekit::client;
use voice_agent_tests::livekit::voice::{self, VoiceOptions};

const ROOM: &str = "desk-room";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spoken_booking_runs_the_tool_and_the_answer_carries_its_result() {
    let _heavy = voice_agent_tests::serial::heavy().await;
    let store = Store::new(2);
    let desk_store = store.clone();
    let opts = VoiceOptions {
        agents: Some(Agents::new(move |job| FrontDesk::with_store(job, desk_store.clone()))),
        agent_name: "front-desk".into(),
        ..VoiceOptions::default()
    };
    let rig = voice::start("tools", opts).await;
    rig.fake.edit_replies(|r| r.transcript = "a table for four at half past seven for kim".into());
    rig.fake
        .push_chat(ChatReply::tool_call("book_table", json!({"name": "Kim", "people": 4, "time": "19:30"})));
    rig.fake.push_chat(ChatReply::text(&format!("All set. {LAST_TOOL_RESULT} Enjoy your evening.")));
    let question = rig.question("q1", "A table for four at half past seven, for Kim, please.");

    // An explicit dispatch to the named agent, with metadata the agent reads.
    let server = rig.server.clone();
    tokio::task::spawn_blocking(move || {
        client::run(
            &server,
            "create-room",
            ROOM,
            &["--dispatch-agent", "front-desk", "--dispatch-metadata", r#"{"branch": "Harbour Street"}"#],
        )
    })
    .await
    .expect("create-room");
    let result = voice::converse_task(&rig.server, ROOM, "kim", &[&question], &["--lead-in", "1"])
        .await
        .expect("client");
    println!("client: {result}");

    // The tool ran: the booking is in the store.
    let bookings = store.bookings();
    assert_eq!(bookings.len(), 1, "{bookings:?}");
    assert_eq!(
        (bookings[0].name.as_str(), bookings[0].people, bookings[0].time.as_str()),
        ("Kim", 4, "19:30")
    );

    // The dispatch metadata reached the agent: its instructions name the branch.
    let chats = rig.fake.requests_to(Endpoint::Chat);
    assert_eq!(chats.len(), 2, "the tool step and the answer");
    let system = chats[0].messages_of("system");
    assert!(system[0]["content"].as_str().unwrap_or("").contains("Harbour Street"), "{system:?}");
    assert_eq!(chats[0].tool_names(), ["check_availability", "book_table", "cancel_booking"]);
    let tool = &chats[1].messages_of("tool")[0];
    assert!(tool["content"].as_str().unwrap_or("").contains("R-1001"), "{tool}");

    // The answer that uses the result was heard: agent audio after the question, and its
    // transcript and speech carry the reference.
    let q = &result["questions"][0];
    let answer_start = q["answer_start"].as_f64().unwrap_or_else(|| panic!("no agent audio: {result}"));
    assert!(answer_start > q["end"].as_f64().unwrap() - 0.2);
    let agent = result["agent_identity"].as_str().unwrap();
    let said: Vec<&str> = voice::texts(&result, "lk.transcription")
        .into_iter()
        .filter(|t| t["from"] == agent)
        .filter_map(|t| t["text"].as_str())
        .collect();
    assert!(said.iter().any(|t| t.contains("Booked: reference R-1001")), "{said:?}");
    let spoken: Vec<String> = rig.fake.speech_inputs();
    assert!(spoken.iter().any(|s| s.contains("R-1001")), "{spoken:?}");

    let server = rig.server.clone();
    tokio::task::spawn_blocking(move || client::delete_room(&server, ROOM)).await.unwrap();
    let status = rig.worker.status.clone();
    voice_agent_tests::livekit::agent::wait_until("job ended", Duration::from_secs(20), || {
        status.running_jobs() == 0
    })
    .await;
    rig.stop().await;
}
