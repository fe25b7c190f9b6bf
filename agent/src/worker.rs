//! The worker entry point: everything a process needs to serve agents — configuration from
//! the environment (and `.env`), logs, the health server, the async runtime, the LiveKit
//! worker, signals and the drain. A developer's whole `main.rs`:
//!
//! ```no_run
//! use voice_agent::agent::{JobInfo, PromptAgent};
//! use voice_agent::worker;
//!
//! fn main() -> std::process::ExitCode {
//!     let config = match worker::config() {
//!         Ok(c) => c,
//!         Err(code) => return code,
//!     };
//!     worker::run(config, |job: &JobInfo| {
//!         PromptAgent::new(format!("You help the caller in room {}.", job.room()), Some("Hi!".into()))
//!     })
//! }
//! ```
//!
//! Each dispatched job gets its own agent from the closure, which sees the job's dispatch
//! metadata, room, and the participant it was dispatched for ([`JobInfo`]).
//!
//! Providers, fallbacks, VAD, turn detection and limits come from the environment unless
//! chosen in code: [`config_with`] hands the environment's choices to a closure as a
//! [`PipelineBuilder`] to override ([`crate::pipeline`]):
//!
//! ```no_run
//! use voice_agent::agent::{JobInfo, PromptAgent};
//! use voice_agent::pipeline::{OpenAiCompatible, TurnDetection};
//! use voice_agent::worker;
//!
//! fn main() -> std::process::ExitCode {
//!     let local = "http://127.0.0.1:8080/v1";
//!     let config = worker::config_with(|p| {
//!         p.llm(OpenAiCompatible::new(local).model("qwen2.5-1.5b-instruct"))
//!             .turn_detection(TurnDetection::Vad)
//!     });
//!     let config = match config {
//!         Ok(c) => c,
//!         Err(code) => return code,
//!     };
//!     worker::run(config, |_: &JobInfo| PromptAgent::new("You are brief.", None))
//! }
//! ```

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use health::{Health, HealthServer, ServerOptions};
use tokio::signal::unix::{SignalKind, signal};

use crate::agent::{Agent, Agents};
use crate::config::Config;
use crate::env::{ConfigError, load_dotenv};
use crate::lifecycle::{DrainOutcome, Lifecycle};
use crate::livekit::job::JobInfo;
use crate::pipeline::PipelineBuilder;
use crate::{app, heartbeat, logging};

/// Exit code for bad configuration or usage (sysexits EX_USAGE).
pub const EX_USAGE: u8 = 64;
/// Exit code when a second signal cuts the drain short.
pub const EX_INTERRUPTED: u8 = 130;

/// The process environment, with `.env` (or `$ENV_FILE`) underneath it.
pub fn environment() -> Result<HashMap<String, String>, String> {
    let mut vars: HashMap<String, String> = std::env::vars().collect();
    let file = vars.get("ENV_FILE").cloned().map(PathBuf::from).unwrap_or_else(|| ".env".into());
    load_dotenv(&file, &mut vars).map_err(|e| e.to_string())?;
    Ok(vars)
}

/// The configuration from the environment and `.env`; every mistake is printed to stderr at
/// once and the error is the exit code to return (64).
pub fn config() -> Result<Config, ExitCode> {
    let vars = environment().map_err(|e| {
        eprintln!("voice-agent: {e}");
        ExitCode::from(EX_USAGE)
    })?;
    Config::from_vars(vars).map_err(|errors| {
        report_config_errors(&errors);
        ExitCode::from(EX_USAGE)
    })
}

/// [`config`], with the pipeline then chosen in code: `choose` gets the environment's choices
/// as a builder and returns it with its own. Mistakes of either are printed to stderr and the
/// error is the exit code to return (64).
pub fn config_with(choose: impl FnOnce(PipelineBuilder) -> PipelineBuilder) -> Result<Config, ExitCode> {
    let config = config()?;
    match choose(config.pipeline.to_builder()).build() {
        Ok(pipeline) => Ok(config.with_pipeline(pipeline)),
        Err(errors) => {
            eprintln!("voice-agent: {errors}");
            Err(ExitCode::from(EX_USAGE))
        }
    }
}

fn report_config_errors(errors: &[ConfigError]) {
    eprintln!("voice-agent: {} configuration error(s):", errors.len());
    for e in errors {
        eprintln!("  - {e}");
    }
    eprintln!("See .env.example for every variable, its meaning and default.");
}

/// Serves jobs until SIGTERM/SIGINT and the drain: each job's agent is `agent(&job)`.
pub fn run<A: Agent>(config: Config, agent: impl Fn(&JobInfo) -> A + Send + Sync + 'static) -> ExitCode {
    run_agents(config, Agents::new(agent))
}

/// [`run`] with the agents already boxed.
pub fn run_agents(config: Config, agents: Agents) -> ExitCode {
    logging::init(config.log_format, &config.log_level, &config.secrets());
    let health = Health::new(config.health.liveness_stale);
    health.set_stats_access(config.health.stats_access());
    // Declared before the server answers, so readiness always lists what it waits for.
    health.set_component("worker", false, "starting");
    health.set_component("vad", false, "starting");
    let server = match HealthServer::start(config.health.addr, health.clone(), ServerOptions::default()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(addr = %config.health.addr, error = %e, "cannot start the health server (HEALTH_ADDR)");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(addr = %server.addr(), "health server listening");
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().thread_name("agent").build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(serve(config, agents, health));
    runtime.shutdown_timeout(Duration::from_secs(1));
    server.stop();
    code
}

async fn serve(config: Config, agents: Agents, health: Health) -> ExitCode {
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt()))
    else {
        tracing::error!("cannot install signal handlers");
        return ExitCode::FAILURE;
    };
    heartbeat::spawn(health.clone(), Duration::from_secs(1));
    let lifecycle = Lifecycle::new();
    let drain_timeout = config.worker.drain_timeout;
    // The app and every job run on the lifecycle's tracker: the drain ends when the worker
    // and its jobs are done.
    lifecycle.jobs.spawn(app::run(config, agents, health.clone(), lifecycle.clone()));

    let which = tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    };
    tracing::info!(signal = which, timeout_s = drain_timeout.as_secs_f64(), "draining: no new jobs");
    health.start_draining();
    let outcome = tokio::select! {
        o = lifecycle.drain(drain_timeout) => o,
        _ = term.recv() => return second_signal(),
        _ = int.recv() => return second_signal(),
    };
    match outcome {
        DrainOutcome::Clean => tracing::info!("drained: every job finished"),
        DrainOutcome::TimedOut => {
            tracing::warn!("drain timeout passed; stopping the remaining jobs");
            // Aborted jobs report JS_FAILED and leave their rooms; give them a moment.
            let _ = tokio::time::timeout(Duration::from_secs(6), lifecycle.jobs.wait()).await;
        }
    }
    ExitCode::SUCCESS
}

fn second_signal() -> ExitCode {
    tracing::warn!("second signal: exiting now");
    ExitCode::from(EX_INTERRUPTED)
}
