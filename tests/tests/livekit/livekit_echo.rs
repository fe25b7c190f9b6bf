//! End to end against a real livekit-server and a real LiveKit client (Python, libwebrtc):
//! the worker registers, a new room dispatches a job to it, it joins, and in echo mode the
//! client's speech comes back — same duration, same waveform, same level — and so do data
//! packets.

use std::sync::Arc;
use std::time::Duration;

use voice_agent::livekit::echo::EchoHandler;
use voice_agent_tests::livekit::{LiveKitServer, agent, client, wav};

const ECHO_DELAY: Duration = Duration::from_millis(500);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_agent_returns_the_speech_it_hears() {
    let _heavy = voice_agent_tests::serial::heavy().await;
    voice_agent_tests::livekit::init_logs();
    let server = LiveKitServer::start();
    let dir = std::env::temp_dir().join(format!("voice-agent-echo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let speech = dir.join("speech.wav");
    wav::speech("Hello there. This is a test of the echo agent, one two three.", &speech);

    let worker =
        agent::spawn_registered(agent::settings(&server.url(), 4), Arc::new(EchoHandler::new(ECHO_DELAY)))
            .await;
    let status = worker.status.clone();

    let server = Arc::new(server);
    let srv = server.clone();
    let (speech2, out) = (speech.clone(), dir.join("received.wav"));
    let out2 = out.clone();
    let result = tokio::task::spawn_blocking(move || {
        client::create_room(&srv, "echo-room");
        client::echo(&srv, "echo-room", &speech2, &out2, &["--send-data", "ping from the user"])
    })
    .await
    .unwrap();

    // The agent was dispatched by the room's creation and joined under its job identity.
    let agent_identity = result["agent_identity"].as_str().unwrap_or_default();
    assert!(agent_identity.starts_with("agent-AJ_"), "agent identity {agent_identity:?}: {result}");
    assert_eq!(status.running_jobs(), 1);

    // Audio: the same speech came back.
    let sent = wav::read(&speech);
    let received = wav::read(&out);
    let m = wav::compare(&sent, &received, 300.0)
        .unwrap_or_else(|| panic!("no speech in the recording ({} samples): {result}", received.len()));
    println!("echo match: {m:?}; client: {result}");
    assert!(
        (m.received_secs - m.sent_secs).abs() <= 0.1,
        "duration {:.3} s vs {:.3} s",
        m.received_secs,
        m.sent_secs
    );
    assert!(
        m.window_correlation >= 0.75,
        "waveform correlation {:.3} (whole utterance {:.3})",
        m.window_correlation,
        m.correlation
    );
    assert!(m.level_db.abs() <= 6.0, "level changed by {:.1} dB", m.level_db);
    // It came back after the echo delay, not before.
    let lag = result["recv_onset_minus_send_onset_s"].as_f64().expect("onsets found");
    assert!(lag >= ECHO_DELAY.as_secs_f64(), "echo arrived {lag:.3} s after sending");

    // Data: the reliable packet came back from the agent on the same topic.
    let data = result["data"].as_array().cloned().unwrap_or_default();
    assert!(
        data.iter().any(|d| d["payload"] == "ping from the user"
            && d["topic"] == "lk-test"
            && d["from"] == agent_identity),
        "data not echoed: {data:?}"
    );

    // Deleting the room ends the job; the worker stays registered.
    let srv = server.clone();
    tokio::task::spawn_blocking(move || client::delete_room(&srv, "echo-room")).await.unwrap();
    agent::wait_until("job ended after room deletion", Duration::from_secs(15), || {
        status.running_jobs() == 0
    })
    .await;
    assert!(status.is_registered());
    worker.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
