//! Prometheus metrics of the LiveKit layer.
//!
//! The handles live in one process-wide [`Metrics`] (cheap atomics behind `Arc`s), so the hot
//! media path only touches counters; [`register_metrics`] hands clones to the registry the
//! health server exposes. No label carries a room, job or user id.

use std::sync::OnceLock;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Labels of the job-rejection counter: `reason` ∈ {full, overloaded, draining}.
pub type ReasonLabel = [(&'static str, &'static str); 1];

/// All metrics of the LiveKit layer.
#[derive(Debug, Clone)]
pub struct Metrics {
    /// Availability offers accepted.
    pub jobs_accepted: Counter,
    /// Availability offers refused, by reason.
    pub jobs_rejected: Family<ReasonLabel, Counter>,
    /// Jobs running now.
    pub jobs_running: Gauge,
    /// Jobs that ended in failure (JS_FAILED).
    pub jobs_failed: Counter,
    /// Seconds from job assignment to the first decoded remote audio frame.
    pub join_seconds: Histogram,
    /// 1 while registered with the server.
    pub registered: Gauge,
    /// Worker reconnects to `/agent` (after the first connection).
    pub worker_reconnects: Counter,
    /// Full room reconnects (server Leave with reconnect, or a dead connection).
    pub room_reconnects: Counter,
    /// RTP audio packets received.
    pub packets_in: Counter,
    /// RTP audio payload bytes received.
    pub bytes_in: Counter,
    /// RTP audio packets sent.
    pub packets_out: Counter,
    /// RTP audio payload bytes sent.
    pub bytes_out: Counter,
    /// Opus packets that failed to decode.
    pub decode_errors: Counter,
    /// Decoded frames dropped because the consumer was not reading.
    pub frames_dropped: Counter,
    /// Data packets received / sent.
    pub data_in: Counter,
    /// Data packets sent.
    pub data_out: Counter,
    /// Incoming data streams dropped, by reason (too_many, too_large, timed_out, aborted).
    pub streams_dropped: Family<ReasonLabel, Counter>,
    /// Attribute updates (`lk.agent.state`) the server refused or did not answer.
    pub attribute_retries: Counter,
}

impl Metrics {
    fn new() -> Self {
        // Joins on loopback take ~0.1–1 s; a remote server and a slow first word push the
        // tail to several seconds.
        let buckets = [0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0];
        Self {
            jobs_accepted: Counter::default(),
            jobs_rejected: Family::default(),
            jobs_running: Gauge::default(),
            jobs_failed: Counter::default(),
            join_seconds: Histogram::new(buckets),
            registered: Gauge::default(),
            worker_reconnects: Counter::default(),
            room_reconnects: Counter::default(),
            packets_in: Counter::default(),
            bytes_in: Counter::default(),
            packets_out: Counter::default(),
            bytes_out: Counter::default(),
            decode_errors: Counter::default(),
            frames_dropped: Counter::default(),
            data_in: Counter::default(),
            data_out: Counter::default(),
            streams_dropped: Family::default(),
            attribute_retries: Counter::default(),
        }
    }
}

/// The process-wide metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

/// Registers the LiveKit metrics (prefix `livekit_`) in `registry`.
pub fn register_metrics(registry: &mut Registry) {
    let m = metrics().clone();
    let r = registry.sub_registry_with_prefix("livekit");
    r.register("jobs_accepted", "Availability offers accepted", m.jobs_accepted);
    r.register("jobs_rejected", "Offers and assignments refused, by reason", m.jobs_rejected);
    r.register("jobs_running", "Jobs running now", m.jobs_running);
    r.register("jobs_failed", "Jobs that ended in failure", m.jobs_failed);
    r.register("join_seconds", "Job assignment to first remote audio, seconds", m.join_seconds);
    r.register("worker_registered", "1 while registered with the LiveKit server", m.registered);
    r.register("worker_reconnects", "Reconnects of the worker connection", m.worker_reconnects);
    r.register("room_reconnects", "Full reconnects of a room participant", m.room_reconnects);
    r.register("rtp_packets_in", "RTP audio packets received", m.packets_in);
    r.register("rtp_bytes_in", "RTP audio payload bytes received", m.bytes_in);
    r.register("rtp_packets_out", "RTP audio packets sent", m.packets_out);
    r.register("rtp_bytes_out", "RTP audio payload bytes sent", m.bytes_out);
    r.register("opus_decode_errors", "Opus packets that failed to decode", m.decode_errors);
    r.register("audio_frames_dropped", "Decoded frames dropped: consumer too slow", m.frames_dropped);
    r.register("data_packets_in", "Data packets received", m.data_in);
    r.register("data_packets_out", "Data packets sent", m.data_out);
    r.register("data_streams_dropped", "Incoming data streams dropped, by reason", m.streams_dropped);
    r.register(
        "attribute_retries",
        "Attribute updates refused or unanswered (then retried)",
        m.attribute_retries,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_and_encodes_without_high_cardinality_labels() {
        let mut registry = Registry::default();
        register_metrics(&mut registry);
        metrics().jobs_rejected.get_or_create(&[("reason", "full")]).inc();
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &registry).unwrap();
        assert!(out.contains("livekit_jobs_rejected_total{reason=\"full\"}"), "{out}");
        assert!(out.contains("livekit_join_seconds_bucket"));
        assert!(out.contains("livekit_worker_registered"));
    }
}
