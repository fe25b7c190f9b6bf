//! The front desk as a LiveKit worker — the whole program. Configured like the `voice-agent`
//! binary (environment and `.env`; `AGENT_MODE=voice` and providers, see `.env.example`);
//! `scripts/dev --example front-desk` runs it against a local server and the offline stack.

use std::process::ExitCode;

use front_desk::FrontDesk;
use voice_agent::worker;

fn main() -> ExitCode {
    let config = match worker::config() {
        Ok(c) => c,
        Err(code) => return code,
    };
    worker::run(config, FrontDesk::new)
}
