//! Incremental sentence splitting of a streamed LLM answer, so each sentence can go to TTS
//! the moment it is complete: the first audio starts after the first sentence, not after the
//! whole answer.
//!
//! A sentence ends at `.`, `!`, `?`, `…` (or a line break) followed by whitespace — never at
//! the end of what has arrived so far, since "3." may still become "3.14". Not ends: decimal
//! numbers and thousands separators (no whitespace follows), abbreviations (`Mr.`, `Dr.`,
//! `e.g.`, `U.S.`, single initials), list markers (`1. `), and an ellipsis followed by a
//! lower-case word. Closing quotes and brackets stay with their sentence. Very short
//! sentences are merged with the next one (a TTS request per "Ok." costs more than it
//! saves), and a clause that runs too long without an end is cut at a comma, semicolon or
//! dash, else at a space, so TTS never waits for an endless sentence.

/// Abbreviations after which a period never ends a sentence (lower case, without the dot).
const TITLES: &[&str] = &[
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "vs", "e.g", "i.e", "cf", "approx", "no", "fig",
    "gen", "col", "capt", "lt", "sgt", "rev", "hon", "ca",
];
/// Abbreviations that end a sentence only when an upper-case word follows.
const SOFT: &[&str] = &[
    "etc", "inc", "ltd", "co", "corp", "u.s", "u.k", "a.m", "p.m", "jan", "feb", "aug", "sept", "oct", "nov",
    "dec",
];
/// Words after which an answer's first words are not cut: they lean on the next word.
const LEANING: &[&str] = &[
    "a", "an", "the", "to", "of", "in", "on", "at", "for", "with", "from", "by", "into", "about", "as",
    "than", "and", "or", "but", "nor", "so", "that", "is", "are", "was", "were", "be", "been", "am", "has",
    "have", "had", "do", "does", "did", "will", "would", "can", "could", "should", "may", "might", "must",
    "my", "your", "his", "her", "its", "our", "their", "this", "these", "those", "very", "not", "no", "i",
    "we", "you", "it", "they", "he", "she", "there", "it's", "i'm", "we're", "you're", "they're", "there's",
];
/// How many words past the asked number [`SentenceSplitter::take_words`] looks for a cut.
pub const WORDS_STRETCH: usize = 4;

/// Characters that close a sentence's quote or bracket.
const CLOSERS: &[char] = &['"', '\'', '”', '’', ')', ']', '»'];

/// Splitter settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SplitterConfig {
    /// Sentences shorter than this (characters) are merged with the next (default 8).
    pub min_chars: usize,
    /// A clause longer than this without a sentence end is cut (default 180).
    pub max_chars: usize,
}

impl Default for SplitterConfig {
    fn default() -> Self {
        Self { min_chars: 8, max_chars: 180 }
    }
}

/// The splitter for one answer.
#[derive(Debug, Clone)]
pub struct SentenceSplitter {
    cfg: SplitterConfig,
    buf: String,
    /// Byte offset up to which `buf` has been scanned without finding an end.
    scanned: usize,
}

impl SentenceSplitter {
    /// A splitter with `cfg` (`max_chars` is raised to at least 2 × `min_chars`).
    pub fn new(cfg: SplitterConfig) -> Self {
        let cfg = SplitterConfig { max_chars: cfg.max_chars.max(cfg.min_chars * 2).max(16), ..cfg };
        Self { cfg, buf: String::new(), scanned: 0 }
    }

    /// Adds a streamed delta; complete sentences are appended to `out`.
    pub fn push(&mut self, delta: &str, out: &mut Vec<String>) {
        self.buf.push_str(delta);
        while let Some(end) = self.next_end() {
            self.emit(end, out);
        }
        while self.buf.chars().count() > self.cfg.max_chars {
            let cut = self.long_cut();
            self.emit(cut, out);
        }
    }

