//! No Docker engine runs in CI, so the Dockerfile and docker-compose.yml are checked by
//! structure: the properties operators rely on must hold, and both must follow scripts/setup.
#![allow(clippy::unwrap_used)] // a test: a failed unwrap is a failed test

use std::collections::BTreeMap;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Dockerfile instructions with continuation lines joined: (INSTRUCTION, arguments).
fn dockerfile() -> Vec<(String, String)> {
    instructions("Dockerfile")
}

fn instructions(path: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in read(path).lines() {
        let t = line.trim();
        if current.is_empty() && (t.is_empty() || t.starts_with('#')) {
            continue;
        }
        current.push_str(t.trim_end_matches('\\').trim());
        current.push(' ');
        if !t.ends_with('\\') {
            let (ins, args) = current.trim().split_once(' ').unwrap_or((current.trim(), ""));
            out.push((ins.to_ascii_uppercase(), args.trim().to_owned()));
            current.clear();
        }
    }
    out
}

/// A shell variable assigned in scripts/setup, e.g. `ORT_VERSION="1.31.1"`.
fn setup_var(name: &str) -> String {
    let setup = read("scripts/setup");
    let line = setup
        .lines()
        .find(|l| l.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("scripts/setup sets {name}"));
    line.split_once('=').unwrap().1.trim_matches('"').to_owned()
}

fn compose() -> serde_yaml::Value {
    yaml("docker-compose.yml")
}

fn yaml(path: &str) -> serde_yaml::Value {
    serde_yaml::from_str(&read(path)).unwrap_or_else(|e| panic!("{path} is not valid YAML: {e}"))
}

#[test]
fn dockerfile_is_multi_stage_and_runs_the_project_setup() {
    let ins = dockerfile();
    let froms: Vec<&String> = ins.iter().filter(|(i, _)| i == "FROM").map(|(_, a)| a).collect();
    assert!(froms.len() >= 2, "multi-stage: {froms:?}");
    assert!(froms[0].contains(" AS build"), "first stage is the build stage");

    let runs: Vec<&String> = ins.iter().filter(|(i, _)| i == "RUN").map(|(_, a)| a).collect();
    let setup = runs.iter().find(|r| r.contains("scripts/setup")).expect("a RUN of scripts/setup");
    for step in ["apt", "ort", "silero", "turn"] {
        assert!(setup.contains(step), "the image runs setup step {step}: {setup}");
        assert!(read("scripts/setup").contains(&format!("if want {step}; then")), "setup has step {step}");
    }
    assert!(runs.iter().any(|r| r.contains("cargo build --release --locked")));
    assert!(runs.iter().any(|r| r.contains("libopus0")), "runtime image carries libopus");

    // The library and model the image carries are the versions setup installs.
    let ort = format!("libonnxruntime.so.{}", setup_var("ORT_VERSION"));
    let text = read("Dockerfile");
    assert!(text.contains(&format!("ORT_DYLIB_PATH=/app/models/{ort}")), "{ort}");
    assert!(text.contains("VAD_MODEL_PATH=/app/models/silero_vad.onnx"));
    let turn = setup_var("TURN_MODEL");
    assert!(text.contains(&format!("TURN_MODEL_PATH=/app/models/{turn}")), "{turn}");

    // COPY sources from the build context exist.
    for (_, args) in ins.iter().filter(|(i, a)| i == "COPY" && !a.starts_with("--from")) {
        let parts: Vec<&str> = args.split_whitespace().collect();
        for src in &parts[..parts.len() - 1] {
            assert!(root().join(src).exists(), "COPY source {src} exists");
        }
    }
}

