//! The transcript length cap: a runaway STT result must not become a runaway LLM prompt.

/// `text` cut to at most `max_chars` characters, preferring a word boundary in the last fifth;
/// the flag says whether anything was cut.
pub fn cap_transcript(text: &str, max_chars: usize) -> (&str, bool) {
    let Some((cut, _)) = text.char_indices().nth(max_chars) else { return (text, false) };
    let head = &text[..cut];
    let floor = head.char_indices().nth(max_chars - max_chars / 5).map_or(0, |(i, _)| i);
    let end = match head.rfind(char::is_whitespace) {
        Some(i) if i >= floor && i > 0 => i,
        _ => cut,
    };
    (head[..end].trim_end(), true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_untouched() {
        assert_eq!(cap_transcript("hello there", 2000), ("hello there", false));
        assert_eq!(cap_transcript("", 0), ("", false));
    }

    #[test]
    fn cuts_at_a_word_boundary_or_hard_on_char_boundaries() {
        assert_eq!(cap_transcript("one two three four", 15), ("one two three", true));
        assert_eq!(cap_transcript("one two three four", 12), ("one two thre", true));
        assert_eq!(cap_transcript("abcdefghijklmnop", 5), ("abcde", true));
        // Multi-byte characters never split.
        assert_eq!(cap_transcript("ääääää", 3), ("äää", true));
        assert_eq!(cap_transcript("abc", 0), ("", true));
        let long = "word ".repeat(1000);
        let (t, cut) = cap_transcript(&long, 2000);
        assert!(cut && t.chars().count() <= 2000 && t.ends_with("word"));
    }
}
