//! Chat completions, streamed: [`ChatStream`] yields the answer's [`ChatChunk`]s (text
//! deltas, tool-call pieces, usage) as a vendor's events arrive, through the one
//! [`GuardedStream`]; it measures time to first token and settles the limiter with the
//! reported usage (or an estimate when a stream ends early).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use super::adapter::ChatAdapter;
use super::error::{Failure, ProviderError};
use super::sse::SseParser;
use super::stream::{Decode, GuardedStream, Started};
use super::{ChatChunk, ChatEvent, ChatMessage};
use crate::core::quota::Usage;

/// A rough prompt-token estimate for the up-front reservation: ~4 characters a token plus a
/// few tokens of framing per message (settled with the real count afterwards).
pub(crate) fn estimate_prompt_tokens(messages: &[ChatMessage]) -> u64 {
    messages.iter().map(|m| m.content.chars().count() as u64 / 4 + 4).sum::<u64>() + 3
}

/// SSE events → chat chunks, with what they used.
pub(crate) struct ChatDecoder {
    parser: SseParser,
    adapter: &'static dyn ChatAdapter,
    prompt_estimate: u64,
    out_chars: u64,
    usage: Option<(u32, u32)>,
    first_text: bool,
    done: bool,
}

impl ChatDecoder {
    pub fn new(adapter: &'static dyn ChatAdapter, max_line: usize, prompt_estimate: u64) -> Self {
        Self {
            parser: SseParser::new(max_line),
            adapter,
            prompt_estimate,
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
                        out.push_back(ChatChunk::Usage { prompt, completion });
                    }
                    ChatEvent::Chunk(c) => out.push_back(c),
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
        Usage { turns: 1, input_tokens: input, output_tokens: output, ..Usage::default() }
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

    /// Time from the request to the first non-empty text delta.
    pub fn first_token_latency(&self) -> Option<Duration> {
        self.0.first_latency()
    }

    /// `(prompt_tokens, completion_tokens)` as the provider reported them.
    pub fn usage(&self) -> Option<(u32, u32)> {
        self.0.decoder().usage
    }

    /// The next piece of the answer — text, a tool-call piece, usage; `None` once the answer
    /// is complete (or after an error).
    pub async fn next_chunk(&mut self) -> Option<Result<ChatChunk, ProviderError>> {
        self.0.next().await
    }

    /// The next text delta, passing over the other chunks (usage stays readable through
    /// [`ChatStream::usage`]); `None` once the answer is complete (or after an error).
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
    use crate::providers::Role;
    use crate::providers::openai::OPENAI_COMPATIBLE;

    #[test]
    fn prompt_estimate_grows_with_text() {
        let m = |c: &str| ChatMessage { role: Role::User, content: c.into() };
        assert!(estimate_prompt_tokens(&[m("a".repeat(400).as_str())]) > estimate_prompt_tokens(&[m("hi")]));
    }

    #[test]
    fn decoder_keeps_chunks_before_an_error_and_stops_at_done() {
        let mut d = ChatDecoder::new(OPENAI_COMPATIBLE.chat, 1 << 16, 10);
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
