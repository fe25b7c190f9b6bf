//! The vocabulary of limits — scopes, units, windows, usage — and the configured quotas.
//!
//! Scopes nest participant ⊂ room ⊂ global; a request passes only if every applicable limit
//! of every scope passes. Minute and hour windows are GCRA buckets (smooth refill); day
//! windows are counters per UTC calendar day, so "resets at midnight UTC" is literally true
//! and cost caps line up with the provider's billing day.

use std::time::Duration;

use super::gcra::Rate;

/// Who a limit applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// One participant identity (across rooms and workers).
    Participant = 0,
    /// One room.
    Room = 1,
    /// The whole deployment.
    Global = 2,
}

impl Scope {
    /// All scopes, narrowest first.
    pub const ALL: [Scope; 3] = [Scope::Participant, Scope::Room, Scope::Global];

    /// snake_case name (JSON, metric label).
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Participant => "participant",
            Scope::Room => "room",
            Scope::Global => "global",
        }
    }
}

/// What is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Unit {
    /// Turns, i.e. LLM requests.
    Turns = 0,
    /// LLM tokens (prompt + completion), reserved up front and settled after.
    LlmTokens = 1,
    /// Characters sent to TTS.
    TtsChars = 2,
    /// Audio sent to STT, in milliseconds (configured in seconds).
    SttMillis = 3,
    /// Spend, in micro-USD (day window only).
    CostMicroUsd = 4,
    /// Concurrent sessions (no window; acquired and released).
    Sessions = 5,
}

/// Number of units counted per window (all but [`Unit::Sessions`]).
pub const RATE_UNITS: usize = 5;

impl Unit {
    /// The windowed units, in index order.
    pub const RATED: [Unit; RATE_UNITS] =
        [Unit::Turns, Unit::LlmTokens, Unit::TtsChars, Unit::SttMillis, Unit::CostMicroUsd];

    /// snake_case name (JSON, metric label).
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Turns => "turns",
            Unit::LlmTokens => "llm_tokens",
            Unit::TtsChars => "tts_chars",
            Unit::SttMillis => "stt_ms",
            Unit::CostMicroUsd => "cost_micro_usd",
            Unit::Sessions => "sessions",
        }
    }
}

/// Over how long a limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Window {
    /// GCRA, refilling over 60 s.
    Minute = 0,
    /// GCRA, refilling over 3600 s.
    Hour = 1,
    /// A counter per UTC day.
    Day = 2,
    /// Not a window: concurrent sessions.
    Concurrent = 3,
}

impl Window {
    /// The counted windows.
    pub const ALL: [Window; 3] = [Window::Minute, Window::Hour, Window::Day];

    /// snake_case name (JSON, metric label).
    pub fn as_str(self) -> &'static str {
        match self {
            Window::Minute => "minute",
            Window::Hour => "hour",
            Window::Day => "day",
            Window::Concurrent => "concurrent",
        }
    }

    /// Length of a GCRA window (`None` for day and concurrent).
    pub fn gcra_len(self) -> Option<Duration> {
        match self {
            Window::Minute => Some(Duration::from_secs(60)),
            Window::Hour => Some(Duration::from_secs(3600)),
            Window::Day | Window::Concurrent => None,
        }
    }
}

/// Amounts one request uses (or reserves), per unit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Turns (LLM requests).
    pub turns: u64,
    /// LLM prompt tokens (counted in [`Unit::LlmTokens`], priced as input).
    pub input_tokens: u64,
    /// LLM completion tokens (counted in [`Unit::LlmTokens`], priced as output).
    pub output_tokens: u64,
    /// TTS characters.
    pub tts_chars: u64,
    /// STT audio, milliseconds.
    pub stt_millis: u64,
    /// Cost in micro-USD (the limiter facade fills this from the price table).
    pub cost_micro_usd: u64,
}

impl Usage {
    /// The amount of one windowed unit.
    pub fn amount(&self, unit: Unit) -> u64 {
        match unit {
            Unit::Turns => self.turns,
            Unit::LlmTokens => self.input_tokens.saturating_add(self.output_tokens),
            Unit::TtsChars => self.tts_chars,
            Unit::SttMillis => self.stt_millis,
            Unit::CostMicroUsd => self.cost_micro_usd,
            Unit::Sessions => 0,
        }
    }

    /// All windowed amounts, indexed like [`Unit::RATED`].
    pub fn amounts(&self) -> [u64; RATE_UNITS] {
        Unit::RATED.map(|u| self.amount(u))
    }
}

/// Every configured limit; 0 means "no limit" for that (scope, unit, window).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quotas {
    limits: [[[u64; 3]; RATE_UNITS]; 3],
    sessions: [u64; 3],
    /// Cost warnings fire when a day's spend crosses this share of its cap (permille; 800).
    pub warn_permille: u64,
    /// Derived from `limits`: GCRA parameters of the minute and hour windows, so a decision
    /// does no division.
    rates: [[[Option<Rate>; 2]; RATE_UNITS]; 3],
    /// Derived: whether a scope has any limit at all (an inactive scope is not even locked).
    active: [bool; 3],
}

