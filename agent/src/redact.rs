//! Redaction of log lines: the last line of defence for credentials.
//!
//! Our own code keeps credentials in [`crate::secret::Secret`] and never logs them; the
//! libraries underneath may (a WebSocket handshake dump carries `Authorization: Bearer eyJ…`,
//! an error may carry a URL with a password). Every log line passes through [`Redactor`]
//! before it is written, and loses:
//! - every configured secret's value (API keys, the LiveKit secret, the Redis URL);
//! - anything shaped like a JWT (`eyJ…​.…​.…`);
//! - the credential after `Bearer ` / `Basic ` and after credential-like names
//!   (`authorization`, `api-key`, `password`, `access_token`, …) followed by `:` or `=`;
//! - the user and password of a URL (`scheme://user:pass@host`).

use std::borrow::Cow;

/// What replaces a credential.
pub const REDACTED: &str = "<redacted>";
/// Configured values shorter than this are not searched for (they would match ordinary text).
const MIN_KNOWN: usize = 6;

/// Names after which a `:` or `=` introduces a credential (matched case-insensitively).
const CREDENTIAL_NAMES: [&str; 10] = [
    "authorization",
    "api-key",
    "api_key",
    "apikey",
    "access_token",
    "password",
    "passwd",
    "api_secret",
    "client_secret",
    "token",
];
/// Authentication schemes whose next word is a credential.
const SCHEMES: [&str; 2] = ["bearer ", "basic "];

/// Redacts credentials from text.
#[derive(Debug, Default, Clone)]
pub struct Redactor {
    known: Vec<String>,
}

impl Redactor {
    /// A redactor that also removes these exact values (empty and very short ones ignored).
    pub fn new<I, S>(known: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut known: Vec<String> =
            known.into_iter().map(|s| s.as_ref().to_owned()).filter(|s| s.len() >= MIN_KNOWN).collect();
        // Longest first, so a secret containing another is removed whole.
        known.sort_by_key(|s| std::cmp::Reverse(s.len()));
        known.dedup();
        Self { known }
    }

    /// `text` without credentials.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for secret in &self.known {
            if out.contains(secret.as_str()) {
                out = Cow::Owned(out.replace(secret.as_str(), REDACTED));
            }
        }
        let out = replace_all(out, jwt_at);
        let out = replace_all(out, scheme_credential_at);
        let out = replace_all(out, named_credential_at);
        replace_all(out, url_userinfo_at)
    }
}

/// A finder: given text and a start, the next credential's byte range.
type Finder = fn(&str, usize) -> Option<(usize, usize)>;

fn replace_all(text: Cow<'_, str>, find: Finder) -> Cow<'_, str> {
    let mut from = 0;
    let mut out: Option<String> = None;
    let mut copied = 0;
    while let Some((start, end)) = find(&text, from) {
        let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
        o.push_str(&text[copied..start]);
        o.push_str(REDACTED);
        copied = end;
        from = end.max(start + 1);
    }
    match out {
        None => text,
        Some(mut o) => {
            o.push_str(&text[copied..]);
            Cow::Owned(o)
        }
    }
}

fn is_b64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'='
}

/// Ends a credential value: whitespace, quotes, escapes, separators.
fn ends_value(b: u8) -> bool {
    b.is_ascii_whitespace() || matches!(b, b'"' | b'\'' | b'\\' | b',' | b'&' | b';' | b'}' | b')')
}

