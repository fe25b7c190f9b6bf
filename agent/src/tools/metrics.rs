//! Tool-call metrics: `voice_tool_calls_total{tool,outcome}` and
//! `voice_tool_duration_seconds{tool}`. The `tool` label is a registered tool's name (the
//! developer's, so bounded) or `unknown` for names the LLM made up; no label carries a room
//! or a user.

use std::sync::OnceLock;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::outcome::ToolOutcome;

/// Labels of the call counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    /// The tool's name, or `unknown`.
    pub tool: String,
    /// [`ToolOutcome::as_str`].
    pub outcome: &'static str,
}

/// Labels of the duration histogram.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ToolLabel {
    /// The tool's name.
    pub tool: String,
}

fn new_histogram() -> Histogram {
    Histogram::new([0.01, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0])
}

/// The tool metrics.
#[derive(Debug, Clone)]
pub struct ToolMetrics {
    /// Calls by tool and outcome.
    pub calls: Family<CallLabels, Counter>,
    /// Time from call to result, seconds, by tool.
    pub duration: Family<ToolLabel, Histogram, fn() -> Histogram>,
}

impl ToolMetrics {
    fn new() -> Self {
        Self {
            calls: Family::default(),
            duration: Family::new_with_constructor(new_histogram as fn() -> Histogram),
        }
    }

    /// Counts one call.
    pub fn record(&self, tool: &str, outcome: ToolOutcome, took: Duration) {
        self.calls.get_or_create(&CallLabels { tool: tool.to_owned(), outcome: outcome.as_str() }).inc();
        if outcome != ToolOutcome::UnknownTool {
            self.duration.get_or_create(&ToolLabel { tool: tool.to_owned() }).observe(took.as_secs_f64());
        }
    }

    /// Calls of `tool` that ended with `outcome` so far.
    pub fn count(&self, tool: &str, outcome: ToolOutcome) -> u64 {
        self.calls.get_or_create(&CallLabels { tool: tool.to_owned(), outcome: outcome.as_str() }).get()
    }
}

/// The process's tool metrics.
pub fn metrics() -> &'static ToolMetrics {
    static M: OnceLock<ToolMetrics> = OnceLock::new();
    M.get_or_init(ToolMetrics::new)
}

/// Registers the tool metrics.
pub fn register_metrics(registry: &mut Registry) {
    let m = metrics().clone();
    registry.register("voice_tool_calls", "Tool calls by tool and outcome", m.calls);
    registry.register("voice_tool_duration_seconds", "Tool call to result, seconds", m.duration);
}
