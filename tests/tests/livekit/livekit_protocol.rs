//! Protocol paths a real server produces only in rare situations, scripted by a fake peer:
//! a server `Leave` asking to reconnect makes the participant rejoin from scratch (the job
//! keeps running), a `JobTermination` ends the job cleanly (JS_SUCCESS), and a second offer
//! or assignment for a running job is refused without touching the running one.

use std::sync::Arc;
use std::time::Duration;

use livekit_protocol as proto;
use proto::signal_request::Message as Req;
use proto::signal_response::Message as Resp;
use voice_agent::livekit::echo::EchoHandler;
use voice_agent::livekit::metrics::metrics;
use voice_agent_tests::livekit::fake::agent_side::{
    assign, availability, job_status, offer, register, terminate,
};
use voice_agent_tests::livekit::fake::{FakeConn, FakeServer, join_response};
use voice_agent_tests::livekit::{agent, init_logs};

/// An echo worker registered with `fake`, job `id` offered, accepted, assigned, and its room
/// joined: the worker, its `/agent` connection and the room's `/rtc` connection.
async fn assigned_and_joined(fake: &mut FakeServer, id: &str) -> (agent::RunningWorker, FakeConn, FakeConn) {
    init_logs();
    let worker =
        agent::spawn(agent::settings(&fake.url, 2), Arc::new(EchoHandler::new(Duration::from_millis(500))));
    let mut ws = fake.accept("/agent").await;
    register(&mut ws).await;
    offer(&mut ws, id).await;
    assert!(availability(&mut ws).await.available);
    assign(&mut ws, id, &fake.url, "token".into()).await;
    let mut rtc = fake.accept("/rtc").await;
    rtc.send(&join_response(&format!("room-{id}"), &format!("agent-{id}"))).await;
    (worker, ws, rtc)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_leave_rejoins_and_termination_ends_the_job() {
    let _heavy = voice_agent_tests::serial::heavy().await;
    let mut fake = FakeServer::start().await;
    // First connection: join, then the participant announces its track.
    let (worker, mut ws, mut rtc) = assigned_and_joined(&mut fake, "AJ_1").await;
    let cid = rtc
        .recv_until(|m: proto::SignalRequest| match m.message {
            Some(Req::AddTrack(t)) => Some(t.cid),
            _ => None,
        })
        .await;
    assert!(!cid.is_empty());
    job_status(&mut ws, "AJ_1", Some(proto::JobStatus::JsRunning)).await;

    // The server asks for a full reconnect.
    let reconnects = metrics().room_reconnects.get();
    let leave = proto::LeaveRequest {
        reason: proto::DisconnectReason::SignalClose as i32,
        action: proto::leave_request::Action::Reconnect as i32,
        ..Default::default()
    };
    rtc.send(&proto::SignalResponse { message: Some(Resp::Leave(leave)) }).await;
    let mut again = fake.accept("/rtc").await;
    again.send(&join_response("room-AJ_1", "agent-AJ_1")).await;
    again
        .recv_until(|m: proto::SignalRequest| match m.message {
            Some(Req::AddTrack(_)) => Some(()),
            _ => None,
        })
        .await;
    assert!(metrics().room_reconnects.get() > reconnects);
    assert_eq!(worker.status.running_jobs(), 1, "the job survives the reconnect");

    // The server ends the job: the participant says goodbye and the job succeeds.
    terminate(&mut ws, "AJ_1").await;
    let goodbye = again
        .recv_until(|m: proto::SignalRequest| match m.message {
            Some(Req::Leave(l)) => Some(l),
            _ => None,
        })
        .await;
    assert_eq!(goodbye.reason, proto::DisconnectReason::ClientInitiated as i32);
    let (code, error) = job_status(&mut ws, "AJ_1", None).await;
    assert_eq!(code, proto::JobStatus::JsSuccess as i32, "{error}");
    assert_eq!(worker.status.running_jobs(), 0);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_assignment_is_refused_and_the_job_runs_once() {
    let _heavy = voice_agent_tests::serial::heavy().await;
    let mut fake = FakeServer::start().await;
    let (worker, mut ws, rtc) = assigned_and_joined(&mut fake, "AJ_dup").await;
    job_status(&mut ws, "AJ_dup", Some(proto::JobStatus::JsRunning)).await;

    // The same job offered and assigned again while it runs.
    let refused = || metrics().jobs_rejected.get_or_create(&[("reason", "duplicate")]).get();
    let before = refused();
    offer(&mut ws, "AJ_dup").await;
    assert!(!availability(&mut ws).await.available, "a running job is not offered to us again");
    assign(&mut ws, "AJ_dup", &fake.url, "token".into()).await;
    for _ in 0..100 {
        if refused() >= before + 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(refused(), before + 2, "the offer and the assignment were refused as duplicates");
    assert!(fake.try_accept("/rtc", Duration::from_secs(2)).await.is_none(), "a second copy joined the room");
    assert_eq!(worker.status.running_jobs(), 1);

    // The running copy was not touched: it ends cleanly when the server ends it.
    terminate(&mut ws, "AJ_dup").await;
    let (code, error) = job_status(&mut ws, "AJ_dup", None).await;
    assert_eq!(code, proto::JobStatus::JsSuccess as i32, "{error}");
    drop(rtc);
    worker.stop().await;
}
