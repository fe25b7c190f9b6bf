//! The vocabulary of limits — scopes, units, windows, usage — and the configured quotas.
//!
//! Scopes nest participant ⊂ room ⊂ global; a request passes only if every applicable limit
//! of every scope passes. Minute and hour windows are GCRA buckets (smooth refill); day
//! windows are counters per UTC calendar day, so "resets at midnight UTC" is literally true
//! and cost caps line up with the provider's billing day.

use std::time::Duration;

use super::gcra::Rate;
use crate::config::EnvReader;

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

    /// Reads `LIMIT_*` and `COST_CAP_*`: `LIMIT_[ROOM_|GLOBAL_]{TURNS,LLM_TOKENS,TTS_CHARS,
    /// STT_SECONDS}_PER_{MIN,HOUR,DAY}` (no scope prefix = per participant),
    /// `LIMIT_[ROOM_|GLOBAL_]SESSIONS`, `COST_CAP_{USER,ROOM,GLOBAL}_USD_PER_DAY`,
    /// `COST_WARN_FRACTION`.
    pub fn from_env(env: &mut EnvReader) -> Self {
        let mut q = Self::default();
        let prefixes = [(Scope::Participant, ""), (Scope::Room, "ROOM_"), (Scope::Global, "GLOBAL_")];
        let units = [
            (Unit::Turns, "TURNS", 1),
            (Unit::LlmTokens, "LLM_TOKENS", 1),
            (Unit::TtsChars, "TTS_CHARS", 1),
            (Unit::SttMillis, "STT_SECONDS", 1000),
        ];
        let windows = [(Window::Minute, "MIN"), (Window::Hour, "HOUR"), (Window::Day, "DAY")];
        for (scope, sp) in prefixes {
            for (unit, un, scale) in units {
                for (window, wn) in windows {
                    let name = format!("LIMIT_{sp}{un}_PER_{wn}");
                    let default = q.limit(scope, unit, window) / scale;
                    let v: u64 = env.ranged(&name, default, 0, 1_000_000_000_000);
                    q.set(scope, unit, window, v.saturating_mul(scale));
                }
            }
            let name = format!("LIMIT_{sp}SESSIONS");
            q.sessions[scope as usize] = env.ranged(&name, q.sessions[scope as usize], 0, 1_000_000);
            let who = if scope == Scope::Participant { "USER" } else { &sp[..sp.len() - 1] };
            let name = format!("COST_CAP_{who}_USD_PER_DAY");
            let default = q.limit(scope, Unit::CostMicroUsd, Window::Day) as f64 / 1e6;
            let usd = env.ranged(&name, default, 0.0, 1e9);
            q.set(scope, Unit::CostMicroUsd, Window::Day, (usd * 1e6).round() as u64);
        }
        let warn: f64 = env.ranged("COST_WARN_FRACTION", 0.8, 0.0, 1.0);
        q.warn_permille = (warn * 1000.0).round() as u64;
        q.refresh();
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(pairs: &[(&str, &str)]) -> EnvReader {
        EnvReader::new(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn seed_defaults() {
        let mut env = reader(&[]);
        let q = Quotas::from_env(&mut env);
        assert!(env.finish().is_ok());
        assert_eq!(q, Quotas::default());
        assert_eq!(q.limit(Scope::Participant, Unit::Turns, Window::Minute), 20);
        assert_eq!(q.limit(Scope::Participant, Unit::Turns, Window::Day), 100);
        assert_eq!(q.limit(Scope::Global, Unit::Turns, Window::Minute), 200);
        assert_eq!(q.limit(Scope::Participant, Unit::CostMicroUsd, Window::Day), 5_000_000);
        assert_eq!(q.limit(Scope::Global, Unit::CostMicroUsd, Window::Day), 100_000_000);
        assert_eq!(q.limit(Scope::Room, Unit::Turns, Window::Minute), 0);
        assert_eq!(q.warn_permille, 800);
    }

    #[test]
    fn every_knob_is_read() {
        let mut env = reader(&[
            ("LIMIT_TURNS_PER_MIN", "5"),
            ("LIMIT_ROOM_TTS_CHARS_PER_HOUR", "9000"),
            ("LIMIT_GLOBAL_STT_SECONDS_PER_DAY", "3600"),
            ("LIMIT_GLOBAL_SESSIONS", "50"),
            ("COST_CAP_USER_USD_PER_DAY", "0.25"),
            ("COST_CAP_ROOM_USD_PER_DAY", "2"),
            ("COST_WARN_FRACTION", "0.9"),
            ("LIMIT_LLM_TOKENS_PER_MIN", "-3"),
        ]);
        let q = Quotas::from_env(&mut env);
        assert_eq!(q.limit(Scope::Participant, Unit::Turns, Window::Minute), 5);
        assert_eq!(q.limit(Scope::Room, Unit::TtsChars, Window::Hour), 9000);
        assert_eq!(q.limit(Scope::Global, Unit::SttMillis, Window::Day), 3_600_000);
        assert_eq!(q.session_limit(Scope::Global), 50);
        assert_eq!(q.limit(Scope::Participant, Unit::CostMicroUsd, Window::Day), 250_000);
        assert_eq!(q.limit(Scope::Room, Unit::CostMicroUsd, Window::Day), 2_000_000);
        assert_eq!(q.warn_permille, 900);
        let errs = env.finish().unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].var, "LIMIT_LLM_TOKENS_PER_MIN");
    }

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
