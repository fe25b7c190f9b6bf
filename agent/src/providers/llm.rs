//! Chat completions, streamed: the OpenAI-compatible request (messages, and `tools` with
//! their calls and results when the prompt has them) and [`ChatStream`], which turns SSE
//! chunks into text and tool-call deltas as they arrive, measures time to first token, reads
//! the final usage, and reports the call's outcome to the breaker and its usage to the
//! limiter.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use serde::Deserialize;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::Capability;
use super::adapter::ChatAdapter;
use super::config::EndpointConfig;
use super::config::LlmOptions;
use super::endpoint::Lease;
use super::error::{Failure, ProviderError};
use super::guard::Guard;
use super::prompt::{ChatChunk, Prompt, ToolChoice, openai_messages, openai_tools};
use super::settle::Settlement;
use super::sse::SseParser;
use crate::clock;
use crate::core::breaker::Outcome;
use crate::core::quota::Usage;
use crate::core::tool_calls::ToolCallDelta;
use crate::providers::http::error_chain;

/// A rough prompt-token estimate for the up-front reservation: ~4 characters a token plus
/// framing per message and tool (settled with the real count afterwards).
pub(crate) fn estimate_prompt_tokens(prompt: &Prompt<'_>) -> u64 {
    prompt.chars() as u64 / 4 + 3
}

/// The request body.
pub(crate) fn request(
    ep: &EndpointConfig,
    http: &reqwest::Client,
    prompt: &Prompt<'_>,
    o: &LlmOptions,
) -> reqwest::RequestBuilder {
    let mut body = json!({
        "model": ep.model,
        "messages": openai_messages(prompt),
        "stream": true,
        "stream_options": {"include_usage": true},
        "max_tokens": o.max_tokens,
        "temperature": o.temperature,
    });
    if !prompt.tools.is_empty() {
        body["tools"] = openai_tools(prompt.tools);
        if prompt.tool_choice == ToolChoice::None {
            body["tool_choice"] = json!("none");
        }
    }
    let mut req = http
        .post(format!("{}/chat/completions", ep.base_url))
        .header(reqwest::header::ACCEPT, "text/event-stream")
        .json(&body);
    if let Some(k) = &ep.api_key {
        req = req.bearer_auth(k.expose());
    }
    req
}

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<UsageJson>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    delta: Option<Delta>,
}

#[derive(Deserialize)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<ToolCallDelta>>,
}

#[derive(Deserialize)]
struct UsageJson {
    #[serde(default)]
    prompt_tokens: u32,
    #[serde(default)]
    completion_tokens: u32,
}

/// What one SSE data payload said.
#[derive(Debug, PartialEq)]
pub enum ChunkEvent {
    /// Text (possibly empty).
    Delta(String),
    /// Pieces of tool calls.
    ToolCalls(Vec<ToolCallDelta>),
    /// The usage chunk.
    Usage(u32, u32),
    /// `[DONE]`.
    Done,
}

/// Parses one `data:` payload.
pub fn parse_chunk(data: &str) -> Result<Vec<ChunkEvent>, Failure> {
    if data.trim() == "[DONE]" {
        return Ok(vec![ChunkEvent::Done]);
    }
    let c: Chunk = serde_json::from_str(data).map_err(|e| Failure::Malformed(format!("chunk: {e}")))?;
    if let Some(e) = c.error {
        let msg = e.get("message").and_then(|m| m.as_str()).unwrap_or("error event").to_owned();
        return Err(Failure::Cut(format!("provider error mid-stream: {msg}")));
    }
    let mut out = Vec::with_capacity(2);
    if let Some(delta) = c.choices.into_iter().next().and_then(|ch| ch.delta) {
        if let Some(text) = delta.content {
            out.push(ChunkEvent::Delta(text));
        }
        if let Some(calls) = delta.tool_calls.filter(|c| !c.is_empty()) {
            out.push(ChunkEvent::ToolCalls(calls));
        }
    }
    if let Some(u) = c.usage {
        out.push(ChunkEvent::Usage(u.prompt_tokens, u.completion_tokens));
    }
    Ok(out)
}

/// A streamed chat answer. Dropping it closes the connection at once; the limiter is settled
/// with what was used and the breaker hears "ignored" (a cancellation is never a failure).
pub struct ChatStream {
    body: Option<BoxStream<'static, reqwest::Result<Bytes>>>,
    parser: SseParser,
    pending: VecDeque<ChatChunk>,
    lease: Option<Lease>,
    provider: Arc<str>,
    model: String,
    adapter: &'static dyn ChatAdapter,
    guard: Arc<Guard>,
    settlement: Settlement,
    cancel: CancellationToken,
    idle: Duration,
    slow: Duration,
    started: Instant,
    first_token: Option<Duration>,
    usage: Option<(u32, u32)>,
    prompt_estimate: u64,
    /// Turns charged: 1, or 0 for a follow-up step of a turn.
    turns: u64,
    out_chars: u64,
    done: bool,
}

