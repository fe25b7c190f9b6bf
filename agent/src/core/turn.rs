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
//! answers — short when the speaker has finished, long when they hesitate (shorter when the
//! words the answer would respond to end with a question mark), the VAD delay when it
//! failed, and a bounded wait while it is slow ([`super::endpoint`]).
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

pub use self::command::{Command, Phase, SayReason};
use self::preempt::Preemption;
use super::away::{Away, AwayConfig};
use super::endpoint::{SmartEndpointing, Verdict};

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

    /// What the model said about the last pause, if it was asked.
    pub fn verdict(&self) -> Option<Verdict> {
        self.last_part.map(|(_, v, _)| v)
    }
}

#[path = "turn_answer.rs"]
mod answer;
#[path = "barge.rs"]
pub mod barge;
#[path = "turn_command.rs"]
mod command;
#[path = "turn_hold.rs"]
mod hold;
#[path = "turn_input.rs"]
mod input;
#[path = "preempt.rs"]
pub mod preempt;

#[cfg(test)]
#[path = "turn_tests.rs"]
mod tests;
