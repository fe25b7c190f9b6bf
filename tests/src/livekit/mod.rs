//! A real livekit-server for tests, started in dev mode on free ports.
//!
//! The binary is the one `scripts/setup` builds (`.tools/bin/livekit-server`); if it is
//! missing the test fails and says so. The server gets its own config file (ports, keys,
//! loopback ICE candidates) and log file in a scratch directory, is killed on drop, and can
//! be killed and restarted on the same ports to test reconnects.

pub mod agent;
pub mod browser;
pub mod client;
pub mod fake;
pub mod voice;
pub mod wav;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::net::{free_ports, free_udp_port};

/// API key the test servers accept.
pub const API_KEY: &str = "devkey";
/// API secret the test servers accept (≥ 32 characters, as the server wants).
pub const API_SECRET: &str = "voice-agent-test-secret-0123456789abcdef";

/// The workspace root (the tests crate's parent).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// A tool installed by `scripts/setup`, or a panic that says to run it.
pub fn tool(relative: &str) -> PathBuf {
    let path = workspace_root().join(relative);
    assert!(path.exists(), "{} is missing: run scripts/setup first", path.display());
    path
}

/// A running livekit-server.
pub struct LiveKitServer {
    child: Option<Child>,
    dir: PathBuf,
    /// HTTP/WebSocket port.
    pub port: u16,
    /// ICE/TCP port.
    pub rtc_tcp_port: u16,
    /// ICE/UDP port (single-port mux).
    pub rtc_udp_port: u16,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl LiveKitServer {
    /// Starts a server on free ports and waits until it answers.
    pub fn start() -> Self {
        // Fail early (and clearly) if setup has not been run.
        tool(".tools/bin/livekit-server");
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("voice-agent-lk-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        let ([port, rtc_tcp_port], rtc_udp_port) = (free_ports(), free_udp_port());
        let config = format!(
            "port: {port}\n\
             bind_addresses: [\"127.0.0.1\"]\n\
             rtc:\n  tcp_port: {rtc_tcp_port}\n  udp_port: {rtc_udp_port}\n  use_external_ip: false\n  enable_loopback_candidate: true\n\
             keys:\n  {API_KEY}: {API_SECRET}\n\
             logging:\n  level: debug\n\
             room:\n  empty_timeout: 30\n  departure_timeout: 5\n"
        );
        std::fs::write(dir.join("config.yaml"), config).expect("write config");
        let mut server = Self { child: None, dir, port, rtc_tcp_port, rtc_udp_port };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("server.log"))
            .expect("server log");
        let child = Command::new(tool(".tools/bin/livekit-server"))
            .arg("--config")
            .arg(self.dir.join("config.yaml"))
            .arg("--node-ip")
            .arg("127.0.0.1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log fd"))
            .stderr(log)
            .spawn()
            .expect("start livekit-server");
        self.child = Some(child);
        self.wait_ready();
    }

    /// The server's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// `ws://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL: no goodbye to anyone).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same ports.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// The last `lines` lines of the server log (for failure messages).
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// The whole server log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    fn wait_ready(&mut self) {
        for _ in 0..200 {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("livekit-server exited with {status}:\n{}", self.log_tail(30));
            }
            if http_ok(self.port) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("livekit-server did not answer within 10 s:\n{}", self.log_tail(30));
    }
}

impl Drop for LiveKitServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `GET /` answers 200 once the server is up.
fn http_ok(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    if s.write_all(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 64];
    matches!(s.read(&mut buf), Ok(n) if n > 12 && buf[..n].starts_with(b"HTTP/1.") && &buf[9..12] == b"200")
}

/// Routes the agent's logs to the test output (shown for failing tests).
pub fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "voice_agent=debug,str0m=warn".into()))
        .with_test_writer()
        .try_init();
}
