//! The LiveKit server is killed and restarted under a running worker: the worker notices,
//! reconnects with backoff, registers again and takes new jobs.

use std::sync::Arc;
use std::time::Duration;

use voice_agent::livekit::echo::EchoHandler;
use voice_agent::livekit::metrics::metrics;
use voice_agent_tests::livekit::{LiveKitServer, agent, client, init_logs};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_reregisters_after_a_server_restart_and_takes_new_jobs() {
    let _heavy = voice_agent_tests::serial::heavy().await;
    init_logs();
    let mut server = LiveKitServer::start();
    let worker = agent::spawn_registered(
        agent::settings(&server.url(), 2),
        Arc::new(EchoHandler::new(Duration::from_millis(500))),
    )
    .await;
    let status = worker.status.clone();

    // A job in progress when the server dies.
    let server_ref = &server;
    tokio::task::block_in_place(|| client::create_room(server_ref, "before"));
    agent::wait_until("job before the restart", Duration::from_secs(15), || status.running_jobs() == 1).await;

    let reconnects = metrics().worker_reconnects.get();
    server.kill();
    agent::wait_until("worker noticed the server is gone", Duration::from_secs(15), || {
        !status.is_registered()
    })
    .await;
    // The room died with the server; the job gives up after its rejoin attempts.
    agent::wait_until("orphaned job ended", Duration::from_secs(60), || status.running_jobs() == 0).await;
    assert!(!worker.is_finished(), "the worker must survive the server going away");

    server.restart();
    agent::wait_until("worker registered again", Duration::from_secs(30), || status.is_registered()).await;
    assert!(metrics().worker_reconnects.get() > reconnects);

    let server_ref = &server;
    tokio::task::block_in_place(|| client::create_room(server_ref, "after"));
    agent::wait_until("job after the restart", Duration::from_secs(15), || status.running_jobs() == 1).await;
    let agents = agent::agents_in(&server, "after");
    assert!(agents.iter().any(|i| i.starts_with("agent-")), "no agent in the new room: {agents:?}");
    worker.stop().await;
}
