//! The offline local STT/LLM/TTS stack (`scripts/local-stack`), started for a test on free
//! loopback ports and stopped on drop.
//!
//! Each engine runs in its own process group (the launcher uses `setsid`); drop stops them
//! through the launcher and then SIGKILLs every group it recorded, so nothing outlives the
//! test. A watchdog started by the launcher also stops the stack if the test process dies
//! without unwinding. [`LocalStack::kill`] and [`LocalStack::restart`] take one engine away
//! (as a crash) and bring it back on the same port. [`LocalStack::agent_env`] gives the
//! agent's provider variables, so an end-to-end test only adds them to the agent's env.
//!
//! Not installed → the start panics (failing the test) with the launcher's message, which
//! names `scripts/setup --local`. [`client`] speaks to the three endpoints the way the agent's
//! OpenAI-compatible providers do, and times them for the benchmark; [`room`] runs the voice
//! session in a real LiveKit room on the stack; [`turn_log`] captures its per-turn timings.

pub mod accuracy;
pub mod client;
pub mod quiz;
pub mod room;
pub mod score;
pub mod spoken;
pub mod turn_log;

use std::io::Cursor;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use crate::livekit::workspace_root;
use crate::net::free_ports;

/// One engine of the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// Whisper through faster-whisper: `/v1/audio/transcriptions`.
    Stt,
    /// llama.cpp's llama-server with a Qwen2.5 Instruct GGUF: `/v1/chat/completions`.
    Llm,
    /// hibari: `/v1/audio/speech`, PCM s16le mono 24 kHz.
    Tts,
}

impl Engine {
    /// All three, in start order.
    pub const ALL: [Self; 3] = [Self::Stt, Self::Llm, Self::Tts];

    /// The launcher's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Stt => "stt",
            Self::Llm => "llm",
            Self::Tts => "tts",
        }
    }

    fn port_var(self) -> &'static str {
        match self {
            Self::Stt => "LOCAL_STT_PORT",
            Self::Llm => "LOCAL_LLM_PORT",
            Self::Tts => "LOCAL_TTS_PORT",
        }
    }
}

/// Which models the launcher runs (`LOCAL_PROFILE`; see `scripts/local-stack`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Profile {
    /// The default engines.
    #[default]
    Default,
    /// The lighter engines (`--small`).
    Small,
}

impl Profile {
    /// The launcher's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::Small => "small",
        }
    }
}

/// A running local stack (or one with engines deliberately killed).
pub struct LocalStack {
    engines: Vec<Engine>,
    profile: Profile,
    ports: [u16; 3],
    dir: PathBuf,
    script: PathBuf,
}

fn index(e: Engine) -> usize {
    match e {
        Engine::Stt => 0,
        Engine::Llm => 1,
        Engine::Tts => 2,
    }
}

impl LocalStack {
    /// Starts all three engines and waits until each answers (and the LLM is warmed up).
    pub fn start() -> Self {
        Self::start_only(&Engine::ALL)
    }

    /// Starts only `engines` (a test of one engine need not pay for the others).
    pub fn start_only(engines: &[Engine]) -> Self {
        Self::start_with(engines, Profile::Default)
    }

