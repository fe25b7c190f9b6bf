//! [`PromptAgent`]: an agent made of a system prompt and a greeting, with no tools and no
//! hooks — what the `voice-agent` binary runs from `SYSTEM_PROMPT` and `GREETING`.

use super::Agent;

/// An agent of instructions and an optional greeting.
///
/// ```
/// use voice_agent::agent::{Agent, PromptAgent};
/// let a = PromptAgent::new("Be brief.", Some("Hi!".into()));
/// assert_eq!((a.instructions(), a.greeting()), ("Be brief.".to_owned(), Some("Hi!".to_owned())));
/// assert!(a.tools().is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptAgent {
    instructions: String,
    greeting: Option<String>,
}

impl PromptAgent {
    /// An agent with these instructions and greeting.
    pub fn new(instructions: impl Into<String>, greeting: Option<String>) -> Self {
        Self { instructions: instructions.into(), greeting }
    }
}

impl Agent for PromptAgent {
    fn name(&self) -> String {
        "assistant".to_owned()
    }
    fn instructions(&self) -> String {
        self.instructions.clone()
    }
    fn greeting(&self) -> Option<String> {
        self.greeting.clone()
    }
}
