//! [`Limits`]: rate limits, concurrent sessions and daily cost caps chosen in code — the
//! same [`Quotas`] the environment's `LIMIT_*` and `COST_CAP_*` variables fill, checked by
//! the same limiter for every provider call.

use super::bounds::{COST_CAP_USD, COST_WARN_FRACTION};
use super::error::{PipelineError, Setting};
use crate::core::quota::{Quotas, Scope, Unit, Window};

/// Limits and cost caps, per participant, room and deployment. Start from the seed defaults
/// ([`Limits::default`]: 20 turns a minute and 100 a day per participant, 200 turns a minute
/// in all, $5 per participant and $100 in all per UTC day, 3 sessions per participant) or
/// from [`Limits::none`], and set what you need. A mistake (a zero limit, a `NaN` cap) is
/// kept and reported by [`PipelineBuilder::build`](crate::pipeline::PipelineBuilder::build).
///
/// ```
/// use voice_agent::core::quota::{Scope, Unit, Window};
/// use voice_agent::pipeline::Limits;
/// let limits = Limits::default()
///     .limit(Scope::Participant, Unit::Turns, Window::Minute, 10)
///     .limit(Scope::Room, Unit::TtsChars, Window::Hour, 50_000)
///     .no_limit(Scope::Global, Unit::Turns, Window::Minute)
///     .cost_cap_usd_per_day(Scope::Participant, 0.50);
/// assert_eq!(limits.quotas().limit(Scope::Participant, Unit::CostMicroUsd, Window::Day), 500_000);
/// assert!(limits.errors().is_empty());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    quotas: Quotas,
    errors: Vec<PipelineError>,
}

impl Default for Limits {
    fn default() -> Self {
        Quotas::default().into()
    }
}

impl From<Quotas> for Limits {
    fn from(quotas: Quotas) -> Self {
        Self { quotas, errors: Vec::new() }
    }
}

impl Limits {
    /// No limit and no cost cap at all.
    pub fn none() -> Self {
        Quotas::unlimited().into()
    }

    /// At most `amount` of `unit` per `window` for `scope` (STT audio in milliseconds, cost
    /// in micro-USD per day; [`Unit::Sessions`] with [`Window::Concurrent`] is the session
    /// cap). Zero is a mistake: [`Limits::no_limit`] turns a limit off.
    pub fn limit(mut self, scope: Scope, unit: Unit, window: Window, amount: u64) -> Self {
        let setting = Setting::Limit { scope, unit, window };
        let sessions = unit == Unit::Sessions || window == Window::Concurrent;
        if sessions && (unit != Unit::Sessions || window != Window::Concurrent) {
            let expected = "sessions are limited with Window::Concurrent, and nothing else is";
            self.errors.push(PipelineError::Inconsistent { setting, expected });
        } else if unit == Unit::CostMicroUsd && window != Window::Day {
            let expected = "a cost cap per day (Window::Day)";
            self.errors.push(PipelineError::Inconsistent { setting, expected });
        } else if amount == 0 {
            self.errors.push(PipelineError::ZeroLimit { setting });
        } else {
            self.quotas.set(scope, unit, window, amount);
        }
        self
    }

    /// Turns one limit off.
    pub fn no_limit(mut self, scope: Scope, unit: Unit, window: Window) -> Self {
        self.quotas.set(scope, unit, window, 0);
        self
    }

    /// At most `n` concurrent sessions for `scope` (for a participant: across rooms).
    pub fn sessions(self, scope: Scope, n: u64) -> Self {
        self.limit(scope, Unit::Sessions, Window::Concurrent, n)
    }

    /// Spend of at most `usd` per UTC day for `scope` (priced from the price table). Zero,
    /// negative, `NaN` or infinite caps are mistakes; [`Limits::no_limit`] with
    /// [`Unit::CostMicroUsd`] and [`Window::Day`] turns a cap off.
    pub fn cost_cap_usd_per_day(mut self, scope: Scope, usd: f64) -> Self {
        let setting = Setting::CostCap(scope);
        let before = self.errors.len();
        COST_CAP_USD.check(setting, usd, &mut self.errors);
        if self.errors.len() > before {
            return self;
        }
        let micro = (usd * 1e6).round() as u64;
        if micro == 0 {
            self.errors.push(PipelineError::ZeroLimit { setting });
            return self;
        }
        self.quotas.set(scope, Unit::CostMicroUsd, Window::Day, micro);
        self
    }

    /// Cost warnings start when a day's spend crosses this share of its cap (0.8).
    pub fn cost_warn_fraction(mut self, fraction: f64) -> Self {
        let before = self.errors.len();
        COST_WARN_FRACTION.check(Setting::CostWarnFraction, fraction, &mut self.errors);
        if self.errors.len() == before {
            self.quotas.warn_permille = (fraction * 1000.0).round() as u64;
        }
        self
    }

    /// The limits as the limiter reads them.
    pub fn quotas(&self) -> &Quotas {
        &self.quotas
    }

    /// The mistakes made so far.
    pub fn errors(&self) -> &[PipelineError] {
        &self.errors
    }

    /// The quotas and the mistakes.
    pub(crate) fn into_parts(self) -> (Quotas, Vec<PipelineError>) {
        (self.quotas, self.errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_nan_and_misplaced_limits_are_mistakes_that_change_nothing() {
        let l = Limits::default()
            .limit(Scope::Participant, Unit::Turns, Window::Minute, 0)
            .cost_cap_usd_per_day(Scope::Global, f64::NAN)
            .cost_cap_usd_per_day(Scope::Room, -1.0)
            .cost_cap_usd_per_day(Scope::Room, 1e-9)
            .limit(Scope::Room, Unit::CostMicroUsd, Window::Minute, 5)
            .limit(Scope::Room, Unit::Turns, Window::Concurrent, 5)
            .cost_warn_fraction(f64::INFINITY);
        assert_eq!(l.quotas(), &Quotas::default());
        let settings: Vec<String> = l.errors().iter().map(|e| e.setting().to_string()).collect();
        assert_eq!(
            settings,
            [
                "limit participant/turns/minute",
                "global cost cap per day",
                "room cost cap per day",
                "room cost cap per day",
                "limit room/cost_micro_usd/minute",
                "limit room/turns/concurrent",
                "cost warn fraction"
            ]
        );
        assert!(matches!(l.errors()[0], PipelineError::ZeroLimit { .. }));
    }

    #[test]
    fn limits_sessions_caps_and_off() {
        let l = Limits::none()
            .limit(Scope::Participant, Unit::Turns, Window::Minute, 3)
            .sessions(Scope::Room, 2)
            .cost_cap_usd_per_day(Scope::Participant, 0.25)
            .cost_warn_fraction(0.5)
            .no_limit(Scope::Participant, Unit::Turns, Window::Minute);
        assert!(l.errors().is_empty());
        let q = l.quotas();
        assert_eq!(q.limit(Scope::Participant, Unit::Turns, Window::Minute), 0);
        assert_eq!(q.session_limit(Scope::Room), 2);
        assert_eq!(q.limit(Scope::Participant, Unit::CostMicroUsd, Window::Day), 250_000);
        assert_eq!(q.warn_permille, 500);
        assert!(!q.scope_active(Scope::Global));
    }
}
