//! A circuit breaker for one provider endpoint: a pure state machine fed `now`.
//!
//! Closed → Open on 5 failures in a row, a failure or slow-call rate ≥ 50 % over a bucketed
//! window (with a minimum of calls), or any 429 (open for exactly the server's hint). Open →
//! Half-open when the open time has passed and a caller asks. Half-open lets exactly one probe
//! through; its success closes, its failure re-opens with a doubled open time, its cancellation
//! hands the probe slot back. Transitions are queued for the caller to log and count
//! ([`Breaker::poll_transition`]). No timers, no allocation, no clock reads.

use std::time::{Duration, Instant};

use super::breaker_config::BreakerConfig;
use super::breaker_window::{Sample, Totals, Window};
use super::jitter::Jitter;
use super::retry_after::{MAX_RETRY, MIN_RETRY};

/// The breaker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Calls pass.
    Closed,
    /// Calls fail fast until the open time has passed.
    Open,
    /// One probe call is allowed; its outcome decides.
    HalfOpen,
}

impl State {
    /// Lower-case name for logs, JSON and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::Open => "open",
            State::HalfOpen => "half_open",
        }
    }

    /// Gauge value: 0 closed, 1 open, 2 half-open.
    pub fn gauge(self) -> i64 {
        match self {
            State::Closed => 0,
            State::Open => 1,
            State::HalfOpen => 2,
        }
    }
}

/// How a call through the breaker ended (classified by the caller).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Worked, in time.
    Success,
    /// Connect/TLS/DNS error, attempt timeout, 5xx, 408, or a stream cut mid-response.
    Failure,
    /// Worked, but the first token/byte came later than the endpoint's slow threshold.
    Slow,
    /// HTTP 429, with the wait parsed from its headers if any (see [`super::retry_after`]).
    RateLimited {
        /// The server's hint; `None` uses the breaker's own open time.
        retry_after: Option<Duration>,
    },
    /// Cancelled by the caller (barge-in, superseded turn) or a 4xx that says nothing about
    /// the provider's health. Not counted; a probe's slot is handed back.
    Ignored,
    /// 401/403: the provider is up but refuses us. Flags readiness; never opens the breaker.
    AuthError,
}

impl Outcome {
    /// Label for `breaker_calls_total{outcome}`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Slow => "slow",
            Outcome::RateLimited { .. } => "rate_limited",
            Outcome::Ignored => "ignored",
            Outcome::AuthError => "auth_error",
        }
    }
}

/// Why the breaker is in its state (the last transition's cause).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// Never tripped.
    Initial,
    /// Too many failures in a row.
    ConsecutiveFailures,
    /// Failure rate over the window reached the threshold.
    FailureRate,
    /// Slow-call rate over the window reached the threshold.
    SlowRate,
    /// The provider answered 429.
    RateLimited,
    /// Another worker saw a 429 (shared through the limits store).
    SharedRateLimited,
    /// The open time passed; probing.
    OpenElapsed,
    /// The half-open probe worked.
    ProbeSucceeded,
    /// The half-open probe failed.
    ProbeFailed,
    /// The half-open probe worked, but slowly.
    ProbeSlow,
}

impl Reason {
    /// snake_case name for logs and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Initial => "initial",
            Reason::ConsecutiveFailures => "consecutive_failures",
            Reason::FailureRate => "failure_rate",
            Reason::SlowRate => "slow_rate",
            Reason::RateLimited => "rate_limited",
            Reason::SharedRateLimited => "shared_rate_limited",
            Reason::OpenElapsed => "open_elapsed",
            Reason::ProbeSucceeded => "probe_succeeded",
            Reason::ProbeFailed => "probe_failed",
            Reason::ProbeSlow => "probe_slow",
        }
    }
}

/// A state change, for logs and `breaker_transitions_total{from,to}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// State before.
    pub from: State,
    /// State after.
    pub to: State,
    /// Why.
    pub reason: Reason,
    /// When the new state is Open: how long it stays open.
    pub open_for: Option<Duration>,
}

/// Leave to make one call; hand it back with [`Breaker::record`].
///
/// Dropping a probe permit without recording is survivable — the slot is reclaimed after
/// [`BreakerConfig::probe_timeout`] — but record [`Outcome::Ignored`] on cancellation so the
/// next caller can probe at once.
#[derive(Debug, PartialEq, Eq)]
#[must_use = "record the call's outcome with Breaker::record"]
pub struct Permit {
    epoch: u32,
    probe: bool,
}

impl Permit {
    /// Whether this call is the half-open probe.
    pub fn is_probe(&self) -> bool {
        self.probe
    }
}

/// The breaker refused a call: fail fast (use a fallback provider).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejected {
    /// The earliest time a call could be let through again.
    pub until: Instant,
    /// Why the breaker is open (or [`Reason::OpenElapsed`] when another probe is in flight).
    pub reason: Reason,
}

