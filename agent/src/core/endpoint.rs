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
//! | [`Verdict::Incomplete`] (p < threshold) | `max_delay` (default 3 s) — unless they go on |
//! | [`Verdict::Pending`] (the model has not answered yet) | the VAD delay, but at least `model_wait` after the question was asked: a slow model delays the answer by at most that |
//! | [`Verdict::Unknown`] (the model failed or was too busy) | the VAD delay |
//!
//! Delays count from the real end of speech, as the VAD delay does.

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
}

impl Default for SmartEndpointing {
    fn default() -> Self {
        Self {
            threshold: 0.5,
            min_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(3),
            model_wait: Duration::from_millis(500),
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

impl SmartEndpointing {
    /// The verdict for a probability (`None`: no probability came back).
    pub fn verdict(&self, probability: Option<f32>) -> Verdict {
        match probability {
            Some(p) if p >= self.threshold => Verdict::Complete,
            Some(p) if p.is_finite() => Verdict::Incomplete,
            _ => Verdict::Unknown,
        }
    }

    /// When the agent may answer a pause that began at `end` (the real end of speech), about
    /// which the model was asked at `asked`; `vad_delay` is the delay without the model.
    pub fn due(&self, verdict: Verdict, end: Instant, asked: Instant, vad_delay: Duration) -> Instant {
        match verdict {
            Verdict::Complete => end + self.min_delay,
            Verdict::Incomplete => end + self.max_delay.max(self.min_delay),
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
        assert_eq!(s.due(Verdict::Complete, end, asked, vad), end + ms(200));
        assert_eq!(s.due(Verdict::Incomplete, end, asked, vad), end + ms(3000));
        assert_eq!(s.due(Verdict::Unknown, end, asked, vad), end + vad);
        assert_eq!(s.due(Verdict::Pending, end, asked, vad), asked + ms(500), "the model gets its time");
        assert_eq!(s.due(Verdict::Pending, end, end, vad), end + vad, "never before the VAD delay");
        let odd = SmartEndpointing { max_delay: Duration::ZERO, ..s };
        assert_eq!(
            odd.due(Verdict::Incomplete, end, asked, vad),
            end + odd.min_delay,
            "never below the minimum"
        );
    }
}
