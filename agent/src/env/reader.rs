//! Reading typed values out of environment variables, collecting every mistake.
//!
//! Each subsystem's settings are read through an [`EnvReader`] at the configuration edge; a bad
//! value does not stop the reading, it is recorded and the default is returned, so the operator
//! sees *all* mistakes in one run instead of fixing them one restart at a time. Numbers must be
//! finite and in range: `NaN` and `inf` are refused like any other out-of-range value.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::secret::Secret;

/// One bad setting: which variable, what it held, what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The environment variable's name.
    pub var: String,
    /// What the variable held (secrets are never echoed: see [`EnvReader::secret`]).
    pub value: Option<String>,
    /// What would have been accepted.
    pub expected: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(v) => write!(f, "{}={:?}: expected {}", self.var, v, self.expected),
            None => write!(f, "{}: expected {}", self.var, self.expected),
        }
    }
}

/// A snapshot of the environment plus the errors found while reading it.
#[derive(Debug, Default)]
pub struct EnvReader {
    vars: HashMap<String, String>,
    errors: Vec<ConfigError>,
    floats: Vec<String>,
    /// Variables read as secrets: an error about them never carries their value.
    secret_names: Vec<String>,
}

/// A number a setting may hold: whole numbers, or floating point (which must be finite).
pub trait Number: FromStr + PartialOrd + Copy + fmt::Display {
    /// Floating point: `NaN` and infinities parse, and are refused by [`EnvReader::ranged`].
    const FLOAT: bool;
}

macro_rules! numbers {
    ($float:literal: $($t:ty),*) => { $(impl Number for $t { const FLOAT: bool = $float; })* };
}
numbers!(false: u8, u16, u32, u64, usize, i32, i64);
numbers!(true: f32, f64);

impl EnvReader {
    /// Reads from the given variables (tests pass their own map; `main` passes the process env).
    pub fn new(vars: HashMap<String, String>) -> Self {
        Self { vars, errors: Vec::new(), floats: Vec::new(), secret_names: Vec::new() }
    }

    /// Reads from name/value pairs (tests and examples).
    ///
    /// ```
    /// use voice_agent::env::EnvReader;
    /// let mut env = EnvReader::from_pairs(&[("MAX_JOBS", "7"), ("LOAD_THRESHOLD", "NaN")]);
    /// assert_eq!(env.ranged("MAX_JOBS", 100u32, 1, 10_000), 7);
    /// assert_eq!(env.ranged("LOAD_THRESHOLD", 0.7, 0.01, 1.0), 0.7);
    /// assert_eq!(env.finish().unwrap_err()[0].var, "LOAD_THRESHOLD");
    /// ```
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        Self::new(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    /// The raw value, if set and not empty.
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(|s| s.trim()).filter(|s| !s.is_empty())
    }

    /// Records an error for `name` (used by modules with cross-field checks). The value is
    /// quoted in the message unless `name` was read as a [`EnvReader::secret`].
    pub fn error(&mut self, name: &str, expected: impl Into<String>) {
        let secret = self.secret_names.iter().any(|n| n == name);
        let value = self.raw(name).filter(|_| !secret).map(str::to_owned);
        self.errors.push(ConfigError { var: name.to_owned(), value, expected: expected.into() });
    }

    /// A string, or `default` when unset.
    pub fn string(&mut self, name: &str, default: &str) -> String {
        self.raw(name).unwrap_or(default).to_owned()
    }

    /// An optional string.
    pub fn opt_string(&mut self, name: &str) -> Option<String> {
        self.raw(name).map(str::to_owned)
    }

    /// A secret: read from `NAME`, or from the file named by `NAME_FILE` (Docker secrets).
    /// Its value never appears in an error, even one recorded later through
    /// [`EnvReader::error`].
    ///
    /// ```
    /// use voice_agent::env::EnvReader;
    /// let mut env = EnvReader::from_pairs(&[("REDIS_URL", "http://:hunter22@redis:6379")]);
    /// let url = env.secret("REDIS_URL").unwrap();
    /// assert_eq!(format!("{url:?}"), "<redacted>");
    /// env.error("REDIS_URL", "a redis:// URL");
    /// let errors = env.finish().unwrap_err();
    /// assert_eq!(errors[0].to_string(), "REDIS_URL: expected a redis:// URL");
    /// ```
    pub fn secret(&mut self, name: &str) -> Option<Secret> {
        if !self.secret_names.iter().any(|n| n == name) {
            self.secret_names.push(name.to_owned());
        }
        if let Some(v) = self.raw(name) {
            return Some(Secret::from(v));
        }
        let file_var = format!("{name}_FILE");
        let path = self.raw(&file_var)?.to_owned();
        match std::fs::read_to_string(&path) {
            Ok(s) if !s.trim().is_empty() => Some(Secret::from(s.trim())),
            Ok(_) => {
                self.error(&file_var, "a file holding the secret (it is empty)");
                None
            }
            Err(e) => {
                self.error(&file_var, format!("a readable file ({e})"));
                None
            }
        }
    }

    /// Any `FromStr` value; `expected` describes valid input for the error message.
    pub fn parse<T: FromStr>(&mut self, name: &str, default: T, expected: &str) -> T {
        match self.raw(name) {
            None => default,
            Some(v) => match v.parse() {
                Ok(x) => x,
                Err(_) => {
                    self.error(name, expected);
                    default
                }
            },
        }
    }

