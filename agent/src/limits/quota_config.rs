//! The limiter's policy from the environment: quotas and cost caps (`LIMIT_*`, `COST_CAP_*`,
//! `COST_WARN_FRACTION`), prices (`PRICES`) and the spoken rejections (`MSG_*`), read into the
//! plain settings of [`crate::core`], which never reads the environment itself.

use crate::core::cost::PriceTable;
use crate::core::messages::Messages;
use crate::core::quota::{Quotas, Scope, Unit, Window};
use crate::env::EnvReader;
use crate::settings::bounds::{COST_CAP_USD, COST_WARN_FRACTION};
use crate::settings::error::Setting;
use crate::settings::limits::Limits;

/// Reads `LIMIT_[ROOM_|GLOBAL_]{TURNS,LLM_TOKENS,TTS_CHARS,STT_SECONDS}_PER_{MIN,HOUR,DAY}`
/// (no scope prefix = per participant), `LIMIT_[ROOM_|GLOBAL_]SESSIONS`,
/// `COST_CAP_{USER,ROOM,GLOBAL}_USD_PER_DAY` and `COST_WARN_FRACTION` into [`Limits`] — the
/// limits a developer sets in code — where 0 turns a limit off.
pub fn read_quotas(env: &mut EnvReader) -> Quotas {
    let seed = Quotas::default();
    let mut limits = Limits::default();
    for scope in Scope::ALL {
        for (unit, _, scale) in UNITS {
            for window in Window::ALL {
                let default = seed.limit(scope, unit, window) / scale;
                let v: u64 = env.ranged(&limit_var(scope, unit, window), default, 0, 1_000_000_000_000);
                limits = match v {
                    0 => limits.no_limit(scope, unit, window),
                    v => limits.limit(scope, unit, window, v.saturating_mul(scale)),
                };
            }
        }
        let sessions = env.ranged(&sessions_var(scope), seed.session_limit(scope), 0, 1_000_000);
        limits = match sessions {
            0 => limits.no_limit(scope, Unit::Sessions, Window::Concurrent),
            n => limits.sessions(scope, n),
        };
        let default = seed.limit(scope, Unit::CostMicroUsd, Window::Day) as f64 / 1e6;
        let usd = env.ranged(&cost_cap_var(scope), default, COST_CAP_USD.min, COST_CAP_USD.max);
        limits = match usd > 0.0 {
            false => limits.no_limit(scope, Unit::CostMicroUsd, Window::Day),
            true => limits.cost_cap_usd_per_day(scope, usd),
        };
    }
    let b = COST_WARN_FRACTION;
    limits = limits.cost_warn_fraction(env.ranged("COST_WARN_FRACTION", 0.8, b.min, b.max));
    let (quotas, errors) = limits.into_parts();
    for e in errors {
        env.error(&variable(e.setting()), e.expected());
    }
    quotas
}

/// The variable of a limit setting.
pub(crate) fn variable(setting: Setting) -> String {
    match setting {
        Setting::Limit { scope, unit: Unit::Sessions, .. } => sessions_var(scope),
        Setting::Limit { scope, unit, window } => limit_var(scope, unit, window),
        Setting::CostCap(scope) => cost_cap_var(scope),
        _ => "COST_WARN_FRACTION".to_owned(),
    }
}

/// The windowed units read from the environment: the name in variables and the scale from
/// the variable's unit (STT in seconds) to the limiter's (milliseconds).
const UNITS: [(Unit, &str, u64); 4] = [
    (Unit::Turns, "TURNS", 1),
    (Unit::LlmTokens, "LLM_TOKENS", 1),
    (Unit::TtsChars, "TTS_CHARS", 1),
    (Unit::SttMillis, "STT_SECONDS", 1000),
];

fn scope_prefix(scope: Scope) -> &'static str {
    match scope {
        Scope::Participant => "",
        Scope::Room => "ROOM_",
        Scope::Global => "GLOBAL_",
    }
}

/// `LIMIT_[ROOM_|GLOBAL_]<UNIT>_PER_<WINDOW>`.
fn limit_var(scope: Scope, unit: Unit, window: Window) -> String {
    let un = UNITS.iter().find(|u| u.0 == unit).map(|u| u.1).unwrap_or("TURNS");
    let wn = match window {
        Window::Minute => "MIN",
        Window::Hour => "HOUR",
        Window::Day | Window::Concurrent => "DAY",
    };
    format!("LIMIT_{}{un}_PER_{wn}", scope_prefix(scope))
}

