//! The session's providers as the agent's LLM: [`SessionLlm`] is a [`ChatModel`] over any
//! [`SessionProviders`] (guarded HTTP or scripted) for one turn's [`Call`] — so every tool
//! step passes the same limits, breakers, deadline and fallbacks, and is charged its tokens
//! and cost (a follow-up step counts no extra turn). It notes which endpoint answered and how
//! fast the turn's first token came, for the turn's metrics.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::future::BoxFuture;

use super::providers::{ChatSource, SessionProviders};
use crate::agent::{ChatChunk, ChatChunks, ChatModel, ChatRequest};
use crate::providers::{Call, ProviderError};

/// What the turn's LLM steps reported.
#[derive(Debug, Clone, Default)]
pub struct LlmStats {
    /// The endpoint that answered the first step.
    pub provider: Option<Arc<str>>,
    /// The first step's time to first token.
    pub first_token: Option<Duration>,
}

/// One turn's LLM over the session's providers.
pub struct SessionLlm {
    providers: Arc<dyn SessionProviders>,
    call: Call,
    stats: Arc<Mutex<LlmStats>>,
}

impl SessionLlm {
    /// The LLM of the turn `call`.
    pub fn new(providers: Arc<dyn SessionProviders>, call: Call) -> Self {
        Self { providers, call, stats: Arc::default() }
    }

    /// What the steps so far reported.
    pub fn stats(&self) -> LlmStats {
        self.stats.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl ChatModel for SessionLlm {
    fn chat<'a>(&'a self, request: ChatRequest<'a>) -> BoxFuture<'a, Result<ChatChunks, ProviderError>> {
        Box::pin(async move {
            let prompt = request.prompt();
            let source = self.providers.chat(&self.call, &prompt).await?;
            let mut stats = self.stats.lock().unwrap_or_else(PoisonError::into_inner);
            stats.provider.get_or_insert_with(|| source.provider());
            drop(stats);
            Ok(chunks(source, self.stats.clone()))
        })
    }
}

/// A source as chunks, its usage last; the turn's first token latency noted as it comes.
fn chunks(source: Box<dyn ChatSource>, stats: Arc<Mutex<LlmStats>>) -> ChatChunks {
    Box::pin(futures_util::stream::unfold(Some(source), move |state| {
        let stats = stats.clone();
        async move {
            let mut source = state?;
            if let Some(item) = source.next().await {
                let mut s = stats.lock().unwrap_or_else(PoisonError::into_inner);
                if s.first_token.is_none() {
                    s.first_token = source.first_token_latency();
                }
                drop(s);
                return Some((item, Some(source)));
            }
            let (prompt, completion) = source.usage()?;
            Some((Ok(ChatChunk::Usage { prompt, completion }), None))
        }
    }))
}
