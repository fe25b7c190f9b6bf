//! One configured endpoint at run time: its breaker (one per endpoint+model, shared by every
//! session of the worker), its retry budget, and the [`Lease`] a call holds while it uses it.
//!
//! Every breaker event goes to the resilience metrics here, so no caller can forget to count a
//! call or a transition.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::Capability;
use super::adapter::Vendor;
use super::config::EndpointConfig;
use super::openai::OPENAI_COMPATIBLE;
use crate::clock;
use crate::core::breaker::{Breaker, Outcome, Permit, Rejected, Snapshot};
use crate::core::breaker_config::BreakerConfig;
use crate::core::retry::{RetryBudget, RetryConfig};
use crate::limits::ResilienceMetrics;
use crate::limits::lock;

/// One endpoint of a chain.
pub(crate) struct Endpoint {
    /// Which capability it serves.
    pub cap: Capability,
    /// `"<cap>:<host[:port]>/<model>"`: the breaker's name in metrics, `/readyz`, the shared
    /// 429 store, and the "provider" that served a call.
    pub name: Arc<str>,
    /// Its settings.
    pub cfg: EndpointConfig,
    /// Position in the chain (0 = primary).
    pub rank: usize,
    /// How its API is spoken.
    pub vendor: &'static Vendor,
    breaker: Mutex<Breaker>,
    budget: Mutex<RetryBudget>,
    retry: RetryConfig,
    metrics: ResilienceMetrics,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint").field("name", &self.name).field("rank", &self.rank).finish()
    }
}

/// The endpoint's name: capability, URL authority and path, model.
pub(crate) fn endpoint_name(cap: Capability, cfg: &EndpointConfig) -> String {
    let host = reqwest::Url::parse(&cfg.base_url)
        .ok()
        .map(|u| {
            let mut h = u.host_str().unwrap_or("").to_owned();
            if let Some(p) = u.port() {
                h = format!("{h}:{p}");
            }
            h
        })
        .unwrap_or_default();
    format!("{}:{host}/{}", cap.as_str(), cfg.model)
}

/// Which vendor's API an endpoint speaks. Every endpoint speaks the OpenAI shape so far; a
/// second vendor adds its line here (by its host, or a setting of the endpoint).
fn vendor_for(_cfg: &EndpointConfig) -> &'static Vendor {
    &OPENAI_COMPATIBLE
}

impl Endpoint {
    #[allow(clippy::too_many_arguments)] // one constructor, called from one place
    pub fn new(
        cap: Capability,
        name: Arc<str>,
        cfg: EndpointConfig,
        rank: usize,
        breaker: &BreakerConfig,
        retry: &RetryConfig,
        metrics: ResilienceMetrics,
        now: Instant,
        seed: u64,
    ) -> Self {
        metrics.breaker_state(&name, crate::core::breaker::State::Closed);
        let vendor = vendor_for(&cfg);
        Self {
            cap,
            name,
            cfg,
            rank,
            vendor,
            breaker: Mutex::new(Breaker::new(breaker.clone(), now, seed)),
            budget: Mutex::new(RetryBudget::new(retry, now, seed ^ 0x5eed)),
            retry: retry.clone(),
            metrics,
        }
    }

    fn drain_transitions(&self, b: &mut Breaker) {
        while let Some(t) = b.poll_transition() {
            self.metrics.breaker_transition(&self.name, &t);
            match t.open_for {
                Some(d) => tracing::warn!(breaker = %self.name, from = t.from.as_str(), to = t.to.as_str(),
                    reason = t.reason.as_str(), open_ms = d.as_millis() as u64, "breaker transition"),
                None => tracing::info!(breaker = %self.name, from = t.from.as_str(), to = t.to.as_str(),
                    reason = t.reason.as_str(), "breaker transition"),
            }
        }
    }

    /// Asks the breaker for leave to call; counts a first attempt for the retry budget.
    pub fn try_acquire(self: &Arc<Self>, now: Instant) -> Result<Lease, Rejected> {
        let mut b = lock(&self.breaker);
        let r = b.try_acquire(now);
        self.drain_transitions(&mut b);
        drop(b);
        let permit = r?;
        lock(&self.budget).record_call(now);
        Ok(Lease { ep: Arc::clone(self), permit: Some(permit) })
    }

    fn record(&self, permit: Permit, outcome: Outcome, now: Instant) {
        self.metrics.breaker_call(&self.name, outcome);
        let mut b = lock(&self.breaker);
        b.record(permit, outcome, now);
        self.drain_transitions(&mut b);
    }

    /// Another worker saw a 429: stay open until `until`.
    pub fn open_shared(&self, until: Instant, now: Instant) {
        let mut b = lock(&self.breaker);
        b.open_shared(until, now);
        self.drain_transitions(&mut b);
    }

    /// The breaker's view for readiness.
    pub fn snapshot(&self, now: Instant) -> Snapshot {
        lock(&self.breaker).snapshot(now)
    }

    /// Until when the breaker is open, if it is.
    pub fn open_until(&self) -> Option<Instant> {
        lock(&self.breaker).open_until()
    }

    /// Would the breaker let a call through now? (Asks a copy, so nothing changes.)
    pub fn would_admit(&self, now: Instant) -> bool {
        let mut copy = lock(&self.breaker).clone();
        copy.try_acquire(now).is_ok()
    }

    /// A 401/403 was seen and no success since.
    pub fn auth_failed(&self) -> bool {
        lock(&self.breaker).auth_failed()
    }

    /// Takes a retry from the budget and returns the full-jitter delay before it.
    pub fn take_retry(&self, now: Instant) -> Option<Duration> {
        let mut b = lock(&self.budget);
        b.try_retry(now).then(|| b.delay(&self.retry))
    }
}

/// Leave to use an endpoint for one call; its outcome goes to the breaker exactly once.
/// Dropped unfinished (the caller lost interest) it counts as [`Outcome::Ignored`], which
/// also hands a half-open probe slot back at once.
#[derive(Debug)]
pub(crate) struct Lease {
    ep: Arc<Endpoint>,
    permit: Option<Permit>,
}

impl Lease {
    /// The endpoint.
    pub fn endpoint(&self) -> &Arc<Endpoint> {
        &self.ep
    }

    /// Reports how the call ended.
    pub fn finish(mut self, outcome: Outcome, now: Instant) {
        if let Some(p) = self.permit.take() {
            self.ep.record(p, outcome, now);
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(p) = self.permit.take() {
            self.ep.record(p, Outcome::Ignored, clock::now());
        }
    }
}
