//! The application: everything the worker process runs on the async runtime.
//!
//! Registers readiness components and runs until the lifecycle says to drain. The LiveKit
//! worker and the VAD model plug in here.

use health::Health;

use crate::config::Config;
use crate::lifecycle::Lifecycle;

/// Runs the agent until draining completes.
pub async fn run(config: Config, health: Health, lifecycle: Lifecycle) {
    health.set_component("worker", false, format!("not registered with {}", config.livekit.url));
    lifecycle.draining.cancelled().await;
}
