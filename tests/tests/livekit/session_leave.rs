//! End to end: the user leaves while the agent is answering. The answer is cancelled (no
//! provider response left running), the session slot is given back, the job ends when the
//! room closes, and no session is left behind.

use std::time::Duration;

use voice_agent::session::metrics::metrics;
use voice_agent_tests::fake_openai::Endpoint;
use voice_agent_tests::livekit::agent;
use voice_agent_tests::livekit::voice::{self, VoiceOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_leaving_mid_answer_ends_the_session_cleanly() {
    let _heavy = voice_agent_tests::serial::heavy().await;
    let rig = voice::start("leave", VoiceOptions::default()).await;
    let sentences: Vec<String> =
        (1..=12).map(|i| format!("This is sentence number {i} of a long answer. ")).collect();
    rig.fake.edit_replies(|r| {
        r.transcript = "talk for a while".into();
        r.chat_chunks = sentences.clone();
    });
    let q = rig.question("q", "Talk for a while.");
    let sessions_before = metrics().sessions.get();
    let result = voice::converse_task(
        &rig.server,
        "leave-room",
        "frank",
        &[&q],
        &["--leave-after", "1", "--tail", "0"],
    )
    .await
    .expect("client");
    println!("client: {result}");
    assert!(result["questions"][0]["answer_start"].as_f64().is_some(), "no answer began: {result}");

    // Nobody hears the rest: the requests stop, nothing keeps streaming.
    assert!(rig.fake.wait_idle().await, "provider responses left running");
    assert_eq!(rig.breaker_failures(), (0, vec![]), "cancellations counted as failures");
    let status = rig.worker.status.clone();
    agent::wait_until("job ended after the room emptied", Duration::from_secs(30), || {
        status.running_jobs() == 0
    })
    .await;
    assert_eq!(metrics().sessions.get(), sessions_before, "a session was left behind");
    let synthesised = rig.fake.requests_to(Endpoint::Speech).len();
    // Two notices prerendered, plus the sentences synthesised before the user left.
    assert!(synthesised < 2 + sentences.len(), "all {synthesised} sentences were synthesised for nobody");
    // The worker is free for the next room.
    assert!(status.is_registered());
    rig.stop().await;
}
