//! VAD metrics: inference time, windows scored, batch sizes ([`ModelRuns`]), repaired or
//! refused input.
//!
//! One set per process (the model is loaded once); [`register_metrics`] exposes it. No
//! label carries a stream or user identity.

use std::sync::LazyLock;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;

use super::model_runs::{ModelRuns, RunHelp};

/// The process-wide VAD metrics.
#[derive(Debug, Clone)]
pub struct VadMetrics {
    /// Model runs (one run scores a whole batch of streams); the items scored are windows (one
    /// per stream per 32 ms of audio).
    pub runs: ModelRuns,
    /// Input frames refused as unusable.
    pub refused_frames: Counter,
    /// Input samples repaired (NaN/Inf silenced, beyond full scale clipped).
    pub repaired_samples: Counter,
}

static METRICS: LazyLock<VadMetrics> = LazyLock::new(|| VadMetrics {
    // Runs of 25 µs … ~50 ms; batches of 1 … 256 streams.
    runs: ModelRuns::new(25e-6, 9),
    refused_frames: Counter::default(),
    repaired_samples: Counter::default(),
});

/// The handles the VAD updates.
pub fn metrics() -> &'static VadMetrics {
    &METRICS
}

/// Registers the VAD metrics (prefix `vad_`).
pub fn register_metrics(registry: &mut Registry) {
    let m = metrics().clone();
    let help = RunHelp {
        inference_seconds: "Seconds per Silero model run (one run scores a batch)",
        batch_size: "Streams scored per Silero model run",
        scored: ("windows", "32 ms windows scored"),
        inference_errors: "Silero model runs that failed",
    };
    let r = m.runs.register(registry, "vad", help);
    r.register("refused_frames", "Input frames refused as unusable", m.refused_frames);
    r.register(
        "repaired_samples",
        "Input samples repaired (NaN/Inf silenced or clipped)",
        m.repaired_samples,
    );
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn metrics_are_exposed_with_the_prefix() {
        let mut registry = Registry::default();
        register_metrics(&mut registry);
        metrics().runs.record(Duration::from_micros(80), 3);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        for name in [
            "vad_inference_seconds_bucket",
            "vad_batch_size_sum",
            "vad_windows_total",
            "vad_refused_frames_total",
            "vad_inference_errors_total",
        ] {
            assert!(text.contains(name), "{name} missing from\n{text}");
        }
    }
}
