//! The `voice-agent` binary: `run` (default), `healthcheck`, `check-config`, `version`.
//!
//! `run`: configuration (all errors at once, exit 64) → health thread → async runtime
//! (heartbeat, worker) → signals → drain → exit 0.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use health::{Health, HealthServer, ServerOptions};
use tokio::signal::unix::{SignalKind, signal};
use voice_agent::config::Config;
use voice_agent::env::{ConfigError, load_dotenv};
use voice_agent::lifecycle::{DrainOutcome, Lifecycle};
use voice_agent::{app, heartbeat, logging};

/// Exit code for bad configuration or usage (sysexits EX_USAGE).
const EX_USAGE: u8 = 64;
/// Exit code when a second signal cuts the drain short.
const EX_INTERRUPTED: u8 = 130;

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
        Some("check-config") => match load_config() {
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

/// The process environment, with `.env` (or `$ENV_FILE`) underneath it.
fn environment() -> Result<HashMap<String, String>, String> {
    let mut vars: HashMap<String, String> = std::env::vars().collect();
    let file = vars.get("ENV_FILE").cloned().map(PathBuf::from).unwrap_or_else(|| ".env".into());
    load_dotenv(&file, &mut vars).map_err(|e| e.to_string())?;
    Ok(vars)
}

fn load_config() -> Result<Config, ExitCode> {
    let vars = environment().map_err(|e| {
        eprintln!("voice-agent: {e}");
        ExitCode::from(EX_USAGE)
    })?;
    Config::from_vars(vars).map_err(|errors| {
        report_config_errors(&errors);
        ExitCode::from(EX_USAGE)
    })
}

fn report_config_errors(errors: &[ConfigError]) {
    eprintln!("voice-agent: {} configuration error(s):", errors.len());
    for e in errors {
        eprintln!("  - {e}");
    }
    eprintln!("See .env.example for every variable, its meaning and default.");
}

fn healthcheck() -> ExitCode {
    let addr = environment()
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
    let config = match load_config() {
        Ok(c) => c,
        Err(code) => return code,
    };
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
    let code = runtime.block_on(serve(config, health));
    runtime.shutdown_timeout(Duration::from_secs(1));
    server.stop();
    code
}

async fn serve(config: Config, health: Health) -> ExitCode {
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
    lifecycle.jobs.spawn(app::run(config, health.clone(), lifecycle.clone()));

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
