//! The conversation so far, within a token budget.
//!
//! The newest turns that fit the budget are sent with each LLM request (the system prompt is
//! always sent and not counted against it); older turns are forgotten for good, so the
//! history never grows without bound. Tokens are estimated (about four characters per token,
//! rounded up, plus a few per message) — exact counts need the model's tokenizer, and the
//! budget only has to keep prompts roughly bounded.
//!
//! When the user interrupts the agent, the agent's turn is recorded as what the user actually
//! heard ([`heard_text`]), not what the LLM wrote: the next answer must not assume the user
//! heard the rest. Empty or noise-only transcripts ("", "...", `[BLANK_AUDIO]`, "(coughs)")
//! are not turns at all ([`is_meaningful`]).
//!
//! Every push is kept as its own piece with an id ([`History::push_user`] returns it), and
//! consecutive pieces of one side read as one turn ([`History::window`]). So a question can be
//! taken back whole ([`History::forget`]) when its turn ended without an answer (an apology,
//! a limit notice): the next answer is then not an answer to two questions at once.
//!
//! An agent's turn also keeps the tool calls it made and their results ([`Entry::tools`]),
//! so the next request shows what was looked up or done.

use std::collections::VecDeque;

use super::chat_item::ChatItem;
pub use super::chat_item::estimate_tokens;

/// Who said it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Speaker {
    /// A participant (by voice).
    User,
    /// The agent.
    Agent,
}

/// One turn of the conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Who said it.
    pub speaker: Speaker,
    /// What was said (for users with several speakers: prefixed with the speaker's name).
    pub text: String,
    /// The agent's tool calls and their results, before `text` (empty for users).
    pub tools: Vec<ChatItem>,
}

impl Entry {
    /// Estimated tokens of the entry, tools included.
    pub fn tokens(&self) -> usize {
        estimate_tokens(&self.text) + MESSAGE_TOKENS + self.tools.iter().map(ChatItem::tokens).sum::<usize>()
    }
}

/// Overhead per message in the token estimate (role and separators).
const MESSAGE_TOKENS: usize = 4;
/// Turns kept at most, whatever their size (bounds memory for very short turns).
const MAX_ENTRIES: usize = 256;

/// Whether a transcript has anything to answer: some letter or digit outside bracketed
/// annotations such as `[BLANK_AUDIO]`, `(music)` or `*cough*`.
pub fn is_meaningful(text: &str) -> bool {
    let mut depth = 0i32;
    let mut star = false;
    for c in text.chars() {
        match c {
            '[' | '(' | '{' | '<' => depth += 1,
            ']' | ')' | '}' | '>' => depth = (depth - 1).max(0),
            '*' => star = !star,
            c if c.is_alphanumeric() && depth == 0 && !star => return true,
            _ => {}
        }
    }
    false
}

/// What the user heard of an interrupted answer: the sentences played in full, plus the
/// played share of the one cut off (by its audio length, cut back to a word boundary).
/// `spoken` lists each sentence with the number of samples its audio lasted.
pub fn heard_text(spoken: &[(String, u64)], heard_samples: u64) -> String {
    let mut out = String::new();
    let mut left = heard_samples;
    for (sentence, samples) in spoken {
        if left == 0 {
            break;
        }
        let part = if left >= *samples {
            sentence.as_str()
        } else {
            let chars = sentence.chars().count();
            let keep = (chars as u128 * u128::from(left) / u128::from((*samples).max(1))) as usize;
            let cut = sentence.char_indices().nth(keep).map_or(sentence.len(), |(i, _)| i);
            // Back to the last whole word; a word cut in half was not really heard.
            let head = &sentence[..cut];
            match sentence[cut..].chars().next() {
                Some(c) if !c.is_whitespace() => head.rfind(char::is_whitespace).map_or("", |i| &head[..i]),
                _ => head,
            }
        };
        left = left.saturating_sub(*samples);
        if !part.trim().is_empty() {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(part.trim());
        }
    }
    out
}

/// Names one push into the history (to take it back with [`History::forget`]).
pub type PieceId = u64;

/// The conversation history.
#[derive(Debug, Clone)]
pub struct History {
    max_tokens: usize,
    /// One piece per push, oldest first.
    entries: VecDeque<(PieceId, Entry)>,
    next_id: PieceId,
}

