//! The application: everything the worker process runs on the async runtime.
//!
//! Loads the VAD model (readiness waits for it) and runs until the lifecycle says to drain.
//! The LiveKit worker plugs in here.

use health::Health;

use crate::config::Config;
use crate::lifecycle::Lifecycle;
use crate::vad::Vad;

/// Runs the agent until draining completes.
pub async fn run(config: Config, health: Health, lifecycle: Lifecycle) {
    health.set_component("worker", false, format!("not registered with {}", config.livekit.url));
    health.set_component("vad", false, "loading the Silero model");
    health.with_registry(crate::vad::metrics::register_metrics);
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
    lifecycle.draining.cancelled().await;
}
