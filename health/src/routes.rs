//! Request → reply, with no sockets: every route is testable as a plain function.
//!
//! | path | meaning |
//! |---|---|
//! | `/`, `/healthz`, `/livez` | liveness: 200 while the async runtime's heartbeat is fresh, else 503 |
//! | `/readyz` | readiness: 200 when every component is ready and not draining, else 503; JSON body |
//! | `/metrics` | OpenMetrics text: registry + process metrics |
//! | `/stats` | JSON usage/limit snapshot (`?identity=…&room=…`), when the agent provides one; off (404) or behind a bearer token as [`crate::access::StatsAccess`] says |
//!
//! `HEAD` answers like `GET` without a body; other methods get 405; unknown paths 404.
//! Requests with a body, over-long targets and malformed heads never get here: the server
//! refuses them from their head ([`crate::head`]).

use serde_json::json;

use crate::access::Verdict;
use crate::state::Health;

/// Longest request target accepted.
pub const MAX_TARGET_LEN: usize = 2048;

/// Content types used by the routes.
pub mod content_type {
    /// JSON bodies.
    pub const JSON: &str = "application/json";
    /// Metrics (OpenMetrics 1.0 text; Prometheus negotiates it natively).
    pub const METRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    /// Plain text errors.
    pub const TEXT: &str = "text/plain; charset=utf-8";
}

/// What to send back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status code.
    pub status: u16,
    /// `Content-Type` header value.
    pub content_type: &'static str,
    /// Body (dropped for HEAD by the server).
    pub body: String,
    /// Extra headers (`Allow` on 405, `WWW-Authenticate` on 401).
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    /// A JSON reply.
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        Self { status, content_type: content_type::JSON, body: format!("{body}\n"), headers: Vec::new() }
    }

    /// A one-line plain text reply.
    pub fn text(status: u16, body: &str) -> Self {
        Self { status, content_type: content_type::TEXT, body: format!("{body}\n"), headers: Vec::new() }
    }
}

/// Liveness paths: answered from an atomic, never queued behind other requests.
pub fn is_liveness(path: &str) -> bool {
    matches!(path, "/" | "/healthz" | "/livez")
}

/// Probe paths (liveness and readiness): served before `/metrics` and `/stats`.
pub fn is_probe(path: &str) -> bool {
    is_liveness(path) || path == "/readyz"
}

/// Answers one request: `target` is the path with its query; `authorization` the header.
pub fn route(health: &Health, method: &str, target: &str, authorization: Option<&str>) -> Reply {
    if target.len() > MAX_TARGET_LEN {
        return Reply::text(414, "request target too long");
    }
    let path = target.split(['?', '#']).next().unwrap_or("");
    let stats = if path == "/stats" { health.stats_access().check(authorization) } else { Verdict::Allowed };
    let known = matches!(path, "/" | "/healthz" | "/livez" | "/readyz" | "/metrics" | "/stats");
    if !known || stats == Verdict::Off {
        return Reply::text(404, "not found; try /healthz, /readyz, /metrics or /stats");
    }
    if method != "GET" && method != "HEAD" {
        let mut r = Reply::text(405, "method not allowed");
        r.headers.push(("Allow", "GET, HEAD".into()));
        return r;
    }
    if stats == Verdict::Unauthorized {
        let mut r = Reply::text(401, "/stats needs Authorization: Bearer <STATS_TOKEN>");
        r.headers.push(("WWW-Authenticate", "Bearer realm=\"stats\"".into()));
        return r;
    }
    match path {
        "/readyz" => readiness(health),
        "/metrics" => metrics(health),
        "/stats" => match health.stats(target.split_once('?').map_or("", |(_, q)| q)) {
            Some((status, v)) => Reply::json(status, v),
            None => Reply::json(503, json!({"error": "stats are not available yet"})),
        },
        _ => liveness(health),
    }
}

fn liveness(health: &Health) -> Reply {
    let l = health.liveness();
    let age_ms = u64::try_from(l.heartbeat_age.as_millis()).unwrap_or(u64::MAX);
    let status = if l.alive { "ok" } else { "runtime heartbeat is stale" };
    Reply::json(if l.alive { 200 } else { 503 }, json!({"status": status, "heartbeat_age_ms": age_ms}))
}

fn readiness(health: &Health) -> Reply {
    let ready = health.is_ready();
    let mut body = json!({
        "ready": ready,
        "draining": health.is_draining(),
        "components": health.components(),
    });
    if let Some(obj) = body.as_object_mut() {
        for (name, value) in health.sections() {
            obj.insert(name, value);
        }
    }
    Reply::json(if ready { 200 } else { 503 }, body)
}

