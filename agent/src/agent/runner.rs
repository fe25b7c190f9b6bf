//! An agent as a session runs it, shared by the voice session and the test harness so both
//! behave alike: [`AgentRunner`] holds the active agent, its validated tools and what its
//! [`Agent::on_enter`](super::Agent::on_enter) seeded, builds each turn's conversation, runs
//! the turn hook and the answer with tools, and carries out handoffs.
//!
//! What a hook adds to a turn's [`ChatContext`] is sent with that turn only; what the
//! conversation remembers is what was said, and the tool calls and results (reported through
//! the [`ReplySink`] as items). What `on_enter` seeds is sent before the conversation on
//! every turn.

use super::chat::{ChatContext, ChatItem};
use super::dynamic::BoxAgent;
use super::handoff::Handoff;
use super::model::ChatModel;
use super::respond::{ReplyEnd, ReplyEvent, ReplyFor, ReplyOptions, ReplySink, ReplySummary, respond};
use super::{TurnAction, UserTurn};
use crate::tools::{ToolSet, ToolSetError};

/// Handoffs one user turn may make at most (agents handing back and forth stop there).
pub const MAX_HANDOFFS_PER_TURN: usize = 3;

/// An agent whose tools are not valid (bad or duplicate names, non-object schemas).
#[derive(Debug, thiserror::Error)]
#[error("the tools of agent {agent} are not valid: {}", list(.errors))]
pub struct InvalidAgent {
    /// The agent's name.
    pub agent: String,
    /// Every mistake.
    pub errors: Vec<ToolSetError>,
}

fn list(errors: &[ToolSetError]) -> String {
    errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

/// The active agent of a session, with its tools.
pub struct AgentRunner {
    agent: BoxAgent,
    tools: ToolSet,
    instructions: String,
    preamble: Vec<ChatItem>,
    /// Added to the instructions this turn (degraded service, several speakers).
    extra: String,
}

impl std::fmt::Debug for AgentRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentRunner").field("agent", &self.agent.name()).finish_non_exhaustive()
    }
}

fn checked_tools(agent: &BoxAgent) -> Result<ToolSet, InvalidAgent> {
    let tools = agent.tools();
    tools.validate().map_err(|errors| InvalidAgent { agent: agent.name(), errors })?;
    Ok(tools)
}

/// The agent's instructions and what its `on_enter` seeded.
async fn enter(agent: &mut BoxAgent) -> (String, Vec<ChatItem>) {
    let mut seed = ChatContext::new(agent.instructions());
    agent.on_enter(&mut seed).await;
    (seed.instructions().to_owned(), seed.items().to_vec())
}

impl AgentRunner {
    /// Checks the agent's tools; [`AgentRunner::enter`] runs its `on_enter` next.
    pub fn new(agent: BoxAgent) -> Result<Self, InvalidAgent> {
        let tools = checked_tools(&agent)?;
        let instructions = agent.instructions();
        Ok(Self { agent, tools, instructions, preamble: Vec::new(), extra: String::new() })
    }

    /// Runs the agent's `on_enter` (once, as the session starts).
    pub async fn enter(&mut self) {
        (self.instructions, self.preamble) = enter(&mut self.agent).await;
    }

