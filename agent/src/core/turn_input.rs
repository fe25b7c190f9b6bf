//! The turn machine's inputs from the room: speech from the VAD, the end-of-turn model's
//! verdicts, transcripts, typed messages and participants leaving. Part of
//! [`super::TurnMachine`], kept apart to keep it small.

use std::sync::Arc;
use std::time::Instant;

use super::{Command, MAX_PARTS, Part, PartId, Speaking, TURN_AUDIO, Transcript, TurnMachine};
use crate::core::endpoint::Verdict;
use crate::core::history::is_meaningful;

impl TurnMachine {
    /// VAD: `who` started speaking at `start` (the real start, before detection).
    pub fn speech_started(&mut self, who: &Arc<str>, start: Instant, now: Instant) {
        self.away.user_active();
        self.speaking.retain(|s| s.who != *who);
        let during = self.agent.map(|a| a.id);
        self.speaking.push(Speaking { who: who.clone(), start, during });
        self.check_barge_in(now);
    }

    /// VAD: `who`'s utterance ended at `end` (the real end of speech, before the VAD's
    /// silence wait); `pcm` is its 16 kHz audio.
    pub fn speech_ended(&mut self, who: &Arc<str>, pcm: Vec<i16>, end: Instant, now: Instant) {
        let entry = self.speaking.iter().position(|s| s.who == *who).map(|i| self.speaking.remove(i));
        let (start, during) = entry.map_or((end, None), |s| (s.start, s.during));
        let mut barge = false;
        if let (Some(agent), Some(turn)) = (self.agent, during)
            && agent.id == turn
        {
            if end.saturating_duration_since(start) < self.cfg.interrupt_min_speech {
                // Too short to interrupt: a noise or a back-channel "mm-hm"; dropped.
                self.settle_barge(now);
                self.try_answer(now);
                return;
            }
            if self.cfg.false_interruption.is_some() {
                // Its transcript decides (the timer may not have paused the agent yet).
                self.pause(agent.id);
                self.barge_end = Some(self.barge_end.map_or(end, |e| e.max(end)));
                barge = true;
            } else {
                self.interrupt(agent.id);
            }
        }
        let id = self.take_id();
        if self.parts.len() >= MAX_PARTS {
            self.parts.remove(0);
        }
        self.parts.push(Part { id, who: who.clone(), result: None, barge });
        let latest = self.last_end.is_none_or(|e| end >= e);
        self.last_end = Some(self.last_end.map_or(end, |e| e.max(end)));
        if self.cfg.smart.is_some() {
            let heard = self.turn_audio(who, &pcm);
            if latest {
                self.last_part = Some((id, Verdict::Pending, now));
                self.commands.push_back(Command::Predict { part: id, who: who.clone(), pcm: heard });
            }
        }
        self.commands.push_back(Command::Transcribe { part: id, who: who.clone(), pcm });
        self.try_answer(now);
    }

    /// The end-of-turn model's probability that the speaker of `part` has finished; `None`
    /// when it gave none (failed, too busy). Answers about older pauses are ignored.
    pub fn end_of_turn(&mut self, part: PartId, probability: Option<f32>, now: Instant) {
        let Some(smart) = self.cfg.smart else { return };
        if let Some((last, verdict, _)) = self.last_part.as_mut()
            && *last == part
        {
            *verdict = smart.verdict(probability);
            self.try_answer(now);
        }
    }

    /// Appends `pcm` to `who`'s audio of this turn; returns that audio (the last
    /// [`TURN_AUDIO`] samples).
    fn turn_audio(&mut self, who: &Arc<str>, pcm: &[i16]) -> Vec<i16> {
        let i = match self.audio.iter().position(|(w, _)| w == who) {
            Some(i) => i,
            None => {
                self.audio.push((who.clone(), Vec::new()));
                self.audio.len() - 1
            }
        };
        let buf = &mut self.audio[i].1;
        buf.extend_from_slice(pcm);
        if buf.len() > TURN_AUDIO {
            buf.drain(..buf.len() - TURN_AUDIO);
        }
        buf.clone()
    }

    /// A transcription ended (results for dropped utterances are ignored).
    pub fn transcribed(&mut self, part: PartId, result: Transcript, now: Instant) {
        if let Some(p) = self.parts.iter_mut().find(|p| p.id == part) {
            p.result = Some(result);
        }
        self.settle_barge(now);
        self.try_answer(now);
    }

    /// `who` typed `text` (a chat message): an utterance that needs no transcription and no
    /// endpointing wait. Like speech long enough to barge in, it interrupts the agent's turn;
    /// it is answered as soon as nobody speaks, with any utterances still waiting, in order.
    pub fn typed(&mut self, who: &Arc<str>, text: &str, now: Instant) {
        if !is_meaningful(text) {
            return;
        }
        self.away.user_active();
        if let Some(agent) = self.agent {
            self.interrupt(agent.id);
        }
        let id = self.take_id();
        if self.parts.len() >= MAX_PARTS {
            self.parts.remove(0);
        }
        let result = Some(Transcript::Text(text.to_owned()));
        self.parts.push(Part { id, who: who.clone(), result, barge: false });
        // Ready now: the endpointing delay counts as already passed, and a sent message is a
        // finished turn whatever the end-of-turn model thinks of an earlier pause.
        self.last_end = Some(now.checked_sub(self.cfg.endpointing_delay).unwrap_or(now));
        self.last_part = None;
        self.try_answer(now);
    }

    /// A participant left: their speech in progress ends without an utterance.
    pub fn participant_left(&mut self, who: &Arc<str>, now: Instant) {
        self.speaking.retain(|s| s.who != *who);
        self.settle_barge(now);
        self.try_answer(now);
    }
}