    /// The first clause of what is waiting, if it already ends at a comma, semicolon, colon or
    /// dash (followed by whitespace) at least `min_chars` in: for a slow LLM, the first words
    /// can be spoken before the first sentence is complete.
    pub fn take_clause(&mut self, min_chars: usize) -> Option<String> {
        let mut count = 0;
        let mut cut = None;
        let mut chars = self.buf.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            count += 1;
            if count >= min_chars
                && matches!(c, ',' | ';' | ':' | '—' | '–')
                && chars.peek().is_some_and(|(_, n)| n.is_whitespace())
            {
                cut = Some(i + c.len_utf8());
                break;
            }
        }
        let mut out = Vec::new();
        self.emit(cut?, &mut out);
        out.pop()
    }

    /// The first `words` words or a few more of what is waiting, once they have arrived whole
    /// (each followed by whitespace): for a slow LLM, the start of its first sentence can be
    /// spoken before the sentence is complete. The cut never follows a word that leans on the
    /// next one (an article, preposition, conjunction, auxiliary: "The tallest animal in | the
    /// world" would be read as two statements), so it moves on, at most [`WORDS_STRETCH`]
    /// words further. `None` while too few have arrived (or `words` is 0).
    ///
    /// ```
    /// use voice_agent::core::sentences::{SentenceSplitter, SplitterConfig};
    ///
    /// let mut s = SentenceSplitter::new(SplitterConfig::default());
    /// s.push("The capital of France", &mut Vec::new());
    /// assert_eq!(s.take_words(4), None, "\"France\" may still go on");
    /// s.push(" is", &mut Vec::new());
    /// assert_eq!(s.take_words(4).as_deref(), Some("The capital of France"));
    /// ```
    pub fn take_words(&mut self, words: usize) -> Option<String> {
        if words == 0 {
            return None;
        }
        let mut seen = 0;
        let mut start = None;
        let mut cut = None;
        for (i, c) in self.buf.char_indices() {
            match (c.is_whitespace(), start) {
                (false, None) => start = Some(i),
                (true, Some(from)) => {
                    seen += 1;
                    start = None;
                    if seen >= words && (!leans_on_next(&self.buf[from..i]) || seen >= words + WORDS_STRETCH)
                    {
                        cut = Some(i);
                        break;
                    }
                }
                _ => {}
            }
        }
        let mut out = Vec::new();
        self.emit(cut?, &mut out);
        out.pop()
    }

    /// The rest, once the stream has ended.
    pub fn finish(&mut self) -> Option<String> {
        let rest = normalize(&self.buf);
        self.buf.clear();
        self.scanned = 0;
        (!rest.is_empty()).then_some(rest)
    }

    /// Moves `buf[..end]` out as a sentence.
    fn emit(&mut self, end: usize, out: &mut Vec<String>) {
        let sentence = normalize(&self.buf[..end]);
        self.buf.drain(..end);
        self.scanned = 0;
        if !sentence.is_empty() {
            out.push(sentence);
        }
    }

    /// The byte offset just after the first complete sentence of at least `min_chars`.
    fn next_end(&mut self) -> Option<usize> {
        let text = self.buf.as_str();
        let mut it = text.char_indices().skip_while(|(i, _)| *i < self.scanned).peekable();
        while let Some((i, c)) = it.next() {
            let after = i + c.len_utf8();
            let end = match c {
                '\n' => Some(after),
                '.' | '!' | '?' | '…' | '。' | '！' | '？' => {
                    // Take repeated terminators ("?!", "...") and closing quotes along.
                    let mut end = after;
                    while let Some(&(j, d)) = it.peek() {
                        if matches!(d, '.' | '!' | '?' | '…') || CLOSERS.contains(&d) {
                            end = j + d.len_utf8();
                            it.next();
                        } else {
                            break;
                        }
                    }
                    match text[end..].chars().next() {
                        // Undecided until the next character arrives.
                        None => {
                            self.scanned = i;
                            return None;
                        }
                        Some(n) if n.is_whitespace() => match is_boundary(text, i, end) {
                            Some(true) => Some(end),
                            Some(false) => None,
                            // It depends on the next word, which has not arrived yet.
                            None => {
                                self.scanned = i;
                                return None;
                            }
                        },
                        Some(_) => None,
                    }
                }
                _ => None,
            };
            if let Some(end) = end
                && text[..end].trim().chars().count() >= self.cfg.min_chars
            {
                return Some(end);
            }
        }
        self.scanned = text.len();
        None
    }

    /// Where to cut a clause that has grown past `max_chars`.
    fn long_cut(&self) -> usize {
        let limit = self.buf.char_indices().nth(self.cfg.max_chars).map_or(self.buf.len(), |(i, _)| i);
        let head = &self.buf[..limit];
        let floor = head.char_indices().nth(self.cfg.max_chars / 3).map_or(0, |(i, _)| i);
        let clause = head
            .char_indices()
            .filter(|&(i, c)| i >= floor && matches!(c, ',' | ';' | ':' | '—' | '–'))
            .filter(|&(i, c)| head[i + c.len_utf8()..].starts_with(char::is_whitespace))
            .map(|(i, c)| i + c.len_utf8())
            .next_back();
        let space = head.rfind(char::is_whitespace).filter(|&i| i >= floor);
        clause.or(space).unwrap_or(limit)
    }
}

