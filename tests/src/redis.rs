//! A real `redis-server` on a free loopback port, for integration tests.
//!
//! Started without persistence (`--save '' --appendonly no`; `DEBUG` allowed from loopback so a
//! test can stall it) in a scratch directory, killed on drop; [`RedisServer::stop`] and [`RedisServer::restart`] let a test take it away and
//! bring it back on the same port mid-test.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::net::free_port;

/// A running (or deliberately stopped) redis-server.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

impl RedisServer {
    /// Starts redis-server on a free port and waits until it answers PING.
    ///
    /// Panics (failing the test) if `redis-server` is not installed: run `scripts/setup`.
    pub fn start() -> Self {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("va-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("creating a scratch directory for redis-server");
        let mut s = Self { child: None, port, dir };
        s.restart();
        s
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL: connections drop at once, as in a crash).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port (after [`RedisServer::stop`]) and waits for PING.
    pub fn restart(&mut self) {
        self.stop();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--enable-debug-command",
                "local",
            ])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start redis-server ({e}): run scripts/setup to install it"));
        self.child = Some(child);
        for _ in 0..500 {
            if self.ping() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("redis-server on port {} did not answer PING within 5 s", self.port);
    }

    fn ping(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else { return false };
        let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
        let mut buf = [0u8; 16];
        s.write_all(b"PING\r\n").is_ok() && s.read(&mut buf).is_ok_and(|n| buf[..n].starts_with(b"+PONG"))
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
