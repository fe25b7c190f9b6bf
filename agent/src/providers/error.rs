//! What can go wrong with a provider call: the public [`ProviderError`] and the internal
//! classification of one attempt ([`Failure`]) into a breaker [`Outcome`] and a metric kind.

use std::sync::Arc;
use std::time::Duration;

use super::Capability;
use crate::core::breaker::Outcome;
use crate::core::ledger::Rejection;

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
    /// The turn's deadline passed.
    #[error("deadline exceeded")]
    DeadlineExceeded,
}

impl ProviderError {
    /// The caller cancelled: not an error to report.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, ProviderError::Cancelled)
    }
}

/// How one attempt failed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Failure {
    /// Connect, TLS, DNS or other transport error before a response.
    Connect(String),
    /// The attempt timed out waiting for a response (or a stalled stream).
    Timeout,
    /// The turn's deadline passed.
    Deadline,
    /// An HTTP error status (not 401/403/429).
    Status(u16),
    /// HTTP 429, with the wait it asked for.
    RateLimited(Option<Duration>),
    /// 401/403.
    Auth(u16),
    /// The body broke off.
    Cut(String),
    /// The body is not what the protocol promises (bad JSON, SSE, PCM, content type, size).
    Malformed(String),
    /// The caller cancelled.
    Cancelled,
}

impl Failure {
    /// The breaker outcome (RESILIENCE.md).
    pub fn outcome(&self) -> Outcome {
        match self {
            Failure::Connect(_)
            | Failure::Timeout
            | Failure::Deadline
            | Failure::Cut(_)
            | Failure::Malformed(_) => Outcome::Failure,
            Failure::Status(s) if *s >= 500 || *s == 408 => Outcome::Failure,
            Failure::Status(_) | Failure::Cancelled => Outcome::Ignored,
            Failure::RateLimited(w) => Outcome::RateLimited { retry_after: *w },
            Failure::Auth(_) => Outcome::AuthError,
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
    }
}