/// Whether the terminator at `dot` (its run ending at `end`) ends a sentence; `None` when
/// that depends on the next word and it has not arrived yet.
fn is_boundary(text: &str, dot: usize, end: usize) -> Option<bool> {
    let next = text[end..].trim_start().chars().next();
    let next_upper = next.map(|c| c.is_uppercase() || c.is_numeric());
    let run = &text[dot..end];
    if run.starts_with("...") || run.starts_with('…') {
        // "well... maybe" goes on; "I see... Then" ends.
        return next_upper;
    }
    if !run.starts_with('.') {
        return Some(true);
    }
    let word_start = text[..dot].rfind(char::is_whitespace).map_or(0, |i| i + 1);
    let word = text[word_start..dot].trim_start_matches(['(', '"', '\'', '“', '‘']);
    let lower = word.to_lowercase();
    if TITLES.contains(&lower.as_str()) {
        return Some(false);
    }
    // "etc." and "a.m." style words end a sentence only before an upper-case word.
    if SOFT.contains(&lower.as_str()) || word.contains('.') {
        return next_upper;
    }
    let mut chars = word.chars();
    if let (Some(c), None) = (chars.next(), chars.next())
        && c.is_uppercase()
    {
        return Some(false); // an initial: "J. K. Rowling"
    }
    // "1. First": a list marker at the start of a line.
    let line_start = text[..word_start].trim_end_matches([' ', '\t']);
    let numeric = !word.is_empty() && word.chars().all(|c| c.is_ascii_digit());
    Some(!(numeric && (line_start.is_empty() || line_start.ends_with('\n'))))
}

/// Whether `word` (as written) leans on the next word; a word ending at a comma, colon or
/// dash never does.
fn leans_on_next(word: &str) -> bool {
    if word.ends_with([',', ';', ':', '—', '–']) {
        return false;
    }
    let bare = word.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'' && c != '’').replace('’', "'");
    LEANING.contains(&bare.to_lowercase().as_str())
}

