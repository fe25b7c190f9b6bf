//! The shipped binary in voice mode (the default), configured only through environment
//! variables as an operator would, against a real livekit-server, a real LiveKit client and
//! the fake OpenAI-compatible provider: `/readyz` lists the provider breakers, a spoken
//! question gets a spoken answer and per-turn metrics, and when the provider starts refusing
//! the API key the user still hears a notice while readiness turns off (an operator must act).
#![allow(clippy::unwrap_used)] // a test: a failed unwrap is a failed test

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use voice_agent_tests::binary::{self, Process, get};
use voice_agent_tests::fake_openai::{Behavior, Endpoint, FakeOpenAi};
use voice_agent_tests::livekit::voice;
use voice_agent_tests::livekit::{LiveKitServer, wav};
use voice_agent_tests::net::free_port;

fn readyz(port: u16) -> (u16, serde_json::Value) {
    let (code, body) = get(port, "/readyz");
    (code, serde_json::from_str(&body).unwrap_or(serde_json::Value::Null))
}

/// Polls `/readyz` until `done` holds (at most 15 s), returning the last answer.
async fn readyz_until(port: u16, done: impl Fn(u16, &serde_json::Value) -> bool) -> (u16, serde_json::Value) {
    let mut last = readyz(port);
    for _ in 0..150 {
        if done(last.0, &last.1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        last = readyz(port);
    }
    last
}

fn metric(text: &str, prefix: &str) -> f64 {
    text.lines()
        .filter_map(|l| l.strip_prefix(prefix))
        .filter_map(|v| v.split_whitespace().last().and_then(|n| n.parse::<f64>().ok()))
        .sum()
}

async fn ask(server: &Arc<LiveKitServer>, room: &str, question: PathBuf) -> serde_json::Value {
    voice::converse_task(server, room, "alice", &[&question], &["--lead-in", "3"]).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_in_voice_mode_answers_and_reports_a_refused_key() {
    let _heavy = voice_agent_tests::serial::heavy().await;
    let server = Arc::new(LiveKitServer::start());
    let fake = FakeOpenAi::start().await;
    let speech = voice::speech_pcm("Here is my answer.", 24_000);
    fake.edit_replies(|r| {
        r.transcript = "what time is it".into();
        r.chat_chunks = ["It is ", "noon."].map(String::from).to_vec();
        r.speech_pcm = speech;
    });
    let port = free_port();
    let base = fake.base_url();
    let mut cmd = binary::command();
    binary::run_on_livekit(&mut cmd, &server, port)
        .env_remove("AGENT_MODE") // voice is the default
        .env("DRAIN_TIMEOUT_SECS", "10")
        .env("GREETING", "Hi.")
        .stderr(Stdio::null());
    binary::with_providers(&mut cmd, &base, "sk-test-not-logged");
    let mut agent = Process(cmd.spawn().unwrap());

    // Ready, with every provider listed and credentials not (yet) refused.
    let (code, v) = readyz_until(port, |c, _| c == 200).await;
    assert_eq!(code, 200, "never ready: {v}");
    assert_eq!(v["components"]["providers"]["ready"], true, "{v}");
    for cap in ["llm", "tts", "stt"] {
        assert_eq!(v["providers"]["capabilities"][cap]["health"], "healthy", "{cap}: {v}");
    }

    // A spoken question gets a spoken answer, built from the provider's transcript and reply.
    let dir = std::env::temp_dir().join(format!("voice-agent-bin-voice-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let q1 = dir.join("q1.wav");
    wav::speech("What time is it?", &q1);
    let result = ask(&server, "binary-voice", q1.clone()).await;
    assert!(result["questions"][0]["answer_start"].as_f64().is_some(), "no spoken answer: {result}");
    let chats = fake.requests_to(Endpoint::Chat);
    assert_eq!(chats.len(), 1, "one LLM request");
    let last = chats[0].json.as_ref().unwrap()["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["content"], "what time is it", "{last}");
    assert!(
        chats[0].headers.iter().any(|(k, v)| k == "authorization" && v == "Bearer sk-test-not-logged"),
        "the key from the environment is sent"
    );
    let (_, metrics) = get(port, "/metrics");
    assert!(metric(&metrics, "voice_response_seconds_count") >= 1.0, "{metrics}");
    assert!(metric(&metrics, "provider_served_total{") >= 3.0, "STT, LLM and TTS served: {metrics}");
    assert!(!metrics.contains("sk-test-not-logged"), "the key never appears in metrics");

    // The LLM provider now refuses the key: the user still hears something (the apology
    // rendered while TTS worked), and readiness says an operator must act.
    fake.set_default(Endpoint::Chat, Behavior::Unauthorized);
    let result = ask(&server, "binary-voice-2", q1).await;
    assert!(
        result["questions"][0]["answer_start"].as_f64().is_some(),
        "silence after a refused key: {result}"
    );
    let (code, v) = readyz_until(port, |c, _| c == 503).await;
    assert_eq!(code, 503, "a refused key must turn readiness off: {v}");
    assert_eq!(v["components"]["providers"]["ready"], false, "{v}");
    assert_eq!(v["providers"]["auth_failed"], true, "{v}");
    let (_, ready_text) = get(port, "/readyz");
    assert!(!ready_text.contains("sk-test-not-logged"), "the key never appears in /readyz");

    // SIGTERM: the process drains and exits 0.
    let code = tokio::task::spawn_blocking(move || agent.terminate(Duration::from_secs(20))).await.unwrap();
    assert_eq!(code, Some(0), "exits 0 within the drain timeout");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voice_mode_without_providers_echoes_and_says_what_to_set() {
    let _heavy = voice_agent_tests::serial::heavy().await;
    let server = Arc::new(LiveKitServer::start());
    let port = free_port();
    let mut cmd = binary::command();
    binary::run_on_livekit(&mut cmd, &server, port)
        .env_remove("AGENT_MODE")
        // Longer than the question: the echo is heard after it, as an answer would be.
        .env("ECHO_DELAY_SECS", "2.5")
        .stderr(Stdio::null());
    for cap in ["LLM", "TTS", "STT"] {
        cmd.env_remove(format!("{cap}_BASE_URL"));
    }
    let _agent = Process(cmd.spawn().unwrap());
    let (code, v) = readyz_until(port, |c, _| c == 200).await;
    assert_eq!(code, 200, "never ready: {v}");

    let dir = std::env::temp_dir().join(format!("voice-agent-bin-echo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let q = dir.join("q.wav");
    wav::speech("Is anybody there?", &q);
    let result = ask(&server, "binary-echo", q).await;
    assert!(result["questions"][0]["answer_start"].as_f64().is_some(), "nothing echoed: {result}");
    let chat = voice::texts(&result, "lk.chat");
    assert!(
        chat.iter().any(|t| t["text"].as_str().unwrap_or("").contains("LLM_BASE_URL")),
        "the room is told what to set: {result}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
