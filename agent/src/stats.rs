//! `/stats` and the resilience part of `/readyz`, bridged from the health threads to the
//! limiter on the async runtime.
//!
//! The health server has no runtime and must never hang, so a `/stats` request is handed to
//! a task over a channel and awaited with a deadline; a wedged runtime gives a 503, not a
//! stuck health thread.

use std::sync::Arc;
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use health::Health;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::limits::limiter::Limiter;
use crate::limits::stats::readiness_json;
use crate::limits::store::Now;

/// Longest a `/stats` request waits for the runtime.
const STATS_DEADLINE: Duration = Duration::from_secs(1);
/// Longest accepted identity or room name.
const MAX_NAME: usize = 256;

type StatsRequest = (Option<String>, Option<String>, std_mpsc::SyncSender<Value>);

/// Installs `/stats` and the `resilience` readiness section for `limiter`.
pub fn install(health: &Health, limiter: Arc<Limiter>) {
    let (tx, mut rx) = mpsc::channel::<StatsRequest>(16);
    let worker = limiter.clone();
    tokio::spawn(async move {
        while let Some((participant, room, reply)) = rx.recv().await {
            let stats = worker.stats(participant.as_deref(), room.as_deref(), Now::read()).await;
            let _ = reply.try_send(stats.to_json());
        }
    });
    health.set_stats(Box::new(move |query| {
        let (participant, room) = match parse_query(query) {
            Ok(q) => q,
            Err(e) => return (400, json!({ "error": e })),
        };
        let (reply_tx, reply_rx) = std_mpsc::sync_channel(1);
        if tx.try_send((participant, room, reply_tx)).is_err() {
            return (503, json!({"error": "stats are busy; try again"}));
        }
        match reply_rx.recv_timeout(STATS_DEADLINE) {
            Ok(v) => (200, v),
            Err(_) => (503, json!({"error": "stats did not answer in time"})),
        }
    }));
    health.add_section(
        "resilience",
        Box::new(move || readiness_json(&[], limiter.mode(), crate::clock::unix_now())),
    );
}

/// `identity=…&room=…` (percent-encoded) → the two names.
fn parse_query(query: &str) -> Result<(Option<String>, Option<String>), String> {
    let (mut identity, mut room) = (None, None);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = percent_decode(v).ok_or_else(|| format!("{k}: bad percent-encoding"))?;
        if v.is_empty() || v.len() > MAX_NAME {
            return Err(format!("{k}: expected 1 to {MAX_NAME} characters"));
        }
        match k {
            "identity" | "participant" => identity = Some(v),
            "room" => room = Some(v),
            other => return Err(format!("unknown parameter {other:?}; use identity and room")),
        }
    }
    Ok((identity, room))
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries() {
        assert_eq!(parse_query(""), Ok((None, None)));
        assert_eq!(
            parse_query("identity=al%C3%A9x&room=r+1"),
            Ok((Some("alé".to_owned()), Some("r 1".to_owned())))
        );
        assert!(parse_query("user=x").is_err());
        assert!(parse_query("identity=%ZZ").is_err());
        assert!(parse_query("identity=").is_err());
        assert!(parse_query(&format!("room={}", "a".repeat(300))).is_err());
    }
}