/// Whitespace runs collapsed to single spaces, ends trimmed.
fn normalize(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_in(deltas: &[&str], cfg: SplitterConfig) -> Vec<String> {
        let mut s = SentenceSplitter::new(cfg);
        let mut out = Vec::new();
        for d in deltas {
            s.push(d, &mut out);
        }
        out.extend(s.finish());
        out
    }

    fn split(text: &str) -> Vec<String> {
        // Feed character by character: the result must not depend on how the stream is cut.
        let chars: Vec<String> = text.chars().map(String::from).collect();
        let refs: Vec<&str> = chars.iter().map(String::as_str).collect();
        let by_char = split_in(&refs, SplitterConfig::default());
        assert_eq!(by_char, split_in(&[text], SplitterConfig::default()), "chunking changed the result");
        by_char
    }

    #[test]
    fn plain_sentences_are_emitted_as_soon_as_complete() {
        let mut s = SentenceSplitter::new(SplitterConfig::default());
        let mut out = Vec::new();
        s.push("Hello there, friend. How a", &mut out);
        assert_eq!(out, ["Hello there, friend."]);
        s.push("re you? I am", &mut out);
        assert_eq!(out, ["Hello there, friend.", "How are you?"]);
        assert_eq!(s.finish().as_deref(), Some("I am"));
        assert_eq!(s.finish(), None);
    }

    #[test]
    fn a_terminator_at_the_end_of_the_stream_so_far_waits() {
        let mut s = SentenceSplitter::new(SplitterConfig::default());
        let mut out = Vec::new();
        s.push("Pi is about 3.", &mut out);
        assert!(out.is_empty(), "3. might be 3.14");
        s.push("14 and e is 2.72. Next one", &mut out);
        assert_eq!(out, ["Pi is about 3.14 and e is 2.72."]);
    }

    #[test]
    fn numbers_abbreviations_and_initials_do_not_end_sentences() {
        assert_eq!(
            split("It costs 1,000.50 dollars, e.g. for Mr. Smith and Dr. Who. J. K. Rowling agreed."),
            ["It costs 1,000.50 dollars, e.g. for Mr. Smith and Dr. Who.", "J. K. Rowling agreed."]
        );
        assert_eq!(
            split("We met at 9 a.m. on Monday in the U.S. Then we left."),
            ["We met at 9 a.m. on Monday in the U.S.", "Then we left."]
        );
        assert_eq!(split("Apples, pears etc. are fruit. Nice."), ["Apples, pears etc. are fruit.", "Nice."]);
        assert_eq!(
            split("Apples, pears, etc. Bananas too, of course."),
            ["Apples, pears, etc.", "Bananas too, of course."]
        );
    }

    #[test]
    fn quotes_ellipses_and_repeated_marks_stay_with_their_sentence() {
        assert_eq!(
            split("He said \"stop right now.\" Then he left?! Well... maybe not. I see… Fine, goodbye."),
            ["He said \"stop right now.\"", "Then he left?!", "Well... maybe not.", "I see… Fine, goodbye."]
        );
    }

    #[test]
    fn list_items_and_line_breaks() {
        assert_eq!(
            split("Here are the steps:\n1. Open the door.\n2. Walk in.\nDone"),
            ["Here are the steps:", "1. Open the door.", "2. Walk in.", "Done"]
        );
    }

    #[test]
    fn short_sentences_are_merged() {
        assert_eq!(split("Ok. Sure. That works for me."), ["Ok. Sure.", "That works for me."]);
        assert_eq!(split("Hi!"), ["Hi!"]);
    }

    #[test]
    fn long_clauses_are_cut_at_commas_then_spaces_then_hard() {
        let cfg = SplitterConfig { min_chars: 8, max_chars: 40 };
        let out = split_in(
            &["one two three four five six, seven eight nine ten eleven twelve thirteen fourteen"],
            cfg,
        );
        assert_eq!(out[0], "one two three four five six,");
        assert!(out.iter().all(|s| s.chars().count() <= 40), "{out:?}");
        assert_eq!(
            out.join(" "),
            "one two three four five six, seven eight nine ten eleven twelve thirteen fourteen"
        );
        let out = split_in(&[&"x".repeat(100)], cfg);
        assert_eq!(out.iter().map(|s| s.len()).collect::<Vec<_>>(), [40, 40, 20]);
        let out = split_in(&[&"ü".repeat(50)], cfg);
        assert_eq!(out.concat(), "ü".repeat(50), "multi-byte text is cut on character boundaries");
    }

    #[test]
    fn a_slow_answer_gives_up_its_first_clause() {
        let mut s = SentenceSplitter::new(SplitterConfig::default());
        let mut out = Vec::new();
        s.push("Well, let me think about that one", &mut out);
        // "Well," is shorter than asked for; no clause yet.
        assert_eq!(s.take_clause(12), None);
        s.push(" carefully, since it", &mut out);
        assert!(out.is_empty());
        assert_eq!(s.take_clause(12).as_deref(), Some("Well, let me think about that one carefully,"));
        s.push(" matters. Done.", &mut out);
        assert_eq!(out, ["since it matters."]);
        assert_eq!(s.finish().as_deref(), Some("Done."));
        // A comma inside a number is no clause end.
        let mut s = SentenceSplitter::new(SplitterConfig::default());
        s.push("It costs 1,000 dollars", &mut out);
        assert_eq!(s.take_clause(4), None);
    }

    #[test]
    fn the_first_words_can_go_before_their_sentence_ends() {
        let mut s = SentenceSplitter::new(SplitterConfig::default());
        let mut out = Vec::new();
        s.push("  Well, the answer", &mut out);
        assert_eq!(s.take_words(3), None, "the third word may still grow");
        assert_eq!(s.take_words(0), None);
        s.push(" is", &mut out);
        assert_eq!(s.take_words(3).as_deref(), Some("Well, the answer"));
        s.push(" forty-two. Next", &mut out);
        assert_eq!(out, ["is forty-two."], "the rest of the sentence follows as a sentence");
        assert_eq!(s.finish().as_deref(), Some("Next"));
    }

    #[test]
    fn the_first_words_are_not_cut_after_a_word_that_leans_on_the_next() {
        let first = |text: &str, words: usize| {
            let mut s = SentenceSplitter::new(SplitterConfig::default());
            s.push(text, &mut Vec::new());
            s.take_words(words)
        };
        assert_eq!(
            first("The tallest animal in the world is", 4).as_deref(),
            Some("The tallest animal in the world")
        );
        assert_eq!(first("The closest star to Earth is", 4).as_deref(), Some("The closest star to Earth"));
        assert_eq!(first("A ripe tomato is", 4), None, "\"is\" waits for what it is");
        assert_eq!(first("A ripe tomato is red and", 4).as_deref(), Some("A ripe tomato is red"));
        assert_eq!(first("Well, it is the", 2), None, "\"it\", \"is\" and \"the\" lean; \"the\" may go on");
        assert_eq!(first("Well, it is the thing ", 2).as_deref(), Some("Well, it is the thing"));
        assert_eq!(first("So, to the of a an in ", 1).as_deref(), Some("So,"), "a comma ends the lean");
        assert_eq!(
            first("to the of a an in on at ", 1).as_deref(),
            Some("to the of a an"),
            "never more than the stretch past the asked number"
        );
    }

    #[test]
    fn whitespace_is_normalized_and_empty_input_gives_nothing() {
        assert_eq!(split("  Hello   world.\n\n  Bye  now.  "), ["Hello world.", "Bye now."]);
        assert!(split("").is_empty());
        assert!(split("   \n ").is_empty());
    }
}
