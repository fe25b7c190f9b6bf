//! The `voice-agent` binary: `run` (default), `healthcheck`, `check-config`, `version`.
//!
//! `run` is one app on the library's worker API ([`voice_agent::worker`]): every job's agent
//! is a [`PromptAgent`] of `SYSTEM_PROMPT` and `GREETING` (no tools) — configured by
//! environment, for operators.

use std::process::ExitCode;
use std::time::Duration;

use voice_agent::agent::PromptAgent;
use voice_agent::worker::{self, EX_USAGE};

const USAGE: &str = "usage: voice-agent [run | healthcheck | check-config | version | help]

  run           register with LiveKit and serve rooms (default)
  healthcheck   probe the local liveness endpoint (HEALTH_ADDR); exit 0 if healthy, else 1
  check-config  parse the configuration, print every problem, exit 0 or 64
  version       print the version

Configuration comes from the environment and an optional .env file (ENV_FILE to name another);
see .env.example for every variable.";

fn main() -> ExitCode {
    let arg = std::env::args().nth(1);
    match arg.as_deref() {
        None | Some("run") => run(),
        Some("healthcheck") => healthcheck(),
        Some("check-config") => match worker::config() {
            Ok(_) => {
                println!("configuration ok");
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        Some("version" | "--version" | "-V") => {
            println!("voice-agent {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some("help" | "--help" | "-h") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("voice-agent: unknown command {other:?}\n\n{USAGE}");
            ExitCode::from(EX_USAGE)
        }
    }
}

fn healthcheck() -> ExitCode {
    let addr = worker::environment()
        .ok()
        .and_then(|v| v.get("HEALTH_ADDR").cloned())
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let Ok(addr) = addr.trim().parse() else {
        eprintln!("healthcheck: HEALTH_ADDR={addr:?} is not an address like 0.0.0.0:8080");
        return ExitCode::from(EX_USAGE);
    };
    match health::probe::get_status(addr, "/healthz", Duration::from_secs(3)) {
        Ok(200) => ExitCode::SUCCESS,
        Ok(code) => {
            eprintln!("healthcheck: /healthz answered {code}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("healthcheck: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> ExitCode {
    let config = match worker::config() {
        Ok(c) => c,
        Err(code) => return code,
    };
    let (prompt, greeting) = (config.session.system_prompt.clone(), config.session.greeting.clone());
    worker::run(config, move |_| PromptAgent::new(prompt.clone(), greeting.clone()))
}
