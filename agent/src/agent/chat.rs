//! [`ChatContext`]: the conversation an agent's LLM sees — instructions, messages, tool calls
//! and their results — which hooks may read and edit, kept within a token budget.

pub use crate::providers::ChatItem;
use crate::providers::{Prompt, ToolChoice, ToolSpec};

/// Estimated tokens of one item.
fn tokens(item: &ChatItem) -> usize {
    item.tokens()
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
/// assert_eq!(chat.items().len(), 2);
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
        self.items.iter().map(tokens).sum()
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
            total -= self.items.drain(..cut).map(|i| tokens(&i)).sum::<usize>();
        }
    }

    /// The request content: instructions, items, these tools.
    pub fn prompt<'a>(
        &'a self,
        tools: &'a [ToolSpec],
        tool_choice: ToolChoice,
        follow_up: bool,
    ) -> Prompt<'a> {
        Prompt { system: Some(&self.instructions), items: &self.items, tools, tool_choice, follow_up }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::prompt::tests::{call, output};

    #[test]
    fn the_prompt_carries_instructions_items_and_tools() {
        let mut c = ChatContext::new("be brief");
        c.push(ChatItem::User("hi".into()));
        let p = c.prompt(&[], ToolChoice::None, true);
        assert_eq!(
            (p.system, p.items.len(), p.tool_choice, p.follow_up),
            (Some("be brief"), 1, ToolChoice::None, true)
        );
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
