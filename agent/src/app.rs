//! The application: everything the worker process runs on the async runtime.
//!
//! Loads the VAD model, runs the LiveKit worker, and keeps the readiness components in step
//! with both, until the lifecycle says to drain and the worker has drained.

use std::sync::Arc;
use std::time::Duration;

use health::Health;

use crate::config::{AgentMode, Config};
use crate::lifecycle::Lifecycle;
use crate::limits::limiter::Limiter;
use crate::livekit::echo::EchoHandler;
use crate::livekit::job::JobHandler;
use crate::livekit::worker::{WorkerControl, WorkerSettings, WorkerStatus, WorkerStatusHandle, run_worker};
use crate::vad::Vad;

/// Runs the agent until draining completes.
pub async fn run(config: Config, health: Health, lifecycle: Lifecycle) {
    health.set_component("worker", false, format!("connecting to {}", config.livekit.url));
    health.set_component("vad", false, "loading the Silero model");
    health.with_registry(crate::vad::metrics::register_metrics);
    health.with_registry(crate::livekit::metrics::register_metrics);
    let resilience = health.with_registry(crate::limits::metrics::register_metrics);
    let worker_id = format!("{}-{}", hostname(), std::process::id());
    let limiter = match Limiter::new(&config.limits, resilience, &worker_id, crate::clock::now()) {
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
    match loaded {
        Ok(Ok(_vad)) => health.set_component("vad", true, "Silero model loaded"),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "cannot load the VAD model");
            health.set_component("vad", false, e.to_string());
        }
        Err(e) => health.set_component("vad", false, format!("model loading failed: {e}")),
    }

    let handler: Arc<dyn JobHandler> = match config.worker.mode {
        AgentMode::Echo => Arc::new(EchoHandler::new(config.worker.echo_delay)),
        // Refused by configuration until the voice session exists; never reached.
        AgentMode::Voice => Arc::new(EchoHandler::new(config.worker.echo_delay)),
    };
    let status = WorkerStatus::new_handle();
    let settings = WorkerSettings::new(&config.livekit, &config.worker);
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
