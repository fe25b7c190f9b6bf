//! The shipped binary, as `scripts/dev` runs it, against a real livekit-server and a real
//! LiveKit client: it becomes ready (registered + VAD loaded), echoes a user's speech back,
//! reports its job in metrics, and drains on SIGTERM.
#![allow(clippy::unwrap_used)] // a test: a failed unwrap is a failed test

use std::process::Stdio;
use std::time::Duration;

use voice_agent_tests::binary::{self, Process, get};
use voice_agent_tests::livekit::{LiveKitServer, client, wav};
use voice_agent_tests::net::free_port;

#[test]
fn the_binary_registers_echoes_a_real_client_and_drains() {
    let _heavy = voice_agent_tests::serial::heavy_blocking();
    let server = LiveKitServer::start();
    let port = free_port();
    let mut agent = Process(
        binary::run_on_livekit(&mut binary::command(), &server, port)
            .env("AGENT_MODE", "echo")
            .env("DRAIN_TIMEOUT_SECS", "10")
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );

    // Ready: registered with LiveKit and the VAD model loaded.
    let mut ready = (0, String::new());
    for _ in 0..150 {
        ready = get(port, "/readyz");
        if ready.0 == 200 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(ready.0, 200, "never ready: {}", ready.1);
    let v: serde_json::Value = serde_json::from_str(&ready.1).unwrap();
    assert_eq!(v["components"]["worker"]["ready"], true, "{v}");
    assert_eq!(v["components"]["vad"]["ready"], true, "{v}");

    // A real client's speech comes back through the binary.
    let dir = std::env::temp_dir().join(format!("voice-agent-bin-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (speech, out) = (dir.join("speech.wav"), dir.join("received.wav"));
    wav::speech("Testing the shipped binary, one two three.", &speech);
    client::create_room(&server, "binary-room");
    let result = client::echo(&server, "binary-room", &speech, &out, &[]);
    let m = wav::compare(&wav::read(&speech), &wav::read(&out), 300.0)
        .unwrap_or_else(|| panic!("no speech came back: {result}"));
    assert!((m.received_secs - m.sent_secs).abs() <= 0.1, "{m:?}");
    assert!(m.window_correlation >= 0.75, "{m:?}");

    let (code, metrics) = get(port, "/metrics");
    assert_eq!(code, 200);
    assert!(metrics.contains("\nlivekit_jobs_accepted_total 1\n"), "{metrics}");
    let packets_out: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("livekit_rtp_packets_out_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0);
    assert!(packets_out > 50.0, "the agent sent audio: {packets_out} packets");
    assert!(metrics.contains("limiter_mode{"), "resilience metrics are registered");

    // SIGTERM: readiness drops, the process exits 0.
    assert_eq!(agent.terminate(Duration::from_secs(20)), Some(0), "exits 0 within the drain timeout");
}