impl History {
    /// An empty history whose requests carry at most `max_tokens` of turns.
    pub fn new(max_tokens: usize) -> Self {
        Self { max_tokens, entries: VecDeque::new(), next_id: 0 }
    }

    /// Records what a user said; `None` (and nothing recorded) if it is empty or noise.
    pub fn push_user(&mut self, text: &str) -> Option<PieceId> {
        self.push(Speaker::User, text)
    }

    /// Records what the agent said (or, after an interruption, what was heard of it).
    pub fn push_agent(&mut self, text: &str) -> Option<PieceId> {
        self.push(Speaker::Agent, text)
    }

    /// Records an agent turn: its tool calls and results (whole pairs), then what was said
    /// (or heard) of it — kept for its tools even when nothing was heard.
    pub fn push_agent_turn(&mut self, text: &str, tools: Vec<ChatItem>) -> Option<PieceId> {
        self.push_with(Speaker::Agent, text, tools)
    }

    fn push(&mut self, speaker: Speaker, text: &str) -> Option<PieceId> {
        self.push_with(speaker, text, Vec::new())
    }

    fn push_with(&mut self, speaker: Speaker, text: &str, tools: Vec<ChatItem>) -> Option<PieceId> {
        let mut text = text.trim();
        if !is_meaningful(text) {
            if tools.is_empty() {
                return None;
            }
            text = "";
        }
        let id = self.next_id;
        self.next_id += 1;
        self.entries.push_back((id, Entry { speaker, text: text.to_owned(), tools }));
        self.trim();
        Some(id)
    }

    /// Takes pieces back (those already forgotten are ignored).
    pub fn forget(&mut self, ids: &[PieceId]) {
        self.entries.retain(|(id, _)| !ids.contains(id));
    }

    /// The newest turns that fit the budget, oldest first; consecutive pieces of one side
    /// are one turn (a user who spoke twice while the agent was interrupted before saying
    /// anything). The newest piece is always included (even alone over budget: the question
    /// being answered cannot be dropped).
    pub fn window(&self) -> impl Iterator<Item = Entry> {
        let mut used = 0;
        let mut take = 0;
        for (i, (_, e)) in self.entries.iter().rev().enumerate() {
            used += e.tokens();
            if used > self.max_tokens && i > 0 {
                break;
            }
            take = i + 1;
        }
        let mut turns: Vec<Entry> = Vec::new();
        for (_, e) in self.entries.iter().skip(self.entries.len() - take) {
            match turns.last_mut() {
                Some(last) if last.speaker == e.speaker => {
                    if !last.text.is_empty() && !e.text.is_empty() {
                        last.text.push(' ');
                    }
                    last.text.push_str(&e.text);
                    last.tools.extend(e.tools.iter().cloned());
                }
                _ => turns.push(e.clone()),
            }
        }
        turns.into_iter()
    }

