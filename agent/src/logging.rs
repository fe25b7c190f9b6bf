//! Log setup: readable text for a terminal, one JSON object per line in production.
//!
//! Secrets never reach the logs: configuration types redact them in `Debug`, and tokens are
//! never passed to `tracing` fields.

use tracing_subscriber::EnvFilter;

/// Log output format (`LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines for a terminal.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// tiny_http reports every ended `accept` as an error, including the idle timeout the health
/// server uses on purpose (it restarts the accept loop and logs real failures itself), so its
/// own log lines are off unless `LOG_LEVEL` names it.
const QUIET: &str = "tiny_http=off";

/// Installs the global subscriber. Safe to call twice (the second call is a no-op).
pub fn init(format: LogFormat, filter: &str) {
    let filter = with_quiet_defaults(filter);
    let filter = EnvFilter::try_new(&filter).unwrap_or_else(|_| EnvFilter::new(format!("info,{QUIET}")));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).try_init(),
        LogFormat::Text => builder.compact().try_init(),
    };
}

/// `filter` plus [`QUIET`] for the targets it does not mention.
fn with_quiet_defaults(filter: &str) -> String {
    if filter.contains("tiny_http") { filter.to_owned() } else { format!("{filter},{QUIET}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiny_http_is_quiet_unless_asked_for() {
        assert_eq!(with_quiet_defaults("info"), "info,tiny_http=off");
        assert_eq!(with_quiet_defaults("voice_agent=debug,info"), "voice_agent=debug,info,tiny_http=off");
        assert_eq!(with_quiet_defaults("info,tiny_http=debug"), "info,tiny_http=debug");
        assert!(EnvFilter::try_new(with_quiet_defaults("warn")).is_ok());
    }
}
