//! The session loop's side of preemptive replies ([`crate::core::turn::preempt`] decides): a
//! prepared reply runs held ([`super::super::held`]) on a copy of the history with the
//! user's words added, so nothing enters the real history before its release; a discarded
//! one is cancelled — its provider requests hang up, which the breakers count as cancelled,
//! not failed — and what it used is still counted: the limiter settles each request with
//! what was sent and streamed (token limits and the cost cap included, as for a barge-in),
//! and its turn is logged and counted in the metrics as `discarded`, with its cost.

use std::sync::Arc;
use std::time::Instant;

use super::super::accounting::{self, TurnFacts};
use super::super::held;
use super::super::outcome::{Outcome, TurnKind};
use super::super::reply::{Reply, Script};
use super::{Session, Start, TurnInfo};
use crate::core::turn::{Said, TurnId};

impl Session {
    /// Starts the reply to `said` held; it is heard once released. Agents with tools are not
    /// answered ahead (the machine's release then answers them as usual).
    pub(super) fn prepare(&mut self, turn: TurnId, said: Vec<Said>, speech_ended: Instant) {
        if !self.preemptive {
            return;
        }
        self.prerender();
        let texts = self.user_texts(&said);
        let mut history = self.history.clone();
        for text in &texts {
            history.push_user(text);
        }
        let (answer, who) = self.agent_turn(&history, &said, texts.clone());
        let (release, hold) = held::hold();
        let start = Start {
            kind: TurnKind::Answer,
            speech_ended: Some(speech_ended),
            asked: Vec::new(),
            hold: Some(hold),
        };
        self.start_turn(turn, Script::Agent(answer), who, start);
        if let Some(info) = self.turns.get_mut(&turn) {
            info.held = Some((release, texts));
        }
        tracing::debug!(room = %self.room, turn, "reply prepared ahead of the end of the turn");
    }

    /// The turn is confirmed: the prepared reply is heard, and the words it answers enter the
    /// history. Without one (not prepared, or gone), `said` is answered as usual.
    pub(super) fn release(&mut self, turn: TurnId, said: Vec<Said>, speech_ended: Instant) {
        let Some(info) = self.turns.get_mut(&turn).filter(|i| i.held.is_some() && !i.discarded) else {
            self.respond(turn, said, speech_ended);
            return;
        };
        let Some((release, texts)) = info.held.take() else { return };
        for text in &texts {
            info.asked.extend(self.history.push_user(text));
        }
        // Utterances that came after the preparation (a noise) are this turn's too.
        info.speech_ended = Some(speech_ended);
        if let Some(d) = self.pending_stt.take() {
            info.stt = Some(info.stt.map_or(d, |s| s.max(d)));
        }
        info.audio_ms += std::mem::take(&mut self.pending_audio_ms);
        let later = std::mem::take(&mut self.pending_stages);
        info.stages.heard = later.heard.or(info.stages.heard);
        info.stages.transcribed = later.transcribed.or(info.stages.transcribed);
        let now = crate::clock::now();
        info.stages.released = Some(now);
        release.release(now);
        tracing::debug!(room = %self.room, turn, "prepared reply released");
    }

    /// The user went on: the prepared reply is cancelled and never heard.
    pub(super) fn discard(&mut self, turn: TurnId) {
        if let Some(info) = self.turns.get_mut(&turn) {
            info.discarded = true;
            info.cancel.cancel();
            tracing::debug!(room = %self.room, turn, "prepared reply discarded: the user went on");
        }
    }

    /// Counts a reply that was never heard (discarded, or ended before its release).
    pub(super) fn unheard(&self, info: &TurnInfo, reply: &Reply) {
        let who: &Arc<str> = &info.who;
        let facts = TurnFacts {
            room: &self.room,
            who,
            speech_ended: None,
            stt: info.stt,
            audio_ms: info.audio_ms,
            outcome: Outcome::Discarded,
            stages: info.stages,
        };
        accounting::account(self.shared.limiter.prices(), &self.shared.models, &facts, reply, "");
    }
}