impl Default for Quotas {
    /// The seed defaults: 20 turns/min and 100/day per participant, 200 turns/min global,
    /// $5/participant/day, $100/day global, 3 concurrent sessions per participant.
    fn default() -> Self {
        let mut q = Self::unlimited();
        q.set(Scope::Participant, Unit::Turns, Window::Minute, 20);
        q.set(Scope::Participant, Unit::Turns, Window::Day, 100);
        q.set(Scope::Global, Unit::Turns, Window::Minute, 200);
        q.set(Scope::Participant, Unit::CostMicroUsd, Window::Day, 5_000_000);
        q.set(Scope::Global, Unit::CostMicroUsd, Window::Day, 100_000_000);
        q.sessions[Scope::Participant as usize] = 3;
        q.refresh();
        q
    }
}

impl Quotas {
    /// No limits at all (tests and benchmarks start here and set what they need).
    pub fn unlimited() -> Self {
        Self {
            limits: [[[0; 3]; RATE_UNITS]; 3],
            sessions: [0; 3],
            warn_permille: 800,
            rates: [[[None; 2]; RATE_UNITS]; 3],
            active: [false; 3],
        }
    }

    fn refresh(&mut self) {
        for scope in Scope::ALL {
            let s = scope as usize;
            for unit in Unit::RATED {
                for window in [Window::Minute, Window::Hour] {
                    let limit = self.limits[s][unit as usize][window as usize];
                    self.rates[s][unit as usize][window as usize] =
                        window.gcra_len().and_then(|w| Rate::per(limit, w));
                }
            }
            self.active[s] = self.sessions[s] > 0 || self.limits[s].iter().flatten().any(|&l| l > 0);
        }
    }

    /// GCRA parameters of a minute or hour limit (`None` when off or for other windows).
    pub fn rate(&self, scope: Scope, unit: Unit, window: Window) -> Option<Rate> {
        match window {
            Window::Minute | Window::Hour if unit != Unit::Sessions => {
                self.rates[scope as usize][unit as usize][window as usize]
            }
            _ => None,
        }
    }

    /// Whether `scope` has any limit (if not, nothing needs counting for it).
    pub fn scope_active(&self, scope: Scope) -> bool {
        self.active[scope as usize]
    }

    /// One limit (0 = off). Concurrent sessions use [`Quotas::session_limit`].
    pub fn limit(&self, scope: Scope, unit: Unit, window: Window) -> u64 {
        match (unit, window) {
            (Unit::Sessions, _) | (_, Window::Concurrent) => self.sessions[scope as usize],
            _ => self.limits[scope as usize][unit as usize][window as usize],
        }
    }

    /// Sets one limit (0 = off); cost is only counted per day, other windows are ignored.
    pub fn set(&mut self, scope: Scope, unit: Unit, window: Window, limit: u64) {
        match (unit, window) {
            (Unit::Sessions, _) | (_, Window::Concurrent) => self.sessions[scope as usize] = limit,
            (Unit::CostMicroUsd, Window::Minute | Window::Hour) => {}
            _ => self.limits[scope as usize][unit as usize][window as usize] = limit,
        }
        self.refresh();
    }

    /// Concurrent-session cap for a scope (0 = off).
    pub fn session_limit(&self, scope: Scope) -> u64 {
        self.sessions[scope as usize]
    }

    /// Every limit divided by `n` workers (never below 1, never turned off): the local
    /// fallback while the shared store is unreachable.
    pub fn divided(&self, n: u64) -> Self {
        let n = n.max(1);
        let div = |l: u64| if l == 0 { 0 } else { (l / n).max(1) };
        let mut q = self.clone();
        q.limits = q.limits.map(|u| u.map(|w| w.map(div)));
        q.sessions = q.sessions.map(div);
        q.refresh();
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn divided_never_reaches_zero_or_unlimited() {
        let q = Quotas::default().divided(3);
        assert_eq!(q.limit(Scope::Participant, Unit::Turns, Window::Minute), 6);
        assert_eq!(q.limit(Scope::Participant, Unit::Turns, Window::Day), 33);
        assert_eq!(q.session_limit(Scope::Participant), 1);
        assert_eq!(q.limit(Scope::Room, Unit::Turns, Window::Minute), 0);
        let tiny = Quotas::default().divided(1000);
        assert_eq!(tiny.limit(Scope::Participant, Unit::Turns, Window::Minute), 1);
        assert_eq!(Quotas::default().divided(0), Quotas::default());
    }

    #[test]
    fn usage_amounts() {
        let u = Usage {
            turns: 1,
            input_tokens: 10,
            output_tokens: 5,
            tts_chars: 7,
            stt_millis: 900,
            cost_micro_usd: 3,
        };
        assert_eq!(u.amounts(), [1, 15, 7, 900, 3]);
        assert_eq!(u.amount(Unit::Sessions), 0);
    }
}
