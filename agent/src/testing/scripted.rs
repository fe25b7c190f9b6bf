//! [`ScriptedLlm`]: an in-process [`ChatModel`] that answers from a script — text, tool calls
//! (streamed in small pieces, like a real server), failures, or answers computed from the
//! request — and records every request it was asked.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures_util::future::BoxFuture;
use serde_json::Value;

use crate::agent::{ChatChunk, ChatChunks, ChatContext, ChatModel, ChatRequest, ToolChoice};
use crate::core::tool_calls::{FunctionDelta, ToolCallDelta};
use crate::providers::ProviderError;

/// One scripted answer.
#[derive(Debug, Clone)]
pub enum Answer {
    /// Say this.
    Text(String),
    /// Call these tools (name, arguments), in parallel; optionally with words before.
    ToolCalls {
        /// Words said before the calls.
        text: Option<String>,
        /// The calls.
        calls: Vec<(String, Value)>,
    },
    /// Stream these raw tool-call deltas (broken JSON, made-up tools, …).
    RawToolCalls(Vec<ToolCallDelta>),
    /// The request fails with this error.
    Fail(ProviderError),
}

impl Answer {
    /// A text answer.
    pub fn text(text: impl Into<String>) -> Self {
        Answer::Text(text.into())
    }

    /// One tool call.
    pub fn tool_call(name: &str, arguments: Value) -> Self {
        Answer::ToolCalls { text: None, calls: vec![(name.to_owned(), arguments)] }
    }

    /// Parallel tool calls.
    pub fn tool_calls<'a>(calls: impl IntoIterator<Item = (&'a str, Value)>) -> Self {
        Answer::ToolCalls { text: None, calls: calls.into_iter().map(|(n, v)| (n.to_owned(), v)).collect() }
    }

    /// One call whose arguments text is given raw (e.g. broken JSON).
    pub fn raw_tool_call(name: &str, arguments: &str) -> Self {
        Answer::RawToolCalls(vec![ToolCallDelta {
            index: Some(0),
            id: Some(format!("call_{name}")),
            function: Some(FunctionDelta {
                name: Some(name.to_owned()),
                arguments: Some(arguments.to_owned()),
            }),
        }])
    }

    /// The answer as the pieces a server would stream, usage last.
    pub(crate) fn chunks(self) -> Result<Vec<ChatChunk>, ProviderError> {
        let mut out = Vec::new();
        match self {
            Answer::Text(t) => words(&t, &mut out),
            Answer::ToolCalls { text, calls } => {
                if let Some(t) = text {
                    words(&t, &mut out);
                }
                for (i, (name, args)) in calls.iter().enumerate() {
                    let index = Some(i as u32);
                    let head = FunctionDelta { name: Some(name.clone()), arguments: None };
                    out.push(ChatChunk::ToolCall(ToolCallDelta {
                        index,
                        id: Some(format!("call_{i}_{name}")),
                        function: Some(head),
                    }));
                    let text = args.to_string();
                    let chars: Vec<char> = text.chars().collect();
                    for piece in chars.chunks(8) {
                        let arguments = Some(piece.iter().collect());
                        out.push(ChatChunk::ToolCall(ToolCallDelta {
                            index,
                            id: None,
                            function: Some(FunctionDelta { name: None, arguments }),
                        }));
                    }
                }
            }
            Answer::RawToolCalls(deltas) => out.extend(deltas.into_iter().map(ChatChunk::ToolCall)),
            Answer::Fail(e) => return Err(e),
        }
        out.push(ChatChunk::Usage { prompt: 10, completion: 5 });
        Ok(out)
    }
}

fn words(text: &str, out: &mut Vec<ChatChunk>) {
    for (i, w) in text.split(' ').enumerate() {
        out.push(ChatChunk::Text(if i == 0 { w.to_owned() } else { format!(" {w}") }));
    }
}

type Responder = Arc<dyn Fn(&SeenRequest) -> Answer + Send + Sync>;

/// A request as the scripted LLM saw it.
#[derive(Debug, Clone)]
pub struct SeenRequest {
    /// The conversation sent.
    pub chat: ChatContext,
    /// The tools offered, by name.
    pub tools: Vec<String>,
    /// Whether tools could be called.
    pub tool_choice: ToolChoice,
}

impl SeenRequest {
    /// The content of the last tool result in the conversation.
    pub fn last_tool_output(&self) -> Option<&str> {
        self.chat.items().iter().rev().find_map(|i| match i {
            crate::agent::ChatItem::ToolOutput { content, .. } => Some(content.as_str()),
            _ => None,
        })
    }
}

#[derive(Default)]
struct Script {
    queue: VecDeque<Responder>,
    seen: Vec<SeenRequest>,
}

/// A scripted LLM (cheap to clone; clones share the script).
///
/// ```
/// use serde_json::json;
/// use voice_agent::testing::{Answer, ScriptedLlm};
/// let llm = ScriptedLlm::new()
///     .then(Answer::tool_call("book_table", json!({"people": 4})))
///     .then_with(|req| Answer::text(format!("Done: {}", req.last_tool_output().unwrap_or("?"))));
/// assert_eq!(llm.remaining(), 2);
/// ```
#[derive(Clone, Default)]
pub struct ScriptedLlm {
    script: Arc<Mutex<Script>>,
}

impl std::fmt::Debug for ScriptedLlm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptedLlm").field("remaining", &self.remaining()).finish()
    }
}

/// Said when the script has run out (so a test sees it, rather than hanging).
pub const SCRIPT_ENDED: &str = "[the scripted LLM has no more answers]";

impl ScriptedLlm {
    /// An empty script.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Script> {
        self.script.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds an answer to the script.
    pub fn then(self, answer: Answer) -> Self {
        self.then_with(move |_| answer.clone())
    }

    /// Adds an answer computed from the request.
    pub fn then_with(self, f: impl Fn(&SeenRequest) -> Answer + Send + Sync + 'static) -> Self {
        self.lock().queue.push_back(Arc::new(f));
        self
    }

    /// Answers not used yet.
    pub fn remaining(&self) -> usize {
        self.lock().queue.len()
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.lock().seen.clone()
    }
}

impl ChatModel for ScriptedLlm {
    fn chat<'a>(&'a self, request: ChatRequest<'a>) -> BoxFuture<'a, Result<ChatChunks, ProviderError>> {
        let seen = SeenRequest {
            chat: request.chat.clone(),
            tools: request.tools.names().map(str::to_owned).collect(),
            tool_choice: request.tool_choice,
        };
        let answer = {
            let mut script = self.lock();
            let next = script.queue.pop_front();
            script.seen.push(seen.clone());
            next.map_or_else(|| Answer::text(SCRIPT_ENDED), |f| f(&seen))
        };
        Box::pin(async move {
            let chunks = answer.chunks()?;
            let stream: ChatChunks = Box::pin(futures_util::stream::iter(chunks.into_iter().map(Ok)));
            Ok(stream)
        })
    }
}