pub(crate) struct ChatParts {
    pub resp: reqwest::Response,
    pub lease: Lease,
    pub started: Instant,
    pub guard: Arc<Guard>,
    pub settlement: Settlement,
    pub cancel: CancellationToken,
    pub idle: Duration,
    pub slow: Duration,
    pub prompt_estimate: u64,
    pub turns: u64,
    pub max_line: usize,
}

impl ChatStream {
    pub(crate) fn new(p: ChatParts) -> Self {
        let ep = Arc::clone(p.lease.endpoint());
        Self {
            body: Some(p.resp.bytes_stream().boxed()),
            parser: SseParser::new(p.max_line),
            pending: VecDeque::new(),
            lease: Some(p.lease),
            provider: Arc::clone(&ep.name),
            model: ep.cfg.model.clone(),
            adapter: ep.vendor.chat,
            guard: p.guard,
            settlement: p.settlement,
            cancel: p.cancel,
            idle: p.idle,
            slow: p.slow,
            started: p.started,
            first_token: None,
            usage: None,
            prompt_estimate: p.prompt_estimate,
            turns: p.turns,
            out_chars: 0,
            done: false,
        }
    }

    /// The endpoint serving this answer.
    pub fn provider(&self) -> &Arc<str> {
        &self.provider
    }

    /// Time from the request to the first non-empty delta.
    pub fn first_token_latency(&self) -> Option<Duration> {
        self.first_token
    }

    /// `(prompt_tokens, completion_tokens)` as the provider reported them.
    pub fn usage(&self) -> Option<(u32, u32)> {
        self.usage
    }

    /// The next text delta (tool calls are skipped: use [`ChatStream::next_chunk`] when
    /// tools were offered); `None` once the answer is complete (or after an error).
    pub async fn next(&mut self) -> Option<Result<String, ProviderError>> {
        loop {
            match self.next_chunk().await? {
                Ok(ChatChunk::Text(t)) => return Some(Ok(t)),
                Ok(_) => {}
                Err(e) => return Some(Err(e)),
            }
        }
    }

    /// The next text or tool-call delta; `None` once the answer is complete (or after an
    /// error). Usage is read with [`ChatStream::usage`] at the end.
    pub async fn next_chunk(&mut self) -> Option<Result<ChatChunk, ProviderError>> {
        loop {
            if let Some(d) = self.pending.pop_front() {
                return Some(Ok(d));
            }
            if self.done {
                return None;
            }
            while let Some(ev) = self.parser.next_event() {
                let events = match ev {
                    Ok(ev) => self.adapter.parse_event(&ev.data),
                    Err(e) => Err(Failure::Malformed(e.to_string())),
                };
                match events {
                    Err(f) => return Some(Err(self.fail(f).await)),
                    Ok(events) => {
                        for e in events {
                            self.on_event(e).await;
                        }
                    }
                }
                if self.done || !self.pending.is_empty() {
                    break;
                }
            }
            if self.done || !self.pending.is_empty() {
                continue;
            }
            let body = self.body.as_mut()?;
            let next = tokio::select! {
                biased;
                () = self.cancel.cancelled() => return Some(Err(self.fail(Failure::Cancelled).await)),
                n = tokio::time::timeout(self.idle, body.next()) => n,
            };
            match next {
                Err(_) => return Some(Err(self.fail(Failure::Timeout).await)),
                Ok(None) => return Some(Err(self.fail(Failure::Cut("ended before [DONE]".into())).await)),
                Ok(Some(Err(e))) => return Some(Err(self.fail(Failure::Cut(error_chain(&e))).await)),
                Ok(Some(Ok(bytes))) => self.parser.feed(&bytes),
            }
        }
    }

    fn first_output(&mut self) {
        if self.first_token.is_none() {
            let d = clock::now().saturating_duration_since(self.started);
            self.first_token = Some(d);
            self.guard.metrics.first_byte(Capability::Llm, &self.provider, d);
        }
    }