    /// Starts `engines` of `profile`.
    pub fn start_with(engines: &[Engine], profile: Profile) -> Self {
        let ports: [u16; 3] = free_ports();
        let dir = std::env::temp_dir().join(format!("va-local-{}-{}", std::process::id(), ports[0]));
        std::fs::create_dir_all(&dir).expect("creating a state directory for the local stack");
        let stack = Self {
            engines: engines.to_vec(),
            profile,
            ports,
            dir,
            script: workspace_root().join("scripts/local-stack"),
        };
        let names: Vec<&str> = engines.iter().map(|e| e.name()).collect();
        let out = stack.run("start", &names);
        assert!(
            out.status.success(),
            "the local stack did not start (install it with `scripts/setup --local`):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stack
    }

    fn run(&self, cmd: &str, names: &[&str]) -> Output {
        let mut c = Command::new("bash");
        c.arg(&self.script).arg(cmd).args(names);
        c.env("LOCAL_STACK_DIR", &self.dir).env("LOCAL_HOST", "127.0.0.1");
        c.env("LOCAL_PROFILE", self.profile.name());
        c.env("LOCAL_STACK_WATCH_PID", std::process::id().to_string());
        for e in Engine::ALL {
            c.env(e.port_var(), self.ports[index(e)].to_string());
        }
        c.stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {} ({e})", self.script.display()))
    }

    /// `http://127.0.0.1:<port>/v1` of an engine: the agent's `<CAP>_BASE_URL`.
    pub fn base_url(&self, e: Engine) -> String {
        format!("http://127.0.0.1:{}/v1", self.ports[index(e)])
    }

    /// The agent's provider variables for the started engines (`STT_BASE_URL`, `LLM_MODEL`, …).
    pub fn agent_env(&self) -> Vec<(String, String)> {
        let mut env = Vec::new();
        for &e in &self.engines {
            let (prefix, model) = match e {
                Engine::Stt => ("STT", "local-stt"),
                Engine::Llm => ("LLM", "local-llm"),
                Engine::Tts => ("TTS", "local-tts"),
            };
            env.push((format!("{prefix}_BASE_URL"), self.base_url(e)));
            env.push((format!("{prefix}_MODEL"), model.to_owned()));
        }
        if self.engines.contains(&Engine::Stt) {
            env.push(("STT_LANGUAGE".to_owned(), "en".to_owned()));
        }
        env
    }

    /// The engine's process id (its process group id too), if it runs.
    pub fn pid(&self, e: Engine) -> Option<u32> {
        let text = std::fs::read_to_string(self.dir.join(format!("{}.pid", e.name()))).ok()?;
        let pid: u32 = text.trim().parse().ok()?;
        is_running(pid).then_some(pid)
    }

    /// Resident memory of the engine's process group in bytes (all its processes), if it runs.
    pub fn rss_bytes(&self, e: Engine) -> Option<u64> {
        let pgid = self.pid(e)?;
        let mut total = 0;
        for entry in std::fs::read_dir("/proc").ok()?.flatten() {
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
            // Fields after the parenthesized command: state ppid pgrp …
            let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else { continue };
            if rest.split_whitespace().nth(2).and_then(|g| g.parse::<u32>().ok()) != Some(pgid) {
                continue;
            }
            let status = std::fs::read_to_string(entry.path().join("status")).unwrap_or_default();
            let kb = status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
                .unwrap_or(0);
            total += kb * 1024;
        }
        Some(total)
    }

    /// SIGKILLs the engine's process group, as a crash: open connections drop at once and new
    /// ones are refused. Returns once the process is gone.
    pub fn kill(&mut self, e: Engine) {
        let Some(pid) = self.pid(e) else { return };
        kill_group(pid);
        for _ in 0..200 {
            if !is_running(pid) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("{} (pid {pid}) still runs 2 s after SIGKILL", e.name());
    }

    /// Starts the engine again on the same port and waits until it answers (and is warm).
    pub fn restart(&mut self, e: Engine) {
        let out = self.run("restart", &[e.name()]);
        assert!(
            out.status.success(),
            "restarting {} failed:\n{}",
            e.name(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn kill_group(pgid: u32) {
    let _ = Command::new("kill").args(["-KILL", "--", &format!("-{pgid}")]).stderr(Stdio::null()).status();
}

/// True while the process exists and is not a zombie.
fn is_running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(')').and_then(|(_, r)| r.split_whitespace().next().map(str::to_owned)))
        .is_some_and(|state| state != "Z")
}

impl Drop for LocalStack {
    fn drop(&mut self) {
        let pids: Vec<u32> = Engine::ALL.iter().filter_map(|&e| self.pid(e)).collect();
        let _ = self.run("stop", &[]);
        // The launcher stops them gracefully; whatever is left (a hung engine) is killed.
        for pid in pids {
            kill_group(pid);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `text` spoken by espeak-ng, as a 16 kHz mono s16 WAV file's bytes (espeak-ng → sox).
pub fn speech_wav_16k(text: &str) -> Vec<u8> {
    let mut espeak = Command::new("espeak-ng")
        .args(["-v", "en-us", "--stdout"])
        .arg(text)
        .stdout(Stdio::piped())
        .spawn()
        .expect("espeak-ng is missing: run scripts/setup");
    let espeak_out = espeak.stdout.take().expect("espeak-ng's stdout");
    let out = Command::new("sox")
        .args([
            "-t",
            "wav",
            "-",
            "-t",
            "wav",
            "-r",
            "16000",
            "-c",
            "1",
            "-b",
            "16",
            "-e",
            "signed-integer",
            "-",
        ])
        .stdin(espeak_out)
        .output()
        .expect("sox is missing: run scripts/setup");
    let spoke = espeak.wait().is_ok_and(|s| s.success());
    assert!(spoke && out.status.success() && out.stdout.len() > 44, "espeak-ng | sox made no audio");
    out.stdout
}

/// Mono s16 samples at `rate` as WAV file bytes.
pub fn wav_bytes(samples: &[i16], rate: u32) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut cursor = Cursor::new(Vec::new());
    let mut w = hound::WavWriter::new(&mut cursor, spec).expect("a WAV writer over memory");
    for &s in samples {
        w.write_sample(s).expect("writing to memory");
    }
    w.finalize().expect("finishing a WAV in memory");
    cursor.into_inner()
}

/// Lower-case words without punctuation, for comparing transcripts.
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}
