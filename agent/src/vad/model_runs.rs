//! What a local model's runs report, one shape for the Silero VAD and Smart Turn: seconds per
//! run, items per run (a batch), items scored and failed runs, each model's set registered
//! under its own prefix with its own help texts.

use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// One model's run metrics.
#[derive(Debug, Clone)]
pub struct ModelRuns {
    /// Seconds per run (one run scores a whole batch).
    pub inference_seconds: Histogram,
    /// Items scored per run.
    pub batch_size: Histogram,
    /// Items scored.
    pub scored: Counter,
    /// Runs that failed.
    pub inference_errors: Counter,
}

/// How a model's runs are exposed: the help texts, and the name of its scored counter.
#[derive(Debug, Clone, Copy)]
pub struct RunHelp {
    /// Help of `inference_seconds`.
    pub inference_seconds: &'static str,
    /// Help of `batch_size`.
    pub batch_size: &'static str,
    /// Name and help of the counter of items scored.
    pub scored: (&'static str, &'static str),
    /// Help of `inference_errors`.
    pub inference_errors: &'static str,
}

impl ModelRuns {
    /// Run times in 12 buckets doubling from `fastest_secs`; batch sizes in `batch_buckets`
    /// doubling from 1.
    pub fn new(fastest_secs: f64, batch_buckets: u16) -> Self {
        Self {
            inference_seconds: Histogram::new(exponential_buckets(fastest_secs, 2.0, 12)),
            batch_size: Histogram::new(exponential_buckets(1.0, 2.0, batch_buckets)),
            scored: Counter::default(),
            inference_errors: Counter::default(),
        }
    }

    /// One run scored `batch` items in `elapsed`.
    pub fn record(&self, elapsed: Duration, batch: usize) {
        self.inference_seconds.observe(elapsed.as_secs_f64());
        self.batch_size.observe(batch as f64);
        self.scored.inc_by(batch as u64);
    }

    /// Registers the runs' metrics in `registry` under the model's `prefix`; returns that
    /// prefixed registry, for the model's other metrics.
    pub fn register<'r>(&self, registry: &'r mut Registry, prefix: &str, help: RunHelp) -> &'r mut Registry {
        let r = registry.sub_registry_with_prefix(prefix);
        let m = self.clone();
        r.register("inference_seconds", help.inference_seconds, m.inference_seconds);
        r.register("batch_size", help.batch_size, m.batch_size);
        r.register(help.scored.0, help.scored.1, m.scored);
        r.register("inference_errors", help.inference_errors, m.inference_errors);
        r
    }
}
