//! The turn machine: who speaks when, for one room (sans-IO, str0m style: inputs with `now`,
//! commands polled out, one timer).
//!
//! ```text
//! listening ─speech─▶ user speaking ─end─▶ endpointing (delay after the real end of speech,
//!    ▲                      ▲               transcripts arriving) ─▶ thinking ─first audio─▶
//!    │                      └──── barge-in (≥ interrupt_min_speech) ◀──────┤  speaking
//!    └──────────────────────── agent done ◀────────────────────────────────┘
//! ```
//!
//! Each finished utterance is sent to STT at once ([`Command::Transcribe`]), so the
//! transcript is usually ready when the endpointing delay is over. The agent answers
//! ([`Command::Respond`]) when nobody is speaking, the delay has passed since the last
//! utterance ended, and every transcript is in. Noise-only transcripts are dropped; if only
//! failures remain, the failure notice is spoken instead ([`Command::Say`]).
//!
//! While the agent thinks or speaks, speech that lasts `interrupt_min_speech` interrupts it
//! ([`Command::Interrupt`]: stop playback, cancel its requests) and becomes the next
//! question; shorter speech (a cough, "mm-hm") is ignored and dropped. With
//! [`TurnConfig::false_interruption`] set, such speech only pauses the agent
//! ([`Command::Pause`]) until its transcript tells: words stop it as above, noise or too few
//! words resume it where it paused ([`Command::Resume`]; the rule is in [`barge`]).
//!
//! A room that stays quiet is checked on ([`super::away`]): a check-in, then a goodbye and
//! [`Command::Leave`].
//!
//! Dynamic endpointing (when [`TurnConfig::smart`] is set): each finished utterance is also
//! sent to the end-of-turn model with the speaker's audio of the turn so far
//! ([`Command::Predict`], the last [`TURN_AUDIO`] samples); its answer
//! ([`TurnMachine::end_of_turn`]) sets how long the silence must last before the agent
//! answers — short when the speaker has finished, long when they hesitate, the VAD delay
//! when it failed, and a bounded wait while it is slow ([`super::endpoint`]).
//!
//! Preemptive replies (when [`TurnConfig::preemptive`] is set): as soon as a pause's
//! transcripts are in, the reply is started ([`Command::Prepare`]) while the end of the turn
//! is still being confirmed, and played only once it is ([`Command::Release`]); if the user
//! goes on, it is dropped ([`Command::Discard`]) — see [`preempt`].
//!
//! Several participants share one agent. Policy: anyone can interrupt; the agent answers only
//! when *everybody* has been silent for the endpointing delay, so it never talks over a
//! speaker; utterances that overlap or follow each other before that are answered together,
//! in the order they ended, each labelled with its speaker ([`Said`]). At most
//! [`MAX_PARTS`] utterances wait; older ones are dropped.

use std::sync::Arc;
use std::time::{Duration, Instant};

use self::preempt::Preemption;
use super::away::{Away, AwayConfig};
use super::endpoint::{SmartEndpointing, Verdict};
use super::history::is_meaningful;

/// Turn of the agent (an answer or a spoken notice).
pub type TurnId = u64;
/// One utterance waiting to be answered.
pub type PartId = u64;

/// Utterances held for one answer at most.
pub const MAX_PARTS: usize = 8;
/// Audio of a speaker's turn the end-of-turn model hears at most: 8 s at 16 kHz.
pub const TURN_AUDIO: usize = 8 * 16_000;

/// Turn-taking settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TurnConfig {
    /// Silence after the end of speech before the agent answers (default 0.5 s); with an
    /// end-of-turn model, the delay while it has not answered or when it failed.
    pub endpointing_delay: Duration,
    /// Speech during the agent's turn must last this long to interrupt it (default 0.5 s).
    pub interrupt_min_speech: Duration,
    /// Dynamic endpointing with an end-of-turn model; `None`: the VAD delay alone.
    pub smart: Option<SmartEndpointing>,
    /// Barge-in speech pauses the agent, which resumes if no words come of it within this
    /// long after the speech ended (`FALSE_INTERRUPTION_SECS`); `None`: it stops at once.
    pub false_interruption: Option<Duration>,
    /// With [`TurnConfig::false_interruption`], a barge-in's transcript needs this many words
    /// to stop the agent (`INTERRUPT_MIN_WORDS`; 0 or 1: any word).
    pub interrupt_min_words: usize,
    /// Start the reply at the pause, before the end of the turn is confirmed, and play it
    /// only once it is (`PREEMPTIVE_GENERATION`, default on; see [`preempt`]).
    pub preemptive: bool,
}

impl Default for TurnConfig {
    fn default() -> Self {
        Self {
            endpointing_delay: Duration::from_millis(500),
            interrupt_min_speech: Duration::from_millis(500),
            smart: None,
            false_interruption: None,
            interrupt_min_words: 0,
            preemptive: true,
        }
    }
}

/// What one participant said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Said {
    /// Participant identity.
    pub who: Arc<str>,
    /// Transcript.
    pub text: String,
}

