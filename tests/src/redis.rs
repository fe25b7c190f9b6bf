//! A real `redis-server` on a free loopback port, for integration tests.
//!
//! Started without persistence (`--save '' --appendonly no`), or with the append-only file as
//! the shipped compose file runs it ([`RedisServer::start_persistent`]: `--appendonly yes
//! --appendfsync everysec`), in a scratch directory (`DEBUG` allowed from loopback so a test can
//! stall it), killed on drop. [`RedisServer::stop`] (SIGKILL) and [`RedisServer::restart`] take
//! it away and bring it back on the same port mid-test — empty, or from its append-only file;
//! [`RedisServer::pause`] and [`RedisServer::resume`] (SIGSTOP/SIGCONT) stall it.
//! [`RedisServer::start_with_password`] requires a password, as a managed Redis does.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use voice_agent::core::quota::Quotas;
use voice_agent::limits::{LimitsConfig, RedisConfig, SharedOptions};

use crate::net::free_port;

/// A running (or deliberately stopped) redis-server.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
    persistent: bool,
    password: Option<String>,
}

impl RedisServer {
    /// Starts redis-server on a free port and waits until it answers PING.
    ///
    /// Panics (failing the test) if `redis-server` is not installed: run `scripts/setup`.
    pub fn start() -> Self {
        Self::start_with(false)
    }

    /// Like [`RedisServer::start`], with the append-only file on (`appendfsync everysec`): a
    /// restart comes back with what was written up to about a second before the kill.
    pub fn start_persistent() -> Self {
        Self::start_with(true)
    }

    /// Like [`RedisServer::start`], requiring `password` (`requirepass`); [`RedisServer::url`]
    /// carries it.
    pub fn start_with_password(password: &str) -> Self {
        Self::start_full(false, Some(password.to_owned()))
    }

    fn start_with(persistent: bool) -> Self {
        Self::start_full(persistent, None)
    }

    fn start_full(persistent: bool, password: Option<String>) -> Self {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("va-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("creating a scratch directory for redis-server");
        let mut s = Self { child: None, port, dir, persistent, password };
        s.restart();
        s
    }

    /// Stops the process where it stands (SIGSTOP): connections stay open, nothing answers.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Lets a paused server run on (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, sig: &str) {
        if let Some(child) = &self.child {
            let ok =
                Command::new("kill").args([sig, &child.id().to_string()]).status().is_ok_and(|s| s.success());
            assert!(ok, "kill {sig} redis-server failed");
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<port>`, or `redis://:<password>@127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        match &self.password {
            Some(p) => format!("redis://:{p}@127.0.0.1:{}", self.port),
            None => format!("redis://127.0.0.1:{}", self.port),
        }
    }

    /// Kills the server (SIGKILL: connections drop at once, as in a crash).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port (after [`RedisServer::stop`]) and waits for PING:
    /// empty, or (persistent) loaded from its append-only file.
    pub fn restart(&mut self) {
        self.stop();
        let aof: &[&str] = if self.persistent {
            &["--appendonly", "yes", "--appendfsync", "everysec"]
        } else {
            &["--appendonly", "no"]
        };
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", ""])
            .args(aof)
            .args(["--enable-debug-command", "local"])
            .args(self.password.iter().flat_map(|p| ["--requirepass", p.as_str()]))
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
        if let Some(p) = &self.password {
            let authed = s.write_all(format!("AUTH {p}\r\n").as_bytes()).is_ok()
                && s.read(&mut buf).is_ok_and(|n| buf[..n].starts_with(b"+OK"));
            if !authed {
                return false;
            }
        }
        s.write_all(b"PING\r\n").is_ok() && s.read(&mut buf).is_ok_and(|n| buf[..n].starts_with(b"+PONG"))
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Limiter settings for one worker sharing limits in the Redis at `url` under key prefix
/// `prefix` (session leases of 120 s).
pub fn limits_config(url: &str, prefix: &str, quotas: Quotas, shared: SharedOptions) -> LimitsConfig {
    LimitsConfig {
        quotas,
        redis: Some(RedisConfig {
            url: url.into(),
            key_prefix: prefix.to_owned(),
            session_lease: Duration::from_secs(120),
            shared,
        }),
        ..LimitsConfig::default()
    }
}
