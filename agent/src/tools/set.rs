//! [`ToolSet`]: the tools an agent offers, by name, and their `tools` array for the request.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use super::tool::Tool;
use crate::providers::ToolSpec;
use crate::providers::openai::openai_tools;

/// A mistake in a tool set, found by [`ToolSet::validate`] before a session starts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ToolSetError {
    /// The name is empty, too long, or has characters other than letters, digits, `_`, `-`.
    #[error("tool name {0:?} is not valid (letters, digits, _ and -, 1 to 64 characters)")]
    BadName(String),
    /// Two tools share a name.
    #[error("two tools are named {0:?}")]
    Duplicate(String),
    /// The parameters are not an object schema.
    #[error("the parameters of tool {0:?} are not an object schema (use a struct with named fields)")]
    NotAnObject(String),
    /// No description: the LLM would not know when to call it.
    #[error("tool {0:?} has no description")]
    NoDescription(String),
}

/// The tools an agent offers the LLM.
///
/// ```
/// use voice_agent::tools::{FunctionTool, NoArguments, ToolContext, ToolSet};
///
/// let tools = ToolSet::new()
///     .with(FunctionTool::new("opening_hours", "When the restaurant is open.", |_: ToolContext, _: NoArguments| async {
///         "Every day from 12:00 to 23:00."
///     }));
/// assert!(tools.validate().is_ok());
/// assert_eq!(tools.names().collect::<Vec<_>>(), ["opening_hours"]);
/// assert_eq!(tools.to_openai()[0]["function"]["name"], "opening_hours");
/// ```
#[derive(Clone, Default)]
pub struct ToolSet {
    tools: Vec<Arc<dyn Tool>>,
    specs: Vec<ToolSpec>,
    by_name: BTreeMap<String, usize>,
}

impl std::fmt::Debug for ToolSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.tools.iter().map(|t| t.name())).finish()
    }
}

impl ToolSet {
    /// No tools.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a tool (builder style).
    pub fn with(mut self, tool: impl Tool) -> Self {
        self.add(Arc::new(tool));
        self
    }

    /// Adds a shared tool. A second tool of the same name is kept too, and reported by
    /// [`ToolSet::validate`]; calls go to the first.
    pub fn add(&mut self, tool: Arc<dyn Tool>) {
        self.by_name.entry(tool.name().to_owned()).or_insert(self.tools.len());
        self.specs.push(ToolSpec {
            name: tool.name().to_owned(),
            description: tool.description().to_owned(),
            parameters: tool.parameters().clone(),
        });
        self.tools.push(tool);
    }

    /// The tool named `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Tool>> {
        self.by_name.get(name).map(|&i| &self.tools[i])
    }

    /// Whether there are no tools (requests then carry no `tools`).
    pub fn is_empty(&self) -> bool {
        self.tools.is_empty()
    }

    /// How many tools.
    pub fn len(&self) -> usize {
        self.tools.len()
    }

    /// Tool names in the order they were added.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tools.iter().map(|t| t.name())
    }

    /// Every mistake at once: bad or duplicate names, non-object schemas, missing descriptions.
    pub fn validate(&self) -> Result<(), Vec<ToolSetError>> {
        let mut errors = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for t in &self.tools {
            let name = t.name();
            let valid = (1..=64).contains(&name.len())
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
            if !valid {
                errors.push(ToolSetError::BadName(name.to_owned()));
            }
            if !seen.insert(name) {
                errors.push(ToolSetError::Duplicate(name.to_owned()));
            }
            if t.parameters().get("type").and_then(Value::as_str) != Some("object") {
                errors.push(ToolSetError::NotAnObject(name.to_owned()));
            }
            if t.description().trim().is_empty() {
                errors.push(ToolSetError::NoDescription(name.to_owned()));
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    /// The tools as the LLM is told about them.
    pub fn specs(&self) -> &[ToolSpec] {
        &self.specs
    }

    /// The request's `tools` array (OpenAI chat completions format).
    pub fn to_openai(&self) -> Value {
        openai_tools(&self.specs)
    }
}
