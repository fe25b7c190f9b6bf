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
//!
//! A noise after the pause (a transcript with no words) leaves what would be answered the same,
//! so the prepared reply is still used. Replies are never prepared while an interrupted agent
//! turn is still ending (its heard words are not in the history yet).
//!
//! The end-of-turn model is asked early too ([`EarlyVerdict`]): when the VAD announces a short
//! pause ([`crate::core::segmenter::SegmentEvent::Paused`]), before its silence wait ends the
//! utterance; if the utterance then ends in that very pause, the answer (or the question in
//! flight) is that utterance's, so the verdict is ready sooner.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Command, PartId, Said, TurnId};
use crate::core::endpoint::Verdict;

/// Two reports of one pause place its start this close at most (one VAD window, 32 ms, and
/// the jitter of the frames' arrival); a pause after resumed speech starts ≥ 128 ms later.
const SAME_PAUSE: Duration = Duration::from_millis(64);

/// The end-of-turn model asked about a pause before the utterance ended.
#[derive(Debug, Clone)]
struct Early {
    who: Arc<str>,
    end: Instant,
    /// The id the question was asked under.
    part: PartId,
    verdict: Verdict,
    asked: Instant,
}

/// The question asked at an early pause, kept until the utterance ends.
#[derive(Debug, Default)]
pub(super) struct EarlyVerdict {
    early: Option<Early>,
}

impl EarlyVerdict {
    /// `who` paused at `end`; the model is asked now under `part`.
    pub fn asked(&mut self, who: &Arc<str>, end: Instant, part: PartId, now: Instant) {
        let verdict = Verdict::Pending;
        self.early = Some(Early { who: who.clone(), end, part, verdict, asked: now });
    }

    /// The model answered about `part`; `true` if it was the early question.
    pub fn answered(&mut self, part: PartId, verdict: Verdict) -> bool {
        match self.early.as_mut() {
            Some(e) if e.part == part => {
                e.verdict = verdict;
                true
            }
            _ => false,
        }
    }

    /// `who`'s utterance ended at `end`: if it is the pause asked about, the question's id,
    /// the verdict so far and when it was asked. Any earlier question is forgotten.
    pub fn ended(&mut self, who: &Arc<str>, end: Instant) -> Option<(PartId, Verdict, Instant)> {
        let e = self.early.take()?;
        let same = e.who == *who && e.end.max(end).duration_since(e.end.min(end)) <= SAME_PAUSE;
        same.then_some((e.part, e.verdict, e.asked))
    }

    /// `who` started a new utterance: a question about their earlier pause is moot.
    pub fn started(&mut self, who: &Arc<str>) {
        if self.early.as_ref().is_some_and(|e| e.who == *who) {
            self.early = None;
        }
    }
}

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

    /// The turn is not confirmed yet and would answer `said` now (`verdict`: the model's
    /// latest, if asked; `speech_ended`: the real end of the last utterance). `new_turn`
    /// gives the id of a reply to prepare.
    pub fn pending(
        &mut self,
        said: Vec<Said>,
        verdict: Option<Verdict>,
        speech_ended: std::time::Instant,
        new_turn: impl FnOnce() -> TurnId,
        out: &mut VecDeque<Command>,
    ) {
        if self.prepared.as_ref().is_some_and(|p| p.said == said) {
            return;
        }
        self.discard(out);
        if !self.enabled || said.is_empty() || verdict == Some(Verdict::Incomplete) {
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