/// Case-insensitive ASCII search.
fn find_ci(hay: &str, needle: &str, from: usize) -> Option<usize> {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    (from..(h.len() + 1).saturating_sub(n.len())).find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

/// `eyJ` + base64url, at least two dots.
fn jwt_at(text: &str, from: usize) -> Option<(usize, usize)> {
    let b = text.as_bytes();
    let mut at = from;
    while let Some(i) = text.get(at..)?.find("eyJ").map(|i| i + at) {
        let (mut end, mut dots) = (i, 0);
        while end < b.len() && (is_b64url(b[end]) || b[end] == b'.') {
            dots += usize::from(b[end] == b'.');
            end += 1;
        }
        if dots >= 2 && end - i >= 16 {
            return Some((i, end));
        }
        at = i + 3;
    }
    None
}

/// The word after `Bearer ` / `Basic `.
fn scheme_credential_at(text: &str, from: usize) -> Option<(usize, usize)> {
    SCHEMES
        .iter()
        .filter_map(|s| {
            let start = find_ci(text, s, from)? + s.len();
            let end = value_end(text, start);
            (end > start && &text[start..end] != REDACTED).then_some((start, end))
        })
        .min()
}

/// The value after a credential-like name and `:` / `=` (a scheme word kept).
fn named_credential_at(text: &str, from: usize) -> Option<(usize, usize)> {
    let b = text.as_bytes();
    let mut best: Option<(usize, usize)> = None;
    for name in CREDENTIAL_NAMES {
        let mut at = from;
        while let Some(i) = find_ci(text, name, at) {
            at = i + name.len();
            // A name, not the tail of a longer word ("max_token" is not "token").
            if i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_') {
                continue;
            }
            let mut j = at;
            let mut sep = false;
            while j < b.len() && j < at + 4 && matches!(b[j], b'"' | b'\'' | b'\\' | b' ' | b':' | b'=') {
                sep |= matches!(b[j], b':' | b'=');
                j += 1;
            }
            if !sep {
                continue;
            }
            for s in SCHEMES {
                if text.get(j..j + s.len()).is_some_and(|w| w.eq_ignore_ascii_case(s)) {
                    j += s.len();
                }
            }
            let end = value_end(text, j);
            if end > j && &text[j..end] != REDACTED && best.is_none_or(|(s, _)| j < s) {
                best = Some((j, end));
                break;
            }
        }
    }
    best
}

fn value_end(text: &str, start: usize) -> usize {
    let b = text.as_bytes();
    let mut end = start;
    while end < b.len() && !ends_value(b[end]) {
        end += 1;
    }
    end
}

/// `user:pass` in `scheme://user:pass@host`.
fn url_userinfo_at(text: &str, from: usize) -> Option<(usize, usize)> {
    let b = text.as_bytes();
    let mut at = from;
    while let Some(i) = text.get(at..)?.find("://").map(|i| i + at) {
        let start = i + 3;
        let mut end = start;
        let mut at_sign = None;
        while end < b.len() && !ends_value(b[end]) && !matches!(b[end], b'/' | b'?' | b'#') {
            if b[end] == b'@' {
                at_sign = Some(end);
            }
            end += 1;
        }
        if let Some(a) = at_sign.filter(|&a| a > start && &text[start..a] != REDACTED) {
            return Some((start, a));
        }
        at = start;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const JWT: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZ2VudCJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ";

    fn r(text: &str) -> String {
        Redactor::new(["sk-live-canary-123", "lk-secret-canary"]).redact(text).into_owned()
    }

    #[test]
    fn tungstenite_handshake_dump() {
        let line = format!(
            "Request: \"GET /agent HTTP/1.1\\r\\nHost: 127.0.0.1:7880\\r\\nauthorization: Bearer {JWT}\\r\\nsec-websocket-version: 13\\r\\n\""
        );
        let out = r(&line);
        assert!(!out.contains("eyJ"), "{out}");
        assert!(out.contains("authorization: Bearer <redacted>\\r\\nsec-websocket-version"), "{out}");
    }

    #[test]
    fn known_values_jwts_urls_and_named_values() {
        assert_eq!(r("key sk-live-canary-123 used"), "key <redacted> used");
        assert_eq!(r(&format!("token={JWT}&x=1")), "token=<redacted>&x=1");
        assert_eq!(r(&format!("join {JWT} now")), "join <redacted> now");
        assert_eq!(
            r("REDIS_URL=rediss://:pa55word@redis.example:6380/0"),
            "REDIS_URL=rediss://<redacted>@redis.example:6380/0"
        );
        assert_eq!(r("url redis://default:pw@h:1"), "url redis://<redacted>@h:1");
        assert_eq!(r(r#"{"api_key":"sk-other","model":"m"}"#), r#"{"api_key":"<redacted>","model":"m"}"#);
        assert_eq!(r("x-api-key: abc123 next"), "x-api-key: <redacted> next");
        assert_eq!(r("Authorization: Basic dXNlcjpwYXNz"), "Authorization: Basic <redacted>");
        assert_eq!(r("password = hunter22"), "password = <redacted>");
    }

    #[test]
    fn ordinary_text_is_left_alone() {
        for line in [
            "max_tokens=256 tokens counted",
            "turn ended: 12 tokens, https://api.example.com/v1/chat/completions",
            "participant eyJ-not-a-jwt joined",
            "the secret of a good answer",
            "json {\"max_token\":3}",
        ] {
            assert_eq!(r(line), line);
        }
        assert!(matches!(Redactor::default().redact("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn short_known_values_are_not_searched_for() {
        let red = Redactor::new(["ab", "", "long-enough"]);
        assert_eq!(red.redact("ab long-enough"), "ab <redacted>");
    }
}
