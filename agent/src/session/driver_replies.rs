//! The agent's replies in the session loop: an answer's request built from the history, each
//! reply run as a task ([`super::super::reply`]), and what is remembered and counted when it
//! ends.

use std::sync::Arc;
use std::time::Instant;

use super::super::Event;
use super::super::accounting::{self, TurnFacts};
use super::super::config::FILLER_GRACE;
use super::super::outcome::{Outcome, TurnKind};
use super::super::reply::{self, AgentTurn, FillerTime, Reply, ReplyCtx, Script, Timing};
use super::super::transcript;
use super::{Session, Start, TurnInfo};
use crate::agent::UserTurn;
use crate::clock;
use crate::core::chat_item::ChatItem;
use crate::core::history::{History, Speaker, heard_text};
use crate::core::turn::{Said, TurnId};
use crate::providers::Capability;

impl Session {
    pub(super) fn respond(&mut self, turn: TurnId, said: Vec<Said>, speech_ended: Instant) {
        // The filler and notices, if TTS could not render them before.
        self.prerender();
        let texts = self.user_texts(&said);
        let mut asked = Vec::new();
        for text in &texts {
            asked.extend(self.history.push_user(text));
        }
        let (answer, who) = self.agent_turn(&self.history, &said, texts);
        let start = Start { kind: TurnKind::Answer, speech_ended: Some(speech_ended), asked, hold: None };
        self.start_turn(turn, Script::Agent(answer), who, start);
    }

    /// What each utterance said, as the history keeps it (labelled with the speaker when
    /// several people are in the call).
    pub(super) fn user_texts(&self, said: &[Said]) -> Vec<String> {
        let labelled = self.members.len() > 1;
        said.iter()
            .map(|s| if labelled { format!("{}: {}", s.who, s.text) } else { s.text.clone() })
            .collect()
    }

    /// The agent's answer to `said` (whose texts are `texts`) given `history` (ending with
    /// them), and who it answers.
    pub(super) fn agent_turn(
        &self,
        history: &History,
        said: &[Said],
        texts: Vec<String>,
    ) -> (AgentTurn, Arc<str>) {
        let labelled = self.members.len() > 1;
        let now = clock::now();
        let mut extra = Vec::new();
        if let Some(degraded) = self.shared.providers.degraded_summary(now) {
            extra.push(degraded);
        }
        if labelled {
            extra.push(
                "Several people are in this call; each user message starts with the speaker's name."
                    .to_owned(),
            );
        }
        let mut items = Vec::new();
        for e in history.window() {
            if e.speaker == Speaker::User {
                items.push(ChatItem::User(e.text));
            } else {
                items.extend(e.tools);
                if !e.text.is_empty() {
                    items.push(ChatItem::Assistant(e.text));
                }
            }
        }
        let who = said.first().map_or_else(|| self.agent.clone(), |s| s.who.clone());
        let answer = AgentTurn {
            agent: self.agent_runner.clone(),
            history: items,
            extra: extra.join("\n\n"),
            turn: UserTurn { speaker: who.clone(), text: texts.join(" ") },
            job: self.job.clone(),
            options: Arc::new(self.shared.cfg.tool_loop.clone()),
        };
        (answer, who)
    }

    pub(super) fn start_turn(&mut self, turn: TurnId, script: Script, who: Arc<str>, start: Start) {
        let Start { kind, speech_ended, asked, hold } = start;
        let call = self.call(&who);
        let info = TurnInfo {
            cancel: call.cancel.clone(),
            kind,
            who,
            speech_ended,
            stt: self.pending_stt.take(),
            stages: std::mem::take(&mut self.pending_stages),
            audio_ms: std::mem::take(&mut self.pending_audio_ms),
            stopped_at: None,
            asked,
            held: None,
            discarded: false,
        };
        self.turns.insert(turn, info);
        self.segments += 1;
        let segment = transcript::agent_segment(&self.agent, self.segments);
        let ctx = self.reply_ctx();
        let events = self.events.clone();
        // An answer gets the filler if it has no audio this long after the user stopped, and
        // not before its own moment once it may be heard.
        let filler = match (kind, speech_ended, self.shared.cfg.thinking_notice) {
            (TurnKind::Answer, Some(end), Some(after)) => {
                Some(FillerTime { at: end + after, grace: after.min(FILLER_GRACE) })
            }
            _ => None,
        };
        let timing = Timing { filler, hold };
        self.tasks.spawn(async move {
            let reply = reply::run(ctx, turn, script, call, segment, timing).await;
            let _ = events.send(Event::ReplyDone(Box::new(reply))).await;
        });
    }

