//! The async runtime's heartbeat, which liveness checks.
//!
//! If the runtime is saturated or wedged, this task stops running, the heartbeat goes stale
//! and `/healthz` answers 503, so Docker or Kubernetes restarts the container.

use std::time::Duration;

use health::Health;

/// Beats `health` every `period` on the current runtime until the task is dropped.
pub fn spawn(health: Health, period: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tick.tick().await;
            health.beat();
        }
    })
}
