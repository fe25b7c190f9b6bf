//! Shutdown drains: the worker stops taking jobs at once (not ready, WS_FULL), lets running
//! jobs go on until the drain timeout, then ends them — they leave their rooms — and exits.

use std::sync::Arc;
use std::time::Duration;

use voice_agent::livekit::echo::EchoHandler;
use voice_agent_tests::livekit::{LiveKitServer, agent, client, init_logs};

fn has_agent(server: &LiveKitServer, room: &str) -> bool {
    client::participants(server, room).iter().any(|i| i.starts_with("agent-"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_drains_then_ends_jobs_and_exits() {
    let _heavy = voice_agent_tests::serial::heavy().await;
    init_logs();
    let server = Arc::new(LiveKitServer::start());
    let worker = agent::spawn(
        agent::settings(&server.url(), 4),
        Arc::new(EchoHandler::new(Duration::from_millis(500))),
    );
    let status = worker.status.clone();
    agent::wait_until("worker registered", Duration::from_secs(15), || status.is_ready()).await;

    let srv = server.clone();
    tokio::task::spawn_blocking(move || client::create_room(&srv, "drain-1")).await.unwrap();
    agent::wait_until("job running", Duration::from_secs(15), || status.running_jobs() == 1).await;

    let stopping = tokio::spawn(worker.stop_with(Duration::from_secs(3)));
    agent::wait_until("draining", Duration::from_secs(5), || status.is_draining()).await;
    assert!(!status.is_ready(), "a draining worker is not ready");
    assert_eq!(status.running_jobs(), 1, "the running job continues while draining");

    // A room created while draining gets no job from us.
    agent::create_room_no_worker_takes(&server, "drain-2").await;

    // After the drain timeout the job is ended, the agent leaves, the worker exits.
    tokio::time::timeout(Duration::from_secs(20), stopping).await.expect("worker exits").unwrap();
    assert_eq!(status.running_jobs(), 0);
    assert!(!status.is_registered());
    let srv = server.clone();
    let still_there =
        tokio::task::spawn_blocking(move || has_agent(&srv, "drain-1") || has_agent(&srv, "drain-2"))
            .await
            .unwrap();
    assert!(!still_there, "the agent should have left its room");
}
