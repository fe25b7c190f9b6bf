//! Agents as code: what a developer writes to make the voice agent theirs.
//!
//! An [`Agent`] has instructions (the system prompt), an optional greeting, function tools
//! ([`crate::tools`]) and optional hooks: [`Agent::on_enter`] when the session starts, and
//! [`Agent::on_user_turn`] on each thing a user says — to edit the [`ChatContext`] (add facts
//! for this turn, drop noise) or to answer without the LLM ([`TurnAction::Say`]). Each job
//! builds its own agent from the job's dispatch data ([`JobInfo`]: `CreateDispatch` metadata,
//! room, participant identity and attributes), so per-call state lives in the agent.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use schemars::JsonSchema;
//! use serde::Deserialize;
//! use voice_agent::agent::{Agent, ChatContext, ChatItem, TurnAction, UserTurn};
//! use voice_agent::livekit::job::JobInfo;
//! use voice_agent::tools::{FunctionTool, ToolContext, ToolSet};
//!
//! /// Arguments of `add_note`.
//! #[derive(Deserialize, JsonSchema)]
//! struct Note {
//!     /// What to write down.
//!     text: String,
//! }
//!
//! struct NoteTaker {
//!     caller: String,
//!     notes: Arc<Mutex<Vec<String>>>,
//! }
//!
//! impl Agent for NoteTaker {
//!     fn instructions(&self) -> String {
//!         format!("You take notes for {}. Keep answers short.", self.caller)
//!     }
//!     fn greeting(&self) -> Option<String> {
//!         Some("Hi! What should I note?".into())
//!     }
//!     fn tools(&self) -> ToolSet {
//!         let notes = self.notes.clone();
//!         ToolSet::new().with(FunctionTool::new("add_note", "Writes a note down.", move |_: ToolContext, n: Note| {
//!             let notes = notes.clone();
//!             async move {
//!                 notes.lock().map(|mut v| v.push(n.text)).map_err(|_| "the notebook is broken")?;
//!                 Ok::<_, &str>("noted")
//!             }
//!         }))
//!     }
//!     async fn on_user_turn(&mut self, turn: &UserTurn, chat: &mut ChatContext) -> TurnAction {
//!         if turn.text.eq_ignore_ascii_case("how many notes?") {
//!             let n = self.notes.lock().map(|v| v.len()).unwrap_or(0);
//!             return TurnAction::Say(format!("You have {n} notes."));
//!         }
//!         chat.push(ChatItem::System(format!("{} notes so far.", self.notes.lock().map(|v| v.len()).unwrap_or(0))));
//!         TurnAction::Respond
//!     }
//! }
//!
//! fn agent_for(job: &JobInfo) -> NoteTaker {
//!     let caller = job.participant.as_ref().map(|p| p.name.clone()).unwrap_or_else(|| "the caller".into());
//!     NoteTaker { caller, notes: Arc::default() }
//! }
//! assert!(agent_for(&JobInfo::default()).instructions().contains("the caller"));
//! ```
//!
//! - [`chat`]: [`ChatContext`] and [`ChatItem`] — the conversation with tool calls.
//! - [`model`]: [`ChatModel`], the LLM seam: [`GuardedLlm`] (the guarded providers), or a
//!   scripted LLM in tests.
//! - [`respond`](mod@respond): one answer with tools — steps, parallel calls, filler,
//!   barge-in.
//! - [`handoff`]: a tool hands the conversation to another agent
//!   ([`ToolContext::hand_off`](crate::tools::ToolContext::hand_off)).
//! - [`runner`]: [`AgentRunner`], an agent as a session (and the harness) runs it — each
//!   turn's conversation, hooks, the answer, handoffs.
//! - [`dynamic`]: [`AnyAgent`]/[`BoxAgent`] (any agent behind a pointer) and [`Agents`], the
//!   agent of each job.
//! - [`prompt`]: [`PromptAgent`], instructions and a greeting (the `voice-agent` binary's).

pub mod chat;
pub mod dynamic;
pub mod handoff;
pub mod model;
pub mod prompt;
pub mod respond;
pub mod runner;

use std::future::Future;
use std::sync::Arc;

pub use chat::{ChatContext, ChatItem};
pub use dynamic::{Agents, AnyAgent, BoxAgent};
pub use handoff::Handoff;
pub use model::{ChatChunk, ChatChunks, ChatModel, ChatRequest, GuardedLlm, ToolChoice};
pub use prompt::PromptAgent;
pub use respond::{
    DEFAULT_FILLER, ReplyEnd, ReplyEvent, ReplyFor, ReplyOptions, ReplySink, ReplySummary, respond,
};
pub use runner::{AgentRunner, InvalidAgent};

pub use crate::livekit::job::{JobInfo, JobParticipant};
use crate::tools::ToolSet;

/// Something a user said, as the agent's turn hook sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserTurn {
    /// The speaker's identity.
    pub speaker: Arc<str>,
    /// The transcript (with several speakers in the room: prefixed with the name).
    pub text: String,
}

/// What to do with a user's turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TurnAction {
    /// Ask the LLM (with the tools), as usual.
    Respond,
    /// Say this instead; the LLM is not asked (the exchange is still remembered).
    Say(String),
    /// Say nothing (the turn is remembered; the LLM is not asked).
    Ignore,
}

/// A voice agent: instructions, greeting, tools and hooks. See the [module docs](self).
///
/// Hooks are `async`; they run on the session's task, one at a time, so they may keep state
/// in `&mut self` (tools run in parallel and share state through what they capture).
pub trait Agent: Send + 'static {
    /// The agent's name, in logs and handoff events (by default its type's name).
    fn name(&self) -> String {
        dynamic::short_type_name::<Self>()
    }

    /// The system prompt.
    fn instructions(&self) -> String;

    /// Spoken when the first participant arrives (`None`: silence until spoken to).
    fn greeting(&self) -> Option<String> {
        None
    }

    /// The tools the LLM may call (asked once, when the session starts).
    fn tools(&self) -> ToolSet {
        ToolSet::new()
    }

    /// Runs once when the agent takes over (session start, or a handoff to it), before its
    /// greeting: items it adds to `chat` are sent before the conversation on every turn, and
    /// it may rewrite the instructions.
    fn on_enter(&mut self, chat: &mut ChatContext) -> impl Future<Output = ()> + Send {
        let _ = chat;
        async {}
    }

    /// Runs on each user turn, after it is added to `chat` and before the LLM is asked.
    /// What it adds to `chat` is sent with this turn only (facts looked up for it); the
    /// conversation remembers what was said and the tool calls and results.
    fn on_user_turn(
        &mut self,
        turn: &UserTurn,
        chat: &mut ChatContext,
    ) -> impl Future<Output = TurnAction> + Send {
        let _ = (turn, chat);
        async { TurnAction::Respond }
    }
}
