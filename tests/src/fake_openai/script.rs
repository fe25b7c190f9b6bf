//! Scripted chat answers: text, streamed tool calls (arguments cut into fragments, parallel
//! calls interleaved the way real servers stream them), or both — queued per request.

use serde_json::{Value, json};

/// Where [`ChatReply::text`] puts the content of the request's last `tool` message.
pub const LAST_TOOL_RESULT: &str = "{last_tool_result}";

/// One tool call the fake streams.
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptedCall {
    /// The call's id (`None`: the chunk carries none, as some servers do).
    pub id: Option<String>,
    /// The tool's name.
    pub name: String,
    /// The arguments' JSON text exactly as streamed (may be broken on purpose).
    pub arguments: String,
}

impl ScriptedCall {
    /// A call of `name` with these arguments, id `call_<name>`.
    pub fn new(name: &str, arguments: &Value) -> Self {
        Self { id: Some(format!("call_{name}")), name: name.to_owned(), arguments: arguments.to_string() }
    }

    /// A call whose arguments text is given raw (for malformed JSON).
    pub fn raw(name: &str, arguments: &str) -> Self {
        Self { id: Some(format!("call_{name}")), name: name.to_owned(), arguments: arguments.to_owned() }
    }
}

/// One scripted chat answer: text deltas first, then tool calls.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatReply {
    /// Content deltas, one SSE event each; [`LAST_TOOL_RESULT`] is replaced by the last
    /// `tool` message of the request.
    pub text: Vec<String>,
    /// Tool calls streamed after the text (`finish_reason: "tool_calls"`).
    pub calls: Vec<ScriptedCall>,
    /// Bytes of arguments per delta (0: 7).
    pub fragment: usize,
}

impl ChatReply {
    /// A text answer, streamed word by word.
    pub fn text(text: &str) -> Self {
        let mut chunks = Vec::new();
        for (i, w) in text.split(' ').enumerate() {
            chunks.push(if i == 0 { w.to_owned() } else { format!(" {w}") });
        }
        Self { text: chunks, ..Self::default() }
    }

    /// One tool call.
    pub fn tool_call(name: &str, arguments: Value) -> Self {
        Self { calls: vec![ScriptedCall::new(name, &arguments)], ..Self::default() }
    }

    /// Several calls in one answer (parallel calls).
    pub fn tool_calls(calls: Vec<ScriptedCall>) -> Self {
        Self { calls, ..Self::default() }
    }

    /// The content deltas and `tool_calls` deltas of this answer, in streaming order.
    pub(crate) fn deltas(&self, last_tool_result: Option<&str>) -> Vec<Value> {
        let mut out: Vec<Value> = self
            .text
            .iter()
            .map(|t| json!({"content": t.replace(LAST_TOOL_RESULT, last_tool_result.unwrap_or(""))}))
            .collect();
        // First the head of every call (index, id, name), then the argument fragments
        // round-robin across calls: parallel calls interleave.
        for (i, c) in self.calls.iter().enumerate() {
            let mut head =
                json!({"index": i, "type": "function", "function": {"name": c.name, "arguments": ""}});
            if let Some(id) = &c.id {
                head["id"] = json!(id);
            }
            out.push(json!({"tool_calls": [head]}));
        }
        let size = if self.fragment == 0 { 7 } else { self.fragment };
        let pieces: Vec<Vec<String>> = self.calls.iter().map(|c| fragments(&c.arguments, size)).collect();
        let longest = pieces.iter().map(Vec::len).max().unwrap_or(0);
        for k in 0..longest {
            for (i, p) in pieces.iter().enumerate() {
                if let Some(piece) = p.get(k) {
                    out.push(json!({"tool_calls": [{"index": i, "function": {"arguments": piece}}]}));
                }
            }
        }
        out
    }

    /// `finish_reason` of the answer.
    pub(crate) fn finish_reason(&self) -> &'static str {
        if self.calls.is_empty() { "stop" } else { "tool_calls" }
    }
}

/// `text` cut into pieces of about `size` bytes (on character boundaries).
fn fragments(text: &str, size: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for ch in text.chars() {
        cur.push(ch);
        if cur.len() >= size {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The content of the last `tool` message of a chat request.
pub(crate) fn last_tool_result(request: &Value) -> Option<String> {
    let messages = request.get("messages")?.as_array()?;
    let m = messages.iter().rev().find(|m| m.get("role").and_then(Value::as_str) == Some("tool"))?;
    m.get("content").and_then(Value::as_str).map(str::to_owned)
}
