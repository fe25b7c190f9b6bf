//! The guard around every provider call, composed here and nowhere else:
//!
//! limits (reserve, or a spoken refusal) → for each endpoint of the chain in order: the shared
//! 429 state (another worker's `Retry-After`) → breaker (fail fast to the next endpoint) →
//! deadline (attempt timeout bounded by the turn's deadline) → at most one retry before any
//! byte streamed (retryable failure, budget left, deadline left; full-jitter delay) →
//! classification into a breaker outcome (429 shared with every worker, 401/403 flagged).
//!
//! The caller gets the open response and a `Lease` on the endpoint that served; the body's
//! outcome (slow, cut, cancelled) is reported on the lease by the stream that reads it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Call;
use super::chain::Chain;
use super::endpoint::{Endpoint, Lease};
use super::error::{Failure, ProviderError};
use super::http;
use super::metrics::ProviderMetrics;
use super::settle::Settlement;
use crate::clock;
use crate::core::quota::Usage;
use crate::limits::{Decision, LimitRequest, Limiter, Now};

/// A retry is only made when at least this much of the turn's deadline is left after its delay.
const RETRY_MIN_REMAINING: Duration = Duration::from_millis(250);

/// What the guard needs, shared by every call.
pub(crate) struct Guard {
    pub limiter: Arc<Limiter>,
    pub metrics: ProviderMetrics,
}

/// A call that passed the limits: its reservation and the model it was priced for.
pub(crate) struct Admitted {
    pub settlement: Settlement,
}

/// A response whose head arrived (2xx), on the endpoint that served it.
pub(crate) struct Opened {
    pub resp: reqwest::Response,
    pub lease: Lease,
    /// When the first attempt on this endpoint started (latencies are measured from here).
    pub started: Instant,
}

impl Guard {
    /// Reserves `usage` in every limit scope, priced for the endpoint likely to serve.
    pub async fn admit(&self, chain: &Chain, call: &Call, usage: Usage) -> Result<Admitted, ProviderError> {
        if !chain.is_configured() {
            return Err(ProviderError::NotConfigured(chain.cap));
        }
        let now = Now::read();
        let ep = chain.first_available(now.mono).unwrap_or(&chain.endpoints[0]);
        let req =
            LimitRequest { participant: &call.participant, room: &call.room, model: &ep.cfg.model, usage };
        match self.limiter.check(&req, now).await {
            Decision::Allowed { reservation, .. } => {
                Ok(Admitted { settlement: Settlement::new(Arc::clone(&self.limiter), reservation) })
            }
            Decision::Rejected(rejection) => {
                let sentence = self.limiter.sentence(&rejection);
                Err(ProviderError::Limited { rejection, sentence })
            }
        }
    }

    /// Walks the chain until an endpoint answers 2xx (or every one is open or has failed).
    pub async fn open(
        &self,
        chain: &Chain,
        call: &Call,
        build: &(dyn Fn(&Endpoint) -> reqwest::RequestBuilder + Sync),
    ) -> Result<Opened, ProviderError> {
        let mut tried = Vec::new();
        let mut auth: Option<(Arc<str>, u16)> = None;
        let mut other_failure = false;
        for ep in &chain.endpoints {
            if call.cancel.is_cancelled() {
                return Err(ProviderError::Cancelled);
            }
            if clock::now() >= call.deadline {
                return Err(ProviderError::DeadlineExceeded);
            }
            let now = Now::read();
            if let Some(rest) = self.limiter.shared_open_remaining(&ep.name, now).await {
                ep.open_shared(now.mono + rest, now.mono);
            }
            let lease = match ep.try_acquire(clock::now()) {
                Ok(l) => l,
                Err(r) => {
                    tried.push(format!("{} open ({})", ep.name, r.reason.as_str()));
                    other_failure = true;
                    continue;
                }
            };
            match self.attempt(ep, chain, call, build).await {
                Ok((resp, started)) => {
                    self.note_quota(ep, resp.headers()).await;
                    return Ok(Opened { resp, lease, started });
                }
                Err(f) => {
                    self.fail(lease, &f).await;
                    match f {
                        Failure::Cancelled => return Err(ProviderError::Cancelled),
                        Failure::Deadline => return Err(ProviderError::DeadlineExceeded),
                        Failure::Auth(s) => auth = Some((Arc::clone(&ep.name), s)),
                        _ => other_failure = true,
                    }
                    tried.push(format!("{} {f}", ep.name));
                }
            }
        }
        match auth {
            Some((provider, status)) if !other_failure => Err(ProviderError::Auth { provider, status }),
            _ => Err(ProviderError::Unavailable { capability: chain.cap, detail: tried.join("; ") }),
        }
    }

