//! Parsing a provider's "come back later" hints: `retry-after-ms`, `Retry-After` (seconds or
//! an HTTP-date) and OpenAI's `x-ratelimit-reset-{requests,tokens}` ("6m0s", "1s", "20ms").
//!
//! Garbage, negative and non-finite values yield `None` (Azure sometimes sends `-1` or `0`
//! with no Retry-After); the caller then falls back to the breaker's own open time. Every
//! accepted value is clamped to [`MIN_RETRY`]..=[`MAX_RETRY`] so one odd header can neither
//! hammer a provider nor silence it for an hour.

use std::time::Duration;

/// The shortest wait we honour (a "0" would otherwise mean "retry in a tight loop").
pub const MIN_RETRY: Duration = Duration::from_millis(100);
/// The longest wait we honour; longer hints are treated as this.
pub const MAX_RETRY: Duration = Duration::from_secs(60);

fn clamp(d: Duration) -> Duration {
    d.clamp(MIN_RETRY, MAX_RETRY)
}

fn finite_secs(secs: f64) -> Option<Duration> {
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(1e9)))
}

/// `retry-after-ms: 1500` → 1.5 s (clamped).
pub fn parse_retry_after_ms(value: &str) -> Option<Duration> {
    let ms: f64 = value.trim().parse().ok()?;
    finite_secs(ms / 1000.0).map(clamp)
}

/// `Retry-After: 20` (seconds, fractions tolerated) or `Retry-After: Wed, 21 Oct 2015 07:28:00
/// GMT` (an HTTP-date, turned into a wait using `unix_now`, the wall clock since the epoch).
pub fn parse_retry_after(value: &str, unix_now: Duration) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<f64>() {
        return finite_secs(secs).map(clamp);
    }
    let at = httpdate::parse_http_date(v).ok()?;
    let at = at.duration_since(std::time::UNIX_EPOCH).ok()?;
    // A date in the past means "now": the clamp turns that into the minimum wait.
    Some(clamp(at.saturating_sub(unix_now)))
}

/// A Go-style duration as OpenAI sends in `x-ratelimit-reset-*`: `"6m0s"`, `"1s"`, `"20ms"`,
/// `"1h2m3.5s"`, or bare seconds `"2.5"`.
pub fn parse_reset(value: &str) -> Option<Duration> {
    let v = value.trim();
    if v.is_empty() {
        return None;
    }
    if let Ok(secs) = v.parse::<f64>() {
        return finite_secs(secs).map(clamp);
    }
    let mut total = 0.0f64;
    let mut rest = v;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let n: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += n * scale;
    }
    finite_secs(total).map(clamp)
}

/// The wait a 429 response asks for, from its headers (`header(name)` looks one up,
/// case-insensitively, as the HTTP client does). Order of trust: `retry-after-ms`, then
/// `Retry-After`, then the longest of `x-ratelimit-reset-requests` / `-tokens`.
pub fn retry_after_from_headers<'a>(
    header: impl Fn(&str) -> Option<&'a str>,
    unix_now: Duration,
) -> Option<Duration> {
    if let Some(d) = header("retry-after-ms").and_then(parse_retry_after_ms) {
        return Some(d);
    }
    if let Some(d) = header("retry-after").and_then(|v| parse_retry_after(v, unix_now)) {
        return Some(d);
    }
    let a = header("x-ratelimit-reset-requests").and_then(parse_reset);
    let b = header("x-ratelimit-reset-tokens").and_then(parse_reset);
    a.max(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn seconds_and_milliseconds() {
        assert_eq!(parse_retry_after("20", Duration::ZERO), Some(ms(20_000)));
        assert_eq!(parse_retry_after(" 1.5 ", Duration::ZERO), Some(ms(1500)));
        assert_eq!(parse_retry_after_ms("1500"), Some(ms(1500)));
        assert_eq!(parse_retry_after_ms("250.5"), Some(Duration::from_micros(250_500)));
    }

    #[test]
    fn clamped_to_bounds() {
        assert_eq!(parse_retry_after("0", Duration::ZERO), Some(MIN_RETRY));
        assert_eq!(parse_retry_after_ms("3"), Some(MIN_RETRY));
        assert_eq!(parse_retry_after("86400", Duration::ZERO), Some(MAX_RETRY));
        assert_eq!(parse_retry_after("1e300", Duration::ZERO), Some(MAX_RETRY));
    }

    #[test]
    fn garbage_and_negative_are_none() {
        for v in ["", "soon", "-1", "-0.5", "NaN", "inf", "12abc", "0x10", "--1"] {
            assert_eq!(parse_retry_after(v, Duration::ZERO), None, "{v}");
            assert_eq!(parse_retry_after_ms(v), None, "{v}");
        }
        for v in ["", "s", "6x", "1s2", "-1s", "m5", "1..2s", "NaNs"] {
            assert_eq!(parse_reset(v), None, "{v}");
        }
    }

    #[test]
    fn http_date_relative_to_wall_clock() {
        // Wed, 21 Oct 2015 07:28:00 GMT = 1445412480
        let date = "Wed, 21 Oct 2015 07:28:00 GMT";
        let now = Duration::from_secs(1_445_412_480 - 30);
        assert_eq!(parse_retry_after(date, now), Some(ms(30_000)));
        // Already past: retry after the minimum wait.
        assert_eq!(parse_retry_after(date, now + Duration::from_secs(100)), Some(MIN_RETRY));
        assert_eq!(parse_retry_after("Wed, 32 Oct 2015 07:28:00 GMT", now), None);
    }

    #[test]
    fn openai_reset_forms() {
        assert_eq!(parse_reset("6m0s"), Some(MAX_RETRY));
        assert_eq!(parse_reset("1s"), Some(ms(1000)));
        assert_eq!(parse_reset("20ms"), Some(MIN_RETRY));
        assert_eq!(parse_reset("250ms"), Some(ms(250)));
        assert_eq!(parse_reset("1m"), Some(MAX_RETRY));
        assert_eq!(parse_reset("0.5s"), Some(ms(500)));
        assert_eq!(parse_reset("2.5"), Some(ms(2500)));
        assert_eq!(parse_reset("1s500ms"), Some(ms(1500)));
    }

    #[test]
    fn header_precedence() {
        let hdrs = [("retry-after", "7"), ("x-ratelimit-reset-requests", "2s"), ("retry-after-ms", "1200")];
        let get = |all: &'static [(&'static str, &'static str)]| {
            move |n: &str| all.iter().find(|(k, _)| *k == n).map(|(_, v)| *v)
        };
        let all: &'static [(&str, &str)] = Box::leak(Box::new(hdrs));
        assert_eq!(retry_after_from_headers(get(all), Duration::ZERO), Some(ms(1200)));
        assert_eq!(retry_after_from_headers(get(&all[..2]), Duration::ZERO), Some(ms(7000)));
        let resets: &'static [(&str, &str)] =
            &[("x-ratelimit-reset-requests", "2s"), ("x-ratelimit-reset-tokens", "3s500ms")];
        assert_eq!(retry_after_from_headers(get(resets), Duration::ZERO), Some(ms(3500)));
        // Azure: -1 and no Retry-After → nothing usable.
        let azure: &'static [(&str, &str)] = &[("retry-after", "-1")];
        assert_eq!(retry_after_from_headers(get(azure), Duration::ZERO), None);
        // A garbage retry-after-ms does not hide a good Retry-After.
        let mixed: &'static [(&str, &str)] = &[("retry-after-ms", "x"), ("retry-after", "4")];
        assert_eq!(retry_after_from_headers(get(mixed), Duration::ZERO), Some(ms(4000)));
    }
}
