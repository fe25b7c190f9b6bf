//! What the user hears when a limit or cap says no.
//!
//! Voice users never see an HTTP status: every [`Rejection`] becomes one short sentence that
//! a later stage speaks (and sends as text on the data channel). Texts are configurable;
//! `{when}` in a text is replaced by the wait phrased for a listener ("in about 20 seconds",
//! "at midnight UTC").

use std::time::Duration;

use super::ledger::Rejection;
use super::quota::{Scope, Unit, Window};

/// Waits up to this long count as "a moment" in the short rate-limit sentence.
const SHORT_WAIT: Duration = Duration::from_secs(10);

/// The sentences, one per kind of rejection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Messages {
    /// The participant is going too fast, briefly (`MSG_RATE_LIMITED`).
    pub rate: String,
    /// The participant is going too fast and must wait longer than a moment (`MSG_RATE_LIMITED_LONG`).
    pub rate_long: String,
    /// A room-wide or global limit (`MSG_BUSY`).
    pub busy: String,
    /// A daily limit (`MSG_DAILY_LIMIT`).
    pub daily: String,
    /// A daily cost cap (`MSG_BUDGET`).
    pub budget: String,
    /// Too many concurrent sessions (`MSG_SESSIONS`).
    pub sessions: String,
}

impl Default for Messages {
    fn default() -> Self {
        Self {
            rate: "You're speaking faster than I can keep up — give me a moment.".into(),
            rate_long: "You're speaking faster than I can keep up — I can answer again {when}.".into(),
            busy: "I'm handling a lot of conversations right now — please try again {when}.".into(),
            daily: "You've reached today's limit; it resets {when}.".into(),
            budget: "You've used up today's budget; it resets {when}.".into(),
            sessions: "You already have as many conversations open as I can hold; please close one first."
                .into(),
        }
    }
}

impl Messages {
    /// The sentence for `r`.
    pub fn sentence(&self, r: &Rejection) -> String {
        let template = match (r.unit, r.window, r.scope) {
            (Unit::Sessions, ..) | (_, Window::Concurrent, _) => &self.sessions,
            (Unit::CostMicroUsd, ..) => &self.budget,
            (_, Window::Day, _) => &self.daily,
            (_, _, Scope::Room | Scope::Global) => &self.busy,
            _ if r.retry_after <= SHORT_WAIT => &self.rate,
            _ => &self.rate_long,
        };
        let when =
            if r.window == Window::Day { "at midnight UTC".to_owned() } else { phrase_wait(r.retry_after) };
        template.replace("{when}", &when)
    }
}

/// A wait phrased for a listener: "in a moment", "in about 20 seconds", "in about 3 minutes".
/// Rounds up, so the user is never told to come back before it would work.
pub fn phrase_wait(wait: Duration) -> String {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    match secs {
        0..=1 => "in a moment".to_owned(),
        2..=9 => format!("in about {secs} seconds"),
        10..=59 => format!("in about {} seconds", secs.div_ceil(5) * 5),
        60..=89 => "in about a minute".to_owned(),
        90..=5399 => format!("in about {} minutes", secs.div_ceil(60)),
        _ => format!("in about {} hours", secs.div_ceil(3600)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rej(scope: Scope, unit: Unit, window: Window, secs: f64) -> Rejection {
        Rejection { scope, unit, window, retry_after: Duration::from_secs_f64(secs) }
    }

    #[test]
    fn waits_are_phrased_for_a_listener_rounding_up() {
        let p = |s: f64| phrase_wait(Duration::from_secs_f64(s));
        assert_eq!(p(0.0), "in a moment");
        assert_eq!(p(0.4), "in a moment");
        assert_eq!(p(1.2), "in about 2 seconds");
        assert_eq!(p(7.0), "in about 7 seconds");
        assert_eq!(p(17.0), "in about 20 seconds");
        assert_eq!(p(20.0), "in about 20 seconds");
        assert_eq!(p(59.5), "in about a minute");
        assert_eq!(p(75.0), "in about a minute");
        assert_eq!(p(130.0), "in about 3 minutes");
        assert_eq!(p(7200.0), "in about 2 hours");
    }

    #[test]
    fn each_rejection_gets_its_sentence() {
        let m = Messages::default();
        let s = |r| m.sentence(&r);
        assert_eq!(
            s(rej(Scope::Participant, Unit::Turns, Window::Minute, 3.0)),
            "You're speaking faster than I can keep up — give me a moment."
        );
        assert_eq!(
            s(rej(Scope::Participant, Unit::Turns, Window::Minute, 18.0)),
            "You're speaking faster than I can keep up — I can answer again in about 20 seconds."
        );
        assert_eq!(
            s(rej(Scope::Participant, Unit::Turns, Window::Day, 5000.0)),
            "You've reached today's limit; it resets at midnight UTC."
        );
        assert_eq!(
            s(rej(Scope::Global, Unit::CostMicroUsd, Window::Day, 5.0)),
            "You've used up today's budget; it resets at midnight UTC."
        );
        assert_eq!(
            s(rej(Scope::Global, Unit::LlmTokens, Window::Minute, 30.0)),
            "I'm handling a lot of conversations right now — please try again in about 30 seconds."
        );
        assert!(s(rej(Scope::Participant, Unit::Sessions, Window::Concurrent, 0.0)).contains("close one"));
    }
}
