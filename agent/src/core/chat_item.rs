//! [`ChatItem`]: one item of a conversation as an LLM request carries it — a message, a tool
//! call, a tool's result. Plain data, shared by the history (`super::history`), the agent's
//! chat context and the providers' request building.

/// Rough token count of `text`: one per four characters, rounded up (exact counts need the
/// model's tokenizer; budgets only have to keep prompts roughly bounded).
pub fn estimate_tokens(text: &str) -> usize {
    text.chars().count().div_ceil(4)
}

/// One item of a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatItem {
    /// An instruction (e.g. facts a hook looked up for this turn).
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
    /// Estimated tokens of the item, with its overhead.
    pub fn tokens(&self) -> usize {
        4 + match self {
            ChatItem::System(t) | ChatItem::User(t) | ChatItem::Assistant(t) => estimate_tokens(t),
            ChatItem::ToolCall { name, arguments, .. } => {
                estimate_tokens(name) + estimate_tokens(arguments) + 8
            }
            ChatItem::ToolOutput { content, .. } => estimate_tokens(content) + 8,
        }
    }
}

/// Gives every tool call in `items` that has no result an error result ("cancelled"), after
/// the others: an LLM request with a call and no result is refused, and the call may have
/// had effects the next answer should not deny.
pub fn close_unanswered(items: &mut Vec<ChatItem>) {
    let answered: Vec<String> = items
        .iter()
        .filter_map(|i| match i {
            ChatItem::ToolOutput { call_id, .. } => Some(call_id.clone()),
            _ => None,
        })
        .collect();
    let open: Vec<(String, String)> = items
        .iter()
        .filter_map(|i| match i {
            ChatItem::ToolCall { id, name, .. } if !answered.contains(id) => Some((id.clone(), name.clone())),
            _ => None,
        })
        .collect();
    for (call_id, name) in open {
        let content = "error: cancelled, the user interrupted before it finished".to_owned();
        items.push(ChatItem::ToolOutput { call_id, name, content, is_error: true });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unanswered_call_gets_a_cancelled_result() {
        let call = |id: &str| ChatItem::ToolCall { id: id.into(), name: "f".into(), arguments: "{}".into() };
        let done = ChatItem::ToolOutput {
            call_id: "a".into(),
            name: "f".into(),
            content: "ok".into(),
            is_error: false,
        };
        let mut items = vec![call("a"), call("b"), done.clone()];
        close_unanswered(&mut items);
        assert_eq!(items.len(), 4);
        assert!(matches!(&items[3], ChatItem::ToolOutput { call_id, is_error: true, .. } if call_id == "b"));
        close_unanswered(&mut items);
        assert_eq!(items.len(), 4, "nothing left open");
    }
}
