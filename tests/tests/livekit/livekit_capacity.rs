//! Two workers with MAX_JOBS=1 on a real livekit-server: two rooms land on different
//! workers, and a third room is taken by neither (both are full).

use std::sync::Arc;
use std::time::Duration;

use voice_agent::livekit::echo::EchoHandler;
use voice_agent_tests::livekit::{LiveKitServer, agent, client, init_logs};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_workers_take_no_more_jobs() {
    let _heavy = voice_agent_tests::serial::heavy().await;
    init_logs();
    let server = Arc::new(LiveKitServer::start());
    let handler = Arc::new(EchoHandler::new(Duration::from_millis(500)));
    let a = agent::spawn(agent::settings(&server.url(), 1), handler.clone());
    let b = agent::spawn(agent::settings(&server.url(), 1), handler);
    let (sa, sb) = (a.status.clone(), b.status.clone());
    agent::wait_until("both workers registered", Duration::from_secs(15), || {
        sa.is_registered() && sb.is_registered()
    })
    .await;

    for room in ["cap-1", "cap-2"] {
        let srv = server.clone();
        tokio::task::spawn_blocking(move || client::create_room(&srv, room)).await.unwrap();
    }
    agent::wait_until("one job on each worker", Duration::from_secs(20), || {
        sa.running_jobs() == 1 && sb.running_jobs() == 1
    })
    .await;
    for room in ["cap-1", "cap-2"] {
        let agents = agent::agents_in(&server, room);
        assert_eq!(agents.len(), 1, "room {room} should have exactly one agent: {agents:?}");
    }

    // Both workers are full (WS_FULL): the server finds nobody for the third room.
    agent::create_room_no_worker_takes(&server, "cap-3").await;
    let srv = server.clone();
    let third = tokio::task::spawn_blocking(move || client::participants(&srv, "cap-3")).await.unwrap();
    assert!(third.is_empty(), "a full worker took the third room: {third:?}");
    assert_eq!((sa.running_jobs(), sb.running_jobs()), (1, 1));

    a.stop().await;
    b.stop().await;
}
