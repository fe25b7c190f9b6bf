//! Credentials never leave through the logs: the binary in voice mode holds a real conversation
//! (livekit-server, the Python LiveKit client, the fake provider for the paid APIs, a Redis
//! that requires a password) at `LOG_LEVEL=trace`, once in text and once in JSON, with a canary
//! value for every credential — the LiveKit API secret, each provider's API key, the Redis
//! password — and the whole log is searched for them and for any JWT (the worker's and the
//! room's tokens: a header and a payload that both start `eyJ`, `{"` in base64, joined by a
//! dot; a bare `eyJ` also turns up by chance in random ICE passwords and ids). The JSON run also turns every network library up to trace,
//! so the WebSocket handshake dump (`authorization: Bearer …`) is written and must be redacted.
#![allow(clippy::unwrap_used)] // a test: a failed unwrap is a failed test

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use voice_agent_tests::binary::{self, Process, get};
use voice_agent_tests::fake_openai::{Endpoint, FakeOpenAi};
use voice_agent_tests::livekit::{API_SECRET, LiveKitServer, voice, wav};
use voice_agent_tests::net::free_port;
use voice_agent_tests::redis::RedisServer;

const REDIS_PASSWORD: &str = "canary-redis-pw-5b2e";
const KEYS: [(&str, &str); 3] =
    [("STT", "sk-canary-stt-91c4d0"), ("LLM", "sk-canary-llm-7e22aa"), ("TTS", "sk-canary-tts-0f3b19")];
/// Every network library at trace: what an operator debugging a connection might ask for.
const ALL_TRACE: &str = "trace,tungstenite=trace,tokio_tungstenite=trace,hyper=trace,hyper_util=trace,\
                         h2=trace,reqwest=trace,redis=trace,rustls=trace";

/// Runs one conversation with the given log settings; returns everything the agent wrote.
async fn converse_and_collect_logs(
    server: &Arc<LiveKitServer>,
    fake: &FakeOpenAi,
    redis: &RedisServer,
    format: &str,
    level: &str,
    room: &str,
) -> String {
    let port = free_port();
    let log_path = std::env::temp_dir().join(format!("voice-agent-canary-{}-{room}.log", std::process::id()));
    let log = std::fs::File::create(&log_path).unwrap();
    let mut cmd = binary::command();
    binary::run_on_livekit(&mut cmd, server, port)
        .env_remove("AGENT_MODE")
        .env("REDIS_URL", redis.url())
        .env("DRAIN_TIMEOUT_SECS", "10")
        .env("GREETING", "Hi.")
        .env("LOG_FORMAT", format)
        .env("LOG_LEVEL", level)
        .stdout(Stdio::null())
        .stderr(log);
    for (cap, key) in KEYS {
        cmd.env(format!("{cap}_BASE_URL"), fake.base_url()).env(format!("{cap}_API_KEY"), key);
    }
    let mut agent = Process(cmd.spawn().unwrap());
    let mut ready = (0, String::new());
    for _ in 0..300 {
        ready = get(port, "/readyz");
        // Ready, and the limiter shares its state through Redis (so the password worked).
        if ready.0 == 200 && ready.1.contains("\"limiter_mode\":\"shared\"") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready.0 == 200 && ready.1.contains("\"limiter_mode\":\"shared\""), "never ready: {}", ready.1);

    let question = std::env::temp_dir().join(format!("voice-agent-canary-{}-{room}.wav", std::process::id()));
    wav::speech("What time is it?", &question);
    let result =
        voice::converse_task(server, room, "alice", &[&question], &["--lead-in", "3"]).await.unwrap();
    assert!(result["questions"][0]["answer_start"].as_f64().is_some(), "no spoken answer: {result}");
    let code = tokio::task::spawn_blocking(move || agent.terminate(Duration::from_secs(20))).await.unwrap();
    assert_eq!(code, Some(0));
    std::fs::read_to_string(&log_path).unwrap()
}

fn assert_no_credentials(what: &str, log: &str) {
    let mut canaries: Vec<&str> = vec![API_SECRET, REDIS_PASSWORD];
    canaries.extend(KEYS.iter().map(|(_, k)| *k));
    for canary in canaries {
        if let Some(line) = log.lines().find(|l| l.contains(canary)) {
            panic!("{what}: {canary:?} leaked in: {line}");
        }
    }
    if let Some(line) = log.lines().find(|l| has_jwt(l)) {
        panic!("{what}: a JWT leaked in: {line}");
    }
}

/// Whether `line` holds a JWT's start: `eyJ…` (base64url) then `.eyJ` (the payload).
fn has_jwt(line: &str) -> bool {
    line.match_indices("eyJ").any(|(i, _)| {
        let rest = &line[i..];
        let header =
            rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_')).unwrap_or(rest.len());
        rest[header..].starts_with(".eyJ")
    })
}

#[test]
fn a_jwt_is_told_from_a_random_string_with_eyj_in_it() {
    let token = "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZ2VudCJ9.c2lnbmF0dXJl";
    assert!(has_jwt(token));
    assert!(has_jwt(&format!("token={}", &token[7..])));
    assert!(!has_jwt(r#"IceCreds { ufrag: "Elci1bEd7IFyAzfs", pass: "DRp2AAPpc3eyJ0TNyTepr9" }"#));
    assert!(!has_jwt("Bearer <redacted>"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_logs_in_text_and_json_carry_no_credentials() {
    let _heavy = voice_agent_tests::serial::heavy().await;
    let server = Arc::new(LiveKitServer::start());
    let fake = FakeOpenAi::start().await;
    fake.edit_replies(|r| {
        r.transcript = "what time is it".into();
        r.chat_chunks = ["It is ", "noon."].map(String::from).to_vec();
        r.speech_pcm = voice::speech_pcm("It is noon.", 24_000);
    });
    let redis = RedisServer::start_with_password(REDIS_PASSWORD);

    let text = converse_and_collect_logs(&server, &fake, &redis, "text", "trace", "canary-text").await;
    assert!(text.lines().count() > 200, "trace logging was on: {} lines", text.lines().count());
    assert!(text.contains("TRACE"), "trace lines were written");
    assert_no_credentials("LOG_FORMAT=text LOG_LEVEL=trace", &text);

    let json = converse_and_collect_logs(&server, &fake, &redis, "json", ALL_TRACE, "canary-json").await;
    let lines: Vec<serde_json::Value> =
        json.lines().filter(|l| l.starts_with('{')).map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(lines.len() > 200, "trace logging was on: {} JSON lines", lines.len());
    assert!(
        json.lines().any(|l| l.contains("tungstenite") && l.contains("Bearer <redacted>")),
        "the WebSocket handshake dump was logged, with its token redacted"
    );
    assert_no_credentials("LOG_FORMAT=json, every library at trace", &json);

    // The keys were really sent: redaction is in the logs, not in the requests.
    let chats = fake.requests_to(Endpoint::Chat);
    assert!(
        chats.iter().any(|c| c.headers.iter().any(|(k, v)| k == "authorization" && v.ends_with(KEYS[1].1)))
    );
}
