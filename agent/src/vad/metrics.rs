//! VAD metrics: inference time, windows scored, batch sizes, repaired or refused input.
//!
//! One set per process (the model is loaded once); [`register_metrics`] exposes it. No
//! label carries a stream or user identity.

use std::sync::LazyLock;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The process-wide VAD metrics.
#[derive(Debug, Clone)]
pub struct VadMetrics {
    /// Seconds per model run (one run scores a whole batch).
    pub inference_seconds: Histogram,
    /// Streams scored per model run.
    pub batch_size: Histogram,
    /// Windows scored (one per stream per 32 ms of audio).
    pub windows: Counter,
    /// Input frames refused as unusable.
    pub refused_frames: Counter,
    /// Input samples repaired (NaN/Inf silenced, beyond full scale clipped).
    pub repaired_samples: Counter,
    /// Model runs that failed.
    pub inference_errors: Counter,
}

static METRICS: LazyLock<VadMetrics> = LazyLock::new(|| VadMetrics {
    // 25 µs … ~50 ms.
    inference_seconds: Histogram::new(exponential_buckets(25e-6, 2.0, 12)),
    batch_size: Histogram::new(exponential_buckets(1.0, 2.0, 9)),
    windows: Counter::default(),
    refused_frames: Counter::default(),
    repaired_samples: Counter::default(),
    inference_errors: Counter::default(),
});

/// The handles the VAD updates.
pub fn metrics() -> &'static VadMetrics {
    &METRICS
}

pub(crate) fn record_run(elapsed: Duration, batch: usize) {
    let m = metrics();
    m.inference_seconds.observe(elapsed.as_secs_f64());
    m.batch_size.observe(batch as f64);
    m.windows.inc_by(batch as u64);
}

/// Registers the VAD metrics (prefix `vad_`).
pub fn register_metrics(registry: &mut Registry) {
    let m = metrics().clone();
    let r = registry.sub_registry_with_prefix("vad");
    r.register(
        "inference_seconds",
        "Seconds per Silero model run (one run scores a batch)",
        m.inference_seconds,
    );
    r.register("batch_size", "Streams scored per Silero model run", m.batch_size);
    r.register("windows", "32 ms windows scored", m.windows);
    r.register("refused_frames", "Input frames refused as unusable", m.refused_frames);
    r.register(
        "repaired_samples",
        "Input samples repaired (NaN/Inf silenced or clipped)",
        m.repaired_samples,
    );
    r.register("inference_errors", "Silero model runs that failed", m.inference_errors);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_exposed_with_the_prefix() {
        let mut registry = Registry::default();
        register_metrics(&mut registry);
        record_run(Duration::from_micros(80), 3);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        for name in [
            "vad_inference_seconds_bucket",
            "vad_batch_size_sum",
            "vad_windows_total",
            "vad_refused_frames_total",
        ] {
            assert!(text.contains(name), "{name} missing from\n{text}");
        }
    }
}
