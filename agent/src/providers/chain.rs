//! A fallback chain: the ordered endpoints of one capability. A call goes to the first whose
//! breaker admits it; recovery of an earlier endpoint comes from its breaker's half-open probe
//! (some later call is let through as the probe), never from replaying a user's request.

use std::sync::Arc;
use std::time::Instant;

use super::Capability;
use super::config::CapabilityConfig;
use super::endpoint::{Endpoint, endpoint_name};
use crate::core::breaker::State;
use crate::core::breaker_config::BreakerConfig;
use crate::core::retry::RetryConfig;
use crate::limits::ResilienceMetrics;

/// The endpoints of one capability, primary first.
#[derive(Debug)]
pub(crate) struct Chain {
    pub cap: Capability,
    pub endpoints: Vec<Arc<Endpoint>>,
    pub cfg: CapabilityConfig,
}

impl Chain {
    pub fn new(
        cap: Capability,
        cfg: &CapabilityConfig,
        breaker: &BreakerConfig,
        retry: &RetryConfig,
        metrics: &ResilienceMetrics,
        now: Instant,
    ) -> Self {
        let mut names: Vec<String> = Vec::new();
        let endpoints = cfg
            .endpoints
            .iter()
            .enumerate()
            .map(|(rank, e)| {
                let mut name = endpoint_name(cap, e);
                // The same host and model twice (two keys, say) still needs two breakers.
                if names.contains(&name) {
                    name = format!("{name}#{}", rank + 1);
                }
                names.push(name.clone());
                let seed = 0x9e37_79b9_7f4a_7c15u64 ^ ((cap as u64) << 8) ^ rank as u64;
                let name: Arc<str> = name.into();
                Arc::new(Endpoint::new(
                    cap,
                    name,
                    e.clone(),
                    rank,
                    breaker,
                    retry,
                    metrics.clone(),
                    now,
                    seed,
                ))
            })
            .collect();
        Self { cap, endpoints, cfg: cfg.clone() }
    }

    /// Any endpoint configured.
    pub fn is_configured(&self) -> bool {
        !self.endpoints.is_empty()
    }

    /// The first endpoint whose breaker would admit a call now.
    pub fn first_available(&self, now: Instant) -> Option<&Arc<Endpoint>> {
        self.endpoints.iter().find(|e| e.would_admit(now))
    }

    /// How healthy the chain is.
    pub fn health(&self, now: Instant) -> ChainHealth {
        if !self.is_configured() {
            return ChainHealth::NotConfigured;
        }
        match self.first_available(now) {
            None => ChainHealth::Unavailable,
            Some(e) if e.rank > 0 => ChainHealth::OnFallback,
            Some(e) if e.snapshot(now).state != State::Closed => ChainHealth::Recovering,
            Some(_) => ChainHealth::Healthy,
        }
    }
}

/// A chain's health, for the degraded-mode summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChainHealth {
    /// No endpoint configured.
    NotConfigured,
    /// The primary is closed.
    Healthy,
    /// The primary is half-open (probing after a failure).
    Recovering,
    /// The primary is open; a fallback serves.
    OnFallback,
    /// Every endpoint is open.
    Unavailable,
}
