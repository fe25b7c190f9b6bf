//! Two workers with MAX_JOBS=1 on a real livekit-server: two rooms land on different
//! workers, and a third room is taken by neither (both are full).

use std::sync::Arc;
use std::time::Duration;

use voice_agent::livekit::echo::EchoHandler;
use voice_agent_tests::livekit::{LiveKitServer, agent, client, init_logs};

fn agents_in(server: &LiveKitServer, room: &str) -> Vec<String> {
    client::participants(server, room).into_iter().filter(|i| i.starts_with("agent-")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_workers_take_no_more_jobs() {
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
        let srv = server.clone();
        let agents = tokio::task::spawn_blocking(move || {
            let mut found = Vec::new();
            for _ in 0..100 {
                found = agents_in(&srv, room);
                if !found.is_empty() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            found
        })
        .await
        .unwrap();
        assert_eq!(agents.len(), 1, "room {room} should have exactly one agent: {agents:?}");
    }

    // Both workers are full (WS_FULL): the server finds nobody for the third room and
    // says so in its log ("failed to send job request: no servers available").
    const GAVE_UP: &str = "failed to send job request";
    let before = server.log().matches(GAVE_UP).count();
    let srv = server.clone();
    tokio::task::spawn_blocking(move || client::create_room(&srv, "cap-3")).await.unwrap();
    let srv = server.clone();
    agent::wait_until("the server gave up on the third room's job", Duration::from_secs(20), || {
        srv.log().matches(GAVE_UP).count() > before
    })
    .await;
    let srv = server.clone();
    let third = tokio::task::spawn_blocking(move || agents_in(&srv, "cap-3")).await.unwrap();
    assert!(third.is_empty(), "a full worker took the third room: {third:?}");
    assert_eq!((sa.running_jobs(), sb.running_jobs()), (1, 1));

    a.stop().await;
    b.stop().await;
}
