//! [`ChatContext`]: the conversation an agent's LLM sees — instructions, messages, tool calls
//! and their results — which hooks may read and edit, kept within a token budget.

use serde_json::{Value, json};

use crate::core::history::estimate_tokens;

/// One item of the conversation.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatItem {
    /// An extra instruction (e.g. facts a hook looked up for this turn).
    System(String),
    /// What a user said (with several speakers: prefixed with the speaker's name).
    User(String),
    /// What the agent said (after a barge-in: what was heard of it).
    Assistant(String),
    /// A tool call the LLM made.
    ToolCall {
        /// The call's id.
        id: String,
        /// The tool.
        name: String,
        /// The arguments' JSON text.
        arguments: String,
    },
    /// A tool call's result.
    ToolOutput {
        /// The call it answers.
        call_id: String,
        /// The tool.
        name: String,
        /// What the LLM reads.
        content: String,
        /// Whether it is an error.
        is_error: bool,
    },
}

impl ChatItem {
    fn tokens(&self) -> usize {
        4 + match self {
            ChatItem::System(t) | ChatItem::User(t) | ChatItem::Assistant(t) => estimate_tokens(t),
            ChatItem::ToolCall { name, arguments, .. } => {
                estimate_tokens(name) + estimate_tokens(arguments) + 8
            }
            ChatItem::ToolOutput { content, .. } => estimate_tokens(content) + 8,
        }
    }
}

/// The conversation: the agent's instructions and the items since, oldest first.
///
/// ```
/// use voice_agent::agent::{ChatContext, ChatItem};
///
/// let mut chat = ChatContext::new("You take table bookings.");
/// chat.push(ChatItem::User("A table for two?".into()));
/// chat.push(ChatItem::System("Tonight only the terrace is free.".into()));
/// assert_eq!(chat.last_user_text(), Some("A table for two?"));
/// let messages = chat.to_openai();
/// assert_eq!(messages[0]["role"], "system");
/// assert_eq!(messages.len(), 3);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ChatContext {
    instructions: String,
    items: Vec<ChatItem>,
}

impl ChatContext {
    /// A conversation with these instructions and nothing said yet.
    pub fn new(instructions: impl Into<String>) -> Self {
        Self { instructions: instructions.into(), items: Vec::new() }
    }

    /// The system prompt.
    pub fn instructions(&self) -> &str {
        &self.instructions
    }

    /// Replaces the system prompt.
    pub fn set_instructions(&mut self, instructions: impl Into<String>) {
        self.instructions = instructions.into();
    }

    /// Every item, oldest first.
    pub fn items(&self) -> &[ChatItem] {
        &self.items
    }

    /// The items, to edit (insert, remove, rewrite).
    pub fn items_mut(&mut self) -> &mut Vec<ChatItem> {
        &mut self.items
    }

    /// Appends an item.
    pub fn push(&mut self, item: ChatItem) {
        self.items.push(item);
    }

    /// What the user said last.
    pub fn last_user_text(&self) -> Option<&str> {
        self.items.iter().rev().find_map(|i| match i {
            ChatItem::User(t) => Some(t.as_str()),
            _ => None,
        })
    }

    /// Estimated tokens of the items (instructions not counted).
    pub fn tokens(&self) -> usize {
        self.items.iter().map(ChatItem::tokens).sum()
    }

    /// Forgets the oldest turns until the items fit `max_tokens`, cutting only before a user
    /// message (a tool result never loses its call); the newest turn always stays.
    pub fn trim(&mut self, max_tokens: usize) {
        let mut total = self.tokens();
        while total > max_tokens {
            // The second user message from the front: everything before it is the oldest turn.
            let Some(cut) = self
                .items
                .iter()
                .enumerate()
                .skip(1)
                .find_map(|(i, item)| matches!(item, ChatItem::User(_)).then_some(i))
            else {
                return;
            };
            total -= self.items.drain(..cut).map(|i| i.tokens()).sum::<usize>();
        }
    }

    /// The OpenAI chat `messages`: the system prompt, then the items; consecutive tool calls
    /// (and the text before them) form one assistant message.
    pub fn to_openai(&self) -> Vec<Value> {
        let mut out = vec![json!({"role": "system", "content": self.instructions})];
        for item in &self.items {
            match item {
                ChatItem::System(t) => out.push(json!({"role": "system", "content": t})),
                ChatItem::User(t) => out.push(json!({"role": "user", "content": t})),
                ChatItem::Assistant(t) => out.push(json!({"role": "assistant", "content": t})),
                ChatItem::ToolCall { id, name, arguments } => {
                    let call = json!({"id": id, "type": "function", "function": {"name": name, "arguments": arguments}});
                    match out.last_mut() {
                        Some(last) if last["role"] == "assistant" && last.get("tool_calls").is_some() => {
                            if let Some(calls) = last["tool_calls"].as_array_mut() {
                                calls.push(call);
                            }
                        }
                        Some(last) if last["role"] == "assistant" => last["tool_calls"] = json!([call]),
                        _ => out.push(json!({"role": "assistant", "content": null, "tool_calls": [call]})),
                    }
                }
                ChatItem::ToolOutput { call_id, content, .. } => {
                    out.push(json!({"role": "tool", "tool_call_id": call_id, "content": content}));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(id: &str) -> ChatItem {
        ChatItem::ToolCall { id: id.into(), name: "f".into(), arguments: "{}".into() }
    }

    fn output(id: &str) -> ChatItem {
        ChatItem::ToolOutput { call_id: id.into(), name: "f".into(), content: "ok".into(), is_error: false }
    }

    #[test]
    fn tool_calls_group_into_one_assistant_message() {
        let mut c = ChatContext::new("be brief");
        c.push(ChatItem::User("hi".into()));
        c.push(ChatItem::Assistant("Let me check.".into()));
        c.push(call("a"));
        c.push(call("b"));
        c.push(output("a"));
        c.push(output("b"));
        c.push(ChatItem::Assistant("Done.".into()));
        let m = c.to_openai();
        let roles: Vec<_> = m.iter().map(|m| m["role"].as_str().unwrap()).collect();
        assert_eq!(roles, ["system", "user", "assistant", "tool", "tool", "assistant"]);
        assert_eq!(m[2]["content"], "Let me check.");
        assert_eq!(m[2]["tool_calls"].as_array().unwrap().len(), 2);
        assert_eq!(m[3]["tool_call_id"], "a");
        // A call with no text before it: content null.
        let mut c = ChatContext::new("x");
        c.push(ChatItem::User("hi".into()));
        c.push(call("a"));
        assert_eq!(c.to_openai()[2]["content"], Value::Null);
    }

    #[test]
    fn trimming_drops_whole_turns_and_keeps_the_newest() {
        let mut c = ChatContext::new("x");
        for i in 0..50 {
            c.push(ChatItem::User(format!("question {i} {}", "x".repeat(40))));
            c.push(call(&format!("c{i}")));
            c.push(output(&format!("c{i}")));
            c.push(ChatItem::Assistant("answer ".repeat(10)));
        }
        c.trim(200);
        assert!(c.tokens() <= 200, "{}", c.tokens());
        assert!(matches!(&c.items()[0], ChatItem::User(_)), "a turn starts with its question");
        assert!(c.last_user_text().unwrap().starts_with("question 49"));
        // One turn alone over budget stays.
        c.trim(1);
        assert!(c.last_user_text().unwrap().starts_with("question 49"));
        assert_eq!(c.items().len(), 4);
    }
}
