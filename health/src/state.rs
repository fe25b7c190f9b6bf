//! [`Health`]: the handle the agent writes to and the health threads read from.
//!
//! Writers are rare (state changes); readers are the health threads. Nothing here blocks for
//! long: locks guard small maps and are never held across IO. Callbacks registered here run on
//! the health threads and must only read atomics or snapshots — never wait on the runtime.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use prometheus_client::registry::Registry;
use serde::Serialize;

use crate::access::StatsAccess;
use crate::clock::mono_ms;
use crate::counters::ServerCounters;

/// A JSON producer for a readiness section.
pub type JsonSource = Box<dyn Fn() -> serde_json::Value + Send + Sync>;

/// The `/stats` producer: given the request's query string (without `?`), a status and body.
pub type StatsSource = Box<dyn Fn(&str) -> (u16, serde_json::Value) + Send + Sync>;

/// One part of the agent that must be ready before the agent is.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Component {
    /// Whether this component is ready.
    pub ready: bool,
    /// A short, human-readable state ("registered as AW_…", "model loaded", "connecting").
    pub detail: String,
}

struct Inner {
    heartbeat_ms: AtomicU64,
    stale_ms: u64,
    draining: AtomicBool,
    components: RwLock<BTreeMap<String, Component>>,
    sections: RwLock<Vec<(String, JsonSource)>>,
    stats: RwLock<Option<StatsSource>>,
    stats_access: RwLock<StatsAccess>,
    registry: RwLock<Registry>,
    server: ServerCounters,
}

/// Shared health state. Cheap to clone.
#[derive(Clone)]
pub struct Health {
    inner: Arc<Inner>,
}

/// What liveness found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Liveness {
    /// The runtime beat recently enough.
    pub alive: bool,
    /// Time since the last heartbeat.
    pub heartbeat_age: Duration,
}

impl Health {
    /// A new state; liveness fails once the heartbeat is older than `stale`.
    /// Counts as freshly beaten at creation.
    pub fn new(stale: Duration) -> Self {
        let inner = Inner {
            heartbeat_ms: AtomicU64::new(mono_ms()),
            stale_ms: u64::try_from(stale.as_millis()).unwrap_or(u64::MAX),
            draining: AtomicBool::new(false),
            components: RwLock::default(),
            sections: RwLock::default(),
            stats: RwLock::default(),
            stats_access: RwLock::default(),
            registry: RwLock::new(Registry::default()),
            server: ServerCounters::default(),
        };
        Self { inner: Arc::new(inner) }
    }

    /// Called by a task on the async runtime every second or so: proof that it still runs.
    pub fn beat(&self) {
        self.inner.heartbeat_ms.store(mono_ms(), Ordering::Relaxed);
    }

    /// Liveness: is the heartbeat fresh?
    pub fn liveness(&self) -> Liveness {
        let age = mono_ms().saturating_sub(self.inner.heartbeat_ms.load(Ordering::Relaxed));
        Liveness { alive: age <= self.inner.stale_ms, heartbeat_age: Duration::from_millis(age) }
    }

    /// Declares or updates a readiness component.
    pub fn set_component(&self, name: &str, ready: bool, detail: impl Into<String>) {
        let c = Component { ready, detail: detail.into() };
        let mut map = self.inner.components.write().unwrap_or_else(PoisonError::into_inner);
        map.insert(name.to_owned(), c);
    }

