//! The real LiveKit client (`tests/py/lk_client.py`, PyPI `livekit` with libwebrtc inside),
//! run as a subprocess that prints one JSON object.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use super::{API_KEY, API_SECRET, LiveKitServer, tool, workspace_root};

/// Runs `lk_client.py COMMAND --url … --room ROOM EXTRA…` and returns its JSON result.
pub fn run(server: &LiveKitServer, command: &str, room: &str, extra: &[&str]) -> serde_json::Value {
    let output = spawn(server, command, room, extra).wait_with_output().expect("python client");
    parse(command, output)
}

/// Starts the client without waiting (for concurrent clients); finish with [`finish`].
pub fn spawn(server: &LiveKitServer, command: &str, room: &str, extra: &[&str]) -> std::process::Child {
    let python = tool(".tools/venv/bin/python");
    let script = workspace_root().join("tests/py/lk_client.py");
    Command::new(python)
        .arg(script)
        .arg(command)
        .args(["--url", &server.url(), "--api-key", API_KEY, "--api-secret", API_SECRET, "--room", room])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start python client")
}

/// Waits for a spawned client and returns its JSON result.
pub fn finish(command: &str, child: std::process::Child) -> serde_json::Value {
    parse(command, child.wait_with_output().expect("python client"))
}

fn parse(command: &str, output: Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "lk_client.py {command} failed ({}):\n{stderr}\n{stdout}",
        output.status
    );
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last)
        .unwrap_or_else(|e| panic!("lk_client.py {command}: bad JSON ({e}): {stdout}\n{stderr}"))
}

/// Creates a room through the server API (this dispatches agents).
pub fn create_room(server: &LiveKitServer, room: &str) {
    run(server, "create-room", room, &[]);
}

/// Deletes a room through the server API.
pub fn delete_room(server: &LiveKitServer, room: &str) {
    run(server, "delete-room", room, &[]);
}

/// Identities currently in a room.
pub fn participants(server: &LiveKitServer, room: &str) -> Vec<String> {
    let v = run(server, "list-participants", room, &[]);
    v["identities"]
        .as_array()
        .map(|a| a.iter().filter_map(|i| i.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// Joins `room`, publishes `wav` in real time and records the agent's audio into `out`.
pub fn echo(server: &LiveKitServer, room: &str, wav: &Path, out: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["--wav", path_str(wav), "--out", path_str(out)];
    args.extend_from_slice(extra);
    run(server, "echo", room, &args)
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}
