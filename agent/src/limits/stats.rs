//! Snapshots for the health server: `/stats` (per identity and global usage) and the
//! resilience part of `/readyz` (breakers and limiter mode), as serde types / JSON values.

use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

use super::mode::Mode;
use crate::core::breaker::{Snapshot, State};
use crate::core::ledger::LimitView;
use crate::core::quota::{Quotas, Scope, Unit, Window};

/// One limit of one scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LimitStat {
    /// `turns`, `llm_tokens`, `tts_chars`, `stt_ms`, `cost_micro_usd` or `sessions`.
    pub unit: &'static str,
    /// `minute`, `hour`, `day` or `concurrent`.
    pub window: &'static str,
    /// Used now.
    pub current: u64,
    /// The limit.
    pub limit: u64,
    /// Left before a rejection.
    pub remaining: u64,
}

/// Spend today against the daily cap.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostStat {
    /// Spent today (UTC), micro-USD.
    pub today_micro_usd: u64,
    /// Daily cap, micro-USD (0 = no cap).
    pub limit_micro_usd: u64,
    /// Spent today, USD.
    pub today_usd: f64,
    /// Daily cap, USD.
    pub limit_usd: f64,
}

/// One scope entity's limits.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScopeStats {
    /// Identity or room name (absent for global).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Every configured limit.
    pub limits: Vec<LimitStat>,
    /// Cost today.
    pub cost: CostStat,
}

impl ScopeStats {
    /// From ledger views (limits of `scope` in `q`) and today's spend.
    pub fn new(id: Option<&str>, q: &Quotas, scope: Scope, views: &[LimitView], cost_today: u64) -> Self {
        let cap = q.limit(scope, Unit::CostMicroUsd, Window::Day);
        Self {
            id: id.map(str::to_owned),
            limits: views
                .iter()
                .map(|v| LimitStat {
                    unit: v.unit.as_str(),
                    window: v.window.as_str(),
                    current: v.current,
                    limit: v.limit,
                    remaining: v.remaining,
                })
                .collect(),
            cost: CostStat {
                today_micro_usd: cost_today,
                limit_micro_usd: cap,
                today_usd: cost_today as f64 / 1e6,
                limit_usd: cap as f64 / 1e6,
            },
        }
    }
}

/// The `/stats` document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    /// `local`, `shared` or `degraded`.
    pub mode: &'static str,
    /// The asked-for participant identity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub participant: Option<ScopeStats>,
    /// The asked-for room.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub room: Option<ScopeStats>,
    /// The whole deployment.
    pub global: ScopeStats,
}

impl Stats {
    /// As JSON.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// The resilience part of `/readyz`: every breaker (state, open-until, reason, auth) and the
/// limiter mode. `unix_now` turns "open for" into an absolute "open until" for operators.
/// Ready means: no provider refuses our credentials. An open breaker is not unreadiness
/// (fallbacks and spoken notices cover it) but is shown.
pub fn readiness_json(breakers: &[(&str, Snapshot)], mode: Mode, unix_now: Duration) -> Value {
    let list: Vec<Value> = breakers
        .iter()
        .map(|(name, s)| {
            let until = s.open_remaining.map(|r| (unix_now + r).as_millis() as u64);
            json!({
                "name": name,
                "state": s.state.as_str(),
                "reason": s.reason.as_str(),
                "open_until_unix_ms": until,
                "open_remaining_ms": s.open_remaining.map(|r| r.as_millis() as u64),
                "auth_failed": s.auth_failed,
                "window": {"calls": s.window.calls, "failures": s.window.failures, "slow": s.window.slow},
            })
        })
        .collect();
    let all_closed = breakers.iter().all(|(_, s)| s.state == State::Closed);
    json!({
        "ready": !breakers.iter().any(|(_, s)| s.auth_failed),
        "providers_healthy": all_closed,
        "limiter_mode": mode.as_str(),
        "breakers": list,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock;
    use crate::core::breaker::{Breaker, Outcome};
    use crate::core::breaker_config::BreakerConfig;

    #[test]
    fn readiness_lists_breakers_with_open_until() {
        let t0 = clock::now();
        let ok = Breaker::new(BreakerConfig::default(), t0, 1);
        let mut limited = Breaker::new(BreakerConfig::default(), t0, 2);
        let p = limited.try_acquire(t0).unwrap();
        limited.record(p, Outcome::RateLimited { retry_after: Some(Duration::from_secs(2)) }, t0);
        let v = readiness_json(
            &[("llm:gpt-4o-mini", ok.snapshot(t0)), ("tts:tts-1", limited.snapshot(t0))],
            Mode::Degraded,
            Duration::from_secs(1000),
        );
        assert_eq!(v["ready"], true);
        assert_eq!(v["providers_healthy"], false);
        assert_eq!(v["limiter_mode"], "degraded");
        assert_eq!(v["breakers"][0]["state"], "closed");
        assert_eq!(v["breakers"][0]["open_until_unix_ms"], Value::Null);
        assert_eq!(v["breakers"][1]["state"], "open");
        assert_eq!(v["breakers"][1]["reason"], "rate_limited");
        assert_eq!(v["breakers"][1]["open_until_unix_ms"], 1_002_000);
    }

    #[test]
    fn scope_stats_shape() {
        let q = Quotas::default();
        let views =
            [LimitView { unit: Unit::Turns, window: Window::Minute, current: 3, limit: 20, remaining: 17 }];
        let s = ScopeStats::new(Some("alice"), &q, Scope::Participant, &views, 1_250_000);
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["id"], "alice");
        assert_eq!(
            v["limits"][0],
            json!({"unit":"turns","window":"minute","current":3,"limit":20,"remaining":17})
        );
        assert_eq!(v["cost"]["today_usd"], 1.25);
        assert_eq!(v["cost"]["limit_usd"], 5.0);
    }
}
