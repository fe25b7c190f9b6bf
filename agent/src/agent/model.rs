//! The LLM seam of the agent loop: [`ChatModel`] streams one answer to a [`ChatRequest`] as
//! [`ChatChunk`]s — text, tool-call deltas, usage. The session's guarded providers implement
//! it for real endpoints; [`crate::testing::ScriptedLlm`] implements it in-process for tests.

use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;

use super::chat::ChatContext;
use crate::core::tool_calls::ToolCallDelta;
use crate::providers::ProviderError;
use crate::tools::ToolSet;

/// Whether the model may call tools in this step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolChoice {
    /// The model decides (tools are offered).
    Auto,
    /// Answer in text (the step limit is reached; tools are still described).
    None,
}

/// One LLM request of an agent turn.
#[derive(Debug, Clone, Copy)]
pub struct ChatRequest<'a> {
    /// The conversation so far, with the instructions.
    pub chat: &'a ChatContext,
    /// The tools the agent offers (empty: none).
    pub tools: &'a ToolSet,
    /// Whether tools may be called now.
    pub tool_choice: ToolChoice,
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

/// A streamed answer; ends after its last chunk, or with an error.
pub type ChatChunks = BoxStream<'static, Result<ChatChunk, ProviderError>>;

/// Something that answers chat requests with streams (an LLM).
pub trait ChatModel: Send + Sync {
    /// Starts one streamed answer.
    fn chat<'a>(&'a self, request: ChatRequest<'a>) -> BoxFuture<'a, Result<ChatChunks, ProviderError>>;
}
