//! One HTTP attempt: send with a deadline and a cancellation token, turn the status into a
//! [`Failure`], read the provider's rate-limit headers, read bounded bodies (size, idle
//! timeout, the turn's deadline).

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::header::HeaderMap;
use tokio_util::sync::CancellationToken;

use super::error::{Failure, Overrun};
use crate::clock;
use crate::core::retry_after::{parse_reset, retry_after_from_headers};
use crate::core::wait_budget::WaitBudget;

/// The HTTP client every endpoint shares (connection pooling, HTTP/2 where offered).
pub(crate) fn client(connect_timeout: Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .pool_idle_timeout(Duration::from_secs(60))
        .tcp_nodelay(true)
        .user_agent(concat!("voice-agent/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Sends `req` and waits for the response head until `attempt_deadline` (or the turn's
/// `deadline`, whichever is first), unless `cancel` fires.
pub(crate) async fn send(
    req: reqwest::RequestBuilder,
    attempt_deadline: Instant,
    deadline: Instant,
    cancel: &CancellationToken,
) -> Result<reqwest::Response, Failure> {
    let until = attempt_deadline.min(deadline);
    let sent = tokio::select! {
        biased;
        () = cancel.cancelled() => return Err(Failure::Cancelled),
        r = tokio::time::timeout_at(until.into(), req.send()) => r,
    };
    let resp = match sent {
        Err(_elapsed) if until >= deadline => return Err(Failure::Deadline),
        Err(_elapsed) => return Err(Failure::Timeout),
        Ok(Err(e)) => return Err(Failure::Connect(error_chain(&e))),
        Ok(Ok(r)) => r,
    };
    check_status(resp)
}

/// 2xx passes; everything else becomes a [`Failure`].
pub(crate) fn check_status(resp: reqwest::Response) -> Result<reqwest::Response, Failure> {
    let s = resp.status().as_u16();
    match s {
        200..=299 => Ok(resp),
        401 | 403 => Err(Failure::Auth(s)),
        429 => {
            let h = resp.headers();
            let wait =
                retry_after_from_headers(|n| h.get(n).and_then(|v| v.to_str().ok()), clock::unix_now());
            Err(Failure::RateLimited(wait))
        }
        _ => Err(Failure::Status(s)),
    }
}

/// A successful response saying the quota is spent (`x-ratelimit-remaining-* = 0`): how long
/// until it resets, so the breaker can stay away instead of collecting a 429.
pub(crate) fn exhausted_for(h: &HeaderMap) -> Option<Duration> {
    let get = |n: &str| h.get(n).and_then(|v| v.to_str().ok()).map(str::trim);
    let spent = |kind: &str| get(&format!("x-ratelimit-remaining-{kind}")) == Some("0");
    let reset = |kind: &str| get(&format!("x-ratelimit-reset-{kind}")).and_then(parse_reset);
    let req = if spent("requests") { reset("requests") } else { None };
    let tok = if spent("tokens") { reset("tokens") } else { None };
    req.max(tok)
}

/// The response's content type, lower-cased, without parameters.
pub(crate) fn content_type(resp: &reqwest::Response) -> String {
    resp.headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

/// Reads a whole body of at most `max` bytes, each chunk within `idle` of the previous one
/// and the whole of it by `deadline` (the turn's).
pub(crate) async fn read_bounded(
    resp: reqwest::Response,
    max: usize,
    idle: Duration,
    deadline: Instant,
    cancel: &CancellationToken,
) -> Result<Vec<u8>, Failure> {
    let mut body = Vec::new();
    let mut stream = resp.bytes_stream();
    let budget = WaitBudget::new(deadline);
    loop {
        let now = clock::now();
        if budget.spent(now) {
            return Err(Failure::Deadline);
        }
        let (until, bound) = budget.wait_until(now, idle);
        let next = tokio::select! {
            biased;
            () = cancel.cancelled() => return Err(Failure::Cancelled),
            n = tokio::time::timeout_at(until.into(), stream.next()) => n,
        };
        match next {
            Err(_) => return Err(Failure::stalled(bound)),
            Ok(None) => return Ok(body),
            Ok(Some(Err(e))) => return Err(Failure::Cut(error_chain(&e))),
            Ok(Some(Ok(bytes))) => {
                if body.len() + bytes.len() > max {
                    return Err(Failure::Overrun(Overrun::Bytes(max as u64)));
                }
                body.extend_from_slice(&bytes);
            }
        }
    }
}

/// An error with its causes, for logs (reqwest's own message is often just "error sending request").
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn spent_quota_headers_give_the_reset() {
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining-requests", HeaderValue::from_static("12"));
        h.insert("x-ratelimit-reset-requests", HeaderValue::from_static("2s"));
        assert_eq!(exhausted_for(&h), None);
        h.insert("x-ratelimit-remaining-tokens", HeaderValue::from_static("0"));
        h.insert("x-ratelimit-reset-tokens", HeaderValue::from_static("1.5s"));
        assert_eq!(exhausted_for(&h), Some(Duration::from_millis(1500)));
        h.insert("x-ratelimit-remaining-requests", HeaderValue::from_static("0"));
        assert_eq!(exhausted_for(&h), Some(Duration::from_secs(2)));
    }
}