    /// One endpoint: the attempt and at most one retry before any byte streamed.
    async fn attempt(
        &self,
        ep: &Arc<Endpoint>,
        chain: &Chain,
        call: &Call,
        build: &(dyn Fn(&Endpoint) -> reqwest::RequestBuilder + Sync),
    ) -> Result<(reqwest::Response, Instant), Failure> {
        let started = clock::now();
        let mut retried = false;
        loop {
            let now = clock::now();
            match http::send(build(ep), now + chain.cfg.timeout, call.deadline, &call.cancel).await {
                Ok(resp) => return Ok((resp, started)),
                Err(f) if !retried && f.retryable() => {
                    let now = clock::now();
                    let left = call.deadline.saturating_duration_since(now);
                    let Some(delay) = ep.take_retry(now).filter(|d| left > *d + RETRY_MIN_REMAINING) else {
                        return Err(f);
                    };
                    self.metrics.error(ep.cap, &ep.name, f.kind());
                    tracing::info!(provider = %ep.name, error = %f, delay_ms = delay.as_millis() as u64, "retrying");
                    retried = true;
                    tokio::select! {
                        biased;
                        () = call.cancel.cancelled() => return Err(Failure::Cancelled),
                        () = tokio::time::sleep(delay) => {}
                    }
                }
                Err(f) => return Err(f),
            }
        }
    }

    /// Records a failed call: metrics, breaker outcome, and a 429's wait for every worker.
    pub async fn fail(&self, lease: Lease, f: &Failure) {
        let ep = Arc::clone(lease.endpoint());
        if *f != Failure::Cancelled {
            self.metrics.error(ep.cap, &ep.name, f.kind());
            tracing::warn!(provider = %ep.name, error = %f, "provider call failed");
        }
        if let Failure::Auth(status) = f {
            tracing::error!(provider = %ep.name, status, "provider refused our credentials: check the API key");
        }
        let now = clock::now();
        lease.finish(f.outcome(), now);
        if let Failure::RateLimited(_) = f {
            // The breaker chose the wait (the server's hint, or its own open time): share it.
            if let Some(until) = ep.open_until() {
                let wait = until.saturating_duration_since(now);
                self.limiter.share_open(&ep.name, wait, Now::read()).await;
            }
        }
    }

    /// Passes a response whose content type `ok` accepts; anything else (an HTML error page,
    /// JSON where audio was asked for) fails the call as malformed.
    pub async fn expect_content_type(
        &self,
        opened: Opened,
        expected: &str,
        ok: impl Fn(&str) -> bool,
    ) -> Result<Opened, ProviderError> {
        let ct = http::content_type(&opened.resp);
        if ok(&ct) {
            return Ok(opened);
        }
        let f = Failure::Malformed(format!("content type {ct:?}, expected {expected}"));
        let name = Arc::clone(&opened.lease.endpoint().name);
        self.fail(opened.lease, &f).await;
        Err(f.into_stream_error(&name))
    }

    /// A 2xx saying the quota is spent: keep away until it resets, like a 429 would ask.
    async fn note_quota(&self, ep: &Arc<Endpoint>, headers: &reqwest::header::HeaderMap) {
        if let Some(wait) = http::exhausted_for(headers) {
            let now = Now::read();
            ep.open_shared(now.mono + wait, now.mono);
            self.limiter.share_open(&ep.name, wait, now).await;
        }
    }
}