    /// Pieces still kept.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing has been said yet.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Forgets what can never be sent again: entries beyond the budget (kept twice over, so
    /// the window never runs short after a merge) and beyond [`MAX_ENTRIES`].
    fn trim(&mut self) {
        let mut total: usize = self.entries.iter().map(|(_, e)| e.tokens()).sum();
        while self.entries.len() > 1 && (total > self.max_tokens * 2 || self.entries.len() > MAX_ENTRIES) {
            if let Some((_, e)) = self.entries.pop_front() {
                total -= e.tokens();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(h: &History) -> Vec<String> {
        h.window().map(|e| e.text.clone()).collect()
    }

    #[test]
    fn an_agent_turn_keeps_its_tool_calls_even_when_nothing_was_heard() {
        let call = ChatItem::ToolCall { id: "c1".into(), name: "book".into(), arguments: "{}".into() };
        let out = ChatItem::ToolOutput {
            call_id: "c1".into(),
            name: "book".into(),
            content: "R-1".into(),
            is_error: false,
        };
        let mut h = History::new(1000);
        h.push_user("book a table");
        assert!(h.push_agent_turn("", vec![call.clone(), out.clone()]).is_some(), "the booking happened");
        assert!(h.push_agent_turn("  ", Vec::new()).is_none());
        h.push_agent("Booked, R-1.");
        let w: Vec<Entry> = h.window().collect();
        assert_eq!(w.len(), 2);
        assert_eq!((w[1].text.as_str(), w[1].tools.as_slice()), ("Booked, R-1.", [call, out].as_slice()));
        assert!(
            w[1].tokens()
                > Entry { speaker: Speaker::Agent, text: w[1].text.clone(), tools: vec![] }.tokens()
        );
    }

    #[test]
    fn noise_and_empty_transcripts_are_not_turns() {
        for noise in ["", "   ", "...", "[BLANK_AUDIO]", "(coughs)", "*noise*", "♪ ♪", "- -", "<unk>"] {
            assert!(!is_meaningful(noise), "{noise:?}");
        }
        for real in ["yes", "42", "Ja.", "(laughs) okay", "ok [pause]"] {
            assert!(is_meaningful(real), "{real:?}");
        }
        let mut h = History::new(1000);
        assert!(h.push_user(" [BLANK_AUDIO] ").is_none());
        assert!(h.is_empty());
        assert!(h.push_user("  hello  ").is_some());
        assert_eq!(texts(&h), ["hello"]);
    }

    #[test]
    fn the_newest_turns_that_fit_are_kept() {
        // Each turn: 40 chars = 10 tokens + 4 overhead = 14.
        let mut h = History::new(30);
        for i in 0..5 {
            let who = if i % 2 == 0 { Speaker::User } else { Speaker::Agent };
            h.push(who, &format!("{i}{}", "x".repeat(39)));
        }
        let w = texts(&h);
        assert_eq!(w.len(), 2);
        assert!(w[0].starts_with('3') && w[1].starts_with('4'));
        // Memory stays bounded: old turns are dropped, not just hidden.
        assert!(h.len() <= 5);
        for i in 0..100 {
            let who = if i % 2 == 0 { Speaker::User } else { Speaker::Agent };
            h.push(who, &"y".repeat(40));
        }
        assert!(h.len() <= 5, "kept {}", h.len());
    }

    #[test]
    fn an_over_budget_question_is_still_sent() {
        let mut h = History::new(10);
        h.push_agent("short");
        h.push_user(&"long ".repeat(100));
        let w: Vec<_> = h.window().collect();
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].speaker, Speaker::User);
    }

    #[test]
    fn an_unanswered_question_is_taken_back_whole() {
        let mut h = History::new(1000);
        h.push_user("what time is it");
        h.push_agent("noon");
        let a = h.push_user("how far is the moon").unwrap();
        let b = h.push_user("in miles").unwrap();
        assert_eq!(texts(&h), ["what time is it", "noon", "how far is the moon in miles"]);
        // The turn ended in an apology: the question goes, the conversation before it stays.
        h.forget(&[a, b]);
        h.push_user("what is the capital of france");
        assert_eq!(texts(&h), ["what time is it", "noon", "what is the capital of france"]);
        h.forget(&[a]);
        assert_eq!(h.len(), 3);
    }

    #[test]
    fn consecutive_turns_of_one_side_merge() {
        let mut h = History::new(1000);
        h.push_user("what time");
        h.push_user("is it");
        h.push_agent("noon");
        assert_eq!(texts(&h), ["what time is it", "noon"]);
    }

    #[test]
    fn heard_text_follows_the_played_audio() {
        let spoken =
            vec![("One two three four.".to_owned(), 1000), ("Five six seven eight.".to_owned(), 1000)];
        assert_eq!(heard_text(&spoken, 0), "");
        assert_eq!(heard_text(&spoken, 1000), "One two three four.");
        assert_eq!(heard_text(&spoken, 5000), "One two three four. Five six seven eight.");
        // Half of the second sentence: "Five six s|even" → back to the whole word.
        assert_eq!(heard_text(&spoken, 1500), "One two three four. Five six");
        // A sliver of a sentence: no whole word heard.
        assert_eq!(heard_text(&spoken, 1010), "One two three four.");
        assert_eq!(heard_text(&[("äöü äöü".to_owned(), 7)], 4), "äöü");
        assert_eq!(heard_text(&[("x".to_owned(), 0)], 5), "x");
    }
}
