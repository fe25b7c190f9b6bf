//! Last words before leaving: an agent that says goodbye and leaves at once (the user went
//! away, a session's time is up) must not cut off what it just said. The transcript it sent
//! right before leaving reaches the real client whole, its stream closed, not left open.

use std::sync::Arc;
use std::time::Duration;

use voice_agent::livekit::job::{JobContext, JobError, JobFuture, JobHandler};
use voice_agent::livekit::room::text_stream::TOPIC_TRANSCRIPTION;
use voice_agent::livekit::room::{RoomEvent, TextStreamOptions};
use voice_agent_tests::livekit::{LiveKitServer, agent, client, init_logs, voice};

/// Long enough (about 50 KB) to take several round trips of the data channel.
fn goodbye() -> String {
    (0..4000).map(|i| format!("goodbye {i}. ")).collect()
}

/// On the first typed message: a short tone, the goodbye transcript, and straight out.
struct SaysGoodbye;

impl JobHandler for SaysGoodbye {
    fn run(&self, mut ctx: JobContext) -> JobFuture {
        Box::pin(async move {
            let sink = ctx.room.audio_sink();
            while let Some(event) = ctx.room.next_event().await {
                match event {
                    RoomEvent::Chat(_) => {
                        let tone: Vec<i16> =
                            (0..24_000).map(|i| (8000.0 * (i as f64 * 0.0576).sin()) as i16).collect();
                        sink.play(tone).await.map_err(|e| JobError(e.to_string()))?;
                        while sink.state().queued_samples > 0 {
                            tokio::time::sleep(Duration::from_millis(5)).await;
                        }
                        ctx.room
                            .text_streams()
                            .send(TOPIC_TRANSCRIPTION, &goodbye(), TextStreamOptions::default())
                            .await
                            .map_err(|e| JobError(e.to_string()))?;
                        // No pause: the packets are still queued when the agent leaves.
                        ctx.room.leave().await;
                        return Ok(());
                    }
                    RoomEvent::Closed(_) => break,
                    _ => {}
                }
            }
            Ok(())
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transcript_sent_right_before_leaving_arrives_whole() {
    let _heavy = voice_agent_tests::serial::heavy().await;
    init_logs();
    let server = Arc::new(LiveKitServer::start());
    let worker = agent::spawn_registered(agent::settings(&server.url(), 1), Arc::new(SaysGoodbye)).await;

    let srv = server.clone();
    let result = tokio::task::spawn_blocking(move || {
        client::create_room(&srv, "last-words");
        client::run(&srv, "converse", "last-words", &["--identity", "eve", "--type", "bye then"])
    })
    .await
    .expect("client");
    let texts = voice::texts(&result, TOPIC_TRANSCRIPTION);
    let ours: Vec<_> =
        texts.iter().filter(|t| t["from"].as_str().is_some_and(|f| f.starts_with("agent-"))).collect();
    assert_eq!(ours.len(), 1, "the goodbye transcript never arrived: {result}");
    assert_eq!(ours[0]["status"], "complete", "{}", ours[0]);
    assert_eq!(ours[0]["text"].as_str(), Some(goodbye().as_str()), "{}", ours[0]);
    worker.stop().await;
}
