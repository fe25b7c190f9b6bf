//! The one guarded stream behind every streamed answer (chat and speech): it reads the body
//! with the idle timeout, the turn's deadline (a [`WaitBudget`]: the time the agent spends
//! with what it was handed does not count) and the call's cancellation, hands the bytes to a
//! [`Decode`]r (SSE events → chat chunks, PCM → 48 kHz samples; each bounds what one answer
//! may carry), measures time to first output, reports the
//! outcome on the endpoint's lease exactly once (success, slow, or the failure's kind),
//! records metrics, and settles the limiter with what was used. Dropping it closes the
//! connection at once; the breaker hears "ignored" (a cancellation is never a failure) and the
//! usage so far is still charged.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use tokio_util::sync::CancellationToken;

use super::Capability;
use super::endpoint::Lease;
use super::error::{Failure, ProviderError};
use super::guard::{Guard, Opened};
use super::http::error_chain;
use super::settle::Settlement;
use crate::clock;
use crate::core::breaker::Outcome;
use crate::core::quota::Usage;
use crate::core::wait_budget::WaitBudget;

/// What a body's bytes mean: one implementation per kind of stream.
pub(crate) trait Decode: Send {
    /// What the stream yields.
    type Item: Send;
    /// Decodes `bytes` into `out`. Items decoded before an error are still delivered.
    fn feed(&mut self, bytes: &[u8], out: &mut VecDeque<Self::Item>) -> Result<(), Failure>;
    /// The answer said it is complete (the body need not be read further).
    fn complete(&self) -> bool;
    /// The body ended: the last items into `out`, or why the answer is incomplete.
    fn end(&mut self, out: &mut VecDeque<Self::Item>) -> Result<(), Failure>;
    /// The first output a listener cares about arrived (a token, a byte of audio).
    fn started(&self) -> bool;
    /// A call counts as slow when its first output came later than the threshold — or, if
    /// `no_output_is_slow`, never came at all.
    fn no_output_is_slow(&self) -> bool;
    /// What the call used so far (settled with the limiter).
    fn usage(&self) -> Usage;
}

/// An answer whose head arrived (2xx) and whose content type was accepted, with the call's
/// bookkeeping: what the facade hands a stream.
pub(crate) struct Started {
    pub opened: Opened,
    pub guard: Arc<Guard>,
    pub settlement: Settlement,
    pub cancel: CancellationToken,
    /// Longest wait for the next chunk.
    pub idle: Duration,
    /// The turn's deadline: the whole answer must have come by then.
    pub deadline: Instant,
    /// First output later than this counts as slow for the breaker.
    pub slow: Duration,
}

/// A streamed answer read through decoder `D`.
pub(crate) struct GuardedStream<D: Decode> {
    body: Option<BoxStream<'static, reqwest::Result<Bytes>>>,
    decoder: D,
    pending: VecDeque<D::Item>,
    failed: Option<Failure>,
    lease: Option<Lease>,
    cap: Capability,
    provider: Arc<str>,
    model: String,
    guard: Arc<Guard>,
    settlement: Settlement,
    cancel: CancellationToken,
    idle: Duration,
    budget: WaitBudget,
    slow: Duration,
    started: Instant,
    first: Option<Duration>,
    done: bool,
}

impl<D: Decode> GuardedStream<D> {
    pub fn new(s: Started, decoder: D) -> Self {
        let ep = Arc::clone(s.opened.lease.endpoint());
        Self {
            body: Some(s.opened.resp.bytes_stream().boxed()),
            decoder,
            pending: VecDeque::new(),
            failed: None,
            lease: Some(s.opened.lease),
            cap: ep.cap,
            provider: Arc::clone(&ep.name),
            model: ep.cfg.model.clone(),
            guard: s.guard,
            settlement: s.settlement,
            cancel: s.cancel,
            idle: s.idle,
            budget: WaitBudget::new(s.deadline),
            slow: s.slow,
            started: s.opened.started,
            first: None,
            done: false,
        }
    }

    /// The endpoint serving this answer.
    pub fn provider(&self) -> &Arc<str> {
        &self.provider
    }

    /// Time from the request to the first output.
    pub fn first_latency(&self) -> Option<Duration> {
        self.first
    }

    /// The decoder (what it counted so far).
    pub fn decoder(&self) -> &D {
        &self.decoder
    }

    /// The next item; `None` once the answer is complete (or after an error).
    pub async fn next(&mut self) -> Option<Result<D::Item, ProviderError>> {
        self.budget.resumed(clock::now());
        loop {
            if let Some(item) = self.pending.pop_front() {
                self.budget.handed_out(clock::now());
                return Some(Ok(item));
            }
            if let Some(f) = self.failed.take() {
                return Some(Err(self.fail(f).await));
            }
            if self.done {
                return None;
            }
            if self.decoder.complete() {
                self.succeed().await;
                continue;
            }
            let body = self.body.as_mut()?;
            let now = clock::now();
            if self.budget.spent(now) {
                return Some(Err(self.fail(Failure::Deadline).await));
            }
            let (until, bound) = self.budget.wait_until(now, self.idle);
            let next = tokio::select! {
                biased;
                () = self.cancel.cancelled() => return Some(Err(self.fail(Failure::Cancelled).await)),
                n = tokio::time::timeout_at(until.into(), body.next()) => n,
            };
            let result = match next {
                Err(_) => Err(Failure::stalled(bound)),
                Ok(Some(Err(e))) => Err(Failure::Cut(error_chain(&e))),
                Ok(None) => match self.decoder.end(&mut self.pending) {
                    Ok(()) => {
                        self.succeed().await;
                        continue;
                    }
                    Err(f) => Err(f),
                },
                Ok(Some(Ok(bytes))) => self.decoder.feed(&bytes, &mut self.pending),
            };
            if self.first.is_none() && self.decoder.started() {
                let d = clock::now().saturating_duration_since(self.started);
                self.first = Some(d);
                self.guard.metrics.first_byte(self.cap, &self.provider, d);
            }
            // Deliver what was decoded before a failure, then the failure.
            if let Err(f) = result {
                self.failed = Some(f);
            }
        }
    }

    async fn succeed(&mut self) {
        self.done = true;
        self.body = None;
        let now = clock::now();
        let slow = match self.first {
            Some(d) => d > self.slow,
            None => self.decoder.no_output_is_slow(),
        };
        if let Some(lease) = self.lease.take() {
            lease.finish(if slow { Outcome::Slow } else { Outcome::Success }, now);
        }
        self.guard.metrics.served(self.cap, &self.provider, now.saturating_duration_since(self.started));
        let used = self.decoder.usage();
        self.settlement.settle(&self.model, used).await;
    }

    async fn fail(&mut self, f: Failure) -> ProviderError {
        self.done = true;
        // Drop the body first: the connection closes now, not after bookkeeping.
        self.body = None;
        self.pending.clear();
        if let Some(lease) = self.lease.take() {
            self.guard.fail(lease, &f).await;
        }
        let used = self.decoder.usage();
        self.settlement.settle(&self.model, used).await;
        f.into_stream_error(&self.provider)
    }
}

impl<D: Decode> Drop for GuardedStream<D> {
    fn drop(&mut self) {
        self.body = None;
        // An unfinished lease records "ignored" on drop; usage so far is still charged.
        self.lease = None;
        let used = self.decoder.usage();
        self.settlement.settle_later(&self.model, used);
    }
}
