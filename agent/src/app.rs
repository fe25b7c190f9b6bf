//! The application: everything the worker process runs on the async runtime.
//!
//! Loads the VAD model (and Smart Turn, with `TURN_DETECTION=smart`), runs the LiveKit
//! worker, and keeps the readiness components in step with them, until the lifecycle says to
//! drain and the worker has drained.

use std::sync::Arc;
use std::time::Duration;

use health::Health;

use crate::agent::Agents;
use crate::config::{AgentMode, Config};
use crate::lifecycle::Lifecycle;
use crate::limits::limiter::Limiter;
use crate::livekit::echo::EchoHandler;
use crate::livekit::job::JobHandler;
use crate::livekit::worker::{WorkerControl, WorkerSettings, WorkerStatus, WorkerStatusHandle, run_worker};
use crate::providers::Providers;
use crate::session::SessionHandler;
use crate::session::echo::AnnouncedEcho;
use crate::smart_turn::{SmartTurn, TurnDetection, TurnDetector};
use crate::vad::{Vad, VadService};

/// Runs the worker until draining completes; voice sessions run the agents of `agents`.
pub async fn run(config: Config, agents: Agents, health: Health, lifecycle: Lifecycle) {
    health.set_component("worker", false, format!("connecting to {}", config.livekit.url));
    health.set_component("vad", false, "loading the Silero model");
    health.with_registry(crate::vad::metrics::register_metrics);
    health.with_registry(crate::smart_turn::register_metrics);
    health.with_registry(crate::livekit::metrics::register_metrics);
    let resilience = health.with_registry(crate::limits::metrics::register_metrics);
    health.with_registry(crate::session::register_metrics);
    health.with_registry(crate::tools::register_metrics);
    let worker_id = format!("{}-{}", hostname(), std::process::id());
    let limiter =
        match Limiter::new(config.pipeline.limits(), resilience.clone(), &worker_id, crate::clock::now()) {
            Ok(l) => Arc::new(l),
            Err(e) => {
                // REDIS_URL was validated by configuration; this is a client-side failure.
                tracing::error!(error = %e, "cannot set up the Redis limit store");
                health.set_component("limits", false, e.to_string());
                lifecycle.draining.cancelled().await;
                return;
            }
        };
    let maintenance = limiter.spawn_maintenance(Duration::from_secs(5));
    crate::stats::install(&health, limiter.clone());

    let models = config.models.clone();
    let loaded = tokio::task::spawn_blocking(move || Vad::load(&models.ort_dylib, &models.vad_model)).await;
    let vad = match loaded {
        Ok(Ok(vad)) => {
            health.set_component("vad", true, "Silero model loaded");
            Some(vad)
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "cannot load the VAD model");
            health.set_component("vad", false, e.to_string());
            None
        }
        Err(e) => {
            health.set_component("vad", false, format!("model loading failed: {e}"));
            None
        }
    };

    let handler: Arc<dyn JobHandler> = match config.worker.mode {
        AgentMode::Echo => Arc::new(EchoHandler::new(config.worker.echo_delay)),
        AgentMode::Voice => {
            let turn = load_end_of_turn(&config, &health).await;
            voice_handler(&config, agents, &health, limiter.clone(), resilience, vad, turn)
        }
    };
    let status = WorkerStatus::new_handle();
    let lk = &config.livekit;
    let settings = WorkerSettings {
        max_jobs: config.worker.max_jobs,
        load_threshold: config.worker.load_threshold,
        ..WorkerSettings::new(&lk.url, &lk.api_key, lk.api_secret.expose(), &lk.agent_name)
    };
    let mirror = tokio::spawn(mirror_worker_status(status.clone(), health.clone()));
    let control = WorkerControl {
        draining: lifecycle.draining.clone(),
        abort: lifecycle.abort.clone(),
        jobs: lifecycle.jobs.clone(),
    };
    run_worker(settings, handler, status, control).await;
    mirror.abort();
    maintenance.abort();
    health.set_component("worker", false, "stopped");
}

