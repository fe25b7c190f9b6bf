//! Who may read `/stats`: everyone, holders of a bearer token, or nobody.
//!
//! `/stats` names users and rooms; deployments that expose the health port beyond the
//! orchestrator turn it off or require a token. The probes and `/metrics` stay open.

use std::fmt;

/// Access to `/stats`.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum StatsAccess {
    /// Anyone who reaches the port (the default).
    #[default]
    Open,
    /// Only requests with `Authorization: Bearer <token>`.
    Token(String),
    /// `/stats` answers 404 like an unknown path.
    Off,
}

impl fmt::Debug for StatsAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StatsAccess::Open => "Open",
            StatsAccess::Token(_) => "Token(<redacted>)",
            StatsAccess::Off => "Off",
        })
    }
}

/// What the access check decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Serve it.
    Allowed,
    /// 401 with `WWW-Authenticate: Bearer`.
    Unauthorized,
    /// 404: the route is off.
    Off,
}

impl StatsAccess {
    /// Checks a request's `Authorization` header.
    ///
    /// ```
    /// use health::access::{StatsAccess, Verdict};
    /// let access = StatsAccess::Token("s3cret-token".into());
    /// assert_eq!(access.check(Some("Bearer s3cret-token")), Verdict::Allowed);
    /// assert_eq!(access.check(Some("Bearer wrong")), Verdict::Unauthorized);
    /// assert_eq!(access.check(None), Verdict::Unauthorized);
    /// assert_eq!(StatsAccess::Off.check(Some("Bearer s3cret-token")), Verdict::Off);
    /// ```
    pub fn check(&self, authorization: Option<&str>) -> Verdict {
        match self {
            StatsAccess::Open => Verdict::Allowed,
            StatsAccess::Off => Verdict::Off,
            StatsAccess::Token(token) => {
                let offered = authorization
                    .and_then(|h| h.trim().split_once(' '))
                    .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                    .map(|(_, t)| t.trim());
                match offered {
                    Some(t) if same(t.as_bytes(), token.as_bytes()) => Verdict::Allowed,
                    _ => Verdict::Unauthorized,
                }
            }
        }
    }
}

/// Compares without stopping at the first difference, so timing does not reveal the token.
fn same(a: &[u8], b: &[u8]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    diff == 0 && a.len() == b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_checks() {
        let a = StatsAccess::Token("abc".into());
        assert_eq!(a.check(Some("bearer abc")), Verdict::Allowed);
        assert_eq!(a.check(Some("Bearer abcd")), Verdict::Unauthorized);
        assert_eq!(a.check(Some("Bearer ab")), Verdict::Unauthorized);
        assert_eq!(a.check(Some("Basic abc")), Verdict::Unauthorized);
        assert_eq!(a.check(Some("abc")), Verdict::Unauthorized);
        assert_eq!(StatsAccess::Open.check(None), Verdict::Allowed);
        assert_eq!(format!("{a:?}"), "Token(<redacted>)");
    }
}
