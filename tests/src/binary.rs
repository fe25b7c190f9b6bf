//! The agent binary run as a child process, and plain HTTP GETs to its health server: what an
//! orchestrator sees; its threads, memory and descriptors from `/proc`.
//!
//! The binary is `agent-under-test`: the agent's own `main.rs` built as a target of this crate
//! (see `Cargo.toml`), so cargo rebuilds it with every test run and a test never runs a stale
//! build. [`command`] starts it the way an operator would, with no `.env` file and the models
//! that `scripts/setup` installed.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Duration;

use crate::livekit::{API_KEY, API_SECRET, LiveKitServer, workspace_root};

/// `target/<profile>/agent-under-test`: next to a running benchmark binary, or next to the
/// running test's own `deps/` directory.
pub fn path() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().expect("executable directory");
    let beside = dir.join("agent-under-test");
    if beside.exists() {
        return beside;
    }
    let bin = dir.parent().expect("target dir").join("agent-under-test");
    assert!(
        bin.exists(),
        "{} not built: run the tests through `cargo test` (benchmarks: `cargo build -p voice-agent-tests --bins`)",
        bin.display()
    );
    bin
}

/// The binary with `ENV_FILE` pointing nowhere (no `.env` is read) and the VAD runtime and
/// model from `models/`; the rest of the environment is inherited.
pub fn command() -> Command {
    let mut c = Command::new(path());
    with_models(&mut c);
    c
}

/// [`command`] with an otherwise empty environment (only `PATH`): exactly what a test sets.
pub fn clean_command() -> Command {
    let mut c = Command::new(path());
    c.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    with_models(&mut c);
    c
}

/// [`command`] run under `ulimit -n nofile` (through `sh`): the agent with few descriptors.
pub fn command_with_nofile(nofile: u32) -> Command {
    let mut c = Command::new("sh");
    c.arg("-c").arg(format!("ulimit -n {nofile} && exec \"$0\" \"$@\"")).arg(path());
    with_models(&mut c);
    c
}

/// `cmd` set up to `run` as a worker of `server` (its URL and the test key and secret), with
/// its health server on 127.0.0.1:`health_port`; the caller adds the rest of the environment.
pub fn run_on_livekit<'a>(cmd: &'a mut Command, server: &LiveKitServer, health_port: u16) -> &'a mut Command {
    cmd.arg("run")
        .env("LIVEKIT_URL", server.url())
        .env("LIVEKIT_API_KEY", API_KEY)
        .env("LIVEKIT_API_SECRET", API_SECRET)
        .env("HEALTH_ADDR", format!("127.0.0.1:{health_port}"))
}

/// Points every provider (LLM, TTS, STT) of `cmd` at `base_url`, with `key` for each.
pub fn with_providers<'a>(cmd: &'a mut Command, base_url: &str, key: &str) -> &'a mut Command {
    for cap in ["LLM", "TTS", "STT"] {
        cmd.env(format!("{cap}_BASE_URL"), base_url).env(format!("{cap}_API_KEY"), key);
    }
    cmd
}

fn with_models(c: &mut Command) {
    let models = workspace_root().join("models");
    c.env("ENV_FILE", "/nonexistent/.env")
        .env("ORT_DYLIB_PATH", models.join("libonnxruntime.so.1.31.1"))
        .env("VAD_MODEL_PATH", models.join("silero_vad.onnx"))
        .env("TURN_MODEL_PATH", models.join("smart-turn-v3.2-cpu.onnx"));
}

/// `GET path` on 127.0.0.1:`port` → (status, body); (0, "") when nothing answers.
pub fn get(port: u16, path: &str) -> (u16, String) {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else { return (0, String::new()) };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    if write!(s, "GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").is_err() {
        return (0, String::new());
    }
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    let code = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    (code, text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default())
}

/// Polls `GET /healthz` until the health server answers (at most 10 s); panics if it never does.
pub fn wait_for_health(port: u16) {
    for _ in 0..200 {
        if get(port, "/healthz").0 != 0 {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("health server never came up on port {port}");
}

/// A child process killed (and reaped) when dropped, so a failed test leaves nothing behind.
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Process {
    /// Sends SIGTERM and waits up to `limit` for the exit code (`None`: still running or
    /// killed by a signal).
    pub fn terminate(&mut self, limit: Duration) -> Option<i32> {
        let pid = self.0.id().to_string();
        let sent = std::process::Command::new("kill").args(["-TERM", &pid]).status();
        assert!(sent.map(|s| s.success()).unwrap_or(false), "kill -TERM {pid} failed");
        let steps = (limit.as_millis() / 50).max(1);
        for _ in 0..steps {
            if let Ok(Some(s)) = self.0.try_wait() {
                return s.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

/// Threads and resident memory of a process, from `/proc/<pid>/status`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProcStatus {
    /// OS threads.
    pub threads: u64,
    /// Resident set size, KiB.
    pub rss_kb: u64,
    /// Threads whose name starts with `health-` (the health server's own).
    pub health_threads: u64,
    /// Open file descriptors.
    pub fds: u64,
}

/// Reads [`ProcStatus`] of `pid`; `None` once the process is gone.
pub fn proc_status(pid: u32) -> Option<ProcStatus> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    };
    let health_threads = std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .filter_map(|t| t.ok())
        .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
        .filter(|name| name.starts_with("health-"))
        .count() as u64;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count() as u64).unwrap_or(0);
    Some(ProcStatus { threads: field("Threads:")?, rss_kb: field("VmRSS:")?, health_threads, fds })
}
