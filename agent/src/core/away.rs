//! User away: after a long silence the agent checks in once, and after a longer one it says
//! goodbye and leaves (sans-IO; the turn machine feeds it and speaks what it decides).
//!
//! ```text
//! present ─quiet check_in_after─▶ checked in ─quiet leave_after─▶ leaving (goodbye, then leave)
//!    ▲                                 │
//!    └──────── the user speaks or types ┘
//! ```
//!
//! "Quiet" means nobody speaks, the agent is not speaking or thinking, and nothing waits to be
//! answered; it is measured from the moment the room last became quiet, so the agent's own
//! check-in restarts the count. With the check-in off, the goodbye comes after `leave_after` of
//! quiet. Both are off with [`Duration::ZERO`] (`USER_AWAY_SECS`, `USER_AWAY_LEAVE_SECS`).

use std::time::{Duration, Instant};

/// When and what the agent says to a user who has gone quiet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwayConfig {
    /// Quiet before the check-in (`USER_AWAY_SECS`; zero: no check-in).
    pub check_in_after: Duration,
    /// Quiet after the check-in (or, without one, in all) before the goodbye
    /// (`USER_AWAY_LEAVE_SECS`; zero: the agent never leaves on its own).
    pub leave_after: Duration,
    /// The check-in (`USER_AWAY_MESSAGE`).
    pub check_in: String,
    /// Said before leaving (`USER_AWAY_GOODBYE`).
    pub goodbye: String,
}

/// Default check-in.
pub const DEFAULT_CHECK_IN: &str = "Are you still there?";
/// Default goodbye.
pub const DEFAULT_GOODBYE: &str = "It seems you have stepped away. Goodbye for now!";

impl Default for AwayConfig {
    fn default() -> Self {
        Self {
            check_in_after: Duration::ZERO,
            leave_after: Duration::ZERO,
            check_in: DEFAULT_CHECK_IN.to_owned(),
            goodbye: DEFAULT_GOODBYE.to_owned(),
        }
    }
}

/// What the agent does about a quiet user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AwayStep {
    /// Say the check-in.
    CheckIn,
    /// Say goodbye, then leave.
    Goodbye,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Present,
    CheckedIn,
    Leaving,
}

/// The away clock of one room.
#[derive(Debug)]
pub struct Away {
    cfg: AwayConfig,
    quiet_since: Option<Instant>,
    stage: Stage,
}

impl Away {
    /// A clock that starts when the room first becomes quiet.
    pub fn new(cfg: AwayConfig) -> Self {
        Self { cfg, quiet_since: None, stage: Stage::Present }
    }

    /// The settings.
    pub fn config(&self) -> &AwayConfig {
        &self.cfg
    }

    /// The room is quiet at `now` (kept if it already was).
    pub fn quiet(&mut self, now: Instant) {
        self.quiet_since.get_or_insert(now);
    }

    /// Someone or something is busy (speech, the agent's turn): the quiet is over.
    pub fn busy(&mut self) {
        self.quiet_since = None;
    }

    /// A user spoke or typed: they are back.
    pub fn user_active(&mut self) {
        self.quiet_since = None;
        self.stage = Stage::Present;
    }

    /// When [`Away::poll`] has something to say, if ever.
    pub fn due(&self) -> Option<Instant> {
        let since = self.quiet_since?;
        let after = match self.stage {
            Stage::Present if !self.cfg.check_in_after.is_zero() => self.cfg.check_in_after,
            Stage::Present | Stage::CheckedIn if !self.cfg.leave_after.is_zero() => self.cfg.leave_after,
            _ => return None,
        };
        Some(since + after)
    }

    /// The step due at `now`, if any (each is given once; the quiet starts over).
    pub fn poll(&mut self, now: Instant) -> Option<AwayStep> {
        if self.due().is_none_or(|due| now < due) {
            return None;
        }
        self.quiet_since = None;
        if self.stage == Stage::Present && !self.cfg.check_in_after.is_zero() {
            self.stage = Stage::CheckedIn;
            Some(AwayStep::CheckIn)
        } else {
            self.stage = Stage::Leaving;
            Some(AwayStep::Goodbye)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(check_in: u64, leave: u64) -> AwayConfig {
        AwayConfig {
            check_in_after: Duration::from_secs(check_in),
            leave_after: Duration::from_secs(leave),
            ..AwayConfig::default()
        }
    }

    #[test]
    fn check_in_then_goodbye_and_a_word_brings_the_user_back() {
        let t0 = crate::clock::now();
        let s = Duration::from_secs;
        let mut a = Away::new(cfg(10, 20));
        assert_eq!(a.due(), None, "not quiet yet");
        a.quiet(t0);
        a.quiet(t0 + s(5));
        assert_eq!(a.due(), Some(t0 + s(10)), "counted from the first quiet moment");
        assert_eq!(a.poll(t0 + s(9)), None);
        assert_eq!(a.poll(t0 + s(10)), Some(AwayStep::CheckIn));
        assert_eq!(a.poll(t0 + s(10)), None, "once");
        a.busy(); // the check-in is spoken
        a.quiet(t0 + s(12));
        assert_eq!(a.due(), Some(t0 + s(32)));
        a.user_active();
        a.quiet(t0 + s(40));
        assert_eq!(a.poll(t0 + s(50)), Some(AwayStep::CheckIn), "back: checked in again");
        a.quiet(t0 + s(52));
        assert_eq!(a.poll(t0 + s(72)), Some(AwayStep::Goodbye));
        a.quiet(t0 + s(80));
        assert_eq!(a.due(), None, "nothing after the goodbye");
    }

    #[test]
    fn off_with_zero_and_goodbye_alone() {
        let t0 = crate::clock::now();
        let mut off = Away::new(cfg(0, 0));
        off.quiet(t0);
        assert_eq!(off.due(), None);
        assert_eq!(off.poll(t0 + Duration::from_secs(3600)), None);
        let mut leave = Away::new(cfg(0, 30));
        leave.quiet(t0);
        assert_eq!(leave.poll(t0 + Duration::from_secs(30)), Some(AwayStep::Goodbye));
        let mut check = Away::new(cfg(30, 0));
        check.quiet(t0);
        assert_eq!(check.poll(t0 + Duration::from_secs(30)), Some(AwayStep::CheckIn));
        check.quiet(t0 + Duration::from_secs(31));
        assert_eq!(check.due(), None, "never leaves");
    }
}