/// A point-in-time view for `/readyz`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Snapshot {
    /// Effective state (Open whose time has passed shows as HalfOpen).
    pub state: State,
    /// Cause of the current state.
    pub reason: Reason,
    /// Time left while open.
    pub open_remaining: Option<Duration>,
    /// A 401/403 was seen and no success since.
    pub auth_failed: bool,
    /// Window totals.
    pub window: Totals,
}

const EVENTS: usize = 4;

/// One breaker. Not `Sync` by itself: share it behind a mutex (the critical section is a few
/// nanoseconds).
#[derive(Debug, Clone)]
pub struct Breaker {
    cfg: BreakerConfig,
    origin: Instant,
    state: State,
    reason: Reason,
    /// Bumped on every transition; permits from an older epoch no longer count.
    epoch: u32,
    open_until: Instant,
    probe_since: Option<Instant>,
    consecutive: u32,
    window: Window,
    failure_permille: u64,
    slow_permille: u64,
    /// Doublings applied to the next open time.
    level: u32,
    closed_at: Option<Instant>,
    auth_failed: bool,
    rng: Jitter,
    events: [Option<Transition>; EVENTS],
    events_head: usize,
    events_len: usize,
}

impl Breaker {
    /// A closed breaker. `seed` drives the jitter (give each breaker its own).
    pub fn new(cfg: BreakerConfig, now: Instant, seed: u64) -> Self {
        let buckets = cfg.buckets.max(1);
        let bucket_ns = (cfg.window.as_nanos() / u128::from(buckets)).clamp(1, u128::from(u64::MAX)) as u64;
        let permille = |r: f64| (r.clamp(0.0, 1.0) * 1000.0).round() as u64;
        Self {
            window: Window::new(buckets as usize, bucket_ns),
            failure_permille: permille(cfg.failure_rate).max(1),
            slow_permille: permille(cfg.slow_rate).max(1),
            cfg,
            origin: now,
            state: State::Closed,
            reason: Reason::Initial,
            epoch: 0,
            open_until: now,
            probe_since: None,
            consecutive: 0,
            level: 0,
            closed_at: None,
            auth_failed: false,
            rng: Jitter::new(seed),
            events: [None; EVENTS],
            events_head: 0,
            events_len: 0,
        }
    }

    /// The settings.
    pub fn config(&self) -> &BreakerConfig {
        &self.cfg
    }

    /// Asks to make a call now.
    pub fn try_acquire(&mut self, now: Instant) -> Result<Permit, Rejected> {
        match self.state {
            State::Closed => return Ok(Permit { epoch: self.epoch, probe: false }),
            State::Open if now < self.open_until => {
                return Err(Rejected { until: self.open_until, reason: self.reason });
            }
            State::Open => self.transition(State::HalfOpen, Reason::OpenElapsed, None),
            State::HalfOpen => {}
        }
        match self.probe_since {
            Some(since) if now.saturating_duration_since(since) < self.cfg.probe_timeout => {
                Err(Rejected { until: since + self.cfg.probe_timeout, reason: Reason::OpenElapsed })
            }
            _ => {
                // Each probe gets its own epoch, so the outcome of a probe given up on (lost
                // permit, reclaimed after `probe_timeout`) cannot free the current probe's slot.
                self.epoch = self.epoch.wrapping_add(1);
                self.probe_since = Some(now);
                Ok(Permit { epoch: self.epoch, probe: true })
            }
        }
    }

    /// Reports how the call made with `permit` ended.
    pub fn record(&mut self, permit: Permit, outcome: Outcome, now: Instant) {
        if let Outcome::Success = outcome {
            self.auth_failed = false;
        } else if let Outcome::AuthError = outcome {
            self.auth_failed = true;
        }
        if permit.epoch != self.epoch {
            // The breaker moved on since this call started; only a 429 still matters,
            // because the server's wait binds whatever we think of its health.
            if let Outcome::RateLimited { retry_after: Some(wait) } = outcome {
                let until = now + wait.clamp(MIN_RETRY, MAX_RETRY);
                if self.state != State::Open || until > self.open_until {
                    self.open_at(until, Reason::RateLimited, now);
                }
            }
            return;
        }
        match self.state {
            State::Closed => self.record_closed(outcome, now),
            State::HalfOpen => self.record_probe(outcome, now),
            // Unreachable with a current epoch (Open hands out no permits); ignore.
            State::Open => {}
        }
    }

    fn record_closed(&mut self, outcome: Outcome, now: Instant) {
        let at = self.elapsed_ns(now);
        let sample = match outcome {
            Outcome::Success => Sample::Ok,
            Outcome::Failure => Sample::Failure,
            Outcome::Slow => Sample::Slow,
            Outcome::RateLimited { retry_after } => {
                self.trip(Reason::RateLimited, retry_after, now);
                return;
            }
            Outcome::Ignored | Outcome::AuthError => return,
        };
        self.window.record(at, sample);
        self.consecutive = if sample == Sample::Failure { self.consecutive.saturating_add(1) } else { 0 };
        let t = self.window.current();
        let reason = if self.cfg.consecutive_failures > 0 && self.consecutive >= self.cfg.consecutive_failures
        {
            Reason::ConsecutiveFailures
        } else if t.calls >= self.cfg.min_calls
            && u64::from(t.failures) * 1000 >= self.failure_permille * u64::from(t.calls)
        {
            Reason::FailureRate
        } else if t.calls >= self.cfg.min_calls
            && u64::from(t.slow) * 1000 >= self.slow_permille * u64::from(t.calls)
        {
            Reason::SlowRate
        } else {
            return;
        };
        self.trip(reason, None, now);
    }

