//! Which barge-ins are real (sans-IO): the rule the turn machine applies to the transcript of
//! speech that paused the agent.
//!
//! Speech over the agent that lasts `INTERRUPT_MIN_SPEECH_SECS` pauses its audio at once. Its
//! transcript then decides: words (at least `INTERRUPT_MIN_WORDS`) stop the agent for good and
//! become the next question; noise, a cough or too few words ("mm-hm" with a minimum of two)
//! are a false interruption, and the agent's speech resumes where it paused. A failed
//! transcription counts as real (the user hears why nothing was understood). No transcript
//! within `FALSE_INTERRUPTION_SECS` after the speech ended also resumes; a late one with words
//! still stops the agent then.

use super::Transcript;
use crate::core::history::is_meaningful;

/// Words in `text`: whitespace-separated pieces with a letter or digit ("mm-hm" is one).
pub fn words(text: &str) -> usize {
    text.split_whitespace().filter(|w| w.chars().any(char::is_alphanumeric)).count()
}

/// Whether a barge-in that was transcribed as `result` stops the agent: meaningful text with at
/// least `min_words` words (any, if 0 or 1), or a failure.
pub fn is_real(result: &Transcript, min_words: usize) -> bool {
    match result {
        Transcript::Text(text) => is_meaningful(text) && words(text) >= min_words.max(1),
        Transcript::Failed { .. } => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Transcript {
        Transcript::Text(s.into())
    }

    #[test]
    fn words_noise_and_the_minimum() {
        assert_eq!(words("  mm-hm  "), 1);
        assert_eq!(words("Wait, stop - please!"), 3);
        assert!(!is_real(&text(""), 0));
        assert!(!is_real(&text("[BLANK_AUDIO]"), 0), "noise");
        assert!(!is_real(&text("(coughs)"), 0), "noise");
        assert!(is_real(&text("stop"), 0));
        assert!(is_real(&text("stop"), 1));
        assert!(!is_real(&text("mm-hm"), 2), "a back-channel under the minimum");
        assert!(is_real(&text("wait, stop"), 2));
        assert!(is_real(&Transcript::Failed { notice: None }, 3), "the user hears why");
    }
}