#[test]
fn dockerfile_healthcheck_uses_the_binary() {
    let ins = dockerfile();
    let hc = ins.iter().find(|(i, _)| i == "HEALTHCHECK").map(|(_, a)| a.clone()).expect("HEALTHCHECK");
    for flag in ["--interval=30s", "--timeout=5s", "--start-period=60s", "--retries=3"] {
        assert!(hc.contains(flag), "{flag} in {hc}");
    }
    assert!(hc.contains(r#"CMD ["voice-agent", "healthcheck"]"#), "{hc}");
    assert!(ins.iter().any(|(i, a)| i == "EXPOSE" && a.split_whitespace().any(|p| p == "8080")));
    assert!(ins.iter().any(|(i, a)| i == "USER" && a != "root"), "runs as a non-root user");
}

#[test]
fn compose_has_healthchecks_and_health_gated_dependencies() {
    let c = compose();
    let services = &c["services"];
    for name in ["livekit", "redis", "agent"] {
        assert!(services[name].is_mapping(), "service {name}");
        assert!(services[name]["healthcheck"]["test"].is_sequence(), "{name} has a healthcheck");
    }
    let agent = &services["agent"];
    let hc = &agent["healthcheck"];
    let test: Vec<&str> = hc["test"].as_sequence().unwrap().iter().filter_map(|v| v.as_str()).collect();
    assert_eq!(test, ["CMD", "voice-agent", "healthcheck"]);
    assert_eq!(hc["interval"].as_str(), Some("30s"));
    assert_eq!(hc["timeout"].as_str(), Some("5s"));
    assert_eq!(hc["retries"].as_u64(), Some(3));
    assert_eq!(hc["start_period"].as_str(), Some("60s"));
    for dep in ["livekit", "redis"] {
        assert_eq!(agent["depends_on"][dep]["condition"].as_str(), Some("service_healthy"), "{dep}");
    }
    assert_eq!(agent["build"].as_str(), Some("."));
    let ports: Vec<&str> = agent["ports"].as_sequence().unwrap().iter().filter_map(|v| v.as_str()).collect();
    assert!(ports.iter().any(|p| p.ends_with(":8080")), "{ports:?}");

    // Redis keeps the shared limits across a restart: append-only file, fsync every second,
    // on a named volume (its data directory in the image is /data).
    let redis = &services["redis"];
    let cmd: Vec<&str> = redis["command"].as_sequence().unwrap().iter().filter_map(|v| v.as_str()).collect();
    let flag = |name: &str| cmd.iter().position(|a| *a == name).and_then(|i| cmd.get(i + 1)).copied();
    assert_eq!(cmd.first().copied(), Some("redis-server"), "{cmd:?}");
    assert_eq!(flag("--appendonly"), Some("yes"), "{cmd:?}");
    assert_eq!(flag("--appendfsync"), Some("everysec"), "{cmd:?}");
    let volumes: Vec<&str> =
        redis["volumes"].as_sequence().unwrap().iter().filter_map(|v| v.as_str()).collect();
    let data = volumes.iter().find_map(|v| v.strip_suffix(":/data")).expect("a volume on /data");
    assert!(c["volumes"][data].is_mapping() || c["volumes"][data].is_null(), "named volume {data}");
    assert!(c["volumes"].as_mapping().unwrap().contains_key(data), "volume {data} is declared");

    // The LiveKit image is the version setup builds for the tests.
    let image = services["livekit"]["image"].as_str().unwrap();
    assert_eq!(image, format!("livekit/livekit-server:{}", setup_var("LIVEKIT_VERSION")));

    // Compose waits at least the agent's default drain timeout before killing it.
    let env: BTreeMap<String, String> = serde_yaml::from_value(agent["environment"].clone()).unwrap();
    assert!(!env.contains_key("DRAIN_TIMEOUT_SECS"), "default drain timeout applies");
    let vars = [("LIVEKIT_API_KEY", "k"), ("LIVEKIT_API_SECRET", "s")];
    let config = voice_agent::config::Config::from_vars(
        vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
    )
    .unwrap();
    let grace = agent["stop_grace_period"].as_str().expect("stop_grace_period");
    let minutes: u64 = grace.strip_suffix('m').and_then(|m| m.parse().ok()).expect("in minutes");
    assert!(minutes * 60 >= config.worker.drain_timeout.as_secs(), "{grace} covers the drain timeout");
}

/// The offline engines' image and compose override: installed by setup's own `local` step,
/// run in the foreground with a healthcheck, and the agent pointed at exactly what
/// `scripts/local-stack` serves (ports, model names), after the engines are healthy.
#[test]
fn local_engines_image_and_compose_follow_setup_and_the_launcher() {
    let ins = instructions("local/Dockerfile");
    let runs: Vec<&String> = ins.iter().filter(|(i, _)| i == "RUN").map(|(_, a)| a).collect();
    let setup = runs.iter().find(|r| r.contains("scripts/setup")).expect("a RUN of scripts/setup");
    assert!(setup.contains("--only apt,local"), "{setup}");
    assert!(read("scripts/setup").contains("if want local; then"), "setup has step local");
    let arg = |name: &str| ins.iter().find(|(i, _)| i == name).map(|(_, a)| a.clone()).unwrap_or_default();
    assert_eq!(arg("CMD"), r#"["bash", "scripts/local-stack", "run"]"#);
    assert!(arg("HEALTHCHECK").contains(r#"CMD ["bash", "scripts/local-stack", "status"]"#));
    assert!(read("local/Dockerfile").contains("LOCAL_HOST=0.0.0.0"), "engines reachable from the agent");
    for (_, args) in ins.iter().filter(|(i, _)| i == "COPY") {
        let parts: Vec<&str> = args.split_whitespace().collect();
        for src in &parts[..parts.len() - 1] {
            assert!(root().join(src).exists(), "COPY source {src} exists");
        }
    }

    let launcher = read("scripts/local-stack");
    let c = yaml("local/compose.yml");
    let engines = &c["services"]["local-ai"];
    assert_eq!(engines["build"]["dockerfile"].as_str(), Some("local/Dockerfile"));
    assert!(engines["healthcheck"]["test"].is_sequence(), "the engines have a healthcheck");
    let agent = &c["services"]["agent"];
    assert_eq!(agent["depends_on"]["local-ai"]["condition"].as_str(), Some("service_healthy"));
    let env = &agent["environment"];
    for (cap, engine, default_port) in
        [("STT", "stt", "8091"), ("LLM", "llm", "8092"), ("TTS", "tts", "8093")]
    {
        assert!(
            launcher.contains(&format!("LOCAL_{cap}_PORT:-{default_port}")),
            "scripts/local-stack serves {engine} on {default_port} by default"
        );
        assert_eq!(
            env[format!("{cap}_BASE_URL")].as_str(),
            Some(format!("http://local-ai:{default_port}/v1").as_str()),
            "{cap}"
        );
        let model = format!("local-{engine}");
        assert!(launcher.contains(&format!("{cap}_MODEL={model}")), "the launcher names {model}");
        assert_eq!(env[format!("{cap}_MODEL")].as_str(), Some(model.as_str()));
    }
    // The agent accepts the override's settings (prices parse, every value is valid).
    let mut vars: Vec<(String, String)> =
        vec![("LIVEKIT_API_KEY".into(), "devkey".into()), ("LIVEKIT_API_SECRET".into(), "secret".into())];
    for (k, v) in env.as_mapping().unwrap() {
        vars.push((k.as_str().unwrap().to_owned(), v.as_str().unwrap().to_owned()));
    }
    let config = voice_agent::config::Config::from_vars(vars.into_iter().collect());
    assert!(config.is_ok(), "{:?}", config.err());
}
