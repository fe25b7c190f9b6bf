//! Dynamic endpointing: how long the silence after an utterance must last before the agent
//! answers, given what the end-of-turn model said about it (sans-IO).
//!
//! With only the VAD, every pause waits the same fixed delay: slow when the user has clearly
//! finished, too short when they hesitate mid-sentence. With a model ([`SmartEndpointing`]),
//! each pause gets a [`Verdict`]:
//!
//! | verdict | the answer is due after |
//! |---|---|
//! | [`Verdict::Complete`] (p ≥ threshold) | `min_delay` (default 0.2 s) |
//! | [`Verdict::Incomplete`] (p < threshold), the words end with a question mark ([`Wording::Question`]) | `question_delay` (default 1 s; never below `min_delay` nor above `max_delay`) — unless they go on |
//! | [`Verdict::Incomplete`] (p < threshold), any other words | `max_delay` (default 3 s) — unless they go on |
//! | [`Verdict::Pending`] (the model has not answered yet) | the VAD delay, but at least `model_wait` after the question was asked: a slow model delays the answer by at most that |
//! | [`Verdict::Unknown`] (the model failed or was too busy) | the VAD delay |
//!
//! Delays count from the real end of speech, as the VAD delay does.
//!
//! The model hears only audio, and a flat voice can sound unfinished at the end of a plain
//! question. The words of the pause (the text the answer would respond to) settle that case:
//! a transcript that ends with `?` is a question asked, so an "unfinished" verdict waits only
//! `question_delay` (`0`: the rule is off). A "finished" verdict is not changed by the words,
//! and neither is a pause whose transcript is not in yet.

use std::time::{Duration, Instant};

/// How the model is used; `None` in [`crate::core::turn::TurnConfig`] means VAD only.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SmartEndpointing {
    /// A probability at or above this is a finished turn (`TURN_THRESHOLD`, 0.5).
    pub threshold: f32,
    /// Silence before answering a finished turn (`TURN_MIN_DELAY_SECS`, 0.2).
    pub min_delay: Duration,
    /// Longest wait for more speech after an unfinished one (`TURN_MAX_DELAY_SECS`, 3).
    pub max_delay: Duration,
    /// How long the model may take to answer before the VAD delay decides alone
    /// (`TURN_MODEL_WAIT_SECS`, 0.5; counted from the question).
    pub model_wait: Duration,
    /// Silence before answering a question the model heard as unfinished
    /// (`TURN_QUESTION_DELAY_SECS`, 1; zero: such a question waits `max_delay` too).
    pub question_delay: Duration,
}

impl Default for SmartEndpointing {
    fn default() -> Self {
        Self {
            threshold: 0.5,
            min_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(3),
            model_wait: Duration::from_millis(500),
            question_delay: Duration::from_secs(1),
        }
    }
}

/// What the model said about the last pause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Asked; no answer yet.
    Pending,
    /// The speaker has finished.
    Complete,
    /// The speaker is likely to go on.
    Incomplete,
    /// No answer: the model failed or refused the request.
    Unknown,
}

/// What the words of a pause say about its end, for endpointing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wording {
    /// The text the answer would respond to ends with a question mark.
    Question,
    /// Any other words, or none yet (the transcript is not in).
    Other,
}

impl Wording {
    /// The wording of `text`, the last words the answer would respond to: a question when it
    /// ends with `?` (or a full-width `？`) once trailing spaces and closing quotes are gone.
    pub fn of(text: &str) -> Self {
        let closing = |c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '”' | '’' | '»' | '›' | ')');
        match text.trim_end_matches(closing).chars().next_back() {
            Some('?' | '？') => Self::Question,
            _ => Self::Other,
        }
    }
}

impl SmartEndpointing {
    /// The verdict for a probability (`None`: no probability came back).
    pub fn verdict(&self, probability: Option<f32>) -> Verdict {
        match probability {
            Some(p) if p >= self.threshold => Verdict::Complete,
            Some(p) if p.is_finite() => Verdict::Incomplete,
            _ => Verdict::Unknown,
        }
    }

    /// Whether the words overrule an "unfinished" verdict: the model said
    /// [`Verdict::Incomplete`], the words are a [`Wording::Question`] and `question_delay` is
    /// set. The answer is then due after `question_delay`, and may be prepared meanwhile.
    pub fn asked_question(&self, verdict: Verdict, wording: Wording) -> bool {
        verdict == Verdict::Incomplete && wording == Wording::Question && !self.question_delay.is_zero()
    }

    /// Whether the speaker is likely to go on: an "unfinished" verdict the words do not
    /// overrule (nothing new is prepared for such a pause).
    pub fn going_on(&self, verdict: Verdict, wording: Wording) -> bool {
        verdict == Verdict::Incomplete && !self.asked_question(verdict, wording)
    }

