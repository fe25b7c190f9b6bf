//! Bad input never takes the worker down: malformed protobuf and SDP from a fake peer, room
//! tokens that are expired or signed with the wrong secret (checked by the real server), and
//! a worker configured with the wrong secret. Each failing job is reported JS_FAILED with a
//! clear reason; the worker keeps answering.

use std::sync::Arc;
use std::time::Duration;

use livekit_protocol as proto;
use proto::signal_response::Message as Resp;
use voice_agent::clock;
use voice_agent::livekit::echo::EchoHandler;
use voice_agent_tests::livekit::fake::agent_side::{assign, availability, job_status, offer, register};
use voice_agent_tests::livekit::fake::{FakeServer, join_response, jwt};
use voice_agent_tests::livekit::{API_KEY, API_SECRET, LiveKitServer, agent, init_logs};

fn room_claims(room: &str, exp_offset_secs: i64) -> serde_json::Value {
    let now = clock::unix_now().as_secs() as i64;
    serde_json::json!({
        "iss": API_KEY, "sub": "agent-x", "nbf": now - 600, "exp": now + exp_offset_secs,
        "video": {"roomJoin": true, "room": room, "canPublish": true, "canSubscribe": true}
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_fails_jobs_not_the_worker() {
    let _heavy = voice_agent_tests::serial::heavy().await;
    init_logs();
    let real = LiveKitServer::start();
    let mut fake = FakeServer::start().await;
    let worker =
        agent::spawn(agent::settings(&fake.url, 1), Arc::new(EchoHandler::new(Duration::from_millis(500))));
    let status = worker.status.clone();

    // Registration on the fake /agent endpoint.
    let mut ws = fake.accept("/agent").await;
    let request = register(&mut ws).await;
    assert_eq!(request.r#type, proto::JobType::JtRoom as i32);
    agent::wait_until("registered with the fake server", Duration::from_secs(10), || status.is_registered())
        .await;

    // Malformed protobuf on the worker connection is logged and ignored.
    ws.send_raw(vec![0xff, 0xff, 0xff, 0x0f, 0x08]).await;
    offer(&mut ws, "AJ_1").await;
    let a = availability(&mut ws).await;
    assert!(a.available && a.job_id == "AJ_1", "{a:?}");
    assert_eq!(a.participant_identity, "agent-AJ_1");

    // A room token signed with the wrong secret: the real server refuses the join.
    let wrong = jwt(&room_claims("room-AJ_1", 3600), "not-the-server-secret-at-all-0123456789");
    assign(&mut ws, "AJ_1", &real.url(), wrong).await;
    let (code, error) = job_status(&mut ws, "AJ_1", None).await;
    assert_eq!(code, proto::JobStatus::JsFailed as i32);
    assert!(error.contains("cannot join the room") && error.contains("401"), "{error}");
    assert!(
        error.contains("signature is invalid") && !error.contains("eyJ"),
        "reason shown, token hidden: {error}"
    );

    // An expired token (right secret): refused too.
    offer(&mut ws, "AJ_2").await;
    assert!(availability(&mut ws).await.available);
    assign(&mut ws, "AJ_2", &real.url(), jwt(&room_claims("room-AJ_2", -300), API_SECRET)).await;
    let (code, error) = job_status(&mut ws, "AJ_2", None).await;
    assert_eq!(code, proto::JobStatus::JsFailed as i32);
    assert!(error.contains("401") && error.contains("expired"), "{error}");

    // A fake room peer whose first signalling message is not protobuf.
    offer(&mut ws, "AJ_3").await;
    assert!(availability(&mut ws).await.available);
    assign(&mut ws, "AJ_3", &fake.url, "token".into()).await;
    let mut rtc = fake.accept("/rtc").await;
    rtc.send_raw(b"\xff\xfe definitely not a SignalResponse".to_vec()).await;
    let (code, error) = job_status(&mut ws, "AJ_3", None).await;
    assert_eq!(code, proto::JobStatus::JsFailed as i32);
    assert!(error.contains("malformed protobuf"), "{error}");
    drop(rtc);

    // A fake room peer that joins us and then offers malformed SDP.
    offer(&mut ws, "AJ_4").await;
    assert!(availability(&mut ws).await.available);
    assign(&mut ws, "AJ_4", &fake.url, "token".into()).await;
    let mut rtc = fake.accept("/rtc").await;
    rtc.send(&join_response("room-AJ_4", "agent-AJ_4")).await;
    let bad_offer = proto::SessionDescription {
        r#type: "offer".into(),
        sdp: "this is not SDP".into(),
        id: 1,
        ..Default::default()
    };
    rtc.send(&proto::SignalResponse { message: Some(Resp::Offer(bad_offer)) }).await;
    let (code, error) = job_status(&mut ws, "AJ_4", None).await;
    assert_eq!(code, proto::JobStatus::JsFailed as i32);
    assert!(error.contains("malformed subscriber offer SDP"), "{error}");

    // Two offers at once with one free slot: exactly one is accepted.
    offer(&mut ws, "AJ_5").await;
    offer(&mut ws, "AJ_6").await;
    let (x, y) = (availability(&mut ws).await, availability(&mut ws).await);
    assert_eq!([x.available, y.available].iter().filter(|a| **a).count(), 1, "{x:?} {y:?}");

    assert!(status.is_registered() && !worker.is_finished(), "the worker must still be up");
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_with_the_wrong_secret_reports_why_and_keeps_trying() {
    let _heavy = voice_agent_tests::serial::heavy().await;
    init_logs();
    let real = LiveKitServer::start();
    let mut settings = agent::settings(&real.url(), 1);
    settings.api_secret = "this-is-the-wrong-secret-0123456789abcdef".into();
    let worker = agent::spawn(settings, Arc::new(EchoHandler::new(Duration::from_millis(500))));
    let status = worker.status.clone();
    agent::wait_until("a registration error is reported", Duration::from_secs(15), || {
        status.last_error().is_some_and(|e| e.contains("401"))
    })
    .await;
    assert!(!status.is_registered());
    assert!(!worker.is_finished(), "the worker keeps retrying instead of exiting");
    worker.stop().await;
}
