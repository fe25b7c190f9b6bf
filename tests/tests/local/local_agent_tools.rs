//! End to end offline, an agent with tools: the example front desk in a real room on the local
//! stack (Whisper, llama-server with its chat template's tool calls, hibari). A spoken request
//! that needs the booking tool makes the local LLM call it; the booking lands in the front
//! desk's store, and the spoken answer carries the tool's result. Only robust words are
//! checked (the small model words its answers its own way).
//!
//! The greeting is in the history, as in every call: with it, the 1.5B model used to answer in
//! words with a made-up reference; `local/qwen2.5-tools.jinja` now tells it that it acts only
//! through the functions. The caller then asks for the reference, as a caller would: a
//! made-up one does not pass (the store's is checked).
#![allow(clippy::unwrap_used)] // a test: a failed unwrap is a failed test

use front_desk::{FrontDesk, Store};
use voice_agent::agent::Agents;
use voice_agent_tests::local_stack::room::{self, Turns, agent_said};
use voice_agent_tests::local_stack::words;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spoken_booking_is_made_by_the_local_llm_through_the_tool() {
    let _heavy = voice_agent_tests::serial::heavy().await;
    let store = Store::new(2);
    let desk = store.clone();
    let agents = Agents::new(move |job| FrontDesk::with_store(job, desk.clone()));
    // Turns end on silence alone: the request is two sentences, and at the pause between them
    // Smart Turn may take the first for the whole turn (turn-taking has its own tests; this one
    // is about the tool call made from the whole request).
    let rig = room::start_agents("local-tools", agents, Turns::Vad).await;
    let ask =
        rig.question("q1", "Please book a table for four people at seven thirty tonight. My name is Smith.");
    let again = rig.question("q2", "What is my booking reference?");
    let result = rig.converse("local-tools", &[ask, again], &[]).await;
    println!("client: {result}");
    let said = agent_said(&result);
    let bookings = store.bookings();
    println!("agent said: {said:?}; bookings: {bookings:?}");

    // The tool ran with what was asked.
    assert!(!bookings.is_empty(), "the local LLM did not book: {said:?}");
    let booking = &bookings[0];
    assert_eq!(booking.people, 4, "{booking:?}");
    assert_eq!(booking.time, "19:30", "{booking:?}");

    // An answer carries the tool's result: the reference's number, in the transcript and in
    // what the client heard (Whisper may write it "1001", "1,001" or "one thousand and one").
    let reference = booking.reference.trim_start_matches("R-").to_owned();
    assert!(said.iter().any(|t| t.contains(&reference)), "no answer gives the reference: {said:?}");
    let heard = rig.heard_answers(&result, 2).await;
    assert!(
        heard
            .iter()
            .any(|h| h.replace(',', "").contains(&reference) || words(h).contains(&"thousand".into())),
        "no spoken answer sounded like the reference: {heard:?}"
    );
    rig.stop().await;
}
