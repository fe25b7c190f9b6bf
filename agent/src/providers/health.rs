//! What the agent knows about its providers' health: the degraded-mode summary for the LLM's
//! system prompt, and the `/readyz` JSON per breaker.

use std::time::Instant;

use serde_json::{Value, json};

use super::Capability;
use super::chain::{Chain, ChainHealth};
use crate::limits::Mode;

fn what(cap: Capability) -> &'static str {
    match cap {
        Capability::Stt => "speech recognition",
        Capability::Llm => "the language model",
        Capability::Tts => "speech synthesis",
    }
}

fn consequence(cap: Capability) -> &'static str {
    match cap {
        Capability::Stt => "you may not hear the user",
        Capability::Llm => "answers may fail",
        Capability::Tts => "replies are sent as text in the room's chat instead of spoken",
    }
}

/// One sentence per degraded capability (and for approximate limits), or `None` when all is well.
pub(crate) fn summary(chains: &[&Chain], limiter_mode: Mode, now: Instant) -> Option<String> {
    let mut lines = Vec::new();
    for c in chains {
        let w = what(c.cap);
        match c.health(now) {
            ChainHealth::Healthy | ChainHealth::NotConfigured => {}
            ChainHealth::Recovering => lines.push(format!("{w} is recovering from errors and may be slow")),
            ChainHealth::OnFallback => lines.push(format!("{w} runs on a backup provider and may be slower")),
            ChainHealth::Unavailable => lines.push(format!("{w} is unavailable, so {}", consequence(c.cap))),
        }
    }
    if limiter_mode == Mode::Degraded {
        lines.push("usage limits are approximate because the shared store is unreachable".to_owned());
    }
    if lines.is_empty() {
        return None;
    }
    Some(format!("Service status (tell the user briefly only if it affects them): {}.", lines.join("; ")))
}

/// Per capability: configured, health, and each endpoint's breaker.
pub(crate) fn readiness(chains: &[&Chain], now: Instant) -> Value {
    let mut caps = serde_json::Map::new();
    let mut auth_failed = false;
    for c in chains {
        let endpoints: Vec<Value> = c
            .endpoints
            .iter()
            .map(|e| {
                let s = e.snapshot(now);
                auth_failed |= s.auth_failed;
                json!({
                    "name": &*e.name,
                    "rank": e.rank,
                    "state": s.state.as_str(),
                    "reason": s.reason.as_str(),
                    "open_remaining_ms": s.open_remaining.map(|d| d.as_millis() as u64),
                    "auth_failed": s.auth_failed,
                    "window": {"calls": s.window.calls, "failures": s.window.failures, "slow": s.window.slow},
                })
            })
            .collect();
        let health = match c.health(now) {
            ChainHealth::NotConfigured => "not_configured",
            ChainHealth::Healthy => "healthy",
            ChainHealth::Recovering => "recovering",
            ChainHealth::OnFallback => "on_fallback",
            ChainHealth::Unavailable => "unavailable",
        };
        caps.insert(c.cap.as_str().to_owned(), json!({"health": health, "endpoints": endpoints}));
    }
    json!({"auth_failed": auth_failed, "capabilities": caps})
}
