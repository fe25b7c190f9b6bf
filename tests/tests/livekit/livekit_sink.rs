//! The audio sink's stop-now, as barge-in will use it: the agent starts a 3 s reply, stops
//! it after about a second, and what the real client hears matches what the sink says was
//! played.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use voice_agent::livekit::job::{JobContext, JobFuture, JobHandler};
use voice_agent::livekit::room::{PlaybackState, RoomEvent};
use voice_agent_tests::livekit::{LiveKitServer, agent, client, init_logs, wav};

/// Plays a 3 s tone when the user says "ready", stops it after one second of playback.
struct Interrupted {
    report: mpsc::Sender<PlaybackState>,
}

fn tone(secs: f64) -> Vec<i16> {
    (0..(secs * 48_000.0) as usize)
        .map(|i| (8000.0 * (i as f64 * 2.0 * std::f64::consts::PI * 440.0 / 48_000.0).sin()) as i16)
        .collect()
}

impl JobHandler for Interrupted {
    fn run(&self, mut ctx: JobContext) -> JobFuture {
        let report = self.report.clone();
        Box::pin(async move {
            let sink = ctx.room.audio_sink();
            while let Some(event) = ctx.room.next_event().await {
                match event {
                    RoomEvent::Data(d) if d.payload == b"ready" => {
                        sink.play(tone(3.0))
                            .await
                            .map_err(|e| voice_agent::livekit::job::JobError(e.to_string()))?;
                        while sink.state().played_samples < 48_000 {
                            tokio::time::sleep(Duration::from_millis(5)).await;
                        }
                        let _ = report.send(sink.stop().await).await;
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
async fn stop_now_cuts_playback_and_reports_what_was_heard() {
    let _heavy = voice_agent_tests::serial::heavy().await;
    init_logs();
    let server = Arc::new(LiveKitServer::start());
    let dir = std::env::temp_dir().join(format!("voice-agent-sink-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let silence = dir.join("silence.wav");
    wav::write(&silence, &vec![0i16; 48_000 * 4]);
    let (tx, mut rx) = mpsc::channel(4);
    let worker =
        agent::spawn_registered(agent::settings(&server.url(), 1), Arc::new(Interrupted { report: tx }))
            .await;

    let srv = server.clone();
    let out = dir.join("heard.wav");
    let out2 = out.clone();
    let client = tokio::task::spawn_blocking(move || {
        client::create_room(&srv, "sink");
        client::echo(&srv, "sink", &silence, &out2, &["--send-data", "ready"])
    });
    let state =
        tokio::time::timeout(Duration::from_secs(30), rx.recv()).await.expect("stop report").expect("report");
    let result = client.await.unwrap();

    let played = state.played_samples as f64 / 48_000.0;
    assert!((1.0..1.1).contains(&played), "played {played:.3} s");
    assert_eq!(state.queued_samples, 0);
    assert_eq!(state.played_samples + state.discarded_samples, 3 * 48_000, "{state:?}");
    assert_eq!(state.stops_done, 1);

    let heard = wav::read(&out);
    let (a, b) = wav::active_span(&heard, 1000.0).unwrap_or_else(|| panic!("nothing heard: {result}"));
    let heard_secs = (b - a) as f64 / 48_000.0;
    println!("heard {heard_secs:.3} s, played {played:.3} s, state {state:?}");
    assert!((heard_secs - played).abs() <= 0.1, "client heard {heard_secs:.3} s, sink says {played:.3} s");
    worker.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
