//! The browser playground (`web/`) for tests: its server (`web/server.mjs`, minting tokens for a
//! test livekit-server) and its driver (`web/e2e/playground.mjs`, Debian's chromium through
//! playwright-core). `scripts/setup --browser` installs what they need; missing pieces fail the
//! test and say so.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::{API_KEY, API_SECRET, LiveKitServer, workspace_root};

/// The chromium binary (`CHROMIUM_BIN`, else Debian's).
pub fn chromium() -> PathBuf {
    let path = PathBuf::from(std::env::var("CHROMIUM_BIN").unwrap_or_else(|_| "/usr/bin/chromium".into()));
    assert!(path.exists(), "{} is missing: run scripts/setup --browser", path.display());
    path
}

/// `web/`, checked to be installed and built.
pub fn web_dir() -> PathBuf {
    let web = workspace_root().join("web");
    for needed in ["node_modules/livekit-client", "node_modules/playwright-core", "dist/app.js"] {
        assert!(web.join(needed).exists(), "web/{needed} is missing: run scripts/setup");
    }
    web
}

/// The playground's server, stopped on drop.
pub struct Playground {
    child: Child,
    /// `http://127.0.0.1:PORT/`.
    pub url: String,
}

impl Playground {
    /// Serves the playground for `room` on a free loopback port, minting tokens for `server`.
    pub fn start(server: &LiveKitServer, room: &str) -> Self {
        let web = web_dir();
        let mut child = Command::new("node")
            .arg(web.join("server.mjs"))
            .env("LIVEKIT_URL", server.url())
            .env("LIVEKIT_API_KEY", API_KEY)
            .env("LIVEKIT_API_SECRET", API_SECRET)
            .env("DEV_ROOM", room)
            .env("PLAYGROUND_ADDR", "127.0.0.1:0")
            .env_remove("LIVEKIT_AGENT_NAME")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node is missing: run scripts/setup");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("playground output");
        let url = line
            .trim()
            .strip_prefix("playground: ")
            .unwrap_or_else(|| panic!("playground server said {line:?}"))
            .to_owned();
        Self { child, url }
    }

    /// Runs the driver: the page with `wav` as the microphone, then `typed` in the text box.
    /// Screenshots go to `out`. Returns the driver's JSON (also when a step failed: its
    /// `error` says which).
    pub fn drive(&self, wav: &Path, typed: &str, out: &Path) -> serde_json::Value {
        let web = web_dir();
        let output = Command::new("node")
            .arg(web.join("e2e/playground.mjs"))
            .args(["--url", &self.url, "--type", typed, "--timeout-secs", "90"])
            .arg("--wav")
            .arg(wav)
            .arg("--out")
            .arg(out)
            .arg("--chromium")
            .arg(chromium())
            .stdin(Stdio::null())
            .output()
            .expect("run the playground driver");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stdout.lines().last().unwrap_or_default();
        serde_json::from_str(last)
            .unwrap_or_else(|e| panic!("playground driver: bad JSON ({e}): {stdout}\n{stderr}"))
    }
}

impl Drop for Playground {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