    /// A snapshot of the readiness components.
    pub fn components(&self) -> BTreeMap<String, Component> {
        self.inner.components.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Latches draining: readiness answers 503 from now on.
    pub fn start_draining(&self) {
        self.inner.draining.store(true, Ordering::Relaxed);
    }

    /// Whether the agent is draining.
    pub fn is_draining(&self) -> bool {
        self.inner.draining.load(Ordering::Relaxed)
    }

    /// Ready = not draining, at least one component, and every component ready.
    pub fn is_ready(&self) -> bool {
        let map = self.inner.components.read().unwrap_or_else(PoisonError::into_inner);
        !self.is_draining() && !map.is_empty() && map.values().all(|c| c.ready)
    }

    /// Adds an informational section to the `/readyz` body (e.g. breakers, limiter mode).
    /// It does not decide readiness; components do.
    pub fn add_section(&self, name: &str, source: JsonSource) {
        let mut s = self.inner.sections.write().unwrap_or_else(PoisonError::into_inner);
        s.retain(|(n, _)| n != name);
        s.push((name.to_owned(), source));
    }

    /// Evaluates the readiness sections.
    pub fn sections(&self) -> Vec<(String, serde_json::Value)> {
        let s = self.inner.sections.read().unwrap_or_else(PoisonError::into_inner);
        s.iter().map(|(n, f)| (n.clone(), f())).collect()
    }

    /// Sets the producer of the `/stats` body. It runs on a health thread: it must answer
    /// promptly (bound any wait on the runtime) — the server does not time it out.
    pub fn set_stats(&self, source: StatsSource) {
        *self.inner.stats.write().unwrap_or_else(PoisonError::into_inner) = Some(source);
    }

    /// Sets who may read `/stats` (open by default).
    pub fn set_stats_access(&self, access: StatsAccess) {
        *self.inner.stats_access.write().unwrap_or_else(PoisonError::into_inner) = access;
    }

    /// Who may read `/stats`.
    pub fn stats_access(&self) -> StatsAccess {
        self.inner.stats_access.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Evaluates `/stats` for a query string, if a producer is set.
    pub fn stats(&self, query: &str) -> Option<(u16, serde_json::Value)> {
        self.inner.stats.read().unwrap_or_else(PoisonError::into_inner).as_ref().map(|f| f(query))
    }

    /// The health server's own counters (restarts, refusals, evictions).
    pub fn server_counters(&self) -> &ServerCounters {
        &self.inner.server
    }

    /// Registers metrics: `health.with_registry(|r| r.register("name", "help", metric.clone()))`.
    pub fn with_registry<R>(&self, f: impl FnOnce(&mut Registry) -> R) -> R {
        f(&mut self.inner.registry.write().unwrap_or_else(PoisonError::into_inner))
    }

    /// Encodes every registered metric in the text exposition format (without `# EOF`).
    pub fn encode_metrics(&self, out: &mut String) {
        let registry = self.inner.registry.read().unwrap_or_else(PoisonError::into_inner);
        let start = out.len();
        if prometheus_client::encoding::text::encode(out, &registry).is_err() {
            out.truncate(start);
            return;
        }
        if out.ends_with("# EOF\n") {
            out.truncate(out.len() - "# EOF\n".len());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_needs_all_components_and_no_drain() {
        let h = Health::new(Duration::from_secs(10));
        assert!(!h.is_ready(), "no components yet");
        h.set_component("worker", false, "connecting");
        h.set_component("vad", true, "loaded");
        assert!(!h.is_ready());
        h.set_component("worker", true, "registered");
        assert!(h.is_ready());
        h.start_draining();
        assert!(!h.is_ready());
    }

    #[test]
    fn liveness_goes_stale() {
        let h = Health::new(Duration::ZERO);
        std::thread::sleep(Duration::from_millis(5));
        assert!(!h.liveness().alive);
        let h = Health::new(Duration::from_secs(60));
        h.beat();
        assert!(h.liveness().alive);
    }

    #[test]
    fn metrics_encode_without_eof() {
        let h = Health::new(Duration::from_secs(1));
        let c = prometheus_client::metrics::counter::Counter::<u64>::default();
        h.with_registry(|r| r.register("jobs", "Jobs", c.clone()));
        c.inc();
        let mut s = String::new();
        h.encode_metrics(&mut s);
        assert!(s.contains("jobs_total 1"), "{s}");
        assert!(!s.contains("# EOF"));
    }
}
