//! Typed messages (`lk.chat` text streams, legacy chat packets) as user turns.
//!
//! A typed message is answered like speech — same turn limits, cost accounting, history and
//! barge-in (it interrupts the agent) — but needs no transcription. It is held to the same
//! transcript cap as speech (`TRANSCRIPT_MAX_CHARS`); a longer one is cut at a word boundary
//! and the sender is told so on `lk.chat`.

use crate::limits::Limiter;

/// The text to answer, and the notice to send when it had to be cut (`truncated`: the room
/// already cut a very long stream).
pub fn prepare(limiter: &Limiter, text: &str, truncated: bool) -> (String, Option<String>) {
    let (capped, cut) = limiter.cap_transcript(text);
    let notice = (cut || truncated).then(|| notice(capped.chars().count()));
    (capped.to_owned(), notice)
}

/// What the sender of a cut message is told.
pub fn notice(kept_chars: usize) -> String {
    format!("Your message was too long, so I only read its first {kept_chars} characters.")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock;
    use crate::limits::LimitsConfig;

    fn limiter(max: usize) -> Arc<Limiter> {
        let mut registry = prometheus_client::registry::Registry::default();
        let metrics = crate::limits::register_metrics(&mut registry);
        let cfg = LimitsConfig { transcript_max_chars: max, ..LimitsConfig::default() };
        Arc::new(Limiter::new(&cfg, metrics, "test", clock::now()).expect("limiter"))
    }

    #[test]
    fn long_messages_are_cut_with_a_notice() {
        let l = limiter(20);
        assert_eq!(prepare(&l, "short question", false), ("short question".to_owned(), None));
        let (text, notice) = prepare(&l, "one two three four five six seven", false);
        assert!(text.chars().count() <= 20 && "one two three four five six seven".starts_with(&text));
        assert_eq!(
            notice.as_deref(),
            Some(
                format!(
                    "Your message was too long, so I only read its first {} characters.",
                    text.chars().count()
                )
                .as_str()
            )
        );
        // Cut by the room already (a huge stream): also told.
        assert!(prepare(&l, "fits", true).1.is_some());
    }
}