    /// The active agent as its own type (`None` after a handoff to another type).
    pub fn agent_as<A: 'static>(&self) -> Option<&A> {
        self.agent.as_any().downcast_ref::<A>()
    }

    /// The active agent's name.
    pub fn name(&self) -> String {
        self.agent.name()
    }

    /// The active agent's greeting.
    pub fn greeting(&self) -> Option<String> {
        self.agent.greeting()
    }

    /// The active agent's tools.
    pub fn tools(&self) -> &ToolSet {
        &self.tools
    }

    /// A turn's conversation: the instructions (then `extra`, when not empty), what
    /// `on_enter` seeded, then `history` (oldest first, ending with the user's turn).
    pub fn chat(&mut self, extra: &str, history: impl IntoIterator<Item = ChatItem>) -> ChatContext {
        self.extra = extra.to_owned();
        self.conversation(history)
    }

    /// The conversation as the next turn would send it (with the last turn's `extra`).
    pub fn conversation(&self, history: impl IntoIterator<Item = ChatItem>) -> ChatContext {
        let mut chat = ChatContext::new(self.full_instructions());
        chat.items_mut().extend(self.preamble.iter().cloned());
        chat.items_mut().extend(history);
        chat
    }

    fn full_instructions(&self) -> String {
        if self.extra.is_empty() {
            self.instructions.clone()
        } else {
            format!("{}\n\n{}", self.instructions, self.extra)
        }
    }

    /// One user turn (already the last item of `chat`): the agent's hook, then — unless it
    /// answered itself — the answer with tools, following handoffs. Every item the
    /// conversation should remember goes to `sink`, and so does every word to speak
    /// ([`ReplyEvent::Text`]).
    pub async fn user_turn<M, S>(
        &mut self,
        model: &M,
        chat: &mut ChatContext,
        turn: &UserTurn,
        who: &ReplyFor,
        opts: &ReplyOptions,
        sink: &mut S,
    ) -> ReplySummary
    where
        M: ChatModel + ?Sized,
        S: ReplySink,
    {
        let mut total = ReplySummary::empty();
        match self.agent.on_user_turn(turn, chat).await {
            TurnAction::Respond => {}
            TurnAction::Say(text) => {
                say(chat, sink, &text).await;
                total.end = ReplyEnd::Answered;
                return total;
            }
            TurnAction::Ignore => return total,
        }
        let mut who = who.clone();
        for handoffs in 0.. {
            let mut summary = respond(model, chat, &self.tools, &who, opts, sink).await;
            total.steps += summary.steps;
            total.tool_calls += summary.tool_calls;
            total.tokens.0 += summary.tokens.0;
            total.tokens.1 += summary.tokens.1;
            total.end = summary.end;
            let Some(handoff) = summary.handoff.take() else { break };
            if handoffs >= MAX_HANDOFFS_PER_TURN {
                tracing::warn!(to = %handoff.name(), "too many handoffs in one turn; staying");
                break;
            }
            if !self.hand_off(handoff, chat).await {
                break;
            }
            if let Some(greeting) = self.agent.greeting() {
                say(chat, sink, &greeting).await;
                total.end = ReplyEnd::Answered;
                break;
            }
            // The new agent answers the conversation so far, in the same turn.
            who.follow_up = true;
        }
        total
    }

    /// Makes `handoff`'s agent the active one; `false` (and nothing changed) if its tools are
    /// not valid.
    async fn hand_off(&mut self, handoff: Handoff, chat: &mut ChatContext) -> bool {
        let mut agent = handoff.agent;
        let tools = match checked_tools(&agent) {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(error = %e, "handoff refused");
                return false;
            }
        };
        tracing::info!(from = %self.agent.name(), to = %agent.name(), "handoff");
        let (instructions, preamble) = enter(&mut agent).await;
        // The turn goes on with the new agent's instructions and seed in place of the old.
        let old = self.preamble.len();
        if chat.items().get(..old) == Some(self.preamble.as_slice()) {
            chat.items_mut().splice(..old, preamble.iter().cloned());
        }
        (self.agent, self.tools, self.instructions, self.preamble) = (agent, tools, instructions, preamble);
        chat.set_instructions(self.full_instructions());
        true
    }
}

/// Speaks `text` as the agent's answer and remembers it.
async fn say<S: ReplySink>(chat: &mut ChatContext, sink: &mut S, text: &str) {
    sink.on_event(ReplyEvent::Text(text)).await;
    let item = ChatItem::Assistant(text.to_owned());
    sink.on_event(ReplyEvent::Item(&item)).await;
    chat.push(item);
}