    pub(super) fn finished(&mut self, reply: Reply, now: Instant) {
        let Some(info) = self.turns.remove(&reply.turn) else { return };
        if info.discarded || info.held.is_some() {
            // Never heard: nothing of it is remembered; what it used is counted.
            self.unheard(&info, &reply);
            self.machine.agent_done(reply.turn, now);
            return;
        }
        let heard = match info.stopped_at {
            Some(played) => heard_text(&reply.spoken, played.saturating_sub(reply.baseline)),
            None if reply.interrupted => String::new(),
            None => reply.text.clone(),
        };
        // Notices and apologies are not part of the conversation; answers and the greeting are.
        // Tool calls that ran are, whatever came of the answer: their effects happened.
        if Outcome::remembered(info.kind, reply.outcome) {
            self.history.push_agent_turn(&heard, reply.tools.clone());
        } else if !reply.tools.is_empty() {
            self.history.push_agent_turn("", reply.tools.clone());
        }
        if !reply.handoffs.is_empty() {
            tracing::info!(room = %self.room, to = ?reply.handoffs, "the conversation was handed over");
        }
        // A question that got an apology or a limit notice instead of an answer is taken
        // back: the user heard that it was not answered, and the next answer must not
        // answer it along with the next question. One cut short by the user stays: their
        // next words go on from it.
        // Unless tools ran for it: their calls stay, and so does what they answered.
        if Outcome::forgets_question(info.kind, reply.outcome, reply.interrupted) && reply.tools.is_empty() {
            self.history.forget(&info.asked);
        }
        let facts = TurnFacts {
            room: &self.room,
            who: &info.who,
            speech_ended: info.speech_ended,
            stt: info.stt,
            audio_ms: info.audio_ms,
            outcome: Outcome::of_turn(info.kind, reply.outcome, reply.interrupted),
            stages: info.stages,
        };
        accounting::account(self.shared.limiter.prices(), &self.shared.models, &facts, &reply, &heard);
        self.machine.agent_done(reply.turn, now);
        if !self.turns.values().any(|t| t.cancel.is_cancelled()) {
            for (turn, said, speech_ended) in std::mem::take(&mut self.deferred) {
                self.respond(turn, said, speech_ended);
            }
        }
    }

    fn reply_ctx(&self) -> ReplyCtx {
        ReplyCtx {
            providers: self.shared.providers.clone(),
            sink: self.sink.clone(),
            text: self.text.clone(),
            cache: self.shared.cache.clone(),
            splitter: self.shared.cfg.splitter,
            llm_unavailable: self.shared.cfg.llm_unavailable_message.clone(),
            filler: self.shared.cfg.thinking_notice.map(|_| self.shared.cfg.thinking_filler.clone()),
            first_clause_after: self.shared.cfg.first_clause_after,
            first_words: self.shared.cfg.first_words,
            events: self.events.clone(),
        }
    }

    /// Renders the filler and the notices while TTS works, so they stay audible when it does
    /// not (checked at start and before each answer; rendered once per worker).
    pub(super) fn prerender(&mut self) {
        let now = clock::now();
        if !self.shared.providers.is_available(Capability::Tts, now) {
            return;
        }
        let cfg = &self.shared.cfg;
        let filler = cfg.thinking_notice.map(|_| &cfg.thinking_filler);
        let texts: Vec<String> = [
            filler,
            Some(&cfg.llm_unavailable_message),
            Some(&cfg.stt_unavailable_message),
            self.filler.as_ref(),
        ]
        .into_iter()
        .flatten()
        .filter(|t| !self.shared.cache.contains(t))
        .cloned()
        .collect();
        if texts.is_empty() {
            return;
        }
        let call = self.call(&self.agent.clone());
        let (providers, cache) = (self.shared.providers.clone(), self.shared.cache.clone());
        self.tasks.spawn(async move { reply::prerender(providers.as_ref(), &cache, &call, &texts).await });
    }
}