fn metrics(health: &Health) -> Reply {
    let mut out = String::with_capacity(8 * 1024);
    health.encode_metrics(&mut out);
    let l = health.liveness();
    out.push_str("# HELP runtime_heartbeat_age_seconds Time since the async runtime last beat.\n");
    out.push_str("# TYPE runtime_heartbeat_age_seconds gauge\n");
    out.push_str(&format!("runtime_heartbeat_age_seconds {:.3}\n", l.heartbeat_age.as_secs_f64()));
    out.push_str("# HELP agent_ready Whether the agent is ready (1) or not (0).\n# TYPE agent_ready gauge\n");
    out.push_str(&format!("agent_ready {}\n", u8::from(health.is_ready())));
    health.server_counters().encode(&mut out);
    if let Some(p) = crate::process::read() {
        crate::process::encode(&mut out, &p);
    }
    out.push_str("# EOF\n");
    Reply { status: 200, content_type: content_type::METRICS, body: out, headers: Vec::new() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ready_health() -> Health {
        let h = Health::new(Duration::from_secs(10));
        h.set_component("worker", true, "registered");
        h
    }

    #[test]
    fn liveness_paths() {
        let h = ready_health();
        for p in ["/", "/healthz", "/livez", "/healthz?x=1"] {
            let r = route(&h, "GET", p, None);
            assert_eq!(r.status, 200, "{p}");
            assert!(r.body.contains("\"status\":\"ok\""));
        }
    }

    #[test]
    fn readiness_reports_components_and_sections() {
        let h = ready_health();
        h.add_section("limiter", Box::new(|| json!({"mode": "local"})));
        let r = route(&h, "GET", "/readyz", None);
        assert_eq!(r.status, 200);
        let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(v["components"]["worker"]["detail"], "registered");
        assert_eq!(v["limiter"]["mode"], "local");
        h.start_draining();
        let r = route(&h, "GET", "/readyz", None);
        assert_eq!(r.status, 503);
        assert!(r.body.contains("\"draining\":true"));
    }

    #[test]
    fn errors() {
        let h = ready_health();
        assert_eq!(route(&h, "GET", "/nope", None).status, 404);
        let r = route(&h, "POST", "/healthz", None);
        assert_eq!((r.status, r.headers), (405, vec![("Allow", "GET, HEAD".to_owned())]));
        assert_eq!(route(&h, "DELETE", "/metrics", None).status, 405);
        assert_eq!(route(&h, "GET", &format!("/{}", "a".repeat(3000)), None).status, 414);
    }

    #[test]
    fn metrics_are_openmetrics() {
        let h = ready_health();
        let r = route(&h, "GET", "/metrics", None);
        assert_eq!(r.status, 200);
        assert!(r.body.ends_with("# EOF\n"));
        assert!(r.body.contains("agent_ready 1\n"));
        assert!(r.body.contains("process_resident_memory_bytes "));
    }

    #[test]
    fn stats_can_be_turned_off_or_put_behind_a_token() {
        use crate::access::StatsAccess;
        let h = ready_health();
        h.set_stats(Box::new(|_| (200, json!({"users": 1}))));
        h.set_stats_access(StatsAccess::Token("tok-123".into()));
        let r = route(&h, "GET", "/stats", None);
        assert_eq!(r.status, 401);
        assert_eq!(r.headers, vec![("WWW-Authenticate", "Bearer realm=\"stats\"".to_owned())]);
        assert_eq!(route(&h, "GET", "/stats", Some("Bearer nope")).status, 401);
        assert_eq!(route(&h, "GET", "/stats", Some("Bearer tok-123")).status, 200);
        assert_eq!(route(&h, "GET", "/healthz", None).status, 200, "probes stay open");
        assert_eq!(route(&h, "GET", "/metrics", None).status, 200, "metrics stay open");
        h.set_stats_access(StatsAccess::Off);
        assert_eq!(route(&h, "GET", "/stats", Some("Bearer tok-123")).status, 404);
    }

    #[test]
    fn stats_without_source_is_503() {
        let h = ready_health();
        assert_eq!(route(&h, "GET", "/stats", None).status, 503);
        h.set_stats(Box::new(|q| (200, json!({"query": q}))));
        let r = route(&h, "GET", "/stats?identity=alice", None);
        assert_eq!(r.status, 200);
        assert!(r.body.contains("\"query\":\"identity=alice\""), "{}", r.body);
    }
}
