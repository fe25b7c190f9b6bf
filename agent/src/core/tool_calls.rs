//! Streamed tool calls, put back together: the `tool_calls` deltas of an OpenAI-style chat
//! stream in, whole calls out.
//!
//! A model that calls tools streams each call in pieces: the first delta of a call carries its
//! `index`, `id` and `function.name`, later ones only the `index` and a fragment of
//! `function.arguments` (a JSON text cut anywhere, even inside a UTF-8 character's escape).
//! Parallel calls are told apart by `index`, and their fragments may interleave. Some servers
//! send a whole call in one delta, omit `index` (one call at a time) or omit `id`.
//!
//! [`ToolCallAccumulator`] is sans-IO and bounded: at most [`ToolCallLimits::max_calls`]
//! calls (later ones are counted and dropped), names of at most
//! [`ToolCallLimits::max_name_bytes`], arguments of at most
//! [`ToolCallLimits::max_argument_bytes`] (a call over it keeps no more and becomes an
//! error). [`ToolCallAccumulator::finish`] returns every call in index order, each with its
//! arguments parsed — or the reason they cannot be, which the session answers to the LLM as
//! an error result instead of running anything.

use serde::Deserialize;
use serde_json::Value;

/// One entry of `choices[0].delta.tool_calls` in a streamed chunk.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ToolCallDelta {
    /// Which parallel call this piece belongs to (absent: the current one).
    #[serde(default)]
    pub index: Option<u32>,
    /// The call's id, usually in its first piece only.
    #[serde(default)]
    pub id: Option<String>,
    /// Name and argument fragment.
    #[serde(default)]
    pub function: Option<FunctionDelta>,
}

/// The `function` part of a [`ToolCallDelta`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct FunctionDelta {
    /// The tool's name (whole, or in pieces on a few servers: pieces are appended).
    #[serde(default)]
    pub name: Option<String>,
    /// A fragment of the arguments' JSON text.
    #[serde(default)]
    pub arguments: Option<String>,
}

/// Bounds on what one answer's tool calls may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToolCallLimits {
    /// Parallel calls kept per answer (8).
    pub max_calls: usize,
    /// Longest tool name, bytes (64, OpenAI's own limit).
    pub max_name_bytes: usize,
    /// Longest arguments text per call, bytes (32 KiB).
    pub max_argument_bytes: usize,
}

impl Default for ToolCallLimits {
    fn default() -> Self {
        Self { max_calls: 8, max_name_bytes: 64, max_argument_bytes: 32 * 1024 }
    }
}

/// Why a call's arguments cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// No name arrived for the call.
    #[error("the tool call has no function name")]
    MissingName,
    /// The name is too long or has characters other than letters, digits, `_` and `-`.
    #[error("the tool name is not valid (letters, digits, _ and -, at most {max} bytes)")]
    BadName {
        /// The longest name allowed.
        max: usize,
    },
    /// The arguments grew past the limit; the rest was dropped.
    #[error("the arguments are longer than {limit} bytes")]
    ArgumentsTooLarge {
        /// The limit, bytes.
        limit: usize,
    },
    /// The arguments are not JSON.
    #[error("the arguments are not valid JSON: {0}")]
    MalformedJson(String),
    /// The arguments are JSON but not an object.
    #[error("the arguments must be a JSON object")]
    NotAnObject,
}

/// One whole tool call.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    /// The call's id (made up as `call_<index>` when the server sent none).
    pub id: String,
    /// The tool's name as the model wrote it (possibly cut to the limit when invalid).
    pub name: String,
    /// The arguments as a JSON object — or why not.
    pub arguments: Result<Value, CallError>,
}

impl ToolCall {
    /// The arguments text to repeat in the conversation history: the parsed JSON, or `{}`
    /// when it could not be parsed (servers that re-parse history reject broken JSON).
    pub fn arguments_for_history(&self) -> String {
        match &self.arguments {
            Ok(v) => v.to_string(),
            Err(_) => "{}".to_owned(),
        }
    }
}

/// A call being assembled.
#[derive(Debug, Default)]
struct Partial {
    index: u32,
    id: String,
    name: String,
    arguments: String,
    name_too_long: bool,
    arguments_too_long: bool,
}

/// Puts streamed tool-call deltas back together (see the module docs).
#[derive(Debug, Default)]
pub struct ToolCallAccumulator {
    limits: ToolCallLimits,
    calls: Vec<Partial>,
    /// The index of the call the last delta touched (for deltas without `index`).
    current: Option<usize>,
    dropped: usize,
}

