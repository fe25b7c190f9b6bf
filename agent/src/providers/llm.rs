//! Chat completions, streamed: [`ChatStream`] yields the answer's [`ChatChunk`]s (text
//! deltas, tool-call pieces, usage) as a vendor's events arrive, through the one
//! `GuardedStream`; it measures time to first token and settles the limiter with the
//! reported usage (or an estimate when a stream ends early).
//!
//! An answer is bounded as it streams, whatever the provider does with `max_tokens`: tokens
//! are counted locally against `LLM_MAX_TOKENS` (each text delta or tool-call piece is at
//! least one token, and so is every [`CHARS_PER_TOKEN`] characters — so the text is capped at
//! that many characters a token too), and the stream's bytes are capped (`ChatBounds`).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use super::adapter::ChatAdapter;
use super::error::{Failure, Overrun, ProviderError};
use super::prompt::{ChatChunk, ChatEvent, Prompt};
use super::sse::SseParser;
use super::stream::{Decode, GuardedStream, Started};
use crate::core::quota::Usage;

/// A rough prompt-token estimate for the up-front reservation: ~4 characters a token plus
/// framing per message and tool (settled with the real count afterwards).
pub(crate) fn estimate_prompt_tokens(prompt: &Prompt<'_>) -> u64 {
    prompt.chars() as u64 / 4 + 3
}

/// No token is longer than this many characters, as far as the local count is concerned
/// (English runs about 4 a token; a streamed piece is one token or a few).
pub const CHARS_PER_TOKEN: u64 = 8;

/// Bytes a chat stream may carry per token of `max_tokens` (a chunk is 150–300 bytes of JSON
/// around one token; the rest is headroom for role, finish and usage chunks).
const BYTES_PER_TOKEN: u64 = 1024;

/// What one chat answer may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ChatBounds {
    /// `LLM_MAX_TOKENS`.
    pub max_tokens: u32,
    /// Longest SSE line or event (`PROVIDER_MAX_BODY_BYTES`).
    pub max_line: usize,
    /// The whole stream: `max_tokens` × 1 KiB, at least `PROVIDER_MAX_BODY_BYTES`.
    pub max_bytes: u64,
}

impl ChatBounds {
    /// The bounds for `max_tokens` and `PROVIDER_MAX_BODY_BYTES`.
    pub fn new(max_tokens: u32, max_body_bytes: usize) -> Self {
        let max_bytes = (u64::from(max_tokens) * BYTES_PER_TOKEN).max(max_body_bytes as u64);
        Self { max_tokens, max_line: max_body_bytes, max_bytes }
    }
}

/// SSE events → chat chunks, with what they used.
pub(crate) struct ChatDecoder {
    parser: SseParser,
    adapter: &'static dyn ChatAdapter,
    bounds: ChatBounds,
    prompt_estimate: u64,
    /// Turns charged: 1, or 0 for a follow-up step of a turn.
    turns: u64,
    bytes: u64,
    /// Text deltas and tool-call pieces handed out.
    pieces: u64,
    out_chars: u64,
    usage: Option<(u32, u32)>,
    first_text: bool,
    done: bool,
}

impl ChatDecoder {
    pub fn new(
        adapter: &'static dyn ChatAdapter,
        bounds: ChatBounds,
        prompt_estimate: u64,
        turns: u64,
    ) -> Self {
        Self {
            parser: SseParser::new(bounds.max_line),
            adapter,
            bounds,
            prompt_estimate,
            turns,
            bytes: 0,
            pieces: 0,
            out_chars: 0,
            usage: None,
            first_text: false,
            done: false,
        }
    }

    /// Tokens of the answer so far, counted locally (a lower bound of the real count).
    pub fn local_tokens(&self) -> u64 {
        self.pieces.max(self.out_chars.div_ceil(CHARS_PER_TOKEN))
    }

    /// Counts one more piece of `chars` characters, unless it would take the answer past
    /// `max_tokens`.
    fn count(&mut self, chars: u64) -> Result<(), Failure> {
        let before = (self.pieces, self.out_chars);
        self.pieces += 1;
        self.out_chars += chars;
        if self.local_tokens() > u64::from(self.bounds.max_tokens) {
            (self.pieces, self.out_chars) = before;
            return Err(Failure::Overrun(Overrun::Tokens(self.bounds.max_tokens)));
        }
        Ok(())
    }
}

