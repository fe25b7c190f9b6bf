//! What LiveKit front ends send and read, at the room level, with the real Python client on a
//! real server: the agent's attributes (`lk.agent.state` from the job token, then updates the
//! client sees in order), typed messages as `lk.chat` text streams and legacy chat packets
//! (a packet marked `ignoreLegacy` is not delivered twice), a 5 MB text stream (cut to the
//! bound), a stream that never ends (dropped after the timeout), and pre-connect audio (24 kHz
//! PCM decoded to 48 kHz).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use voice_agent::livekit::job::{JobContext, JobFuture, JobHandler};
use voice_agent::livekit::metrics::metrics;
use voice_agent::livekit::room::incoming::Limits;
use voice_agent::livekit::room::{AgentState, RoomEvent};
use voice_agent_tests::livekit::{LiveKitServer, agent, client, init_logs};

/// Sets the agent's state like a session would, and reports what arrives as text lines.
struct Probe {
    tx: mpsc::Sender<String>,
}

impl JobHandler for Probe {
    fn run(&self, mut ctx: JobContext) -> JobFuture {
        let tx = self.tx.clone();
        Box::pin(async move {
            let attributes = ctx.room.attributes();
            attributes.set_agent_state(AgentState::Listening);
            let mut walked = false;
            while let Some(event) = ctx.room.next_event().await {
                match event {
                    RoomEvent::Chat(chat) => {
                        let shown = if chat.text.len() > 100 { "…".to_owned() } else { chat.text.clone() };
                        let line = format!(
                            "chat {} {} truncated={} {shown}",
                            chat.from,
                            chat.text.len(),
                            chat.truncated
                        );
                        let _ = tx.send(line).await;
                        if !walked {
                            // A turn as front ends see it; pauses so each value is its own update.
                            walked = true;
                            for state in [AgentState::Thinking, AgentState::Speaking, AgentState::Listening] {
                                tokio::time::sleep(Duration::from_millis(300)).await;
                                attributes.set_agent_state(state);
                            }
                        }
                    }
                    RoomEvent::PreConnectAudio(audio) => {
                        let track = audio.track_sid.clone();
                        let pcm =
                            tokio::task::spawn_blocking(move || audio.decode()).await.expect("decoder task");
                        let line = match pcm {
                            Ok(pcm) => {
                                let loud = pcm.iter().filter(|s| s.unsigned_abs() > 3000).count();
                                format!("preconnect {track} samples={} loud={loud}", pcm.len())
                            }
                            Err(e) => format!("preconnect error {e}"),
                        };
                        let _ = tx.send(line).await;
                    }
                    RoomEvent::Closed(_) => return Ok(()),
                    _ => {}
                }
            }
            Ok(())
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attributes_typed_messages_bounded_streams_and_preconnect_audio() {
    let _heavy = voice_agent_tests::serial::heavy().await;
    init_logs();
    let server = Arc::new(LiveKitServer::start());
    let (tx, mut rx) = mpsc::channel(256);
    let worker = agent::spawn_registered(agent::settings(&server.url(), 2), Arc::new(Probe { tx })).await;
    let timed_out = || metrics().streams_dropped.get_or_create(&[("reason", "timed_out")]).get();
    let timed_out_before = timed_out();

    let srv = server.clone();
    let limits = Limits::default();
    // Long enough for the never-ending stream to time out while its sender is still there.
    let hold = (limits.timeout + Duration::from_secs(3)).as_secs_f64().to_string();
    let result = tokio::task::spawn_blocking(move || {
        client::create_room(&srv, "frontend");
        client::run(
            &srv,
            "frontend",
            "frontend",
            &[
                "--identity",
                "ann",
                "--big-text-bytes",
                "5000000",
                "--never-ending",
                "--preconnect-secs",
                "0.5",
                "--hold",
                &hold,
            ],
        )
    })
    .await
    .unwrap();
    let mut seen = Vec::new();
    while let Ok(line) = rx.try_recv() {
        seen.push(line);
    }
    println!("client: {result}\nagent saw: {seen:#?}");

    // The agent is an AGENT participant whose state front ends can follow.
    assert_eq!(result["agent_kind"], "PARTICIPANT_KIND_AGENT");
    let states: Vec<&str> = result["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h["attributes"]["lk.agent.state"].as_str())
        .collect();
    let mut walk = states.clone();
    walk.dedup();
    assert!(matches!(walk.first(), Some(&"initializing" | &"listening")), "{states:?}");
    let expected = ["listening", "thinking", "speaking", "listening"];
    assert!(walk.ends_with(&expected), "state walk {walk:?}");

    // Typed messages: the text stream and the legacy packet, but not the marked duplicate.
    let chats: Vec<&String> = seen.iter().filter(|l| l.starts_with("chat ")).collect();
    assert!(chats.iter().any(|l| l.ends_with("truncated=false hello from the keyboard")), "{chats:?}");
    assert!(chats.iter().any(|l| l.ends_with("truncated=false legacy hello from the keyboard")), "{chats:?}");
    assert!(!chats.iter().any(|l| l.contains("ignored duplicate")), "{chats:?}");
    // The 5 MB stream arrived cut to the bound; the never-ending one never arrived.
    let cut = format!("chat ann {} truncated=true", limits.max_text_bytes);
    assert!(chats.iter().any(|l| l.starts_with(&cut)), "{chats:?}");
    assert!(!chats.iter().any(|l| l.contains("never ends")), "{chats:?}");
    assert_eq!(chats.len(), 3, "{chats:?}");
    assert!(timed_out() > timed_out_before, "the never-ending stream was not dropped");

    // Pre-connect audio: 0.5 s of a 24 kHz tone, for the client's microphone, as 48 kHz.
    let track = result["track_sid"].as_str().unwrap();
    let pre = seen.iter().find(|l| l.starts_with("preconnect")).expect("no pre-connect audio");
    let expected = format!("preconnect {track} samples=24000 ");
    assert!(pre.starts_with(&expected), "{pre}");
    let loud: usize = pre.rsplit("loud=").next().unwrap().parse().unwrap();
    assert!(loud > 10_000, "{pre}");
    worker.stop().await;
}
