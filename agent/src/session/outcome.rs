//! What kind of turn the agent takes and how it went: typed, so the loop, the history rule
//! and the metrics agree on one list (the metric label is [`Outcome::label`]).

use crate::core::turn::SayReason;

/// Why the agent takes a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnKind {
    /// An answer from the LLM to what users said.
    Answer,
    /// A fixed text (greeting, limit, notice).
    Say(SayReason),
}

/// How an agent turn ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Outcome {
    /// The LLM's answer was spoken.
    #[default]
    Answered,
    /// Speech stopped it (barge-in) or nobody was left to hear it.
    Interrupted,
    /// No LLM could answer: the apology was said.
    Apology,
    /// TTS could not speak: the answer went out as text only.
    TextOnly,
    /// A limit refused the turn: its sentence was said.
    Limited,
    /// A fixed notice was said.
    Notice,
    /// The greeting was said.
    Greeting,
    /// A preemptive reply was never heard: the user went on before their turn ended.
    Discarded,
}

impl Outcome {
    /// The `outcome` label of `voice_turns`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Answered => "answered",
            Self::Interrupted => "interrupted",
            Self::Apology => "apology",
            Self::TextOnly => "text_only",
            Self::Limited => "limited",
            Self::Notice => "notice",
            Self::Greeting => "greeting",
            Self::Discarded => "discarded",
        }
    }

    /// How a turn of `kind` whose reply reported `reply` (interrupted or not) counts.
    pub fn of_turn(kind: TurnKind, reply: Outcome, interrupted: bool) -> Self {
        match (interrupted, kind, reply) {
            (true, ..) => Self::Interrupted,
            (false, TurnKind::Say(SayReason::Greeting), Self::Notice) => Self::Greeting,
            (false, TurnKind::Say(SayReason::Limited), Self::Notice) => Self::Limited,
            (false, _, reply) => reply,
        }
    }

    /// Whether the questions an answer turn was for leave the history: when it ended in an
    /// apology or a limit notice (not when it was interrupted: the user's next words go on
    /// from the question).
    pub fn forgets_question(kind: TurnKind, reply: Outcome, interrupted: bool) -> bool {
        kind == TurnKind::Answer && !interrupted && matches!(reply, Self::Apology | Self::Limited)
    }

    /// Whether what was heard of the turn enters the conversation history: answers (spoken or
    /// as text), the greeting and the check-in of a quiet user do; notices, limits and
    /// apologies do not.
    pub fn remembered(kind: TurnKind, reply: Outcome) -> bool {
        match kind {
            TurnKind::Answer => matches!(reply, Self::Answered | Self::TextOnly),
            TurnKind::Say(SayReason::Greeting | SayReason::CheckIn | SayReason::Goodbye) => true,
            TurnKind::Say(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_texts_count_by_their_reason_and_interruptions_win() {
        let greeting = TurnKind::Say(SayReason::Greeting);
        assert_eq!(Outcome::of_turn(greeting, Outcome::Notice, false), Outcome::Greeting);
        assert_eq!(
            Outcome::of_turn(TurnKind::Say(SayReason::Limited), Outcome::Notice, false),
            Outcome::Limited
        );
        assert_eq!(
            Outcome::of_turn(TurnKind::Say(SayReason::Notice), Outcome::Notice, false),
            Outcome::Notice
        );
        assert_eq!(Outcome::of_turn(TurnKind::Answer, Outcome::Apology, false), Outcome::Apology);
        assert_eq!(Outcome::of_turn(greeting, Outcome::Notice, true), Outcome::Interrupted);
        assert!(Outcome::remembered(greeting, Outcome::Notice));
        assert!(Outcome::remembered(TurnKind::Answer, Outcome::TextOnly));
        assert!(!Outcome::remembered(TurnKind::Answer, Outcome::Apology));
        assert!(!Outcome::remembered(TurnKind::Say(SayReason::Notice), Outcome::Notice));
        assert!(Outcome::forgets_question(TurnKind::Answer, Outcome::Apology, false));
        assert!(Outcome::forgets_question(TurnKind::Answer, Outcome::Limited, false));
        assert!(!Outcome::forgets_question(TurnKind::Answer, Outcome::Apology, true));
        assert!(!Outcome::forgets_question(TurnKind::Answer, Outcome::TextOnly, false));
        assert!(!Outcome::forgets_question(greeting, Outcome::Notice, false));
    }
}