impl ToolCallAccumulator {
    /// An empty accumulator with these bounds.
    pub fn new(limits: ToolCallLimits) -> Self {
        Self { limits, ..Self::default() }
    }

    /// Whether any call has started.
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// Calls dropped because the answer held more than [`ToolCallLimits::max_calls`].
    pub fn dropped(&self) -> usize {
        self.dropped
    }

    /// Takes one delta.
    pub fn push(&mut self, delta: &ToolCallDelta) {
        let Some(slot) = self.slot(delta) else {
            return;
        };
        let limits = self.limits;
        let call = &mut self.calls[slot];
        if let Some(id) = delta.id.as_deref().filter(|id| !id.is_empty())
            && call.id.is_empty()
            && id.len() <= limits.max_name_bytes * 4
        {
            call.id = id.to_owned();
        }
        let Some(f) = &delta.function else { return };
        if let Some(name) = &f.name {
            append_bounded(&mut call.name, name, limits.max_name_bytes, &mut call.name_too_long);
        }
        if let Some(args) = &f.arguments {
            append_bounded(
                &mut call.arguments,
                args,
                limits.max_argument_bytes,
                &mut call.arguments_too_long,
            );
        }
    }

    /// Which call a delta belongs to, starting a new one when needed; `None` drops it.
    fn slot(&mut self, delta: &ToolCallDelta) -> Option<usize> {
        let new_id = delta.id.as_deref().filter(|id| !id.is_empty());
        let found = match delta.index {
            // The newest call with that index: a different id there starts another call
            // (servers that send every call as index 0).
            Some(index) => self.calls.iter().rposition(|c| c.index == index).filter(|&i| {
                let c = &self.calls[i];
                new_id.is_none_or(|id| c.id.is_empty() || c.id == id)
            }),
            None => self.current.filter(|&i| {
                let c = &self.calls[i];
                new_id.is_none_or(|id| c.id.is_empty() || c.id == id)
            }),
        };
        if let Some(i) = found {
            self.current = Some(i);
            return Some(i);
        }
        if self.calls.len() >= self.limits.max_calls {
            // Count each dropped call once: at its first piece (the one with an id or a name).
            if new_id.is_some() || delta.function.as_ref().is_some_and(|f| f.name.is_some()) {
                self.dropped += 1;
            }
            self.current = None;
            return None;
        }
        let index = delta.index.unwrap_or_else(|| self.calls.iter().map(|c| c.index + 1).max().unwrap_or(0));
        self.calls.push(Partial { index, ..Partial::default() });
        self.current = Some(self.calls.len() - 1);
        self.current
    }

    /// Every call in index order (then arrival order), arguments parsed.
    pub fn finish(self) -> Vec<ToolCall> {
        let mut calls = self.calls;
        calls.sort_by_key(|c| c.index);
        let limits = self.limits;
        calls.into_iter().enumerate().map(|(n, c)| complete(c, n, &limits)).collect()
    }
}

fn append_bounded(into: &mut String, piece: &str, max: usize, over: &mut bool) {
    if *over {
        return;
    }
    if into.len() + piece.len() > max {
        *over = true;
        return;
    }
    into.push_str(piece);
}

fn complete(c: Partial, n: usize, limits: &ToolCallLimits) -> ToolCall {
    let id = if c.id.is_empty() { format!("call_{n}") } else { c.id };
    let name = c.name.trim().to_owned();
    let arguments = if name.is_empty() && !c.name_too_long {
        Err(CallError::MissingName)
    } else if c.name_too_long || !is_valid_name(&name) {
        Err(CallError::BadName { max: limits.max_name_bytes })
    } else if c.arguments_too_long {
        Err(CallError::ArgumentsTooLarge { limit: limits.max_argument_bytes })
    } else {
        parse_arguments(&c.arguments)
    };
    ToolCall { id, name, arguments }
}

/// OpenAI's rule for function names: `^[a-zA-Z0-9_-]+$` (dots allowed too, as some servers do).
fn is_valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// The arguments text → a JSON object; empty text means no arguments (`{}`).
pub fn parse_arguments(text: &str) -> Result<Value, CallError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Value::Object(serde_json::Map::new()));
    }
    match serde_json::from_str::<Value>(text) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(CallError::NotAnObject),
        Err(e) => Err(CallError::MalformedJson(e.to_string())),
    }
}

#[cfg(test)]
#[path = "tool_calls_tests.rs"]
mod tests;
