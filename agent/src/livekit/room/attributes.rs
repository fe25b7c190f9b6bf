//! Our participant attributes, kept in sync with the server (sans-IO).
//!
//! LiveKit front ends read an agent's state from its participant attributes
//! (`lk.agent.state`: `initializing` → `listening` ⇄ `thinking` ⇄ `speaking`). Attributes are
//! set with the signal request `UpdateParticipantMetadata{attributes, request_id}`; the server
//! merges them into the participant and answers every request with a `RequestResponse` of the
//! same id.
//!
//! [`AttributeSync`] holds what the agent wants (the latest value per key) and what the server
//! has confirmed, and sends one request at a time with the keys that differ — so a burst of
//! state changes coalesces into the newest value. A refused or unanswered request is retried
//! with backoff; after a reconnect (a new participant on the server) everything is sent again.
//! Nothing here waits: the room's loop asks for the next request and the next deadline.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use livekit_protocol as proto;

/// The agent's state as LiveKit front ends read it.
pub const ATTR_AGENT_STATE: &str = "lk.agent.state";
/// The agent's name (`LIVEKIT_AGENT_NAME`), for front ends that look for a named agent.
pub const ATTR_AGENT_NAME: &str = "lk.agent.name";

/// How long the server may take to answer a request before it is sent again.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);
/// First retry delay after a failure; doubles up to [`RETRY_MAX`].
const RETRY_BASE: Duration = Duration::from_millis(250);
/// Longest retry delay.
const RETRY_MAX: Duration = Duration::from_secs(10);

/// The values of `lk.agent.state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AgentState {
    /// Joined, not ready to listen yet.
    Initializing,
    /// Waiting for the user.
    Listening,
    /// The user's turn ended; no answer audio yet.
    Thinking,
    /// The answer's audio is playing.
    Speaking,
}

impl AgentState {
    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Initializing => "initializing",
            Self::Listening => "listening",
            Self::Thinking => "thinking",
            Self::Speaking => "speaking",
        }
    }
}

/// A request on the wire, waiting for its answer.
#[derive(Debug)]
struct InFlight {
    id: u32,
    sent: BTreeMap<String, String>,
    deadline: Instant,
}

/// Desired versus confirmed attributes, and the one request in flight.
#[derive(Debug, Default)]
pub struct AttributeSync {
    desired: BTreeMap<String, String>,
    confirmed: BTreeMap<String, String>,
    in_flight: Option<InFlight>,
    retry_at: Option<Instant>,
    failures: u32,
    next_id: u32,
}

impl AttributeSync {
    /// Nothing wanted, nothing confirmed.
    pub fn new() -> Self {
        Self::default()
    }

    /// The attributes the agent wants now (the whole set; keys never removed).
    pub fn want(&mut self, desired: &BTreeMap<String, String>) {
        for (k, v) in desired {
            if self.desired.get(k) != Some(v) {
                self.desired.insert(k.clone(), v.clone());
            }
        }
    }

