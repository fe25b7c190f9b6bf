//! The shipped `voice-agent` binary run as a child process, and plain HTTP GETs to its health
//! server: what an orchestrator sees; its threads, memory and descriptors from `/proc`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Child;
use std::time::Duration;

/// `target/<profile>/voice-agent`, next to the running test's own `deps/` directory.
pub fn path() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let bin = exe.parent().and_then(|deps| deps.parent()).expect("target dir").join("voice-agent");
    assert!(bin.exists(), "{} not built: run `cargo build --workspace` (scripts/test does)", bin.display());
    bin
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
