//! Prometheus series for breakers and limits (names as in `RESILIENCE.md`).
//!
//! Labels are low-cardinality by construction: breaker names come from configuration
//! (`llm:<model>`, …), scopes/units/windows/modes are fixed words. Never a user id.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::store::Mode;
use crate::core::breaker::{Outcome, State, Transition};
use crate::core::ledger::{CostWarnings, Rejection};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BreakerLabel {
    breaker: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TransitionLabels {
    breaker: String,
    from: &'static str,
    to: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    breaker: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModeLabel {
    mode: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RejectionLabels {
    scope: &'static str,
    unit: &'static str,
    window: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ScopeLabel {
    scope: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MergeLabel {
    how: &'static str,
}

/// Handles to the resilience series; cheap to clone (shared counters).
#[derive(Clone, Debug, Default)]
pub struct ResilienceMetrics {
    breaker_state: Family<BreakerLabel, Gauge>,
    breaker_transitions: Family<TransitionLabels, Counter>,
    breaker_calls: Family<CallLabels, Counter>,
    limiter_mode: Family<ModeLabel, Gauge>,
    limiter_rejections: Family<RejectionLabels, Counter>,
    cost_warnings: Family<ScopeLabel, Counter>,
    store_resets: Counter,
    merged_keys: Family<MergeLabel, Counter>,
}

/// Registers every series in `registry` and returns the handles that update them.
pub fn register_metrics(registry: &mut Registry) -> ResilienceMetrics {
    let m = ResilienceMetrics::default();
    registry.register(
        "breaker_state",
        "Breaker state: 0 closed, 1 open, 2 half-open",
        m.breaker_state.clone(),
    );
    registry.register("breaker_transitions", "Breaker state changes", m.breaker_transitions.clone());
    registry.register("breaker_calls", "Calls through a breaker by outcome", m.breaker_calls.clone());
    registry.register("limiter_mode", "1 for the mode limits are decided in now", m.limiter_mode.clone());
    registry.register("limiter_rejections", "Requests refused by a limit", m.limiter_rejections.clone());
    registry.register(
        "cost_cap_warnings",
        "Daily spend crossed the warning share of a cap",
        m.cost_warnings.clone(),
    );
    registry.register(
        "limiter_store_resets",
        "Redis came back without the shared limits (restarted empty); restored from this worker's view",
        m.store_resets.clone(),
    );
    registry.register(
        "limiter_merged_keys",
        "Limit keys merged into Redis from this worker (flush: after local decisions; restore: after a reset)",
        m.merged_keys.clone(),
    );
    m
}

impl ResilienceMetrics {
    /// A breaker changed state.
    pub fn breaker_transition(&self, breaker: &str, t: &Transition) {
        self.breaker_transitions
            .get_or_create(&TransitionLabels {
                breaker: breaker.to_owned(),
                from: t.from.as_str(),
                to: t.to.as_str(),
            })
            .inc();
        self.breaker_state(breaker, t.to);
    }

    /// Sets a breaker's state gauge (also call once at start so every breaker shows up).
    pub fn breaker_state(&self, breaker: &str, state: State) {
        self.breaker_state.get_or_create(&BreakerLabel { breaker: breaker.to_owned() }).set(state.gauge());
    }

    /// A call through a breaker ended.
    pub fn breaker_call(&self, breaker: &str, outcome: Outcome) {
        self.breaker_calls
            .get_or_create(&CallLabels { breaker: breaker.to_owned(), outcome: outcome.as_str() })
            .inc();
    }

    /// The limiter now decides in `mode`.
    pub fn limiter_mode(&self, mode: Mode) {
        for m in Mode::ALL {
            self.limiter_mode.get_or_create(&ModeLabel { mode: m.as_str() }).set(i64::from(m == mode));
        }
    }

    /// A limit refused a request.
    pub fn rejection(&self, r: &Rejection) {
        self.limiter_rejections
            .get_or_create(&RejectionLabels {
                scope: r.scope.as_str(),
                unit: r.unit.as_str(),
                window: r.window.as_str(),
            })
            .inc();
    }

    /// Redis came back without the shared limits.
    pub fn store_reset(&self) {
        self.store_resets.inc();
    }

    /// `n` keys were merged into Redis (`restore`: after a reset; otherwise a flush).
    pub fn merged_keys(&self, n: usize, restore: bool) {
        let how = if restore { "restore" } else { "flush" };
        self.merged_keys.get_or_create(&MergeLabel { how }).inc_by(n as u64);
    }

    /// Spend crossed the warning share.
    pub fn cost_warnings(&self, w: CostWarnings) {
        for scope in w.scopes() {
            self.cost_warnings.get_or_create(&ScopeLabel { scope: scope.as_str() }).inc();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::breaker::Reason;
    use crate::core::quota::{Scope, Unit, Window};
    use std::time::Duration;

    #[test]
    fn series_are_exposed_with_their_names() {
        let mut registry = Registry::default();
        let m = register_metrics(&mut registry);
        let t =
            Transition { from: State::Closed, to: State::Open, reason: Reason::FailureRate, open_for: None };
        m.breaker_transition("llm:gpt-4o-mini", &t);
        m.breaker_call("llm:gpt-4o-mini", Outcome::RateLimited { retry_after: None });
        m.limiter_mode(Mode::Degraded);
        m.rejection(&Rejection {
            scope: Scope::Participant,
            unit: Unit::Turns,
            window: Window::Minute,
            retry_after: Duration::ZERO,
        });
        m.cost_warnings(CostWarnings(0b101));
        m.store_reset();
        m.merged_keys(3, true);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        for line in [
            r#"breaker_state{breaker="llm:gpt-4o-mini"} 1"#,
            r#"breaker_transitions_total{breaker="llm:gpt-4o-mini",from="closed",to="open"} 1"#,
            r#"breaker_calls_total{breaker="llm:gpt-4o-mini",outcome="rate_limited"} 1"#,
            r#"limiter_mode{mode="degraded"} 1"#,
            r#"limiter_mode{mode="shared"} 0"#,
            r#"limiter_rejections_total{scope="participant",unit="turns",window="minute"} 1"#,
            r#"cost_cap_warnings_total{scope="global"} 1"#,
            "limiter_store_resets_total 1",
            r#"limiter_merged_keys_total{how="restore"} 3"#,
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
    }
}
