//! Smart Turn metrics: run time (features and model), batch sizes, predictions, requests
//! skipped, refused or too late, failures.
//!
//! One set per process (the model is loaded once); [`register_metrics`] exposes it. No label
//! carries a stream or user identity.

use std::sync::LazyLock;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The process-wide Smart Turn metrics.
#[derive(Debug, Clone)]
pub struct TurnModelMetrics {
    /// Seconds per run: features of every item plus one model run.
    pub inference_seconds: Histogram,
    /// Requests scored per run.
    pub batch_size: Histogram,
    /// Requests scored.
    pub predictions: Counter,
    /// Requests withdrawn before their run (the speaker went on).
    pub skipped: Counter,
    /// Requests refused because the queue was full.
    pub busy: Counter,
    /// Requests dropped unscored after waiting their longest wait (the pause already ended on
    /// silence).
    pub late: Counter,
    /// Runs that failed.
    pub inference_errors: Counter,
}

static METRICS: LazyLock<TurnModelMetrics> = LazyLock::new(|| TurnModelMetrics {
    // 2 ms … ~4 s.
    inference_seconds: Histogram::new(exponential_buckets(0.002, 2.0, 12)),
    batch_size: Histogram::new(exponential_buckets(1.0, 2.0, 7)),
    predictions: Counter::default(),
    skipped: Counter::default(),
    busy: Counter::default(),
    late: Counter::default(),
    inference_errors: Counter::default(),
});

/// The handles the service updates.
pub fn metrics() -> &'static TurnModelMetrics {
    &METRICS
}

pub(crate) fn record_run(elapsed: Duration, batch: usize) {
    let m = metrics();
    m.inference_seconds.observe(elapsed.as_secs_f64());
    m.batch_size.observe(batch as f64);
    m.predictions.inc_by(batch as u64);
}

/// Registers the metrics (prefix `smart_turn_`).
pub fn register_metrics(registry: &mut Registry) {
    let m = metrics().clone();
    let r = registry.sub_registry_with_prefix("smart_turn");
    r.register(
        "inference_seconds",
        "Seconds per Smart Turn run (features and model; one run scores a batch)",
        m.inference_seconds,
    );
    r.register("batch_size", "Requests scored per Smart Turn run", m.batch_size);
    r.register("predictions", "End-of-turn predictions made", m.predictions);
    r.register("skipped", "Requests withdrawn before their run (the speaker went on)", m.skipped);
    r.register("busy", "Requests refused because the queue was full", m.busy);
    r.register("late", "Requests dropped unscored after waiting TURN_MODEL_WAIT_SECS", m.late);
    r.register("inference_errors", "Smart Turn runs that failed", m.inference_errors);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_exposed_with_the_prefix() {
        let mut registry = Registry::default();
        register_metrics(&mut registry);
        record_run(Duration::from_millis(40), 2);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        for name in [
            "smart_turn_inference_seconds_bucket",
            "smart_turn_batch_size_sum",
            "smart_turn_predictions_total",
        ] {
            assert!(text.contains(name), "{name} missing from\n{text}");
        }
    }
}
