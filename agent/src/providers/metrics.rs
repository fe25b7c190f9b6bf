//! Prometheus series for provider calls: latency, time to first token/byte, errors, and which
//! endpoint served. Labels are the capability, the endpoint name from configuration and a
//! fixed error word — never a user id.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::Capability;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProviderLabels {
    capability: &'static str,
    provider: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    capability: &'static str,
    provider: String,
    kind: &'static str,
}

type Histograms = Family<ProviderLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 10 ms … ~20 s.
    Histogram::new([0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0])
}

/// Handles to the provider series; cheap to clone.
#[derive(Clone, Debug)]
pub struct ProviderMetrics {
    duration: Histograms,
    first: Histograms,
    errors: Family<ErrorLabels, Counter>,
    served: Family<ProviderLabels, Counter>,
}

impl Default for ProviderMetrics {
    fn default() -> Self {
        Self {
            duration: Family::new_with_constructor(latency_histogram),
            first: Family::new_with_constructor(latency_histogram),
            errors: Family::default(),
            served: Family::default(),
        }
    }
}

/// Registers the provider series in `registry` and returns their handles.
pub fn register_metrics(registry: &mut Registry) -> ProviderMetrics {
    let m = ProviderMetrics::default();
    registry.register(
        "provider_request_duration_seconds",
        "Provider call duration, start to last byte",
        m.duration.clone(),
    );
    registry.register(
        "provider_first_byte_seconds",
        "Time to first token (LLM), first audio byte (TTS) or the answer (STT)",
        m.first.clone(),
    );
    registry.register("provider_errors", "Provider attempts that failed, by kind", m.errors.clone());
    registry.register("provider_served", "Calls served, by the endpoint that served them", m.served.clone());
    m
}

impl ProviderMetrics {
    fn labels(cap: Capability, provider: &str) -> ProviderLabels {
        ProviderLabels { capability: cap.as_str(), provider: provider.to_owned() }
    }

    /// A call's first token/byte arrived after `d`.
    pub fn first_byte(&self, cap: Capability, provider: &str, d: Duration) {
        self.first.get_or_create(&Self::labels(cap, provider)).observe(d.as_secs_f64());
    }

    /// A call finished after `d`, served by `provider`.
    pub fn served(&self, cap: Capability, provider: &str, d: Duration) {
        let l = Self::labels(cap, provider);
        self.duration.get_or_create(&l).observe(d.as_secs_f64());
        self.served.get_or_create(&l).inc();
    }

    /// An attempt failed.
    pub fn error(&self, cap: Capability, provider: &str, kind: &'static str) {
        self.errors
            .get_or_create(&ErrorLabels { capability: cap.as_str(), provider: provider.to_owned(), kind })
            .inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_have_their_names() {
        let mut registry = Registry::default();
        let m = register_metrics(&mut registry);
        m.first_byte(Capability::Llm, "llm:a/m", Duration::from_millis(120));
        m.served(Capability::Llm, "llm:a/m", Duration::from_millis(800));
        m.error(Capability::Tts, "tts:b/t", "timeout");
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        for line in [
            r#"provider_served_total{capability="llm",provider="llm:a/m"} 1"#,
            r#"provider_errors_total{capability="tts",provider="tts:b/t",kind="timeout"} 1"#,
            r#"provider_first_byte_seconds_count{capability="llm",provider="llm:a/m"} 1"#,
            r#"provider_request_duration_seconds_count{capability="llm",provider="llm:a/m"} 1"#,
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
    }
}