    /// A number that must lie in `[min, max]` (so never `NaN`: it compares with nothing).
    pub fn ranged<T: Number>(&mut self, name: &str, default: T, min: T, max: T) -> T {
        if T::FLOAT && !self.floats.iter().any(|f| f == name) {
            self.floats.push(name.to_owned());
        }
        let expected = format!("a number from {min} to {max}");
        let v = self.parse(name, default, &expected);
        if !(min <= v && v <= max) {
            self.error(name, expected);
            return default;
        }
        v
    }

    /// A boolean: true/false, 1/0, yes/no, on/off.
    pub fn flag(&mut self, name: &str, default: bool) -> bool {
        match self.raw(name).map(str::to_ascii_lowercase).as_deref() {
            None => default,
            Some("1" | "true" | "yes" | "on") => true,
            Some("0" | "false" | "no" | "off") => false,
            Some(_) => {
                self.error(name, "true or false");
                default
            }
        }
    }

    /// A duration in seconds (fractions allowed, e.g. `0.5`), within `[min, max]` seconds.
    pub fn seconds(&mut self, name: &str, default: Duration, min: f64, max: f64) -> Duration {
        let secs = self.ranged(name, default.as_secs_f64(), min, max);
        Duration::try_from_secs_f64(secs).unwrap_or(default)
    }

    /// One of a fixed set of words (case-insensitive).
    pub fn choice<T: Copy>(&mut self, name: &str, default: T, choices: &[(&str, T)]) -> T {
        let Some(v) = self.raw(name).map(str::to_ascii_lowercase) else { return default };
        match choices.iter().find(|(k, _)| *k == v) {
            Some((_, t)) => *t,
            None => {
                let names: Vec<&str> = choices.iter().map(|(k, _)| *k).collect();
                self.error(name, format!("one of {}", names.join(", ")));
                default
            }
        }
    }

    /// Every variable read so far as a floating-point number (including seconds), in order.
    pub fn float_names(&self) -> &[String] {
        &self.floats
    }

    /// The errors found so far.
    pub fn errors(&self) -> &[ConfigError] {
        &self.errors
    }

    /// Ends reading: `Ok` if nothing was wrong, else every error found.
    pub fn finish(self) -> Result<(), Vec<ConfigError>> {
        if self.errors.is_empty() { Ok(()) } else { Err(self.errors) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_every_error_and_keeps_defaults() {
        let mut r = EnvReader::from_pairs(&[("A", "x"), ("B", "2.0"), ("C", "maybe")]);
        assert_eq!(r.parse::<u32>("A", 7, "a whole number"), 7);
        assert_eq!(r.ranged("B", 0.5, 0.0, 1.0), 0.5);
        assert!(r.flag("C", true));
        let errs = r.finish().unwrap_err();
        let vars: Vec<_> = errs.iter().map(|e| e.var.as_str()).collect();
        assert_eq!(vars, ["A", "B", "C"]);
        assert_eq!(errs[1].to_string(), "B=\"2.0\": expected a number from 0 to 1");
    }

    #[test]
    fn non_finite_numbers_are_refused_and_named() {
        let mut r =
            EnvReader::from_pairs(&[("N", "NaN"), ("I", "inf"), ("M", "-inf"), ("S", "nan"), ("W", "3")]);
        assert_eq!(r.ranged("N", 5.0, 0.0, 1e9), 5.0);
        assert_eq!(r.ranged("I", 0.5f32, 0.0, f32::MAX), 0.5);
        assert_eq!(r.ranged("M", 0.5, -1e9, 1e9), 0.5);
        assert_eq!(r.seconds("S", Duration::from_secs(2), 0.0, 10.0), Duration::from_secs(2));
        assert_eq!(r.ranged("W", 1u32, 0, 10), 3);
        assert_eq!(r.float_names(), ["N", "I", "M", "S"]);
        let errs = r.finish().unwrap_err();
        let vars: Vec<_> = errs.iter().map(|e| e.var.as_str()).collect();
        assert_eq!(vars, ["N", "I", "M", "S"]);
    }

    #[test]
    fn blank_means_unset() {
        let mut r = EnvReader::from_pairs(&[("A", "  ")]);
        assert_eq!(r.string("A", "d"), "d");
        assert!(r.finish().is_ok());
    }

    #[test]
    fn secret_from_file_and_missing_file() {
        let dir = std::env::temp_dir().join(format!("va-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("key");
        std::fs::write(&f, "s3cret\n").unwrap();
        let mut r = EnvReader::from_pairs(&[("K_FILE", f.to_str().unwrap()), ("M_FILE", "/nonexistent/x")]);
        assert_eq!(r.secret("K").as_ref().map(Secret::expose), Some("s3cret"));
        assert_eq!(r.secret("M"), None);
        let errs = r.finish().unwrap_err();
        assert_eq!(errs[0].var, "M_FILE");
        assert!(!errs[0].to_string().contains("s3cret"));
    }

    #[test]
    fn choice_lists_options() {
        let mut r = EnvReader::from_pairs(&[("MODE", "loud")]);
        assert_eq!(r.choice("MODE", 1, &[("voice", 1), ("echo", 2)]), 1);
        assert_eq!(r.errors()[0].expected, "one of voice, echo");
    }
}
