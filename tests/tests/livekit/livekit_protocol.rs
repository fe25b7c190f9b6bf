//! Protocol paths a real server produces only in rare situations, scripted by a fake peer:
//! a server `Leave` asking to reconnect makes the participant rejoin from scratch (the job
//! keeps running), and a `JobTermination` ends the job cleanly (JS_SUCCESS).

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
use voice_agent_tests::livekit::fake::{FakeServer, join_response};
use voice_agent_tests::livekit::{agent, init_logs};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_leave_rejoins_and_termination_ends_the_job() {
    let _heavy = voice_agent_tests::serial::heavy().await;
    init_logs();
    let mut fake = FakeServer::start().await;
    let worker =
        agent::spawn(agent::settings(&fake.url, 2), Arc::new(EchoHandler::new(Duration::from_millis(500))));
    let mut ws = fake.accept("/agent").await;
    register(&mut ws).await;

    offer(&mut ws, "AJ_1").await;
    assert!(availability(&mut ws).await.available);
    assign(&mut ws, "AJ_1", &fake.url, "token".into()).await;

    // First connection: join, then the participant announces its track.
    let mut rtc = fake.accept("/rtc").await;
    rtc.send(&join_response("room-AJ_1", "agent-AJ_1")).await;
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