    async fn on_event(&mut self, e: ChunkEvent) {
        match e {
            ChunkEvent::Delta(t) if t.is_empty() => {}
            ChunkEvent::Delta(t) => {
                self.first_output();
                self.out_chars += t.chars().count() as u64;
                self.pending.push_back(ChatChunk::Text(t));
            }
            ChunkEvent::ToolCalls(calls) => {
                self.first_output();
                for c in calls {
                    let f = c.function.as_ref();
                    let n = f.map_or(0, |f| {
                        f.name.as_deref().map_or(0, str::len) + f.arguments.as_deref().map_or(0, str::len)
                    });
                    self.out_chars += n as u64;
                    self.pending.push_back(ChatChunk::ToolCall(c));
                }
            }
            ChunkEvent::Usage(p, c) => self.usage = Some((p, c)),
            ChunkEvent::Done => self.succeed().await,
        }
    }

    fn used(&self) -> Usage {
        let (input, output) = match self.usage {
            Some((p, c)) => (u64::from(p), u64::from(c)),
            None => (self.prompt_estimate, self.out_chars.div_ceil(4)),
        };
        Usage { turns: self.turns, input_tokens: input, output_tokens: output, ..Usage::default() }
    }

    async fn succeed(&mut self) {
        self.done = true;
        self.body = None;
        let now = clock::now();
        let slow = self.first_token.is_some_and(|d| d > self.slow);
        if let Some(lease) = self.lease.take() {
            lease.finish(if slow { Outcome::Slow } else { Outcome::Success }, now);
        }
        self.guard.metrics.served(
            Capability::Llm,
            &self.provider,
            now.saturating_duration_since(self.started),
        );
        let used = self.used();
        self.settlement.settle(&self.model, used).await;
    }

    async fn fail(&mut self, f: Failure) -> ProviderError {
        self.done = true;
        // Drop the body first: the connection closes now, not after bookkeeping.
        self.body = None;
        self.pending.clear();
        if let Some(lease) = self.lease.take() {
            self.guard.fail(lease, &f).await;
        }
        let used = self.used();
        self.settlement.settle(&self.model, used).await;
        f.into_stream_error(&self.provider)
    }
}

impl Drop for ChatStream {
    fn drop(&mut self) {
        self.body = None;
        // An unfinished lease records "ignored" on drop; usage so far is still charged.
        self.lease = None;
        let used = self.used();
        self.settlement.settle_later(&self.model, used);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_parse_to_deltas_usage_and_done() {
        let d = r#"{"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}"#;
        assert_eq!(parse_chunk(d).unwrap(), vec![ChunkEvent::Delta("Hi".into())]);
        let u = r#"{"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}}"#;
        assert_eq!(parse_chunk(u).unwrap(), vec![ChunkEvent::Usage(12, 3)]);
        assert_eq!(parse_chunk(" [DONE]").unwrap(), vec![ChunkEvent::Done]);
        assert_eq!(parse_chunk(r#"{"choices":[{"delta":{}}]}"#).unwrap(), vec![]);
        assert_eq!(parse_chunk(r#"{"choices":[{"delta":{"content":null}}]}"#).unwrap(), vec![]);
        for bad in [r#"{"choices":[{"delta":{"content":5}}]}"#, "{not json", r#"{"choices":"x"}"#] {
            assert!(matches!(parse_chunk(bad), Err(Failure::Malformed(_))), "{bad}");
        }
        assert!(matches!(parse_chunk(r#"{"error":{"message":"overloaded"}}"#), Err(Failure::Cut(_))));
    }

    #[test]
    fn prompt_estimate_grows_with_text() {
        use super::super::prompt::ChatItem;
        let p = |items: &[ChatItem]| {
            estimate_prompt_tokens(&Prompt {
                system: None,
                items,
                tools: &[],
                tool_choice: ToolChoice::Auto,
                follow_up: false,
            })
        };
        assert!(p(&[ChatItem::User("a".repeat(400))]) > p(&[ChatItem::User("hi".into())]));
    }

    #[test]
    fn tool_call_deltas_are_read() {
        let d = r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\""}}]}}]}"#;
        let ev = parse_chunk(d).unwrap();
        let ChunkEvent::ToolCalls(calls) = &ev[0] else { panic!("{ev:?}") };
        assert_eq!(calls[0].id.as_deref(), Some("c1"));
        assert_eq!(calls[0].function.as_ref().unwrap().arguments.as_deref(), Some("{\"a\""));
        let both = r#"{"choices":[{"delta":{"content":"Let me check.","tool_calls":[{"index":0,"function":{"arguments":"}"}}]}}]}"#;
        assert_eq!(parse_chunk(both).unwrap().len(), 2);
        assert_eq!(parse_chunk(r#"{"choices":[{"delta":{"tool_calls":[]}}]}"#).unwrap(), vec![]);
        assert!(parse_chunk(r#"{"choices":[{"delta":{"tool_calls":[{"index":"x"}]}}]}"#).is_err());
    }
}
