//! The turn machine's holds: a barge-in that may be false pauses the agent until its
//! transcript decides ([`super::barge`]), and a quiet room is checked on
//! ([`crate::core::away`]). Part of [`super::TurnMachine`], kept apart to keep it small.

use std::time::Instant;

use super::barge;
use super::{Command, Part, Phase, SayReason, TurnId, TurnMachine};
use crate::core::away::AwayStep;

impl TurnMachine {
    /// Holds the agent's turn while a possible interruption is heard out.
    pub(super) fn pause(&mut self, turn: TurnId) {
        if let Some(a) = self.agent.as_mut().filter(|a| a.id == turn && !a.paused) {
            a.paused = true;
            self.commands.push_back(Command::Pause { turn });
        }
    }

    /// When a paused turn resumes without a verdict: the window after the last candidate
    /// speech ended, if nobody speaks over the agent any more.
    pub(super) fn resume_due(&self) -> Option<Instant> {
        let agent = self.agent.filter(|a| a.paused)?;
        if self.speaking.iter().any(|s| s.during == Some(agent.id)) {
            return None;
        }
        Some(self.barge_end? + self.cfg.false_interruption?)
    }

    /// Decides what the candidate interruptions of the running turn were: words stop it; noise
    /// and too few words are forgotten, and the turn resumes once nothing is left to hear out
    /// (or the window has passed: a late transcript with words still stops it then).
    pub(super) fn settle_barge(&mut self, now: Instant) {
        let Some(agent) = self.agent else { return };
        let min_words = self.cfg.interrupt_min_words;
        let real = |p: &Part| p.barge && p.result.as_ref().is_some_and(|r| barge::is_real(r, min_words));
        if self.parts.iter().any(real) {
            self.interrupt(agent.id);
            return;
        }
        let before = self.parts.len();
        self.parts.retain(|p| !(p.barge && p.result.is_some()));
        if self.parts.is_empty() && before > 0 {
            self.last_end = None;
            self.last_part = None;
            self.audio.clear();
        }
        if !agent.paused || self.speaking.iter().any(|s| s.during == Some(agent.id)) {
            return;
        }
        let pending = self.parts.iter().any(|p| p.barge);
        if !pending || self.resume_due().is_some_and(|due| now >= due) {
            if let Some(a) = self.agent.as_mut() {
                a.paused = false;
            }
            if !pending {
                self.barge_end = None;
            }
            self.false_interruptions += 1;
            self.commands.push_back(Command::Resume { turn: agent.id });
        }
    }

    /// Starts the away clock if the room is quiet, stops it otherwise.
    pub(super) fn note_quiet(&mut self, now: Instant) {
        if self.phase() == Phase::Listening {
            self.away.quiet(now);
        } else {
            self.away.busy();
        }
    }

    /// Checks on a quiet room: the check-in or the goodbye, when due.
    pub(super) fn check_away(&mut self, now: Instant) {
        if self.phase() != Phase::Listening {
            return;
        }
        match self.away.poll(now) {
            Some(AwayStep::CheckIn) => {
                let text = self.away.config().check_in.clone();
                self.say(&text, SayReason::CheckIn, None);
            }
            Some(AwayStep::Goodbye) => {
                let text = self.away.config().goodbye.clone();
                self.goodbye = self.say(&text, SayReason::Goodbye, None);
            }
            None => {}
        }
    }
}