    fn record_probe(&mut self, outcome: Outcome, now: Instant) {
        match outcome {
            Outcome::Success => {
                self.transition(State::Closed, Reason::ProbeSucceeded, None);
                self.closed_at = Some(now);
                self.consecutive = 0;
                self.window.clear();
            }
            Outcome::Failure => self.reopen(Reason::ProbeFailed, None, now),
            Outcome::Slow => self.reopen(Reason::ProbeSlow, None, now),
            Outcome::RateLimited { retry_after } => self.reopen(Reason::RateLimited, retry_after, now),
            // The probe said nothing about health: hand the slot back.
            Outcome::Ignored | Outcome::AuthError => self.probe_since = None,
        }
    }

    /// Closed → Open. A trip soon after the last close counts as a re-trip and doubles.
    fn trip(&mut self, reason: Reason, server_wait: Option<Duration>, now: Instant) {
        let recent =
            self.closed_at.is_some_and(|c| now.saturating_duration_since(c) <= self.cfg.retrip_window);
        self.level = if recent { self.level.saturating_add(1).min(16) } else { 0 };
        self.open_for(reason, server_wait, now);
    }

    /// Half-open → Open: always a re-trip.
    fn reopen(&mut self, reason: Reason, server_wait: Option<Duration>, now: Instant) {
        self.level = self.level.saturating_add(1).min(16);
        self.open_for(reason, server_wait, now);
    }

    fn open_for(&mut self, reason: Reason, server_wait: Option<Duration>, now: Instant) {
        let wait = match server_wait {
            // The server knows best: exactly its wait, clamped, no jitter.
            Some(w) => w.clamp(MIN_RETRY, MAX_RETRY),
            None => self.rng.stretch(self.backoff(), self.cfg.jitter),
        };
        self.open_at(now + wait, reason, now);
    }

    /// The open time before jitter at the current level: base × 2^level, capped.
    pub fn backoff(&self) -> Duration {
        let factor = 1u32 << self.level.min(16);
        self.cfg.open_base.saturating_mul(factor).min(self.cfg.open_max.max(self.cfg.open_base))
    }

    fn open_at(&mut self, until: Instant, reason: Reason, now: Instant) {
        self.open_until = until;
        self.probe_since = None;
        self.consecutive = 0;
        self.transition(State::Open, reason, Some(until.saturating_duration_since(now)));
    }

    /// Opens until `until` because another worker saw a 429 (a no-op if already open longer).
    pub fn open_shared(&mut self, until: Instant, now: Instant) {
        if until <= now || (self.state == State::Open && self.open_until >= until) {
            return;
        }
        self.open_at(until, Reason::SharedRateLimited, now);
    }

    fn transition(&mut self, to: State, reason: Reason, open_for: Option<Duration>) {
        let t = Transition { from: self.state, to, reason, open_for };
        self.state = to;
        self.reason = reason;
        self.epoch = self.epoch.wrapping_add(1);
        if self.events_len == EVENTS {
            // Bounded: the caller stopped polling; drop the oldest.
            self.events_head = (self.events_head + 1) % EVENTS;
            self.events_len -= 1;
        }
        self.events[(self.events_head + self.events_len) % EVENTS] = Some(t);
        self.events_len += 1;
    }

    /// The next queued transition, oldest first (poll after each acquire/record).
    pub fn poll_transition(&mut self) -> Option<Transition> {
        if self.events_len == 0 {
            return None;
        }
        let t = self.events[self.events_head].take();
        self.events_head = (self.events_head + 1) % EVENTS;
        self.events_len -= 1;
        t
    }

    /// The stored state (an Open whose time has passed stays Open until someone asks).
    pub fn state(&self) -> State {
        self.state
    }

    /// Until when it is open, if open.
    pub fn open_until(&self) -> Option<Instant> {
        (self.state == State::Open).then_some(self.open_until)
    }

    /// A 401/403 was seen and no success since.
    pub fn auth_failed(&self) -> bool {
        self.auth_failed
    }

    /// A view for readiness.
    pub fn snapshot(&self, now: Instant) -> Snapshot {
        let open_remaining =
            self.open_until().map(|u| u.saturating_duration_since(now)).filter(|d| !d.is_zero());
        let state = match self.state {
            State::Open if open_remaining.is_none() => State::HalfOpen,
            s => s,
        };
        Snapshot {
            state,
            reason: self.reason,
            open_remaining,
            auth_failed: self.auth_failed,
            window: self.window.totals(self.elapsed_ns(now)),
        }
    }

    fn elapsed_ns(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.origin).as_nanos().min(u128::from(u64::MAX)) as u64
    }
}

#[cfg(test)]
#[path = "breaker_tests.rs"]
mod tests;