/// `LIMIT_[ROOM_|GLOBAL_]SESSIONS`.
fn sessions_var(scope: Scope) -> String {
    format!("LIMIT_{}SESSIONS", scope_prefix(scope))
}

/// `COST_CAP_{USER,ROOM,GLOBAL}_USD_PER_DAY`.
fn cost_cap_var(scope: Scope) -> String {
    let who = match scope {
        Scope::Participant => "USER",
        Scope::Room => "ROOM",
        Scope::Global => "GLOBAL",
    };
    format!("COST_CAP_{who}_USD_PER_DAY")
}

/// The built-in price table merged with `PRICES` (JSON, see [`PriceTable::merge_json`]).
pub fn read_prices(env: &mut EnvReader) -> PriceTable {
    let mut t = PriceTable::default();
    let merged = env.opt_string("PRICES").map(|json| t.merge_json(&json));
    if let Some(Err(e)) = merged {
        env.error("PRICES", format!("JSON like {{\"gpt-4o-mini\":{{\"input_per_mtok\":0.15}}}} ({e})"));
    }
    t
}

/// Reads the `MSG_*` variables (each optional).
pub fn read_messages(env: &mut EnvReader) -> Messages {
    let d = Messages::default();
    Messages {
        rate: env.string("MSG_RATE_LIMITED", &d.rate),
        rate_long: env.string("MSG_RATE_LIMITED_LONG", &d.rate_long),
        busy: env.string("MSG_BUSY", &d.busy),
        daily: env.string("MSG_DAILY_LIMIT", &d.daily),
        budget: env.string("MSG_BUDGET", &d.budget),
        sessions: env.string("MSG_SESSIONS", &d.sessions),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::core::ledger::Rejection;

    #[test]
    fn seed_defaults() {
        let mut env = EnvReader::from_pairs(&[]);
        let q = read_quotas(&mut env);
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
        let mut env = EnvReader::from_pairs(&[
            ("LIMIT_TURNS_PER_MIN", "5"),
            ("LIMIT_ROOM_TTS_CHARS_PER_HOUR", "9000"),
            ("LIMIT_GLOBAL_STT_SECONDS_PER_DAY", "3600"),
            ("LIMIT_GLOBAL_SESSIONS", "50"),
            ("COST_CAP_USER_USD_PER_DAY", "0.25"),
            ("COST_CAP_ROOM_USD_PER_DAY", "2"),
            ("COST_WARN_FRACTION", "0.9"),
            ("LIMIT_LLM_TOKENS_PER_MIN", "-3"),
        ]);
        let q = read_quotas(&mut env);
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
    fn a_nan_cost_cap_is_refused_not_turned_off() {
        let mut env =
            EnvReader::from_pairs(&[("COST_CAP_USER_USD_PER_DAY", "NaN"), ("COST_WARN_FRACTION", "nan")]);
        let q = read_quotas(&mut env);
        assert_eq!(q.limit(Scope::Participant, Unit::CostMicroUsd, Window::Day), 5_000_000);
        let names: Vec<_> = env.finish().unwrap_err().into_iter().map(|e| e.var).collect();
        assert_eq!(names, ["COST_CAP_USER_USD_PER_DAY", "COST_WARN_FRACTION"]);
    }

    #[test]
    fn bad_price_json_is_reported() {
        let mut env = EnvReader::from_pairs(&[("PRICES", "{not json")]);
        assert_eq!(read_prices(&mut env), PriceTable::default());
        assert_eq!(env.finish().unwrap_err()[0].var, "PRICES");
    }

    #[test]
    fn texts_are_configurable() {
        let m = read_messages(&mut EnvReader::from_pairs(&[(
            "MSG_DAILY_LIMIT",
            "Genug für heute; weiter {when}.",
        )]));
        let r = Rejection {
            scope: Scope::Participant,
            unit: Unit::Turns,
            window: Window::Day,
            retry_after: Duration::from_secs(10),
        };
        assert_eq!(m.sentence(&r), "Genug für heute; weiter at midnight UTC.");
    }
}
