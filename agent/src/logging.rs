//! Log setup: readable text for a terminal, one JSON object per line in production.
//!
//! Secrets never reach the logs, at any level and in either format:
//! - credentials are [`Secret`](crate::secret::Secret)s, which print as `<redacted>`;
//! - the network libraries underneath (WebSocket, HTTP, Redis, TLS) dump requests and frames at
//!   debug and trace level, so they are held at `info` unless `LOG_LEVEL` names them;
//! - every event (and every panic message) passes through a [`Redactor`] that knows the
//!   configured credentials and the shapes of JWTs, `Bearer` headers and URL passwords, before
//!   a byte reaches stderr.

use std::io::Write;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::redact::Redactor;

/// Log output format (`LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines for a terminal.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Targets held at `info` unless the filter names them: their debug and trace lines are wire
/// dumps (handshake requests with their `Authorization` header, frames, connection pools).
const NETWORK_TARGETS: [&str; 8] =
    ["tungstenite", "tokio_tungstenite", "hyper", "hyper_util", "h2", "reqwest", "redis", "rustls"];

/// Installs the global subscriber and a panic hook, both redacting `secrets` (the configured
/// credentials, see [`crate::config::Config::secrets`]) and credential shapes. Safe to call
/// twice (the second call is a no-op).
pub fn init(format: LogFormat, filter: &str, secrets: &[String]) {
    let filter = EnvFilter::try_new(with_quiet_defaults(filter))
        .unwrap_or_else(|_| EnvFilter::new(with_quiet_defaults("info")));
    let writer = RedactingStderr(Redactor::new(secrets));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer);
    let installed = match format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).try_init(),
        LogFormat::Text => builder.compact().try_init(),
    };
    if installed.is_ok() {
        let redactor = Redactor::new(secrets);
        std::panic::set_hook(Box::new(move |info| {
            let thread = std::thread::current();
            let name = thread.name().unwrap_or("<unnamed>");
            let text = format!("thread '{name}' {info}\n");
            let _ = std::io::stderr().lock().write_all(redactor.redact(&text).as_bytes());
        }));
    }
}

/// Where log events go: stderr, after redaction. The formatter writes an event in pieces;
/// they are gathered and redacted whole, so a credential split across writes is still found.
struct RedactingStderr(Redactor);

impl<'a> MakeWriter<'a> for RedactingStderr {
    type Writer = EventWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        EventWriter { redactor: &self.0, buf: Vec::new() }
    }
}

/// One event's bytes, written (redacted) when dropped.
struct EventWriter<'a> {
    redactor: &'a Redactor,
    buf: Vec<u8>,
}

impl Write for EventWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for EventWriter<'_> {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.buf);
        let _ = std::io::stderr().lock().write_all(self.redactor.redact(&text).as_bytes());
    }
}

/// `filter` plus `target=info` for each network target it does not mention.
fn with_quiet_defaults(filter: &str) -> String {
    let mut out = filter.to_owned();
    for target in NETWORK_TARGETS {
        let named = filter.split(',').any(|d| d.trim().split('=').next() == Some(target));
        if !named {
            out.push_str(&format!(",{target}=info"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_libraries_are_held_at_info_unless_named() {
        let f = with_quiet_defaults("trace");
        assert!(f.starts_with("trace,tungstenite=info,tokio_tungstenite=info,hyper=info,"), "{f}");
        let f = with_quiet_defaults("info,tungstenite=trace");
        let directives: Vec<&str> = f.split(',').collect();
        assert!(!directives.contains(&"tungstenite=info"), "{f}");
        assert!(directives.contains(&"tokio_tungstenite=info"), "{f}");
        assert!(EnvFilter::try_new(with_quiet_defaults("warn")).is_ok());
    }

    #[test]
    fn events_are_redacted_whole() {
        let out = RedactingStderr(Redactor::new(["sk-canary-123456"]));
        let mut w = out.make_writer();
        w.write_all(b"key=sk-canary-").unwrap();
        w.write_all(b"123456 and Bearer abc.def\n").unwrap();
        assert_eq!(out.0.redact(&String::from_utf8_lossy(&w.buf)), "key=<redacted> and Bearer <redacted>\n");
        w.buf.clear(); // nothing to print when dropped
    }
}
