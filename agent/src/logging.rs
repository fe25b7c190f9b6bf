//! Log setup: readable text for a terminal, one JSON object per line in production.
//!
//! Secrets never reach the logs: configuration types redact them in `Debug`, and tokens are
//! never passed to `tracing` fields. The network libraries underneath (WebSocket, HTTP, Redis,
//! TLS) log requests and frames at debug and trace level, so they are held at `info` unless
//! `LOG_LEVEL` names them.

use tracing_subscriber::EnvFilter;

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

/// Installs the global subscriber. Safe to call twice (the second call is a no-op).
pub fn init(format: LogFormat, filter: &str) {
    let filter = EnvFilter::try_new(with_quiet_defaults(filter))
        .unwrap_or_else(|_| EnvFilter::new(with_quiet_defaults("info")));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).try_init(),
        LogFormat::Text => builder.compact().try_init(),
    };
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
}
