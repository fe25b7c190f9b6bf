//! The agent's turns in the turn machine: when the waiting utterances are answered (or a
//! prepared reply released), a fixed text said, a turn interrupted or ended. Part of
//! [`super::TurnMachine`], kept apart to keep it small.

use std::sync::Arc;
use std::time::Instant;

use super::{AgentTurn, Command, MAX_PARTS, Said, SayReason, Transcript, TurnId, TurnMachine};
use crate::core::endpoint::Wording;
use crate::core::history::is_meaningful;

impl TurnMachine {
    /// The first audio of `turn` went out.
    pub fn agent_audio_started(&mut self, turn: TurnId) {
        if let Some(a) = self.agent.as_mut()
            && a.id == turn
        {
            a.audible = true;
        }
    }

    /// `turn` has ended (played out, failed or cancelled).
    pub fn agent_done(&mut self, turn: TurnId, now: Instant) {
        let ending = self.ending.len();
        self.ending.retain(|t| *t != turn);
        if self.preempt.ended(turn) || self.ending.len() < ending {
            // A prepared reply gone before its release, or an interrupted one finally over:
            // the pending utterances may be prepared (again).
            self.try_answer(now);
        } else if let Some(agent) = self.agent.filter(|a| a.id == turn) {
            self.agent = None;
            if agent.paused {
                // Nothing of it is left to play; the next turn must not start paused.
                self.commands.push_back(Command::Resume { turn });
            }
            // Speech that began during the turn is an ordinary utterance now.
            for s in &mut self.speaking {
                s.during = None;
            }
            for p in &mut self.parts {
                p.barge = false;
            }
            self.barge_end = None;
            if self.goodbye.take() == Some(turn) {
                self.commands.push_back(Command::Leave);
                return;
            }
            self.try_answer(now);
        }
    }

    /// Speaks `text` for `reason` (to `who`, if meant for one participant) as an agent turn
    /// if the room is quiet; `None` otherwise.
    pub fn say(&mut self, text: &str, reason: SayReason, who: Option<Arc<str>>) -> Option<TurnId> {
        if self.agent.is_some() || !self.speaking.is_empty() || !self.parts.is_empty() {
            return None;
        }
        let turn = self.start_turn();
        self.commands.push_back(Command::Say {
            turn,
            text: text.to_owned(),
            reason,
            who,
            speech_ended: None,
        });
        Some(turn)
    }

    /// When the pause that began at `end` (the last end of speech) may be answered.
    pub(super) fn due(&self, end: Instant) -> Instant {
        match (self.cfg.smart, self.last_part) {
            (Some(smart), Some((_, verdict, asked))) => {
                smart.due(verdict, self.wording(), end, asked, self.cfg.endpointing_delay)
            }
            _ => end + self.cfg.endpointing_delay,
        }
    }

    /// Whether the speaker is likely to go on after the last pause: the model heard it as
    /// unfinished and the words do not overrule it.
    fn going_on(&self) -> bool {
        match (self.cfg.smart, self.last_part) {
            (Some(smart), Some((_, verdict, _))) => smart.going_on(verdict, self.wording()),
            _ => false,
        }
    }

    /// The wording of the last words an answer would respond to ([`Wording::Other`] while
    /// none are in).
    fn wording(&self) -> Wording {
        let last = self.parts.iter().rev().find_map(|p| match &p.result {
            Some(Transcript::Text(text)) if is_meaningful(text) => Some(text.as_str()),
            _ => None,
        });
        last.map_or(Wording::Other, Wording::of)
    }

    pub(super) fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn start_turn(&mut self) -> TurnId {
        let id = self.take_id();
        self.agent = Some(AgentTurn { id, audible: false, paused: false });
        self.away.busy();
        id
    }

    pub(super) fn interrupt(&mut self, turn: TurnId) {
        self.agent = None;
        if self.ending.len() >= MAX_PARTS {
            // Never reported over (no task ran for it): forget the oldest.
            self.ending.remove(0);
        }
        self.ending.push(turn);
        self.interruptions += 1;
        for s in &mut self.speaking {
            s.during = None;
        }
        for p in &mut self.parts {
            p.barge = false;
        }
        self.barge_end = None;
        if self.goodbye.take().is_some() {
            // Cut short by the user: they are back, the agent stays.
            self.away.user_active();
        }
        self.commands.push_back(Command::Interrupt { turn });
    }

    pub(super) fn check_barge_in(&mut self, now: Instant) {
        let Some(agent) = self.agent else { return };
        let long_enough = self
            .speaking
            .iter()
            .any(|s| s.during == Some(agent.id) && now >= s.start + self.cfg.interrupt_min_speech);
        if long_enough && self.cfg.false_interruption.is_some() {
            self.pause(agent.id);
        } else if long_enough {
            self.interrupt(agent.id);
        }
    }

    pub(super) fn all_transcribed(&self) -> bool {
        self.parts.iter().all(|p| p.result.is_some())
    }

    pub(super) fn try_answer(&mut self, now: Instant) {
        self.answer_if_due(now);
        self.note_quiet(now);
    }

    fn answer_if_due(&mut self, now: Instant) {
        let Some(end) = self.last_end else { return };
        if self.agent.is_some() || !self.speaking.is_empty() || !self.all_transcribed() {
            return;
        }
        let (said, notice) = self.said();
        if now < self.due(end) {
            if self.ending.is_empty() {
                let going_on = self.going_on();
                let next = &mut self.next_id;
                let new_turn = || {
                    *next += 1;
                    *next - 1
                };
                self.preempt.pending(said, going_on, end, new_turn, &mut self.commands);
            }
            return;
        }
        self.last_end = None;
        self.last_part = None;
        self.audio.clear();
        self.parts.clear();
        if !said.is_empty() {
            if let Some(turn) = self.preempt.confirm(&said, &mut self.commands) {
                self.agent = Some(AgentTurn { id: turn, audible: false, paused: false });
                self.commands.push_back(Command::Release { turn, said, speech_ended: end });
            } else {
                let turn = self.start_turn();
                self.commands.push_back(Command::Respond { turn, said, speech_ended: end });
            }
        } else {
            self.preempt.discard(&mut self.commands);
            if let Some((text, who)) = notice {
                let turn = self.start_turn();
                let (reason, who) = (SayReason::Notice, Some(who));
                self.commands.push_back(Command::Say { turn, text, reason, who, speech_ended: Some(end) });
            }
        }
    }

    /// What the waiting utterances say, in order, and the last failure notice among them.
    fn said(&self) -> (Vec<Said>, Option<(String, Arc<str>)>) {
        let mut said = Vec::new();
        let mut notice = None;
        for p in &self.parts {
            match &p.result {
                Some(Transcript::Text(text)) if is_meaningful(text) => {
                    said.push(Said { who: p.who.clone(), text: text.trim().to_owned() })
                }
                Some(Transcript::Failed { notice: Some(n) }) => notice = Some((n.clone(), p.who.clone())),
                _ => {}
            }
        }
        (said, notice)
    }
}
