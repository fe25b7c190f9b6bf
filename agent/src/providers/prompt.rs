//! What a chat request carries, vendor-neutral: the conversation as [`ChatItem`]s (messages,
//! tool calls, tool results), the tools offered ([`ToolSpec`]) and whether they may be called
//! ([`ToolChoice`]) — one [`Prompt`]. And what comes back: [`ChatChunk`]s (text, tool-call
//! deltas, usage), read out of a vendor's [`ChatEvent`]s. Each vendor's adapter turns a prompt
//! into its wire format (`super::openai` for the OpenAI shape).

use serde_json::Value;

use super::{ChatMessage, Role};
use crate::core::tool_calls::ToolCallDelta;

pub use crate::core::chat_item::ChatItem;

impl From<&ChatMessage> for ChatItem {
    fn from(m: &ChatMessage) -> Self {
        match m.role {
            Role::System => ChatItem::System(m.content.clone()),
            Role::User => ChatItem::User(m.content.clone()),
            Role::Assistant => ChatItem::Assistant(m.content.clone()),
        }
    }
}

/// A tool as the LLM is told about it.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    /// Its name.
    pub name: String,
    /// What it does.
    pub description: String,
    /// JSON schema of its arguments.
    pub parameters: Value,
}

/// Whether the model may call tools in this request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolChoice {
    /// The model decides (tools are offered).
    Auto,
    /// Answer in words (tools are still described, so earlier calls make sense).
    None,
}

/// One chat request's content.
#[derive(Debug, Clone, Copy)]
pub struct Prompt<'a> {
    /// The system prompt, if any (sent first).
    pub system: Option<&'a str>,
    /// The conversation, oldest first.
    pub items: &'a [ChatItem],
    /// Tools offered (empty: none).
    pub tools: &'a [ToolSpec],
    /// Whether tools may be called.
    pub tool_choice: ToolChoice,
    /// A later step of the same turn (after tool results): its tokens count against limits
    /// and cost caps, but it is not another turn.
    pub follow_up: bool,
}

impl Prompt<'_> {
    /// Every text of the prompt, for the token estimate.
    pub(crate) fn chars(&self) -> usize {
        let items: usize = self
            .items
            .iter()
            .map(|i| match i {
                ChatItem::System(t) | ChatItem::User(t) | ChatItem::Assistant(t) => t.chars().count() + 16,
                ChatItem::ToolCall { name, arguments, .. } => name.len() + arguments.chars().count() + 48,
                ChatItem::ToolOutput { content, .. } => content.chars().count() + 32,
            })
            .sum();
        let tools: usize =
            self.tools.iter().map(|t| t.description.len() + t.parameters.to_string().len() + 32).sum();
        self.system.map_or(0, |s| s.chars().count() + 16) + items + tools
    }
}

/// What one event of a vendor's chat stream said: a piece of the answer, or its end.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatEvent {
    /// A piece of the answer (an empty text delta is dropped by the stream).
    Chunk(ChatChunk),
    /// The answer is complete.
    Done,
}

/// A piece of a streamed answer.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatChunk {
    /// Text to speak.
    Text(String),
    /// A piece of a tool call.
    ToolCall(ToolCallDelta),
    /// Tokens used, as the provider reported them.
    Usage {
        /// Prompt tokens.
        prompt: u32,
        /// Completion tokens.
        completion: u32,
    },
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A tool call item (for tests here and of the agent's chat).
    pub(crate) fn call(id: &str) -> ChatItem {
        ChatItem::ToolCall { id: id.into(), name: "f".into(), arguments: "{}".into() }
    }

    /// A tool result item.
    pub(crate) fn output(id: &str) -> ChatItem {
        ChatItem::ToolOutput { call_id: id.into(), name: "f".into(), content: "ok".into(), is_error: false }
    }

    pub(crate) fn prompt(items: &[ChatItem]) -> Prompt<'_> {
        Prompt {
            system: Some("be brief"),
            items,
            tools: &[],
            tool_choice: ToolChoice::Auto,
            follow_up: false,
        }
    }
}
