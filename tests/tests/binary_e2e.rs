//! The shipped binary, as `scripts/dev` runs it, against a real livekit-server and a real
//! LiveKit client: it becomes ready (registered + VAD loaded), echoes a user's speech back,
//! reports its job in metrics, and drains on SIGTERM.
#![allow(clippy::unwrap_used)] // a test: a failed unwrap is a failed test

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use voice_agent_tests::livekit::{API_KEY, API_SECRET, LiveKitServer, client, wav, workspace_root};

/// `target/<profile>/voice-agent`, next to this test's own `deps/` directory.
fn binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().and_then(|deps| deps.parent()).unwrap().join("voice-agent");
    assert!(bin.exists(), "{} not built: run `cargo build --workspace` (scripts/test does)", bin.display());
    bin
}

fn get(port: u16, path: &str) -> (u16, String) {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else { return (0, String::new()) };
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").unwrap();
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    let code = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    (code, text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default())
}

struct Agent(Child);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_binary_registers_echoes_a_real_client_and_drains() {
    let server = LiveKitServer::start();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let models = workspace_root().join("models");
    let mut agent = Agent(
        Command::new(binary())
            .arg("run")
            .env("ENV_FILE", "/nonexistent/.env")
            .env("LIVEKIT_URL", server.url())
            .env("LIVEKIT_API_KEY", API_KEY)
            .env("LIVEKIT_API_SECRET", API_SECRET)
            .env("AGENT_MODE", "echo")
            .env("HEALTH_ADDR", format!("127.0.0.1:{port}"))
            .env("DRAIN_TIMEOUT_SECS", "10")
            .env("ORT_DYLIB_PATH", models.join("libonnxruntime.so.1.31.1"))
            .env("VAD_MODEL_PATH", models.join("silero_vad.onnx"))
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
    assert!(Command::new("kill").args(["-TERM", &agent.0.id().to_string()]).status().unwrap().success());
    let mut status = None;
    for _ in 0..400 {
        if let Some(s) = agent.0.try_wait().unwrap() {
            status = Some(s);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = status.expect("exits within the drain timeout");
    assert_eq!(status.code(), Some(0));
}