    /// When the agent may answer a pause that began at `end` (the real end of speech), about
    /// which the model was asked at `asked` and whose words are `wording`; `vad_delay` is the
    /// delay without the model.
    pub fn due(
        &self,
        verdict: Verdict,
        wording: Wording,
        end: Instant,
        asked: Instant,
        vad_delay: Duration,
    ) -> Instant {
        let longest = self.max_delay.max(self.min_delay);
        match verdict {
            Verdict::Complete => end + self.min_delay,
            Verdict::Incomplete if self.asked_question(verdict, wording) => {
                end + self.question_delay.max(self.min_delay).min(longest)
            }
            Verdict::Incomplete => end + longest,
            Verdict::Pending => (end + vad_delay).max(asked + self.model_wait),
            Verdict::Unknown => end + vad_delay,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_and_their_delays() {
        let s = SmartEndpointing::default();
        let vad = Duration::from_millis(500);
        assert_eq!(s.verdict(Some(0.9)), Verdict::Complete);
        assert_eq!(s.verdict(Some(0.5)), Verdict::Complete, "the threshold itself is finished");
        assert_eq!(s.verdict(Some(0.1)), Verdict::Incomplete);
        assert_eq!(s.verdict(None), Verdict::Unknown);
        assert_eq!(s.verdict(Some(f32::NAN)), Verdict::Unknown);
        let end = crate::clock::now();
        let ms = Duration::from_millis;
        // Asked 200 ms after the end of speech (the VAD's silence wait).
        let asked = end + ms(200);
        let due = |s: &SmartEndpointing, v| s.due(v, Wording::Other, end, asked, vad);
        assert_eq!(due(&s, Verdict::Complete), end + ms(200));
        assert_eq!(due(&s, Verdict::Incomplete), end + ms(3000));
        assert_eq!(due(&s, Verdict::Unknown), end + vad);
        assert_eq!(due(&s, Verdict::Pending), asked + ms(500), "the model gets its time");
        assert_eq!(
            s.due(Verdict::Pending, Wording::Other, end, end, vad),
            end + vad,
            "never before the VAD delay"
        );
        let odd = SmartEndpointing { max_delay: Duration::ZERO, ..s };
        assert_eq!(due(&odd, Verdict::Incomplete), end + odd.min_delay, "never below the minimum");
    }

    #[test]
    fn a_question_mark_shortens_only_an_unfinished_verdict() {
        let s = SmartEndpointing::default();
        let vad = Duration::from_millis(500);
        let ms = Duration::from_millis;
        let end = crate::clock::now();
        let asked = end + ms(200);
        let q = |s: &SmartEndpointing, v| s.due(v, Wording::Question, end, asked, vad);
        assert_eq!(q(&s, Verdict::Incomplete), end + ms(1000));
        assert!(s.asked_question(Verdict::Incomplete, Wording::Question));
        assert!(!s.going_on(Verdict::Incomplete, Wording::Question));
        assert!(s.going_on(Verdict::Incomplete, Wording::Other));
        // Other verdicts are as without the words.
        assert_eq!(q(&s, Verdict::Complete), end + ms(200));
        assert_eq!(q(&s, Verdict::Pending), asked + ms(500));
        assert_eq!(q(&s, Verdict::Unknown), end + vad);
        for v in [Verdict::Complete, Verdict::Pending, Verdict::Unknown] {
            assert!(!s.asked_question(v, Wording::Question) && !s.going_on(v, Wording::Question));
        }
        // Zero: off, the question waits the maximum.
        let off = SmartEndpointing { question_delay: Duration::ZERO, ..s };
        assert_eq!(q(&off, Verdict::Incomplete), end + ms(3000));
        assert!(off.going_on(Verdict::Incomplete, Wording::Question));
        // Bounded by the minimum and the maximum.
        let short = SmartEndpointing { question_delay: ms(50), ..s };
        assert_eq!(q(&short, Verdict::Incomplete), end + ms(200), "never below the minimum");
        let long = SmartEndpointing { question_delay: ms(9000), ..s };
        assert_eq!(q(&long, Verdict::Incomplete), end + ms(3000), "never above the maximum");
    }

    #[test]
    fn the_wording_of_a_transcript() {
        for text in [
            "Where do we live?",
            "What colour is the sky on a clear day? ",
            "He said \"why?\"",
            "«Pourquoi ?»",
            "なぜ？",
            "Really?)",
        ] {
            assert_eq!(Wording::of(text), Wording::Question, "{text:?}");
        }
        for text in ["", "   ", "So I was thinking", "Why? Because I said so.", "Hello.", "\"\""] {
            assert_eq!(Wording::of(text), Wording::Other, "{text:?}");
        }
    }
}
