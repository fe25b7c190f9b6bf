//! What can go wrong with a provider call: the public [`ProviderError`] and the internal
//! classification of one attempt ([`Failure`]) into a breaker [`Outcome`] and a metric kind.

use std::sync::Arc;
use std::time::Duration;

use super::Capability;
use crate::core::breaker::Outcome;
use crate::core::ledger::Rejection;
use crate::core::wait_budget::Bound;

/// A provider call did not (fully) work.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProviderError {
    /// A rate limit or cost cap refused the call; `sentence` is what to tell the user.
    #[error("limited: {sentence}")]
    Limited {
        /// Which limit.
        rejection: Rejection,
        /// The spoken/text answer for the user.
        sentence: String,
    },
    /// No endpoint for the capability is configured.
    #[error("no {0} provider is configured")]
    NotConfigured(Capability),
    /// Every endpoint of the chain was open or failed.
    #[error("{capability} unavailable: {detail}")]
    Unavailable {
        /// Which capability.
        capability: Capability,
        /// Per endpoint: why it did not serve.
        detail: String,
    },
    /// Every endpoint tried refused our credentials (401/403).
    #[error("{provider} refused our credentials (HTTP {status})")]
    Auth {
        /// The last endpoint that refused.
        provider: Arc<str>,
        /// 401 or 403.
        status: u16,
    },
    /// The response broke off, stalled or was not what the protocol promises.
    #[error("{provider}: {detail}")]
    Stream {
        /// The endpoint.
        provider: Arc<str>,
        /// What happened.
        detail: String,
    },
    /// The caller cancelled (barge-in, superseded turn).
    #[error("cancelled")]
    Cancelled,
    /// The turn's deadline passed before the answer started or before it was complete.
    #[error("deadline exceeded")]
    DeadlineExceeded,
}

impl ProviderError {
    /// The caller cancelled: not an error to report.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, ProviderError::Cancelled)
    }
}

/// How one attempt failed (classified into a breaker outcome and a metric kind).
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// Connect, TLS, DNS or other transport error before a response.
    Connect(String),
    /// The attempt timed out waiting for a response (or a stalled stream).
    Timeout,
    /// The turn's deadline passed: before the answer started, or while waiting for the rest
    /// of it (a trickle: see [`crate::core::wait_budget`]).
    Deadline,
    /// An HTTP error status (not 401/403/429).
    Status(u16),
    /// HTTP 429, with the wait it asked for.
    RateLimited(Option<Duration>),
    /// 401/403.
    Auth(u16),
    /// The body broke off.
    Cut(String),
    /// The body is not what the protocol promises (bad JSON, SSE, PCM, content type).
    Malformed(String),
    /// The response went past a bound on what one response may carry.
    Overrun(Overrun),
    /// The caller cancelled.
    Cancelled,
}

/// A bound on one response that was reached: the response is cut there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overrun {
    /// More tokens than `LLM_MAX_TOKENS`, counted locally: the model talked too long. Not the
    /// provider's fault (the breaker ignores it): what the model said up to here stands.
    Tokens(u32),
    /// More audio than `TTS_MAX_AUDIO_SECS` for one request: a sentence cannot take that
    /// long, the synthesiser is looping (a breaker failure).
    Audio(Duration),
    /// More bytes than a response of its kind may carry (padding, comments, a body that does
    /// not end): a breaker failure.
    Bytes(u64),
}

impl std::fmt::Display for Overrun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Overrun::Tokens(n) => write!(f, "answer longer than {n} tokens"),
            Overrun::Audio(d) => write!(f, "more than {} s of audio", d.as_secs_f64()),
            Overrun::Bytes(n) => write!(f, "response larger than {n} bytes"),
        }
    }
}

impl Failure {
    /// The breaker outcome (RESILIENCE.md).
    pub fn outcome(&self) -> Outcome {
        match self {
            Failure::Connect(_)
            | Failure::Timeout
            | Failure::Deadline
            | Failure::Cut(_)
            | Failure::Malformed(_)
            | Failure::Overrun(Overrun::Audio(_) | Overrun::Bytes(_)) => Outcome::Failure,
            Failure::Status(s) if *s >= 500 || *s == 408 => Outcome::Failure,
            Failure::Status(_) | Failure::Cancelled | Failure::Overrun(Overrun::Tokens(_)) => {
                Outcome::Ignored
            }
            Failure::RateLimited(w) => Outcome::RateLimited { retry_after: *w },
            Failure::Auth(_) => Outcome::AuthError,
        }
    }

