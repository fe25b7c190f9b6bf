//! The LLM seam of the agent loop: [`ChatModel`] streams one answer to a [`ChatRequest`] as
//! [`ChatChunk`]s — text, tool-call deltas, usage. [`GuardedLlm`] is the real thing (the
//! guarded providers with their limits, breakers and fallbacks, any OpenAI-compatible
//! endpoint); [`crate::testing::ScriptedLlm`] answers in-process for tests.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;

use super::chat::ChatContext;
use crate::providers::{Call, ChatStream, Prompt, ProviderError, Providers};
pub use crate::providers::{ChatChunk, ToolChoice};
use crate::tools::ToolSet;

/// One LLM request of an agent turn.
#[derive(Debug, Clone, Copy)]
pub struct ChatRequest<'a> {
    /// The conversation so far, with the instructions.
    pub chat: &'a ChatContext,
    /// The tools the agent offers (empty: none).
    pub tools: &'a ToolSet,
    /// Whether tools may be called now.
    pub tool_choice: ToolChoice,
    /// A later step of the turn (after tool results).
    pub follow_up: bool,
}

impl<'a> ChatRequest<'a> {
    /// The provider-level prompt.
    pub fn prompt(&self) -> Prompt<'a> {
        self.chat.prompt(self.tools.specs(), self.tool_choice, self.follow_up)
    }
}

/// A streamed answer; ends after its last chunk, or with an error.
pub type ChatChunks = BoxStream<'static, Result<ChatChunk, ProviderError>>;

/// Something that answers chat requests with streams (an LLM).
pub trait ChatModel: Send + Sync {
    /// Starts one streamed answer.
    fn chat<'a>(&'a self, request: ChatRequest<'a>) -> BoxFuture<'a, Result<ChatChunks, ProviderError>>;
}

/// The guarded providers as the agent's LLM, for one call (participant, room, deadline,
/// cancellation): every step passes limits, breakers, deadline and fallbacks, and is charged
/// its tokens and cost.
#[derive(Debug, Clone)]
pub struct GuardedLlm {
    /// The providers.
    pub providers: Arc<Providers>,
    /// Who the turn is for.
    pub call: Call,
}

impl ChatModel for GuardedLlm {
    fn chat<'a>(&'a self, request: ChatRequest<'a>) -> BoxFuture<'a, Result<ChatChunks, ProviderError>> {
        Box::pin(async move {
            let stream = self.providers.chat_prompt(&self.call, &request.prompt()).await?;
            Ok(chunks(stream))
        })
    }
}

/// A provider stream as chunks, its usage last.
pub fn chunks(stream: ChatStream) -> ChatChunks {
    Box::pin(futures_util::stream::unfold(Some(stream), |state| async move {
        let mut stream = state?;
        match stream.next_chunk().await {
            Some(item) => Some((item, Some(stream))),
            None => {
                let (prompt, completion) = stream.usage()?;
                Some((Ok(ChatChunk::Usage { prompt, completion }), None))
            }
        }
    }))
}
