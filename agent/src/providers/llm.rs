//! Chat completions, streamed: [`ChatStream`] yields the answer's [`ChatChunk`]s (text
//! deltas, tool-call pieces, usage) as a vendor's events arrive, through the one
//! [`GuardedStream`]; it measures time to first token and settles the limiter with the
//! reported usage (or an estimate when a stream ends early).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use super::adapter::ChatAdapter;
use super::error::{Failure, ProviderError};
use super::prompt::{ChatChunk, ChatEvent, Prompt};
use super::sse::SseParser;
use super::stream::{Decode, GuardedStream, Started};
use crate::core::quota::Usage;

/// A rough prompt-token estimate for the up-front reservation: ~4 characters a token plus
/// framing per message and tool (settled with the real count afterwards).
pub(crate) fn estimate_prompt_tokens(prompt: &Prompt<'_>) -> u64 {
    prompt.chars() as u64 / 4 + 3
}

/// SSE events → chat chunks, with what they used.
pub(crate) struct ChatDecoder {
    parser: SseParser,
    adapter: &'static dyn ChatAdapter,
    prompt_estimate: u64,
    /// Turns charged: 1, or 0 for a follow-up step of a turn.
    turns: u64,
    out_chars: u64,
    usage: Option<(u32, u32)>,
    first_text: bool,
    done: bool,
}

impl ChatDecoder {
    pub fn new(adapter: &'static dyn ChatAdapter, max_line: usize, prompt_estimate: u64, turns: u64) -> Self {
        Self {
            parser: SseParser::new(max_line),
            adapter,
            prompt_estimate,
            turns,
            out_chars: 0,
            usage: None,
            first_text: false,
            done: false,
        }
    }
}

impl Decode for ChatDecoder {
    type Item = ChatChunk;

    fn feed(&mut self, bytes: &[u8], out: &mut VecDeque<ChatChunk>) -> Result<(), Failure> {
        self.parser.feed(bytes);
        while !self.done {
            let Some(ev) = self.parser.next_event() else { break };
            let ev = ev.map_err(|e| Failure::Malformed(e.to_string()))?;
            for e in self.adapter.parse_event(&ev.data)? {
                match e {
                    ChatEvent::Done => self.done = true,
                    ChatEvent::Chunk(ChatChunk::Text(t)) if t.is_empty() => {}
                    ChatEvent::Chunk(ChatChunk::Text(t)) => {
                        self.first_text = true;
                        self.out_chars += t.chars().count() as u64;
                        out.push_back(ChatChunk::Text(t));
                    }
                    ChatEvent::Chunk(ChatChunk::Usage { prompt, completion }) => {
                        self.usage = Some((prompt, completion));
                    }
                    ChatEvent::Chunk(ChatChunk::ToolCall(c)) => {
                        self.first_text = true;
                        let f = c.function.as_ref();
                        let n = f.map_or(0, |f| {
                            f.name.as_deref().map_or(0, str::len) + f.arguments.as_deref().map_or(0, str::len)
                        });
                        self.out_chars += n as u64;
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
        let mut d = ChatDecoder::new(OPENAI_COMPATIBLE.chat, 1 << 16, 10, 1);
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
}
