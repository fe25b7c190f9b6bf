//! Preemptive replies: the turn machine's bet that a pause ends the user's turn (sans-IO).
//!
//! Once the transcripts of a pause are in, the reply would answer exactly what they say — so
//! the session may start it (STT is already done; the LLM and the first sentence's TTS run)
//! while the turn machine still waits for the end of the turn to be confirmed (the end-of-turn
//! model's verdict, or the endpointing delay). Nothing of a prepared reply is heard, shown or
//! remembered until it is released:
//!
//! | when | what the machine says |
//! |---|---|
//! | every transcript is in, nobody speaks, the answer is not due yet | [`Command::Prepare`] (at most one reply is prepared) |
//! | the answer is due and says the same as the prepared reply | [`Command::Release`]: that reply is the agent's turn |
//! | the answer is due and says something else (the user went on) | [`Command::Discard`] the prepared one, then an ordinary [`Command::Respond`] |
//! | the transcripts change before that (new words, a typed message) | [`Command::Discard`], and a new [`Command::Prepare`] if still not due |
//! | the model says the user is likely to go on | nothing new is prepared; one already running is kept (it is discarded if they go on) |
//! | the model says so, but the words end with a question mark ([`SmartEndpointing::asked_question`](crate::core::endpoint::SmartEndpointing::asked_question)) | [`Command::Prepare`] as above: the answer is due after the shorter `question_delay` |
//!
//! A noise after the pause (a transcript with no words) leaves what would be answered the same,
//! so the prepared reply is still used. Replies are never prepared while an interrupted agent
//! turn is still ending (its heard words are not in the history yet).

use std::collections::VecDeque;

use super::{Command, Said, TurnId};

/// The reply prepared ahead of the end of the turn.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Prepared {
    turn: TurnId,
    said: Vec<Said>,
}

/// Whether replies are prepared, and the one that is.
#[derive(Debug, Default)]
pub(super) struct Preemption {
    enabled: bool,
    prepared: Option<Prepared>,
}

impl Preemption {
    /// Prepares replies only when `enabled`.
    pub fn new(enabled: bool) -> Self {
        Self { enabled, prepared: None }
    }

    /// The prepared reply's turn, if one is.
    pub fn prepared(&self) -> Option<TurnId> {
        self.prepared.as_ref().map(|p| p.turn)
    }

    /// The turn is not confirmed yet and would answer `said` now (`going_on`: the speaker is
    /// likely to go on, see [`crate::core::endpoint::SmartEndpointing::going_on`];
    /// `speech_ended`: the real end of the last utterance). `new_turn` gives the id of a
    /// reply to prepare.
    pub fn pending(
        &mut self,
        said: Vec<Said>,
        going_on: bool,
        speech_ended: std::time::Instant,
        new_turn: impl FnOnce() -> TurnId,
        out: &mut VecDeque<Command>,
    ) {
        if self.prepared.as_ref().is_some_and(|p| p.said == said) {
            return;
        }
        self.discard(out);
        if !self.enabled || said.is_empty() || going_on {
            return;
        }
        let turn = new_turn();
        self.prepared = Some(Prepared { turn, said: said.clone() });
        out.push_back(Command::Prepare { turn, said, speech_ended });
    }

    /// The turn is confirmed and answers `said`: the prepared reply's turn if it answers the
    /// same (the caller releases it); otherwise it is discarded and `None` returned.
    pub fn confirm(&mut self, said: &[Said], out: &mut VecDeque<Command>) -> Option<TurnId> {
        match self.prepared.take() {
            Some(p) if p.said == said => Some(p.turn),
            Some(p) => {
                out.push_back(Command::Discard { turn: p.turn });
                None
            }
            None => None,
        }
    }

    /// Drops the prepared reply, if any.
    pub fn discard(&mut self, out: &mut VecDeque<Command>) {
        if let Some(p) = self.prepared.take() {
            out.push_back(Command::Discard { turn: p.turn });
        }
    }

    /// The session reports that `turn` ended; `true` if it was the prepared reply (it ended
    /// before its release: cancelled, or its task failed), which is then forgotten.
    pub fn ended(&mut self, turn: TurnId) -> bool {
        let ours = self.prepared() == Some(turn);
        if ours {
            self.prepared = None;
        }
        ours
    }
}
