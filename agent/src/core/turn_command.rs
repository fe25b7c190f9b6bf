//! What the turn machine tells the session: its commands ([`Command`], with the reasons for a
//! fixed text, [`SayReason`]) and where the conversation is ([`Phase`]). Part of
//! [`super::TurnMachine`], kept apart to keep it small.

use std::sync::Arc;
use std::time::Instant;

use super::{PartId, Said, TurnId};
#[cfg(doc)]
use super::{TURN_AUDIO, TurnConfig, TurnMachine};

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