/// How a transcription ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transcript {
    /// The text (possibly empty or noise).
    Text(String),
    /// STT failed; `notice` is what to tell the user if nothing else was understood.
    Failed {
        /// The sentence to speak (e.g. "I can't hear you right now…").
        notice: Option<String>,
    },
}

/// Why the agent speaks a fixed text ([`Command::Say`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SayReason {
    /// The greeting when the first participant can hear it.
    Greeting,
    /// A limit refused the participant (e.g. no session slot left).
    Limited,
    /// A failure notice (e.g. nothing could be transcribed).
    Notice,
    /// The room has been quiet for a long time: "Are you still there?".
    CheckIn,
    /// Quiet for longer still: the goodbye before the agent leaves.
    Goodbye,
}

/// What the session must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Transcribe one utterance (16 kHz mono); report with [`TurnMachine::transcribed`].
    Transcribe {
        /// The utterance.
        part: PartId,
        /// Speaker.
        who: Arc<str>,
        /// 16 kHz PCM.
        pcm: Vec<i16>,
    },
    /// Answer with the LLM; report [`TurnMachine::agent_audio_started`] and
    /// [`TurnMachine::agent_done`].
    Respond {
        /// The agent's turn.
        turn: TurnId,
        /// What was said, in the order the utterances ended.
        said: Vec<Said>,
        /// The real end of the last utterance (for the latency users feel).
        speech_ended: Instant,
    },
    /// Speak a fixed text (greeting, notice); report like [`Command::Respond`].
    Say {
        /// The agent's turn.
        turn: TurnId,
        /// The text.
        text: String,
        /// Why the agent says it.
        reason: SayReason,
        /// The participant it is meant for (limits and accounting); `None`: the room.
        who: Option<Arc<str>>,
        /// The end of the speech it answers, if any.
        speech_ended: Option<Instant>,
    },
    /// Ask the end-of-turn model whether `who` has finished; report with
    /// [`TurnMachine::end_of_turn`]. Only with [`TurnConfig::smart`].
    Predict {
        /// The utterance whose end is the pause in question.
        part: PartId,
        /// Speaker.
        who: Arc<str>,
        /// The speaker's audio of this turn up to the pause (16 kHz, at most [`TURN_AUDIO`]).
        pcm: Vec<i16>,
    },
    /// Start answering like [`Command::Respond`], but hold everything the user would
    /// notice (audio, captions, text, history) until [`Command::Release`]; the turn is not the
    /// agent's yet. Only with [`TurnConfig::preemptive`].
    Prepare {
        /// The reply's turn.
        turn: TurnId,
        /// What it answers.
        said: Vec<Said>,
        /// The real end of the last utterance.
        speech_ended: Instant,
    },
    /// The end of the turn is confirmed and the prepared `turn` answers it: play it; from
    /// now on it is the agent's turn (report like [`Command::Respond`]). If that reply is
    /// gone, answer `said` as [`Command::Respond`] would.
    Release {
        /// The prepared turn.
        turn: TurnId,
        /// What it answers.
        said: Vec<Said>,
        /// The real end of the last utterance.
        speech_ended: Instant,
    },
    /// The user went on: cancel the prepared `turn`; nothing of it is heard or remembered.
    Discard {
        /// The prepared turn.
        turn: TurnId,
    },
    /// Barge-in: stop playback at once and cancel the turn's requests.
    Interrupt {
        /// The interrupted turn.
        turn: TurnId,
    },
    /// Possible barge-in: hold playback where it is (the turn's work goes on).
    Pause {
        /// The paused turn.
        turn: TurnId,
    },
    /// A false interruption (or the paused turn ended): play on from where it paused.
    Resume {
        /// The resumed turn.
        turn: TurnId,
    },
    /// The goodbye has been said to a user who went away: leave the room, ending the job.
    Leave,
}

/// Where the conversation is (for logs, metrics and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Nobody speaks, nothing pending.
    Listening,
    /// Someone is speaking.
    UserSpeaking,
    /// Utterances are in; waiting for the delay or transcripts.
    Endpointing,
    /// The agent's turn has started, no audio yet.
    Thinking,
    /// The agent's audio is playing.
    Speaking,
    /// The agent's turn is paused by speech that may be an interruption.
    Paused,
}

#[derive(Debug)]
struct Speaking {
    who: Arc<str>,
    start: Instant,
    /// The agent turn this speech started in (candidate barge-in).
    during: Option<TurnId>,
}

#[derive(Debug)]
struct Part {
    id: PartId,
    who: Arc<str>,
    result: Option<Transcript>,
    /// Spoken over the agent's turn that is still running (a candidate interruption).
    barge: bool,
}

#[derive(Debug, Clone, Copy)]
struct AgentTurn {
    id: TurnId,
    audible: bool,
    paused: bool,
}