    /// A wait for the body that ran out: a stall at the idle timeout, or the turn's deadline.
    pub fn stalled(bound: Bound) -> Self {
        match bound {
            Bound::Idle => Failure::Timeout,
            Bound::Deadline => Failure::Deadline,
        }
    }

    /// May the same endpoint be tried again (before any byte streamed)?
    pub fn retryable(&self) -> bool {
        match self {
            Failure::Connect(_) | Failure::Timeout => true,
            // 429 opens the breaker; the fallback gets the call instead.
            Failure::Status(s) => crate::core::retry::retryable_status(*s),
            _ => false,
        }
    }

    /// Label for `provider_errors_total{kind}`.
    pub fn kind(&self) -> &'static str {
        match self {
            Failure::Connect(_) => "connect",
            Failure::Timeout => "timeout",
            Failure::Deadline => "deadline",
            Failure::Status(s) if *s >= 500 => "status_5xx",
            Failure::Status(_) => "status_4xx",
            Failure::RateLimited(_) => "rate_limited",
            Failure::Auth(_) => "auth",
            Failure::Cut(_) => "cut",
            Failure::Malformed(_) => "malformed",
            Failure::Overrun(Overrun::Tokens(_)) => "overrun_tokens",
            Failure::Overrun(Overrun::Audio(_)) => "overrun_audio",
            Failure::Overrun(Overrun::Bytes(_)) => "overrun_bytes",
            Failure::Cancelled => "cancelled",
        }
    }

    /// The public error for a failure on an established stream.
    pub fn into_stream_error(self, provider: &Arc<str>) -> ProviderError {
        match self {
            Failure::Cancelled => ProviderError::Cancelled,
            Failure::Deadline => ProviderError::DeadlineExceeded,
            Failure::Auth(status) => ProviderError::Auth { provider: Arc::clone(provider), status },
            other => ProviderError::Stream { provider: Arc::clone(provider), detail: other.to_string() },
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Connect(e) => write!(f, "connection failed ({e})"),
            Failure::Timeout => f.write_str("timed out"),
            Failure::Deadline => f.write_str("turn deadline passed"),
            Failure::Status(s) => write!(f, "HTTP {s}"),
            Failure::RateLimited(Some(w)) => write!(f, "rate limited for {} ms", w.as_millis()),
            Failure::RateLimited(None) => f.write_str("rate limited"),
            Failure::Auth(s) => write!(f, "credentials refused (HTTP {s})"),
            Failure::Cut(e) => write!(f, "response cut off ({e})"),
            Failure::Malformed(e) => write!(f, "malformed response ({e})"),
            Failure::Overrun(o) => write!(f, "cut off: {o}"),
            Failure::Cancelled => f.write_str("cancelled"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_follows_the_semantics_doc() {
        assert_eq!(Failure::Status(503).outcome(), Outcome::Failure);
        assert_eq!(Failure::Status(408).outcome(), Outcome::Failure);
        assert_eq!(Failure::Status(400).outcome(), Outcome::Ignored);
        assert_eq!(Failure::Auth(401).outcome(), Outcome::AuthError);
        assert_eq!(Failure::Cancelled.outcome(), Outcome::Ignored);
        assert_eq!(Failure::Cut("eof".into()).outcome(), Outcome::Failure);
        let w = Some(Duration::from_secs(2));
        assert_eq!(Failure::RateLimited(w).outcome(), Outcome::RateLimited { retry_after: w });
        assert!(Failure::Status(502).retryable() && Failure::Timeout.retryable());
        assert!(!Failure::Status(404).retryable() && !Failure::RateLimited(None).retryable());
        assert!(!Failure::Auth(403).retryable() && !Failure::Cut(String::new()).retryable());
        // A model that talks too long is not the provider failing; a looping synthesiser or
        // a body that never ends is.
        assert_eq!(Failure::Overrun(Overrun::Tokens(300)).outcome(), Outcome::Ignored);
        assert_eq!(Failure::Overrun(Overrun::Audio(Duration::from_secs(1))).outcome(), Outcome::Failure);
        assert_eq!(Failure::Overrun(Overrun::Bytes(10)).outcome(), Outcome::Failure);
        assert_eq!(Failure::Deadline.outcome(), Outcome::Failure);
        assert!(!Failure::Overrun(Overrun::Bytes(10)).retryable());
    }
}