impl Decode for ChatDecoder {
    type Item = ChatChunk;

    fn feed(&mut self, bytes: &[u8], out: &mut VecDeque<ChatChunk>) -> Result<(), Failure> {
        self.bytes += bytes.len() as u64;
        if self.bytes > self.bounds.max_bytes {
            return Err(Failure::Overrun(Overrun::Bytes(self.bounds.max_bytes)));
        }
        self.parser.feed(bytes);
        while !self.done {
            let Some(ev) = self.parser.next_event() else { break };
            let ev = ev.map_err(|e| Failure::Malformed(e.to_string()))?;
            for e in self.adapter.parse_event(&ev.data)? {
                match e {
                    ChatEvent::Done => self.done = true,
                    ChatEvent::Chunk(ChatChunk::Text(t)) if t.is_empty() => {}
                    ChatEvent::Chunk(ChatChunk::Text(t)) => {
                        self.count(t.chars().count() as u64)?;
                        self.first_text = true;
                        out.push_back(ChatChunk::Text(t));
                    }
                    ChatEvent::Chunk(ChatChunk::Usage { prompt, completion }) => {
                        self.usage = Some((prompt, completion));
                    }
                    ChatEvent::Chunk(ChatChunk::ToolCall(c)) => {
                        let f = c.function.as_ref();
                        let n = f.map_or(0, |f| {
                            f.name.as_deref().map_or(0, str::len) + f.arguments.as_deref().map_or(0, str::len)
                        });
                        self.count(n as u64)?;
                        self.first_text = true;
                        out.push_back(ChatChunk::ToolCall(c));
                    }
                }
            }
        }
        Ok(())
    }

    fn complete(&self) -> bool {
        self.done
    }

    fn end(&mut self, _out: &mut VecDeque<ChatChunk>) -> Result<(), Failure> {
        Err(Failure::Cut("ended before [DONE]".into()))
    }

    fn started(&self) -> bool {
        self.first_text
    }

    fn no_output_is_slow(&self) -> bool {
        false
    }

    fn usage(&self) -> Usage {
        let (input, output) = match self.usage {
            Some((p, c)) => (u64::from(p), u64::from(c)),
            None => (self.prompt_estimate, self.out_chars.div_ceil(4)),
        };
        Usage { turns: self.turns, input_tokens: input, output_tokens: output, ..Usage::default() }
    }
}

/// A streamed chat answer. Dropping it closes the connection at once; the limiter is settled
/// with what was used and the breaker hears "ignored" (a cancellation is never a failure).
pub struct ChatStream(GuardedStream<ChatDecoder>);

impl ChatStream {
    pub(crate) fn new(started: Started, decoder: ChatDecoder) -> Self {
        Self(GuardedStream::new(started, decoder))
    }

    /// The endpoint serving this answer.
    pub fn provider(&self) -> &Arc<str> {
        self.0.provider()
    }

    /// Time from the request to the first non-empty text delta or tool-call piece.
    pub fn first_token_latency(&self) -> Option<Duration> {
        self.0.first_latency()
    }

    /// `(prompt_tokens, completion_tokens)` as the provider reported them.
    pub fn usage(&self) -> Option<(u32, u32)> {
        self.0.decoder().usage
    }

    /// The next piece of the answer — text or a tool-call piece; `None` once the answer is
    /// complete (or after an error). Usage is read with [`ChatStream::usage`] at the end.
    pub async fn next_chunk(&mut self) -> Option<Result<ChatChunk, ProviderError>> {
        self.0.next().await
    }