    /// The next request to send, if something differs and none is in flight (or waiting to
    /// be retried).
    pub fn poll_request(&mut self, now: Instant) -> Option<proto::UpdateParticipantMetadata> {
        if self.in_flight.is_some() || self.retry_at.is_some_and(|at| now < at) {
            return None;
        }
        let changed: BTreeMap<String, String> = self
            .desired
            .iter()
            .filter(|(k, v)| self.confirmed.get(*k) != Some(v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if changed.is_empty() {
            return None;
        }
        self.retry_at = None;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        let id = self.next_id;
        let request = proto::UpdateParticipantMetadata {
            attributes: changed.clone().into_iter().collect(),
            request_id: id,
            ..Default::default()
        };
        self.in_flight = Some(InFlight { id, sent: changed, deadline: now + RESPONSE_TIMEOUT });
        Some(request)
    }

    /// The server answered request `id`: `ok` or refused. Returns whether it was ours.
    pub fn on_response(&mut self, id: u32, ok: bool, now: Instant) -> bool {
        let Some(flight) = self.in_flight.take_if(|f| f.id == id) else { return false };
        if ok {
            self.failures = 0;
            self.confirmed.extend(flight.sent);
        } else {
            self.failed(now);
        }
        true
    }

    /// When [`AttributeSync::handle_timeout`] must run next.
    pub fn deadline(&self) -> Option<Instant> {
        match &self.in_flight {
            Some(f) => Some(f.deadline),
            None => self.retry_at,
        }
    }

    /// An unanswered request is given up (and retried later); returns whether one was.
    pub fn handle_timeout(&mut self, now: Instant) -> bool {
        if self.in_flight.as_ref().is_some_and(|f| now >= f.deadline) {
            self.in_flight = None;
            self.failed(now);
            return true;
        }
        false
    }

    /// A new connection: the server's participant is new, so everything is sent again.
    pub fn reset(&mut self) {
        self.confirmed.clear();
        self.in_flight = None;
        self.retry_at = None;
        self.failures = 0;
    }

    /// Whether everything wanted has been confirmed.
    pub fn is_synced(&self) -> bool {
        self.desired.iter().all(|(k, v)| self.confirmed.get(k) == Some(v))
    }

    fn failed(&mut self, now: Instant) {
        let delay = RETRY_BASE.saturating_mul(1 << self.failures.min(8)).min(RETRY_MAX);
        self.failures += 1;
        self.retry_at = Some(now + delay);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn want(sync: &mut AttributeSync, pairs: &[(&str, &str)]) {
        let map = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        sync.want(&map);
    }

    fn attrs(r: &proto::UpdateParticipantMetadata) -> Vec<(&str, &str)> {
        let mut v: Vec<(&str, &str)> = r.attributes.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        v.sort();
        v
    }

    #[test]
    fn one_request_at_a_time_and_bursts_coalesce_to_the_newest_value() {
        let t0 = crate::clock::now();
        let mut s = AttributeSync::new();
        assert!(s.poll_request(t0).is_none(), "nothing wanted");
        want(&mut s, &[(ATTR_AGENT_STATE, "listening")]);
        let r1 = s.poll_request(t0).expect("first request");
        assert_eq!(attrs(&r1), [(ATTR_AGENT_STATE, "listening")]);
        assert_ne!(r1.request_id, 0, "0 would mean: no answer wanted");
        // While it is in flight, two more changes: only the newest goes out next.
        want(&mut s, &[(ATTR_AGENT_STATE, "thinking")]);
        want(&mut s, &[(ATTR_AGENT_STATE, "speaking")]);
        assert!(s.poll_request(t0).is_none(), "one in flight");
        assert!(!s.on_response(r1.request_id + 7, true, t0), "someone else's answer");
        assert!(s.on_response(r1.request_id, true, t0));
        let r2 = s.poll_request(t0).expect("second request");
        assert_eq!(attrs(&r2), [(ATTR_AGENT_STATE, "speaking")]);
        assert!(s.on_response(r2.request_id, true, t0));
        assert!(s.is_synced());
        assert!(s.poll_request(t0).is_none() && s.deadline().is_none());
    }

    #[test]
    fn refused_and_lost_requests_are_retried_with_backoff() {
        let t0 = crate::clock::now();
        let mut s = AttributeSync::new();
        want(&mut s, &[(ATTR_AGENT_STATE, "listening"), (ATTR_AGENT_NAME, "helper")]);
        let r1 = s.poll_request(t0).unwrap();
        s.on_response(r1.request_id, false, t0);
        assert_eq!(s.deadline(), Some(t0 + RETRY_BASE));
        assert!(s.poll_request(t0 + RETRY_BASE / 2).is_none(), "waits for the retry");
        let t1 = t0 + RETRY_BASE;
        let r2 = s.poll_request(t1).expect("retried");
        assert_eq!(r2.attributes.len(), 2);
        // No answer at all: given up at the deadline, retried after a longer wait.
        assert_eq!(s.deadline(), Some(t1 + RESPONSE_TIMEOUT));
        let t2 = t1 + RESPONSE_TIMEOUT;
        assert!(s.handle_timeout(t2));
        assert_eq!(s.deadline(), Some(t2 + RETRY_BASE * 2));
        // A late answer to the lost request changes nothing.
        assert!(!s.on_response(r2.request_id, true, t2));
        let r3 = s.poll_request(t2 + RETRY_BASE * 2).expect("retried again");
        s.on_response(r3.request_id, true, t2);
        assert!(s.is_synced());
        // Backoff is capped.
        for _ in 0..20 {
            s.failed(t2);
        }
        assert_eq!(s.retry_at, Some(t2 + RETRY_MAX));
    }

    #[test]
    fn a_new_connection_sends_everything_again() {
        let t0 = crate::clock::now();
        let mut s = AttributeSync::new();
        want(&mut s, &[(ATTR_AGENT_STATE, "speaking")]);
        let r = s.poll_request(t0).unwrap();
        s.on_response(r.request_id, true, t0);
        s.reset();
        assert!(!s.is_synced());
        let again = s.poll_request(t0).expect("resent after reconnect");
        assert_eq!(attrs(&again), [(ATTR_AGENT_STATE, "speaking")]);
        let names: Vec<&str> =
            [AgentState::Initializing, AgentState::Listening, AgentState::Thinking, AgentState::Speaking]
                .iter()
                .map(|s| s.as_str())
                .collect();
        assert_eq!(names, ["initializing", "listening", "thinking", "speaking"]);
    }
}
