//! The `voice-agent` binary as an operator sees it: bad config, health, healthcheck, SIGTERM.
#![allow(clippy::unwrap_used)] // a test: a failed unwrap is a failed test

use std::io::Read;
use std::net::TcpListener;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_voice-agent");

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn agent(envs: &[(&str, &str)]) -> Command {
    let models = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../models");
    let mut c = Command::new(BIN);
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("ENV_FILE", "/nonexistent/.env")
        .env("LIVEKIT_URL", "ws://127.0.0.1:9") // nothing listens there
        .env("LIVEKIT_API_KEY", "devkey")
        .env("LIVEKIT_API_SECRET", "secret")
        .env("ORT_DYLIB_PATH", models.join("libonnxruntime.so.1.31.1"))
        .env("VAD_MODEL_PATH", models.join("silero_vad.onnx"));
    for (k, v) in envs {
        c.env(k, v);
    }
    c
}

fn wait_exit(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let steps = (limit.as_millis() / 50) as usize;
    for _ in 0..steps {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    None
}

fn status_of(port: u16, path: &str) -> Option<u16> {
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    health::probe::get_status(addr, path, Duration::from_secs(2)).ok()
}

fn get_body(port: u16, path: &str) -> String {
    use std::io::Write;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default()
}

fn wait_for_health(port: u16) {
    for _ in 0..200 {
        if status_of(port, "/healthz").is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("health server never came up on port {port}");
}

#[test]
fn bad_config_lists_every_error_and_exits_64() {
    let out =
        agent(&[("MAX_JOBS", "many"), ("LOG_FORMAT", "xml"), ("LIVEKIT_API_SECRET", "")]).output().unwrap();
    assert_eq!(out.status.code(), Some(64));
    let err = String::from_utf8_lossy(&out.stderr);
    for var in ["MAX_JOBS", "LOG_FORMAT", "LIVEKIT_API_SECRET"] {
        assert!(err.contains(var), "stderr should name {var}: {err}");
    }
    assert!(err.contains("3 configuration error(s)"), "{err}");
}

/// Issue: `v < min || v > max` is false for NaN, so `COST_CAP_USER_USD_PER_DAY=NaN` once said
/// "configuration ok" and turned the cap off. Every float setting, alone, with `NaN`, `inf` and
/// `-inf`; then all at once, each named.
#[test]
fn every_float_setting_refuses_nan_and_infinity() {
    let floats = voice_agent::config::Config::float_variables();
    assert!(floats.iter().any(|f| f == "COST_CAP_USER_USD_PER_DAY"), "{floats:?}");
    let redis = ("REDIS_URL", "redis://127.0.0.1:9"); // read, never connected to by check-config
    let ok = agent(&[redis]).arg("check-config").output().unwrap();
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    for var in &floats {
        for bad in ["NaN", "inf", "-inf"] {
            let out = agent(&[redis, ("TTS_SPEED", "1"), (var, bad)]).arg("check-config").output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(64), "{var}={bad} was accepted: {err}");
            assert!(err.contains(&format!("{var}=\"{bad}\"")), "{var}={bad} not named: {err}");
            assert!(err.contains("1 configuration error(s)"), "{var}={bad}: {err}");
        }
    }
    let mut all: Vec<(&str, &str)> = floats.iter().map(|f| (f.as_str(), "NaN")).collect();
    all.push(redis);
    let out = agent(&all).arg("check-config").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(64));
    assert!(err.contains(&format!("{} configuration error(s)", floats.len())), "{err}");
    for var in &floats {
        assert!(err.contains(&format!("{var}=\"NaN\"")), "{var} not named: {err}");
    }
}

#[test]
fn unknown_command_is_a_usage_error() {
    let out = agent(&[]).arg("dance").output().unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage: voice-agent"));
}

#[test]
fn serves_health_and_drains_on_sigterm() {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = agent(&[("HEALTH_ADDR", &addr), ("DRAIN_TIMEOUT_SECS", "5"), ("LOG_FORMAT", "json")])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_health(port);
    assert_eq!(status_of(port, "/healthz"), Some(200));
    assert_eq!(status_of(port, "/readyz"), Some(503), "not registered with LiveKit");
    // The VAD model loads in the background; readiness shows it per component.
    let mut vad_ready = false;
    for _ in 0..100 {
        let body = get_body(port, "/readyz");
        let v: serde_json::Value = serde_json::from_str(&body).expect("readiness JSON");
        assert_eq!(v["components"]["worker"]["ready"], false);
        if v["components"]["vad"]["ready"] == true {
            vad_ready = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(vad_ready, "VAD model never loaded (run scripts/setup)");
    let ready: serde_json::Value = serde_json::from_str(&get_body(port, "/readyz")).unwrap();
    assert_eq!(ready["resilience"]["limiter_mode"], "local", "{ready}");
    let stats: serde_json::Value = serde_json::from_str(&get_body(port, "/stats?identity=alice")).unwrap();
    assert_eq!(stats["participant"]["id"], "alice", "{stats}");
    assert!(stats["global"]["limits"].as_array().is_some_and(|l| !l.is_empty()), "{stats}");
    assert_eq!(status_of(port, "/stats?colour=red"), Some(400));

    let hc = agent(&[("HEALTH_ADDR", &addr)]).arg("healthcheck").status().unwrap();
    assert!(hc.success(), "healthcheck against a live agent");

    let kill = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let status = wait_exit(&mut child, Duration::from_secs(15)).expect("exits within the drain timeout");
    assert_eq!(status.code(), Some(0));

    let mut logs = String::new();
    child.stderr.take().unwrap().read_to_string(&mut logs).unwrap();
    let first = logs.lines().next().unwrap_or("");
    let v: serde_json::Value = serde_json::from_str(first).expect("JSON log lines");
    assert!(v.get("level").is_some(), "{first}");
    assert!(logs.contains("draining"), "{logs}");
    assert!(!logs.contains("\"secret\""), "the API secret must never be logged");
}

#[test]
fn healthcheck_fails_when_nothing_listens() {
    let addr = format!("127.0.0.1:{}", free_port());
    let out = agent(&[("HEALTH_ADDR", &addr)]).arg("healthcheck").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot reach"));
}
