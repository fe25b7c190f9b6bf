//! Room events as a job handler sees them, driven by a real client on a real server: a
//! participant joins, publishes, mutes, unmutes, unpublishes and leaves; then the server
//! removes the agent (a server `Leave`), which ends the job.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use voice_agent::livekit::job::{JobContext, JobError, JobFuture, JobHandler};
use voice_agent::livekit::room::{CloseReason, RoomEvent};
use voice_agent_tests::livekit::{LiveKitServer, agent, client, init_logs};

/// Reports every event (and how much audio each subscribed stream delivered) as text.
struct Recorder {
    tx: mpsc::Sender<String>,
}

impl JobHandler for Recorder {
    fn run(&self, mut ctx: JobContext) -> JobFuture {
        let tx = self.tx.clone();
        Box::pin(async move {
            let _ = tx.send(format!("identity {}", ctx.room.identity())).await;
            while let Some(event) = ctx.room.next_event().await {
                let line = match event {
                    RoomEvent::ParticipantJoined { identity, .. } => format!("joined {identity}"),
                    RoomEvent::ParticipantLeft { identity } => format!("left {identity}"),
                    RoomEvent::TrackSubscribed { identity, mut audio, .. } => {
                        let tx = tx.clone();
                        let who = identity.clone();
                        tokio::spawn(async move {
                            let mut loud = 0usize;
                            while let Some(frame) = audio.recv().await {
                                if frame.samples.iter().any(|s| s.unsigned_abs() > 3000) {
                                    loud += 1;
                                }
                            }
                            let _ = tx.send(format!("stream ended {who} loud_frames={loud}")).await;
                        });
                        format!("subscribed {identity}")
                    }
                    RoomEvent::TrackUnsubscribed { identity, .. } => format!("unsubscribed {identity}"),
                    RoomEvent::TrackMuted { identity, muted, .. } => format!("muted={muted} {identity}"),
                    RoomEvent::Data(d) => format!("data {}", String::from_utf8_lossy(&d.payload)),
                    RoomEvent::Chat(c) => format!("chat {}", c.text),
                    RoomEvent::PreConnectAudio(a) => format!("preconnect {}", a.track_sid),
                    RoomEvent::Reconnected => "reconnected".into(),
                    RoomEvent::Closed(reason) => {
                        let _ = tx.send(format!("closed {reason:?}")).await;
                        return match reason {
                            CloseReason::Failed(why) => Err(JobError(why)),
                            _ => Ok(()),
                        };
                    }
                };
                let _ = tx.send(line).await;
            }
            Ok(())
        })
    }
}

async fn expect(rx: &mut mpsc::Receiver<String>, seen: &mut Vec<String>, wanted: &str) {
    while !seen.iter().any(|l| l.starts_with(wanted)) {
        match tokio::time::timeout(Duration::from_secs(20), rx.recv()).await {
            Ok(Some(line)) => seen.push(line),
            _ => panic!("never saw {wanted:?}; events so far: {seen:#?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_sees_joins_mutes_unpublishes_leaves_and_the_server_leave() {
    let _heavy = voice_agent_tests::serial::heavy().await;
    init_logs();
    let server = Arc::new(LiveKitServer::start());
    let (tx, mut rx) = mpsc::channel(256);
    let worker = agent::spawn_registered(agent::settings(&server.url(), 2), Arc::new(Recorder { tx })).await;
    let status = worker.status.clone();

    let srv = server.clone();
    tokio::task::spawn_blocking(move || client::create_room(&srv, "events")).await.unwrap();
    let mut seen = Vec::new();
    expect(&mut rx, &mut seen, "identity agent-").await;
    let agent_identity = seen[0].trim_start_matches("identity ").to_owned();

    let srv = server.clone();
    let user =
        tokio::task::spawn_blocking(move || client::run(&srv, "scenario", "events", &["--identity", "user"]));
    for wanted in [
        "joined user",
        "subscribed user",
        "muted=true user",
        "muted=false user",
        "unsubscribed user",
        "stream ended user",
        "left user",
    ] {
        expect(&mut rx, &mut seen, wanted).await;
    }
    let result = user.await.unwrap();
    assert_eq!(result["steps"].as_array().map(Vec::len), Some(5), "{result}");
    // The tone was heard (both before the mute and after the unmute: ≥ 2 × 1.5 s of 20 ms
    // frames, minus slack for the start of the stream).
    let ended = seen.iter().find(|l| l.starts_with("stream ended user")).unwrap();
    let loud: usize = ended.rsplit('=').next().unwrap().parse().unwrap();
    assert!(loud >= 100, "too little of the tone arrived: {ended}");
    // Events come in a sensible order.
    let pos = |p: &str| seen.iter().position(|l| l.starts_with(p)).unwrap();
    assert!(pos("joined user") < pos("subscribed user"));
    assert!(pos("muted=true user") < pos("muted=false user"));
    assert!(pos("unsubscribed user") < pos("left user"));

    // The server removes the agent: it receives a Leave, the room closes for it, the job ends.
    let srv = server.clone();
    tokio::task::spawn_blocking(move || {
        client::run(&srv, "remove-participant", "events", &["--identity", &agent_identity])
    })
    .await
    .unwrap();
    expect(&mut rx, &mut seen, "closed Disconnected").await;
    println!("events: {seen:#?}");
    agent::wait_until("job ended", Duration::from_secs(15), || status.running_jobs() == 0).await;
    assert!(status.is_registered());
    worker.stop().await;
}