    /// The next text delta (tool calls are skipped: use [`ChatStream::next_chunk`] when tools
    /// were offered); `None` once the answer is complete (or after an error).
    pub async fn next(&mut self) -> Option<Result<String, ProviderError>> {
        loop {
            match self.0.next().await? {
                Ok(ChatChunk::Text(t)) => return Some(Ok(t)),
                Ok(_) => {}
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::ChatItem;
    use crate::providers::openai::OPENAI_COMPATIBLE;

    #[test]
    fn prompt_estimate_grows_with_text() {
        use crate::providers::prompt::tests::prompt;
        let long = [ChatItem::User("a".repeat(400))];
        let short = [ChatItem::User("hi".into())];
        assert!(estimate_prompt_tokens(&prompt(&long)) > estimate_prompt_tokens(&prompt(&short)));
    }

    #[test]
    fn decoder_keeps_chunks_before_an_error_and_stops_at_done() {
        let mut d = ChatDecoder::new(OPENAI_COMPATIBLE.chat, ChatBounds::new(300, 1 << 16), 10, 1);
        let mut out = VecDeque::new();
        let ok = "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"\"}}]}\n\n";
        d.feed(ok.as_bytes(), &mut out).unwrap();
        assert_eq!(out.drain(..).collect::<Vec<_>>(), [ChatChunk::Text("Hi".into())]);
        assert!(d.started() && !d.complete());
        let bad = "data: {\"choices\":[{\"delta\":{\"content\":\" there\"}}]}\n\ndata: {oops\n\n";
        assert!(matches!(d.feed(bad.as_bytes(), &mut out), Err(Failure::Malformed(_))));
        assert_eq!(out.len(), 1, "the delta before the broken event is kept");
        let end = "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":2}}\n\ndata: [DONE]\n\ndata: junk\n\n";
        d.feed(end.as_bytes(), &mut out).unwrap();
        assert!(d.complete());
        assert_eq!(d.usage().input_tokens, 7);
        assert!(d.end(&mut out).is_err(), "a body that ends is only whole after [DONE]");
    }

    fn delta(text: &str) -> String {
        format!("data: {}\n\n", serde_json::json!({"choices": [{"delta": {"content": text}}]}))
    }

    #[test]
    fn an_answer_is_cut_at_max_tokens_counted_locally() {
        // Pieces: the 5th delta is the 5th token.
        let mut d = ChatDecoder::new(OPENAI_COMPATIBLE.chat, ChatBounds::new(4, 1 << 16), 10, 1);
        let mut out = VecDeque::new();
        let four: String = (0..4).map(|_| delta("ab")).collect();
        d.feed(four.as_bytes(), &mut out).unwrap();
        assert_eq!((out.len(), d.local_tokens()), (4, 4));
        let err = d.feed(delta("c").as_bytes(), &mut out).unwrap_err();
        assert_eq!(err, Failure::Overrun(Overrun::Tokens(4)));
        assert_eq!(out.len(), 4, "what came before the cap is kept");
        // Characters: one huge delta is many tokens.
        let mut d = ChatDecoder::new(OPENAI_COMPATIBLE.chat, ChatBounds::new(4, 1 << 16), 10, 1);
        d.feed(delta(&"x".repeat(32)).as_bytes(), &mut out).unwrap();
        assert_eq!(d.local_tokens(), 4);
        assert!(d.feed(delta("y").as_bytes(), &mut out).is_err());
        let mut d = ChatDecoder::new(OPENAI_COMPATIBLE.chat, ChatBounds::new(4, 1 << 16), 10, 1);
        assert!(d.feed(delta(&"x".repeat(33)).as_bytes(), &mut out).is_err());
        // Tool-call pieces count too.
        let mut d = ChatDecoder::new(OPENAI_COMPATIBLE.chat, ChatBounds::new(2, 1 << 16), 10, 1);
        let call = r#"data: {"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]}}]}

"#;
        d.feed(call.repeat(2).as_bytes(), &mut out).unwrap();
        assert!(d.feed(call.as_bytes(), &mut out).is_err());
    }

    #[test]
    fn a_stream_of_comments_is_cut_at_its_byte_bound() {
        let bounds = ChatBounds::new(4, 4096);
        assert_eq!(bounds.max_bytes, 4096, "at least PROVIDER_MAX_BODY_BYTES");
        assert_eq!(ChatBounds::new(300, 4096).max_bytes, 300 * 1024);
        let mut d = ChatDecoder::new(OPENAI_COMPATIBLE.chat, bounds, 10, 1);
        let mut out = VecDeque::new();
        let comment = b": keep-alive\n\n";
        let mut sent = 0;
        let err = loop {
            match d.feed(comment, &mut out) {
                Ok(()) => sent += comment.len(),
                Err(e) => break e,
            }
        };
        assert_eq!(err, Failure::Overrun(Overrun::Bytes(4096)));
        assert!(sent <= 4096 && sent + comment.len() > 4096);
        assert!(out.is_empty() && !d.started());
    }
}