/// The machine for one room.
#[derive(Debug)]
pub struct TurnMachine {
    cfg: TurnConfig,
    speaking: Vec<Speaking>,
    parts: Vec<Part>,
    last_end: Option<Instant>,
    agent: Option<AgentTurn>,
    commands: std::collections::VecDeque<Command>,
    next_id: u64,
    interruptions: u64,
    /// Each speaker's audio of the pending turn (only with an end-of-turn model).
    audio: Vec<(Arc<str>, Vec<i16>)>,
    /// The utterance that ended last, what the model said about the pause after it, and when
    /// it was asked.
    last_part: Option<(PartId, Verdict, Instant)>,
    /// The latest end of a candidate interruption's speech.
    barge_end: Option<Instant>,
    false_interruptions: u64,
    away: Away,
    /// The goodbye turn, after which the agent leaves.
    goodbye: Option<TurnId>,
    /// The reply prepared ahead of the end of the turn.
    preempt: Preemption,
    /// Interrupted turns that have not reported their end yet.
    ending: Vec<TurnId>,
}

impl TurnMachine {
    /// A machine in the listening phase.
    pub fn new(cfg: TurnConfig) -> Self {
        Self {
            cfg,
            speaking: Vec::new(),
            parts: Vec::new(),
            last_end: None,
            agent: None,
            commands: Default::default(),
            next_id: 1,
            interruptions: 0,
            audio: Vec::new(),
            last_part: None,
            barge_end: None,
            false_interruptions: 0,
            away: Away::new(AwayConfig::default()),
            goodbye: None,
            preempt: Preemption::new(cfg.preemptive),
            ending: Vec::new(),
        }
    }

    /// The machine with a user-away policy (off by default).
    pub fn with_away(mut self, away: AwayConfig) -> Self {
        self.away = Away::new(away);
        self
    }

    /// The reply prepared ahead of the end of the turn, if one is.
    pub fn prepared(&self) -> Option<TurnId> {
        self.preempt.prepared()
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        match self.agent {
            Some(AgentTurn { paused: true, .. }) => Phase::Paused,
            Some(AgentTurn { audible: true, .. }) => Phase::Speaking,
            Some(_) => Phase::Thinking,
            None if !self.speaking.is_empty() => Phase::UserSpeaking,
            None if !self.parts.is_empty() => Phase::Endpointing,
            None => Phase::Listening,
        }
    }

    /// Barge-ins so far.
    pub fn interruptions(&self) -> u64 {
        self.interruptions
    }

    /// Pauses that turned out to be no interruption (the agent resumed).
    pub fn false_interruptions(&self) -> u64 {
        self.false_interruptions
    }

    /// The next command, if any.
    pub fn poll_command(&mut self) -> Option<Command> {
        self.commands.pop_front()
    }

    /// When [`TurnMachine::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let barge = self
            .agent
            .filter(|a| !a.paused)
            .and_then(|a| self.speaking.iter().filter(|s| s.during == Some(a.id)).map(|s| s.start).min())
            .map(|start| start + self.cfg.interrupt_min_speech);
        let answer = match (self.agent, self.speaking.is_empty(), self.last_end) {
            (None, true, Some(end)) if self.all_transcribed() => Some(self.due(end)),
            _ => None,
        };
        let resume = self.resume_due();
        let away = if self.phase() == Phase::Listening { self.away.due() } else { None };
        [barge, answer, resume, away].into_iter().flatten().min()
    }

    /// Time has passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.check_barge_in(now);
        self.settle_barge(now);
        self.try_answer(now);
        self.check_away(now);
    }

    /// A user is in the room at `now` (starts the away clock if the room is quiet).
    pub fn user_present(&mut self, now: Instant) {
        self.note_quiet(now);
    }

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

    /// What the model said about the last pause, if it was asked.
    pub fn verdict(&self) -> Option<Verdict> {
        self.last_part.map(|(_, v, _)| v)
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

    /// When the pause that began at `end` (the last end of speech) may be answered.
    fn due(&self, end: Instant) -> Instant {
        match (self.cfg.smart, self.last_part) {
            (Some(smart), Some((_, verdict, asked))) => {
                smart.due(verdict, end, asked, self.cfg.endpointing_delay)
            }
            _ => end + self.cfg.endpointing_delay,
        }
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

    /// A participant left: their speech in progress ends without an utterance.
    pub fn participant_left(&mut self, who: &Arc<str>, now: Instant) {
        self.speaking.retain(|s| s.who != *who);
        self.settle_barge(now);
        self.try_answer(now);
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

    fn take_id(&mut self) -> u64 {
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

    fn interrupt(&mut self, turn: TurnId) {
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

    fn check_barge_in(&mut self, now: Instant) {
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

    fn all_transcribed(&self) -> bool {
        self.parts.iter().all(|p| p.result.is_some())
    }

    fn try_answer(&mut self, now: Instant) {
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
                let verdict = self.verdict();
                let next = &mut self.next_id;
                let new_turn = || {
                    *next += 1;
                    *next - 1
                };
                self.preempt.pending(said, verdict, end, new_turn, &mut self.commands);
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

#[path = "barge.rs"]
pub mod barge;
#[path = "turn_hold.rs"]
mod hold;
#[path = "preempt.rs"]
pub mod preempt;

#[cfg(test)]
#[path = "turn_tests.rs"]
mod tests;
