//! [`Secret`]: a credential that cannot be printed by accident.
//!
//! API keys, the LiveKit API secret, JWTs and URLs with passwords are held in a `Secret`, whose
//! `Debug` and `Display` print `<redacted>`. Reading the value takes an explicit
//! [`Secret::expose`], at the one place that sends it (a header, a signature, a connect call).

use std::fmt;

/// A credential whose `Debug` and `Display` never show it.
///
/// ```
/// use voice_agent::secret::Secret;
/// let key = Secret::new("sk-live-123");
/// assert_eq!(format!("{key} {key:?}"), "<redacted> <redacted>");
/// assert_eq!(key.expose(), "sk-live-123");
/// #[derive(Debug)]
/// struct Options { token: Secret }
/// assert!(!format!("{:?}", Options { token: "eyJhbGciOi.x.y".into() }).contains("eyJ"));
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a credential.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The credential itself: only where it is sent or used to sign.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl From<&String> for Secret {
    fn from(value: &String) -> Self {
        Self(value.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_printed() {
        let s = Secret::from("rediss://:pw@host:6379".to_owned());
        assert_eq!(format!("{s}|{s:?}|{:?}", Some(&s)), "<redacted>|<redacted>|Some(<redacted>)");
        assert_eq!(s.expose(), "rediss://:pw@host:6379");
        assert!(!s.is_empty() && Secret::default().is_empty());
    }
}
