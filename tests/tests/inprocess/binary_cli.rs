//! The `voice-agent` binary as an operator sees it: bad config, health, healthcheck, SIGTERM.
#![allow(clippy::unwrap_used)] // a test: a failed unwrap is a failed test

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use voice_agent_tests::binary::{self, Process, get, wait_for_health};
use voice_agent_tests::net::free_port;

/// The binary with only what a test sets: LiveKit pointing at a port nothing listens on.
fn agent(envs: &[(&str, &str)]) -> Command {
    let mut c = binary::clean_command();
    c.env("LIVEKIT_URL", "ws://127.0.0.1:9") // nothing listens there
        .env("LIVEKIT_API_KEY", "devkey")
        .env("LIVEKIT_API_SECRET", "secret");
    for (k, v) in envs {
        c.env(k, v);
    }
    c
}

fn status_of(port: u16, path: &str) -> Option<u16> {
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    health::probe::get_status(addr, path, Duration::from_secs(2)).ok()
}

fn get_body(port: u16, path: &str) -> String {
    get(port, path).1
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

/// Issue: `REDIS_URL=rediss://:PASSWORD@…` with a config error was echoed with its password.
/// Every credential variable, wrong in a way that is reported, is named without its value.
#[test]
fn config_errors_never_echo_credentials() {
    let out = agent(&[
        ("REDIS_URL", "rediss://:CANARY-redis-pw@redis.example:6380"), // rediss:// is refused
        ("LLM_API_KEY", "sk-CANARY-llm"),                              // a key without a base URL
        ("LIVEKIT_API_SECRET_FILE", "/nonexistent/CANARY-file"),
        ("MAX_JOBS", "many"),
    ])
    .env_remove("LIVEKIT_API_SECRET")
    .arg("check-config")
    .output()
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(64), "{err}");
    for var in ["REDIS_URL", "LLM_BASE_URL", "MAX_JOBS=\"many\""] {
        assert!(err.contains(var), "{var} not named: {err}");
    }
    assert!(!err.contains("CANARY-redis-pw") && !err.contains("sk-CANARY"), "a credential was echoed: {err}");
}

/// `/stats` names users and rooms: with `STATS_TOKEN` it needs the bearer token, with
/// `STATS_ENABLED=false` it is gone; the probes stay open either way.
#[test]
fn stats_behind_a_token_or_off() {
    let stats_with = |port: u16, auth: Option<&str>| {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let auth = auth.map(|a| format!("Authorization: {a}\r\n")).unwrap_or_default();
        let req = format!("GET /stats?identity=alice HTTP/1.1\r\nHost: t\r\n{auth}Connection: close\r\n\r\n");
        std::io::Write::write_all(&mut s, req.as_bytes()).unwrap();
        let mut text = String::new();
        let _ = s.read_to_string(&mut text);
        text
    };
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let _child = Process(agent(&[("HEALTH_ADDR", &addr), ("STATS_TOKEN", "tok-7f1e2d")]).spawn().unwrap());
    wait_for_health(port);
    let refused = stats_with(port, None);
    assert!(refused.starts_with("HTTP/1.1 401 "), "{refused}");
    assert!(refused.contains("WWW-Authenticate: Bearer"), "{refused}");
    assert!(stats_with(port, Some("Bearer wrong")).starts_with("HTTP/1.1 401 "));
    // With the token: the stats themselves (once the limiter is up) — never 401.
    let mut allowed = String::new();
    for _ in 0..100 {
        allowed = stats_with(port, Some("Bearer tok-7f1e2d"));
        if allowed.starts_with("HTTP/1.1 200 ") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(allowed.starts_with("HTTP/1.1 200 ") && allowed.contains("\"alice\""), "{allowed}");
    assert_eq!(status_of(port, "/healthz"), Some(200), "probes need no token");

    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let _child = Process(agent(&[("HEALTH_ADDR", &addr), ("STATS_ENABLED", "false")]).spawn().unwrap());
    wait_for_health(port);
    assert!(stats_with(port, None).starts_with("HTTP/1.1 404 "));
    assert_eq!(status_of(port, "/metrics"), Some(200));
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
    let mut child = Process(
        agent(&[("HEALTH_ADDR", &addr), ("DRAIN_TIMEOUT_SECS", "5"), ("LOG_FORMAT", "json")])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
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

    assert_eq!(child.terminate(Duration::from_secs(15)), Some(0), "exits 0 within the drain timeout");

    let mut logs = String::new();
    child.0.stderr.take().unwrap().read_to_string(&mut logs).unwrap();
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