/// Smart Turn's service with `TURN_DETECTION=smart` (or [`TurnDetection::Smart`] chosen in
/// code). Without it (not wanted, or it cannot load: component `turn` says why) sessions end
/// turns on silence alone.
async fn load_end_of_turn(config: &Config, health: &Health) -> Option<TurnDetector> {
    let turn = config.pipeline.turn();
    if turn.mode != TurnDetection::Smart {
        return None;
    }
    health.set_component("turn", false, "loading the Smart Turn model");
    let (ort, model, threads) = (config.models.ort_dylib.clone(), turn.model.clone(), turn.threads);
    let loaded = tokio::task::spawn_blocking(move || SmartTurn::load(&ort, &model, threads)).await;
    let why = match loaded {
        // A verdict is of use until the turn machine ends the pause without it.
        Ok(Ok(model)) => match TurnDetector::start(model, turn.max_batch, turn_wait(config)) {
            Ok(detector) => {
                health.set_component("turn", true, "Smart Turn model loaded");
                return Some(detector);
            }
            Err(e) => format!("cannot start the Smart Turn thread: {e}"),
        },
        Ok(Err(e)) => e.to_string(),
        Err(e) => format!("model loading failed: {e}"),
    };
    // Turns still end (on silence); readiness shows the degradation to operators.
    tracing::error!(error = %why, "no Smart Turn: turns end on silence alone");
    health.set_component("turn", false, why);
    None
}

/// How long a pause's question to Smart Turn stays of use: the turn machine waits for its
/// verdict `TURN_MODEL_WAIT_SECS` after asking, and never answers before
/// `ENDPOINTING_DELAY_SECS` anyway.
fn turn_wait(config: &Config) -> std::time::Duration {
    config.pipeline.turn().endpointing.model_wait.max(config.session.turn.endpointing_delay)
}

/// The voice session — or, when no provider is configured (or the VAD is missing), echo mode
/// that announces itself.
fn voice_handler(
    config: &Config,
    agents: Agents,
    health: &Health,
    limiter: Arc<Limiter>,
    resilience: crate::limits::ResilienceMetrics,
    vad: Option<Vad>,
    turn: Option<TurnDetector>,
) -> Arc<dyn JobHandler> {
    let echo = || Arc::new(AnnouncedEcho::new(config.worker.echo_delay)) as Arc<dyn JobHandler>;
    let p = config.pipeline.providers();
    if p.llm.endpoints.is_empty() && p.stt.endpoints.is_empty() && p.tts.endpoints.is_empty() {
        tracing::warn!(
            "AGENT_MODE=voice but no provider is configured: {}",
            crate::session::echo::ANNOUNCEMENT
        );
        return echo();
    }
    let provider_metrics = health.with_registry(crate::providers::register_metrics);
    let providers = match Providers::new(p, limiter.clone(), resilience, provider_metrics) {
        Ok(p) => Arc::new(p),
        Err(e) => {
            tracing::error!(error = %e, "cannot set up the providers; running echo mode");
            return echo();
        }
    };
    publish_provider_health(health, &providers);
    let vad_config = config.pipeline.vad();
    let service = vad.map(|v| VadService::start(v, vad_config.max_batch));
    let Some(Ok(service)) = service else {
        tracing::error!("no VAD: voice mode cannot listen; running echo mode");
        return echo();
    };
    let handler = SessionHandler::new(
        agents,
        config.session_config(),
        providers,
        p,
        limiter,
        service,
        vad_config.segmenter,
    );
    Arc::new(match turn {
        Some(detector) => handler.with_end_of_turn(Arc::new(detector)),
        None => handler,
    })
}

/// `/readyz` shows each provider breaker (section `providers`), and the `providers` component
/// is unready while some endpoint refuses our credentials: an open breaker is not unreadiness
/// (fallbacks and spoken notices cover it), but a wrong key needs an operator.
fn publish_provider_health(health: &Health, providers: &Arc<Providers>) {
    let p = providers.clone();
    health.add_section("providers", Box::new(move || p.readiness(crate::clock::now())));
    let check = |p: &Providers, h: &Health| {
        if p.auth_failed() {
            h.set_component("providers", false, "a provider refuses the API key (401/403)");
        } else {
            h.set_component("providers", true, "no provider refuses our credentials");
        }
    };
    check(providers, health);
    let (p, h) = (Arc::downgrade(providers), health.clone());
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            let Some(p) = p.upgrade() else { return };
            check(&p, &h);
        }
    });
}

/// Follows the worker's registration into the readiness component.
async fn mirror_worker_status(status: WorkerStatusHandle, health: Health) {
    let mut registration = status.watch();
    loop {
        let r = registration.borrow_and_update().clone();
        health.set_component("worker", r.registered, r.detail);
        if registration.changed().await.is_err() {
            return;
        }
    }
}

/// This host's name, for the worker id in shared limit state.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "worker".to_owned())
}
