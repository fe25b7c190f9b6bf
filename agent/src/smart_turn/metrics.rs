//! Smart Turn metrics: run time (features and model), batch sizes, predictions
//! ([`ModelRuns`]), requests skipped, refused or too late, failures.
//!
//! One set per process (the model is loaded once); [`register_metrics`] exposes it. No label
//! carries a stream or user identity.

use std::sync::LazyLock;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;

use crate::vad::model_runs::{ModelRuns, RunHelp};

/// The process-wide Smart Turn metrics.
#[derive(Debug, Clone)]
pub struct TurnModelMetrics {
    /// Runs: features of every item plus one model run; the items scored are predictions.
    pub runs: ModelRuns,
    /// Requests withdrawn before their run (the speaker went on).
    pub skipped: Counter,
    /// Requests refused because the queue was full.
    pub busy: Counter,
    /// Requests dropped unscored after waiting their longest wait (the pause already ended on
    /// silence).
    pub late: Counter,
}

static METRICS: LazyLock<TurnModelMetrics> = LazyLock::new(|| TurnModelMetrics {
    // Runs of 2 ms … ~4 s; batches of 1 … 64.
    runs: ModelRuns::new(0.002, 7),
    skipped: Counter::default(),
    busy: Counter::default(),
    late: Counter::default(),
});

/// The handles the service updates.
pub fn metrics() -> &'static TurnModelMetrics {
    &METRICS
}

/// Registers the metrics (prefix `smart_turn_`).
pub fn register_metrics(registry: &mut Registry) {
    let m = metrics().clone();
    let help = RunHelp {
        inference_seconds: "Seconds per Smart Turn run (features and model; one run scores a batch)",
        batch_size: "Requests scored per Smart Turn run",
        scored: ("predictions", "End-of-turn predictions made"),
        inference_errors: "Smart Turn runs that failed",
    };
    let r = m.runs.register(registry, "smart_turn", help);
    r.register("skipped", "Requests withdrawn before their run (the speaker went on)", m.skipped);
    r.register("busy", "Requests refused because the queue was full", m.busy);
    r.register("late", "Requests dropped unscored after waiting TURN_MODEL_WAIT_SECS", m.late);
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn metrics_are_exposed_with_the_prefix() {
        let mut registry = Registry::default();
        register_metrics(&mut registry);
        metrics().runs.record(Duration::from_millis(40), 2);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        for name in [
            "smart_turn_inference_seconds_bucket",
            "smart_turn_batch_size_sum",
            "smart_turn_predictions_total",
            "smart_turn_inference_errors_total",
        ] {
            assert!(text.contains(name), "{name} missing from\n{text}");
        }
    }
}
